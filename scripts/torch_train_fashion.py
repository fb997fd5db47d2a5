#!/usr/bin/python3
"""PyTorch peer of `sharpprune train --model lenet5 --data fashion-mnist` (issue 3's recipe).

Same model (LeNet-5 on 1x28x28: conv 6@5x5 -> pool -> conv 16@5x5 -> pool -> 256 -> 120 -> 84 -> 10), same data
(the IDX files, normalised with mean 0.2860 / std 0.3530, no augmentation), SGD with momentum and weight decay,
cosine schedule stepped per epoch, batch 128, 2 threads. Prints one JSON line per epoch and a summary line.

  /usr/bin/python3 scripts/torch_train_fashion.py --data-dir /usr/share/datasets/fashion-mnist --epochs 15
"""
import argparse, gzip, json, os, struct, time
import torch, torch.nn as nn, torch.nn.functional as F


def read_idx(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def load(dir, split):
    def find(stem):
        for n in (stem + ".gz", stem):
            if os.path.exists(os.path.join(dir, n)):
                return os.path.join(dir, n)
        raise FileNotFoundError(os.path.join(dir, stem))
    x = read_idx(find(f"{split}-images-idx3-ubyte")).float().div_(255).unsqueeze(1)
    y = read_idx(find(f"{split}-labels-idx1-ubyte")).long()
    return (x - 0.2860) / 0.3530, y


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5); self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(256, 120); self.fc2 = nn.Linear(120, 84); self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data_dir, "train"); xte, yte = load(a.data_dir, "t10k")
    model = LeNet5()
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.wd)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.epochs)
    epoch_times = []
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(xtr))
        tot_loss = correct = 0
        for i in range(0, len(xtr), a.batch):
            idx = perm[i:i + a.batch]
            out = model(xtr[idx]); loss = F.cross_entropy(out, ytr[idx])
            opt.zero_grad(); loss.backward(); opt.step()
            tot_loss += loss.item() * len(idx); correct += (out.argmax(1) == ytr[idx]).sum().item()
        sched.step()
        train_s = time.perf_counter() - t0
        model.eval(); tc = 0
        with torch.no_grad():
            for i in range(0, len(xte), 1000):
                tc += (model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
        dt = time.perf_counter() - t0
        epoch_times.append(dt)
        print(json.dumps({"impl": "torch", "epoch": epoch + 1, "train_loss": round(tot_loss / len(xtr), 4),
                          "train_acc": round(100 * correct / len(xtr), 2), "test_acc": round(100 * tc / len(xte), 2),
                          "train_seconds": round(train_s, 2), "epoch_seconds": round(dt, 2)}), flush=True)
    print(json.dumps({"impl": "torch", "final_test_acc": round(100 * tc / len(xte), 2),
                      "mean_epoch_seconds": round(sum(epoch_times) / len(epoch_times), 2),
                      "torch": torch.__version__, "threads": a.threads}))


if __name__ == "__main__":
    main()
