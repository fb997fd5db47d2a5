#!/usr/bin/python3
"""PyTorch side of the SharpPrune speed benchmark (run with the system python: /usr/bin/python3, torch 1.13 CPU).

Same models, shapes, batch sizes, optimizer and timing protocol as bench/SharpPrune.Bench, same JSON line format:
  /usr/bin/python3 bench/torch_bench.py --models lenet5,alexnet,vgg16,resnet56 --threads 2 --json
  /usr/bin/python3 bench/torch_bench.py --gemm --threads 2 --json
Every model runs in a fresh child process (internal --single MODEL) so peak RSS (ru_maxrss) is per model.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

DEFAULT_MODELS = "lenet5,alexnet,vgg16,resnet56"
GEMM_SIZES = [256, 512, 1024, 2048]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=DEFAULT_MODELS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=5.0, help="minimum timed seconds per measurement")
    p.add_argument("--min-steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=0, help="override every model's batch size (0 = per-model default)")
    p.add_argument("--json", action="store_true", help="one JSON line per result instead of a table")
    p.add_argument("--gemm", action="store_true", help="measure torch.mm GFLOP/s instead of models")
    p.add_argument("--gemm-sizes", default=",".join(map(str, GEMM_SIZES)))
    p.add_argument("--convs", action="store_true", help="conv2d shapes of the models in isolation (ConvBench.cs)")
    p.add_argument("--profile", action="store_true", help="print torch.autograd.profiler top ops to stderr")
    p.add_argument("--infer-only", action="store_true", help="time inference only (no training steps)")
    p.add_argument("--pruned", action="store_true",
                   help="zero the weights the way SparseBench.Pruned does (L1 magnitude per layer: alexnet at Han et al. "
                        "2015's per-layer densities, other models at --density) and time the masked model dense")
    p.add_argument("--density", type=float, default=0.08, help="kept fraction per layer for --pruned (not alexnet)")
    p.add_argument("--single", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def warmup_loop(step, warmup, seconds):
    """Same as ModelBench.Warmup: `warmup` steps, but stop after one if it alone took >= seconds."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
        if time.perf_counter() - t0 >= seconds:
            break


def timed_loop(step, min_steps, seconds):
    """Times steps until both min_steps and seconds are reached; returns (steps, median s, mean s, cpu s/step)."""
    times, t0, c0 = [], time.perf_counter(), time.process_time()
    last = t0
    while True:
        step()
        now = time.perf_counter()
        times.append(now - last)
        last = now
        if len(times) >= min_steps and now - t0 >= seconds:
            n = len(times)
            return n, statistics.median(times), (now - t0) / n, (time.process_time() - c0) / n


# Kept fraction per layer of Han et al. 2015's AlexNet table: the same as SparseBench.HanAlexNet.
HAN_ALEXNET = {"conv1": 0.84, "conv2": 0.38, "conv3": 0.35, "conv4": 0.37, "conv5": 0.37, "fc1": 0.09, "fc2": 0.05, "fc3": 0.25}


def prune_like_sparse_bench(model, name, density):
    """L1-unstructured masks per Conv2d/Linear weight, made permanent (plain zeros): the dense masked model."""
    import torch
    import torch.nn.utils.prune as prune
    for path, m in model.named_modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            keep = HAN_ALEXNET[path.split(".")[-1]] if name == "alexnet" else density
            prune.l1_unstructured(m, "weight", amount=1 - keep)
            prune.remove(m, "weight")


def run_single(name, a):
    import torch
    import torch.nn.functional as F
    from torch_models import SPECS, create

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    spec = SPECS[name]
    batch = a.batch or spec["batch"]
    model = create(name)
    params = sum(p.numel() for p in model.parameters())
    if a.pruned:
        prune_like_sparse_bench(model, name, a.density)
    g = torch.Generator().manual_seed(1)
    x = torch.randn((batch,) + spec["input"], generator=g)
    y = torch.randint(0, spec["classes"], (batch,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    phases = {"forward": 0.0, "loss": 0.0, "backward": 0.0, "optimizer": 0.0}

    def train_step():
        t0 = time.perf_counter()
        opt.zero_grad()
        out = model(x)
        t1 = time.perf_counter()
        loss = F.cross_entropy(out, y)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        for k, d in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            phases[k] += d

    if a.infer_only:
        tsteps, tmed, tmean, tcpu, phase_ms = 0, None, None, None, {}
    else:
        model.train()
        warmup_loop(train_step, a.warmup, a.seconds)
        for k in phases:
            phases[k] = 0.0
        tsteps, tmed, tmean, tcpu = timed_loop(train_step, a.min_steps, a.seconds)
        phase_ms = {k: round(1000 * v / tsteps, 2) for k, v in phases.items()}

    if a.profile:
        with torch.autograd.profiler.profile() as prof:
            train_step()
        print(f"--- torch profile: {name} train step ---", file=sys.stderr)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15), file=sys.stderr)

    model.eval()

    def infer_step():
        with torch.no_grad():
            model(x)

    warmup_loop(infer_step, a.warmup, a.seconds)
    isteps, imed, imean, icpu = timed_loop(infer_step, a.min_steps, a.seconds)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: kilobytes
    return {
        "impl": "torch", "model": name, "batch": batch, "threads": a.threads, "params": params,
        "steps": tsteps, "infer_steps": isteps,
        "train_ms_per_step": None if tmed is None else round(1000 * tmed, 2),
        "train_ms_mean": None if tmean is None else round(1000 * tmean, 2),
        "train_img_s": None if tmed is None else round(batch / tmed, 2),
        "train_cpu_ms_per_step": None if tcpu is None else round(1000 * tcpu, 2),
        "infer_ms_per_batch": round(1000 * imed, 2),
        "infer_ms_mean": round(1000 * imean, 2),
        "infer_img_s": round(batch / imed, 2),
        "infer_cpu_ms_per_batch": round(1000 * icpu, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "phase_ms": phase_ms,
    }


def best_of_3(once, target_seconds=0.5):
    """Same protocol as GemmBench.Measure: >=0.15 s and >=3 calls warm-up, then best of 3 timed trials."""
    t0, warm = time.perf_counter(), 0
    while time.perf_counter() - t0 < 0.15 or warm < 3:
        once()
        warm += 1
    per_call = (time.perf_counter() - t0) / warm
    reps = int(min(max(target_seconds / 3 / per_call, 1), 100000))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            once()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def run_gemm(a):
    import torch
    torch.set_num_threads(a.threads)
    rows = []
    for n in [int(s) for s in a.gemm_sizes.split(",")]:
        g = torch.Generator().manual_seed(n)
        x, y = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
        out = torch.empty(n, n)
        rows.append({"impl": "torch", "gemm_n": n, "threads": a.threads,
                     "gflops": round(2.0 * n ** 3 / best_of_3(lambda: torch.mm(x, y, out=out)) / 1e9, 2)})
    return rows


# Mirrors ConvBench.Shapes: (label, N, Cin, H, W, Cout, k, stride, pad, input needs grad).
CONV_SHAPES = [
    ("lenet5.conv2", 128, 6, 12, 12, 16, 5, 1, 0, True),
    ("alexnet.conv2", 128, 64, 4, 4, 192, 5, 1, 2, True),
    ("vgg16.c64@32", 64, 64, 32, 32, 64, 3, 1, 1, True),
    ("vgg16.c256@8", 64, 256, 8, 8, 256, 3, 1, 1, True),
    ("vgg16.c512@2", 64, 512, 2, 2, 512, 3, 1, 1, True),
    ("resnet56.c16@32", 64, 16, 32, 32, 16, 3, 1, 1, True),
    ("resnet56.c32@16", 64, 32, 16, 16, 32, 3, 1, 1, True),
    ("resnet56.c64@8", 64, 64, 8, 8, 64, 3, 1, 1, True),
]


def run_convs(a):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(3)
    rows = []
    for label, n, c, h, w, o, k, s, p, gx in CONV_SHAPES:
        x = torch.randn(n, c, h, w, generator=g).requires_grad_(gx)
        wt = torch.randn(o, c, k, k, generator=g).requires_grad_()
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        go = torch.randn(n, o, oh, ow, generator=g)
        flops = 2.0 * n * o * oh * ow * c * k * k

        def fwd():
            with torch.no_grad():
                F.conv2d(x, wt, None, s, p)

        def train():
            x.grad = None
            wt.grad = None
            F.conv2d(x, wt, None, s, p).backward(go)

        tf, tt = best_of_3(fwd), best_of_3(train)
        rows.append({"impl": "torch", "conv": label, "threads": a.threads,
                     "fwd_ms": round(tf * 1e3, 3), "fwd_gflops": round(flops / tf / 1e9, 1),
                     "fwd_bwd_ms": round(tt * 1e3, 3), "fwd_bwd_gflops": round(flops * (3 if gx else 2) / tt / 1e9, 1)})
    return rows


def print_table(rows):
    hdr = f"{'model':<10} {'batch':>5} {'params':>10} {'train img/s':>12} {'ms/step':>9} {'infer img/s':>12} " \
          f"{'ms/batch':>9} {'peak MB':>8}"
    print(hdr)
    for r in rows:
        print(f"{r['model']:<10} {r['batch']:>5} {r['params']:>10} {r['train_img_s']:>12.1f} "
              f"{r['train_ms_per_step']:>9.1f} {r['infer_img_s']:>12.1f} {r['infer_ms_per_batch']:>9.1f} "
              f"{r['peak_rss_mb']:>8.1f}")


def main(argv):
    a = parse_args(argv)
    # torch.set_num_threads does not reach a pthread OpenBLAS (torch.mm, nn.Linear): cap its pool too, before
    # torch is imported, so `--threads N` means N threads on both sides (child processes inherit it).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if a.single:
        print(json.dumps(run_single(a.single, a)), flush=True)
        return 0
    if a.convs:
        for r in run_convs(a):
            print(json.dumps(r) if a.json else f"{r['conv']:<18} fwd {r['fwd_ms']:9.2f} ms {r['fwd_gflops']:6.1f} GFLOP/s"
                  f"   fwd+bwd {r['fwd_bwd_ms']:9.2f} ms {r['fwd_bwd_gflops']:6.1f} GFLOP/s", flush=True)
        return 0
    if a.gemm:
        rows = run_gemm(a)
        for r in rows:
            print(json.dumps(r) if a.json else f"torch.mm n={r['gemm_n']:>5}: {r['gflops']:8.2f} GFLOP/s", flush=True)
        return 0
    rows, failed = [], 0
    for name in [m.strip() for m in a.models.split(",") if m.strip()]:
        cmd = [sys.executable, os.path.abspath(__file__), "--single", name, "--threads", str(a.threads),
               "--seconds", str(a.seconds), "--min-steps", str(a.min_steps), "--warmup", str(a.warmup),
               "--batch", str(a.batch), "--density", str(a.density)] + (["--profile"] if a.profile else []) + \
              (["--infer-only"] if a.infer_only else []) + (["--pruned"] if a.pruned else [])
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            print(f"torch_bench: {name} failed with exit code {proc.returncode}", file=sys.stderr)
            failed += 1
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        if a.json:
            print(json.dumps(row), flush=True)
    if not a.json:
        print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
