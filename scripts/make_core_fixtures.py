#!/usr/bin/python3
"""Reference outputs and gradients of the core ops, computed by PyTorch (CPU, float32).

Run with the system python (torch 1.13):  /usr/bin/python3 scripts/make_core_fixtures.py
Writes one safetensors file per op family into tests/fixtures/core/.

Key layout inside a file, per case:
  <case>.in.<name>    an input (float32; integer data such as targets is stored as exact float32)
  <case>.out[.<name>] the output(s); integer outputs (indices) are stored as float32 too
  <case>.gout         the upstream gradient: backward runs on (out * gout).sum(), so gradients are not
                      just sums of ones
  <case>.grad.<name>  d/d input of (out * gout).sum()
  <case>.state.<n>    tensors an op changes in place (batch-norm running statistics after the step)
Op arguments (dims, strides...) are written next to the C# call in the tests; the case names say them.
"""
import json
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_io  # noqa: E402  (pure-python safetensors writer shared by the fixture scripts)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "core")

torch.set_default_dtype(torch.float32)
torch.set_num_threads(1)


def rand(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape)) * (hi - lo) + lo


def away_from(t, points, gap):
    """Moves entries that lie within `gap` of any of `points` (kinks of relu/abs/clamp) out of that band."""
    t = t.clone()
    for p in points:
        near = (t - p).abs() < gap
        t[near] = p + torch.where(t[near] >= p, torch.tensor(gap), torch.tensor(-gap)) * 2
    return t


def distinct(*shape, scale=3.0):
    """Values without ties, pairwise at least scale/numel apart (sort/max/topk need a unique answer)."""
    n = 1
    for s in shape:
        n *= s
    base = torch.randperm(n).float() / n * 2 - 1
    jitter = torch.rand(n) * 0.5 / n
    return ((base + jitter) * scale).reshape(shape)


class Family:
    """Collects the cases of one fixture file."""

    def __init__(self, name):
        self.name = name
        self.tensors = {}
        # Each family draws from its own seed, so adding a case to one file leaves the others unchanged.
        torch.manual_seed(zlib.crc32(name.encode()))

    def put(self, key, t):
        assert key not in self.tensors, key
        self.tensors[key] = t.detach().to(torch.float32).contiguous().clone()

    def case(self, case, fn, inputs, grad=None, gout=True):
        """Runs fn(**inputs); records inputs, output(s), upstream gradient and gradients of the named inputs.

        grad: names of inputs that get gradients (default: all float inputs that are tensors).
        fn may return a tensor or a dict of tensors; only float outputs take part in the backward.
        """
        leaves = {}
        for k, v in inputs.items():
            self.put(f"{case}.in.{k}", v)
            want = (grad is None or k in grad) and v.is_floating_point()
            leaves[k] = v.detach().clone().requires_grad_(want)
        res = fn(**leaves)
        outs = res if isinstance(res, dict) else {"": res}
        loss = 0
        for k, v in outs.items():
            key = f"{case}.out" + (f".{k}" if k else "")
            self.put(key, v)
            if gout and v.is_floating_point() and v.requires_grad:
                g = rand(*v.shape, lo=-1.0, hi=1.0)
                self.put(key.replace(".out", ".gout", 1), g)
                loss = loss + (v * g).sum()
        if torch.is_tensor(loss):
            loss.backward()
            for k, v in leaves.items():
                if v.requires_grad:
                    assert v.grad is not None, f"{case}: no gradient for {k}"
                    self.put(f"{case}.grad.{k}", v.grad)
        return res

    def save(self, metadata=None):
        os.makedirs(OUT_DIR, exist_ok=True)
        path = os.path.join(OUT_DIR, f"{self.name}.safetensors")
        meta = {"generator": "scripts/make_core_fixtures.py", "torch": torch.__version__}
        meta.update(metadata or {})
        fixture_io.save(path, self.tensors, meta)
        print(f"{path}: {len(self.tensors)} tensors, {os.path.getsize(path)} bytes")


# ---------------------------------------------------------------------------------------------------------------
def elementwise():
    f = Family("elementwise")
    f.case("add_3x4_4", lambda a, b: a + b, {"a": rand(3, 4), "b": rand(4)})
    f.case("add_same", lambda a, b: a + b, {"a": rand(2, 3), "b": rand(2, 3)})
    f.case("sub_3x1_1x4", lambda a, b: a - b, {"a": rand(3, 1), "b": rand(1, 4)})
    f.case("sub_scalar_tensor", lambda a, b: a - b, {"a": rand(1), "b": rand(2, 3)})
    f.case("mul_2x1x3_1x4x1", lambda a, b: a * b, {"a": rand(2, 1, 3), "b": rand(1, 4, 1)})
    f.case("mul_4d_channel", lambda a, b: a * b, {"a": rand(2, 3, 2, 2), "b": rand(3, 1, 1)})
    f.case("div_2x3x4_3x1", lambda a, b: a / b,
           {"a": rand(2, 3, 4), "b": away_from(rand(3, 1), [0.0], 0.25)})
    f.case("div_1_by_2x3", lambda a, b: a / b,
           {"a": rand(1), "b": away_from(rand(2, 3), [0.0], 0.25)})
    f.case("add_scalar", lambda a: a + 1.5, {"a": rand(2, 3)})
    f.case("mul_scalar", lambda a: a * -0.75, {"a": rand(2, 3)})
    cond = (torch.rand(3, 4) > 0.5).float()
    f.case("where_3x4_4", lambda c, a, b: torch.where(c != 0, a, b),
           {"c": cond, "a": rand(3, 4), "b": rand(4)}, grad={"a", "b"})
    f.save()


def unary():
    f = Family("unary")
    x = away_from(rand(3, 5), [0.0], 0.05)
    pos = rand(3, 5, lo=0.2, hi=3.0)
    f.case("neg", lambda x: -x, {"x": x})
    f.case("exp", torch.exp, {"x": x})
    f.case("log", torch.log, {"x": pos})
    f.case("sqrt", torch.sqrt, {"x": pos})
    f.case("abs", torch.abs, {"x": x})
    f.case("pow_2", lambda x: x.pow(2), {"x": x})
    f.case("pow_3", lambda x: x.pow(3), {"x": x})
    f.case("pow_0.5", lambda x: x.pow(0.5), {"x": pos})
    f.case("pow_-1.5", lambda x: x.pow(-1.5), {"x": pos})
    f.case("pow_0_at_zero", lambda x: x.pow(0), {"x": torch.tensor([0.0, 1.5, -2.0])})  # gradient 0, not 0·0⁻¹
    f.case("relu", torch.relu, {"x": x})
    f.case("sigmoid", torch.sigmoid, {"x": x * 2})
    f.case("tanh", torch.tanh, {"x": x})
    f.case("clamp_-0.5_0.7", lambda x: x.clamp(-0.5, 0.7), {"x": away_from(x, [-0.5, 0.7], 0.05)})
    f.case("clamp_min_0.3", lambda x: x.clamp(min=0.3), {"x": away_from(x, [0.3], 0.05)})
    f.case("clamp_max_-0.2", lambda x: x.clamp(max=-0.2), {"x": away_from(x, [-0.2], 0.05)})
    f.save()


def reductions():
    f = Family("reductions")
    x = rand(3, 4, 5)
    f.case("sum_all", lambda x: x.sum(), {"x": x})
    f.case("mean_all", lambda x: x.mean(), {"x": x})
    f.case("sum_1", lambda x: x.sum(1), {"x": x})
    f.case("sum_-1_keep", lambda x: x.sum(-1, keepdim=True), {"x": x})
    f.case("sum_0_2", lambda x: x.sum((0, 2)), {"x": x})
    f.case("sum_0_2_keep", lambda x: x.sum((0, 2), keepdim=True), {"x": x})
    f.case("mean_0", lambda x: x.mean(0), {"x": x})
    f.case("mean_1_2_keep", lambda x: x.mean((1, 2), keepdim=True), {"x": x})
    d = distinct(3, 4, 5)
    for dim in (0, 1, 2):
        for keep in (False, True):
            suffix = f"{dim}" + ("_keep" if keep else "")
            f.case(f"max_{suffix}", lambda x, dim=dim, keep=keep:
                   dict(zip(("values", "indices"), x.max(dim, keepdim=keep))), {"x": d})
            f.case(f"min_{suffix}", lambda x, dim=dim, keep=keep:
                   dict(zip(("values", "indices"), x.min(dim, keepdim=keep))), {"x": d})
    # Norms (not differentiable in the core): zeros included so p=0 counts something non-trivial.
    n = rand(3, 4, 5)
    n[n.abs() < 0.6] = 0.0
    # PyTorch reduces over every dim when the dim list is empty; a 0-d tensor accepts dim 0 / -1.
    f.case("sum_empty_dims", lambda x: x.sum(dim=[]), {"x": x})
    f.case("mean_empty_dims_keep", lambda x: x.mean(dim=[], keepdim=True), {"x": x})
    f.case("norm_2_empty_dims_1d", lambda x: torch.linalg.vector_norm(x, 2, dim=[]), {"x": rand(5)}, gout=False)
    s = torch.tensor(1.25)
    f.case("sum_0d_dim0", lambda x: x.sum(0), {"x": s})
    f.case("mean_0d_dim-1_keep", lambda x: x.mean(-1, keepdim=True), {"x": s})
    f.case("max_0d_dim0", lambda x: dict(zip(("values", "indices"), x.max(0))), {"x": s})
    f.case("min_0d_dim-1_keep", lambda x: dict(zip(("values", "indices"), x.min(-1, keepdim=True))), {"x": s})
    dims = (("all", {}), ("dim1", {"dim": 1}), ("dim0_2_keep", {"dim": (0, 2), "keepdim": True}), ("dim1_2", {"dim": (1, 2)}))
    for p, name in ((1, "1"), (2, "2"), (3, "3"), (float("inf"), "inf"), (float("-inf"), "-inf"), (0, "0")):
        for suffix, kw in dims:
            f.case(f"norm_{name}_{suffix}", lambda x, p=p, kw=kw: torch.linalg.vector_norm(x, ord=p, **kw),
                   {"x": n}, gout=False)
    f.save()


def shape_ops():
    f = Family("shape")
    x = rand(2, 3, 4)
    f.case("view_6x4", lambda x: x.view(6, 4), {"x": x})
    f.case("view_-1x2", lambda x: x.view(-1, 2), {"x": x})
    f.case("flatten_1", lambda x: x.flatten(1), {"x": x})
    f.case("unsqueeze_1", lambda x: x.unsqueeze(1), {"x": x})
    f.case("squeeze_1_keeps_size3", lambda x: x.squeeze(1), {"x": x})
    f.case("squeeze_-2", lambda x: x.squeeze(-2), {"x": rand(2, 1, 3)})
    f.case("squeeze_0d", lambda x: x.squeeze(0), {"x": torch.tensor(0.75)})
    f.case("permute_2_0_1", lambda x: x.permute(2, 0, 1), {"x": x})
    f.case("permute_4d_0_2_3_1", lambda x: x.permute(0, 2, 3, 1), {"x": rand(2, 3, 2, 4)})
    f.case("transpose_0_2", lambda x: x.transpose(0, 2), {"x": x})
    f.case("t", lambda x: x.t(), {"x": rand(3, 5)})
    f.case("narrow_0_1_1", lambda x: x.narrow(0, 1, 1), {"x": x})
    f.case("narrow_1_1_2", lambda x: x.narrow(1, 1, 2), {"x": x})
    f.case("slice_2_-3_-1", lambda x: x[:, :, -3:-1], {"x": x})
    f.case("select_1_2", lambda x: x.select(1, 2), {"x": x})
    f.case("select_-1_-1", lambda x: x.select(-1, -1), {"x": x})
    # Repeated index: index_select's backward must add both contributions.
    f.case("index_select_1_2_0_2", lambda x: x.index_select(1, torch.tensor([2, 0, 2])), {"x": x})
    f.case("index_select_0_1", lambda x: x.index_select(0, torch.tensor([1])), {"x": x})
    f.case("cat_0", lambda a, b: torch.cat([a, b], 0), {"a": rand(2, 3), "b": rand(1, 3)})
    f.case("cat_1_three", lambda a, b, c: torch.cat([a, b, c], 1),
           {"a": rand(2, 1, 2), "b": rand(2, 3, 2), "c": rand(2, 2, 2)})
    f.case("cat_-1", lambda a, b: torch.cat([a, b], -1), {"a": rand(2, 3, 2), "b": rand(2, 3, 1)})
    f.case("stack_0", lambda a, b: torch.stack([a, b], 0), {"a": rand(2, 3), "b": rand(2, 3)})
    f.case("stack_2", lambda a, b, c: torch.stack([a, b, c], 2), {"a": rand(2, 3), "b": rand(2, 3), "c": rand(2, 3)})
    f.case("stack_-1", lambda a, b: torch.stack([a, b], -1), {"a": rand(2, 3), "b": rand(2, 3)})
    f.save()


def sorting():
    f = Family("sorting")
    x = distinct(3, 6)
    y = distinct(4, 3, 2)
    names = ("values", "indices")
    f.case("sort_-1", lambda x: dict(zip(names, torch.sort(x, -1))), {"x": x})
    f.case("sort_0_desc", lambda x: dict(zip(names, torch.sort(x, 0, descending=True))), {"x": x})
    f.case("sort_3d_1", lambda x: dict(zip(names, torch.sort(x, 1))), {"x": y})
    f.case("topk_3_-1", lambda x: dict(zip(names, torch.topk(x, 3, -1))), {"x": x})
    f.case("topk_2_0_smallest", lambda x: dict(zip(names, torch.topk(x, 2, 0, largest=False))), {"x": x})
    f.case("topk_2_0_3d", lambda x: dict(zip(names, torch.topk(x, 2, 0))), {"x": y})
    f.case("kthvalue_2_-1", lambda x: dict(zip(names, torch.kthvalue(x, 2, -1))), {"x": x})
    f.case("kthvalue_3_0_keep", lambda x: dict(zip(names, torch.kthvalue(x, 3, 0, keepdim=True))), {"x": x})
    f.case("kthvalue_2_1_3d", lambda x: dict(zip(names, torch.kthvalue(x, 2, 1))), {"x": y})
    f.case("kthvalue_0d", lambda x: dict(zip(names, torch.kthvalue(x, 1, 0))), {"x": torch.tensor(-0.5)})
    f.save()


def linear():
    f = Family("linear")
    f.case("linear_2d", F.linear, {"input": rand(4, 5), "weight": rand(3, 5), "bias": rand(3)})
    f.case("linear_3d", F.linear, {"input": rand(2, 3, 5), "weight": rand(4, 5), "bias": rand(4)})
    f.case("linear_nobias", lambda input, weight: F.linear(input, weight), {"input": rand(6, 7), "weight": rand(2, 7)})
    # Large enough for the blocked GEMM path (not just the small-matrix one).
    f.case("linear_large", F.linear, {"input": rand(33, 70), "weight": rand(65, 70), "bias": rand(65)})
    f.case("matmul", lambda a, b: a @ b, {"a": rand(3, 4), "b": rand(4, 5)})
    f.case("matmul_large", lambda a, b: a @ b, {"a": rand(40, 37), "b": rand(37, 50)})
    f.save()


def conv():
    f = Family("conv")

    def c(name, x, w, b=None, **kw):
        inputs = {"x": x, "weight": w}
        if b is not None:
            inputs["bias"] = b
            f.case(name, lambda x, weight, bias: F.conv2d(x, weight, bias, **kw), inputs)
        else:
            f.case(name, lambda x, weight: F.conv2d(x, weight, None, **kw), inputs)

    c("conv_basic", rand(2, 3, 7, 7), rand(4, 3, 3, 3), rand(4))
    c("conv_s2_p1", rand(2, 3, 8, 8), rand(5, 3, 3, 3), rand(5), stride=2, padding=1)
    c("conv_d2_p2", rand(1, 2, 9, 9), rand(3, 2, 3, 3), rand(3), padding=2, dilation=2)
    c("conv_g2", rand(2, 4, 6, 6), rand(6, 2, 3, 3), rand(6), groups=2)
    c("conv_depthwise_p1", rand(2, 4, 8, 8), rand(4, 1, 3, 3), rand(4), padding=1, groups=4)
    c("conv_nobias_k3x2_s2x1_p1x0", rand(2, 3, 7, 6), rand(4, 3, 3, 2), None, stride=(2, 1), padding=(1, 0))
    c("conv_1x1", rand(2, 8, 5, 5), rand(6, 8, 1, 1), rand(6))
    c("conv_s3_d2_g2_p1", rand(2, 4, 11, 10), rand(4, 2, 3, 3), rand(4), stride=3, padding=1, dilation=2, groups=2)
    c("conv_big", rand(2, 16, 12, 12), rand(24, 16, 3, 3), rand(24), padding=1)
    f.save()


def pooling():
    f = Family("pool")
    x = distinct(2, 3, 7, 7)
    f.case("maxpool_k2", lambda x: F.max_pool2d(x, 2), {"x": x})
    f.case("maxpool_k3_s2_p1", lambda x: F.max_pool2d(x, 3, 2, 1), {"x": x})
    f.case("maxpool_k2_s1", lambda x: F.max_pool2d(x, 2, 1), {"x": x})
    f.case("avgpool_k2", lambda x: F.avg_pool2d(x, 2), {"x": x})
    f.case("avgpool_k3_s2_p1", lambda x: F.avg_pool2d(x, 3, 2, 1), {"x": x})
    f.case("adaptive_avg_3x3", lambda x: F.adaptive_avg_pool2d(x, (3, 3)), {"x": x})
    f.case("adaptive_avg_1x1", lambda x: F.adaptive_avg_pool2d(x, (1, 1)), {"x": x})
    f.case("adaptive_avg_8x6_to_3x4", lambda x: F.adaptive_avg_pool2d(x, (3, 4)), {"x": rand(1, 2, 8, 6)})
    f.save()


def batchnorm():
    f = Family("batchnorm")
    momentum, eps = 0.1, 1e-5

    def bn(name, x, training):
        c = x.shape[1]
        rm = rand(c, lo=-0.5, hi=0.5)
        rv = rand(c, lo=0.5, hi=2.0)
        state = {"running_mean": rm.clone(), "running_var": rv.clone()}
        f.put(f"{name}.in.running_mean", rm)
        f.put(f"{name}.in.running_var", rv)
        f.case(name, lambda x, weight, bias: F.batch_norm(
            x, state["running_mean"], state["running_var"], weight, bias, training, momentum, eps),
            {"x": x, "weight": rand(c, lo=0.5, hi=1.5), "bias": rand(c, lo=-0.5, hi=0.5)})
        f.put(f"{name}.state.running_mean", state["running_mean"])
        f.put(f"{name}.state.running_var", state["running_var"])

    bn("bn1d_train", rand(8, 5) * 2 + 0.5, True)
    bn("bn1d_eval", rand(8, 5) * 2 + 0.5, False)
    bn("bn2d_train", rand(4, 3, 5, 5) * 2 + 0.5, True)
    bn("bn2d_eval", rand(4, 3, 5, 5) * 2 + 0.5, False)
    f.save({"momentum": str(momentum), "eps": str(eps)})


def losses():
    f = Family("loss")
    logits = rand(6, 5) * 2
    targets = torch.tensor([0, 4, 2, 2, 1, 3])
    f.case("log_softmax", lambda x: F.log_softmax(x, -1), {"x": logits})
    f.case("log_softmax_large", lambda x: F.log_softmax(x, -1), {"x": rand(3, 7) * 40})
    f.case("cross_entropy", lambda x, target: F.cross_entropy(x, target), {"x": logits, "target": targets})
    f.case("cross_entropy_ls0.1", lambda x, target: F.cross_entropy(x, target, label_smoothing=0.1),
           {"x": logits, "target": targets})
    f.case("cross_entropy_ls0.3_10cls", lambda x, target: F.cross_entropy(x, target, label_smoothing=0.3),
           {"x": rand(4, 10) * 3, "target": torch.tensor([9, 0, 5, 9])})
    f.case("nll_loss", lambda x, target: F.nll_loss(x, target),
           {"x": F.log_softmax(rand(6, 5), -1), "target": targets})
    f.case("mse", F.mse_loss, {"input": rand(3, 4), "target": rand(3, 4)})
    f.save()


def fuzz():
    """Random shapes for the index arithmetic of broadcasting, permute, reductions and cat: every combination of
    broadcast/contiguous inner dims, leading dims dropped, size-1 dims kept. The case name carries the arguments
    (FuzzParityTests parses it): bcast_<op>_<i>, permute_<i>_<perm...>, <sum|mean>_<i>_d<dims...>_<keep|drop>,
    <max|min>_<i>_d<dim>_<keep|drop>, cat_<i>_d<dim>."""
    f = Family("fuzz")
    ops = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
    for i in range(32):
        rank = int(torch.randint(0, 5, ()))
        a_shape = [int(v) for v in torch.randint(1, 4, (rank,))]
        b_shape = [1 if torch.rand(()) < 0.4 else v for v in a_shape]
        b_shape = b_shape[int(torch.randint(0, rank + 1, ())):]  # drop leading dims
        if torch.rand(()) < 0.5:
            a_shape, b_shape = b_shape, a_shape
        op = list(ops)[i % 4]
        b = rand(*b_shape)
        if op == "div":
            b = (b.abs() + 0.5) * torch.sign(b + 1e-3)
        f.case(f"bcast_{op}_{i:02d}", lambda a, b, fn=ops[op]: fn(a, b), {"a": rand(*a_shape), "b": b})
    for i in range(8):
        rank = 2 + i % 4
        shape = [int(v) for v in torch.randint(1, 4, (rank,))]
        perm = [int(v) for v in torch.randperm(rank)]
        f.case(f"permute_{i:02d}_" + "_".join(map(str, perm)), lambda x, perm=perm: x.permute(*perm), {"x": rand(*shape)})
    for i in range(12):
        rank = 1 + i % 4
        shape = [int(v) for v in torch.randint(1, 5, (rank,))]
        dims = sorted(set(int(v) for v in torch.randint(0, rank, (1 + i % 3,))))
        keep = bool(i % 2)
        red = "sum" if i % 3 else "mean"
        name = f"{red}_{i:02d}_d" + "_".join(map(str, dims)) + ("_keep" if keep else "_drop")
        f.case(name, lambda x, red=red, dims=dims, keep=keep: getattr(x, red)(dims, keepdim=keep), {"x": rand(*shape)})
    for i in range(6):
        rank = 1 + i % 3
        shape = [int(v) for v in torch.randint(2, 5, (rank,))]
        dim = int(torch.randint(0, rank, ()))
        keep = bool(i % 2)
        red = "max" if i % 2 == 0 else "min"
        f.case(f"{red}_{i:02d}_d{dim}_" + ("keep" if keep else "drop"),
               lambda x, red=red, dim=dim, keep=keep: dict(zip(("values", "indices"), getattr(x, red)(dim, keepdim=keep))),
               {"x": distinct(*shape)})
    for i in range(6):
        rank = 1 + i % 3
        shape = [int(v) for v in torch.randint(1, 4, (rank,))]
        dim = int(torch.randint(0, rank, ()))
        shapes = []
        for _ in range(3):
            s2 = list(shape)
            s2[dim] = int(torch.randint(1, 4, ()))
            shapes.append(s2)
        f.case(f"cat_{i:02d}_d{dim}", lambda a, b, c, dim=dim: torch.cat([a, b, c], dim),
               {"a": rand(*shapes[0]), "b": rand(*shapes[1]), "c": rand(*shapes[2])})
    f.save()


# ---------------------------------------------------------------------------------------------------------------
def modules():
    """PyTorch's naming and ordering for a module mixing children, parameters and (non-)persistent buffers.

    The state dict (random values) is stored in PyTorch's order; the name lists go into the metadata.
    ModuleTests builds the same model in C# (same registration order) and compares.
    """

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3, bias=False)
            self.register_buffer("scale", torch.ones(3))
            self.register_buffer("scratch", torch.zeros(3), persistent=False)
            self.gate = nn.Parameter(torch.ones(3))
            self.head = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
            self.block = Block()
            self.classifier = nn.Linear(2, 5)

    net = Net()
    f = Family("modules")
    for k, v in net.state_dict().items():
        f.put(k, rand(*v.shape))
    # Sharing: a module used twice is listed once by named_parameters but twice by state_dict; a buffer tensor
    # registered in two modules is listed once by named_buffers.
    lin = nn.Linear(2, 2)
    shared = nn.Sequential(lin, nn.ReLU(), lin)
    both = nn.Module()
    both.c1, both.c2 = nn.Module(), nn.Module()
    buf = torch.ones(2)
    both.c1.register_buffer("b", buf)
    both.c2.register_buffer("b", buf)
    # repr() of the layers with their non-default arguments (ModuleTests builds the same model).
    class Net2(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(8, 8, (3, 1), stride=2, groups=4, dilation=(2, 1)), nn.AvgPool2d(2),
                nn.AdaptiveAvgPool2d((1, 1)), nn.AdaptiveAvgPool2d(2))
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Dropout(0.25), nn.Linear(8, 10), nn.BatchNorm1d(10, momentum=None), nn.Identity(),
                nn.Linear(10, 2, bias=False))

    f.save({
        "repr": repr(Net2()),
        "shared_module.state_dict": json.dumps(list(shared.state_dict().keys())),
        "shared_module.named_parameters": json.dumps([n for n, _ in shared.named_parameters()]),
        "shared_module.named_modules": json.dumps([n for n, _ in shared.named_modules()]),
        "shared_buffer.state_dict": json.dumps(list(both.state_dict().keys())),
        "shared_buffer.named_buffers": json.dumps([n for n, _ in both.named_buffers()]),
        "named_modules": json.dumps([n for n, _ in net.named_modules()]),
        "named_parameters": json.dumps([n for n, _ in net.named_parameters()]),
        "named_buffers": json.dumps([n for n, _ in net.named_buffers()]),
    })


def init():
    """Bounds and standard deviations of torch.nn.init for the shapes InitTests samples (formulas, not streams:
    the generators differ). The file holds one dummy tensor; the numbers are metadata."""
    import math

    def std(shape, a, mode, nl):
        fan = nn.init._calculate_correct_fan(torch.empty(shape), mode)
        return nn.init.calculate_gain(nl, a) / math.sqrt(fan)

    lin, conv = nn.Linear(50, 20), nn.Conv2d(6, 16, 5, groups=2)
    meta = {
        # Layer defaults: weight kaiming_uniform_(a=√5), bias U(±1/√fan_in).
        "linear.weight_bound": math.sqrt(3) * std(lin.weight.shape, math.sqrt(5), "fan_in", "leaky_relu"),
        "linear.bias_bound": 1 / math.sqrt(nn.init._calculate_fan_in_and_fan_out(lin.weight)[0]),
        "conv.weight_bound": math.sqrt(3) * std(conv.weight.shape, math.sqrt(5), "fan_in", "leaky_relu"),
        "conv.bias_bound": 1 / math.sqrt(nn.init._calculate_fan_in_and_fan_out(conv.weight)[0]),
        "kaiming_uniform_fan_in_leaky0.bound": math.sqrt(3) * std((128, 256), 0, "fan_in", "leaky_relu"),
        "kaiming_normal_fan_out_relu.std": std((64, 32, 3, 3), 0, "fan_out", "relu"),
        "kaiming_normal_fan_in_tanh.std": std((300, 400), 0, "fan_in", "tanh"),
        "xavier_uniform.bound": math.sqrt(6 / (100 + 200)),
        "xavier_uniform_gain_relu.bound": nn.init.calculate_gain("relu") * math.sqrt(6 / (30 * 9 + 50 * 9)),
    }
    f = Family("init")
    f.put("placeholder", torch.zeros(1))
    f.save({k: repr(v) for k, v in meta.items()})


# ---------------------------------------------------------------------------------------------------------------
def train_sgd():
    """Five SGD steps of a tiny conv net; the C# test replays them from the same weights and batch."""
    f = Family("train_sgd")
    torch.manual_seed(7)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 10))
    x = distinct(8, 1, 8, 8)  # distinct pixels: no exact ties inside the max-pool windows
    y = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    for k, v in net.state_dict().items():
        f.put(f"initial.{k}", v)
    f.put("batch.x", x)
    f.put("batch.y", y)
    lr, momentum, wd, steps = 0.1, 0.9, 5e-4, 5
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    f.put("losses", torch.tensor(losses))
    for k, v in net.state_dict().items():
        f.put(f"final.{k}", v)
    f.save({"lr": str(lr), "momentum": str(momentum), "weight_decay": str(wd), "steps": str(steps)})


def main():
    for fam in (elementwise, unary, reductions, shape_ops, sorting, linear, conv, pooling, batchnorm, losses, fuzz,
                modules, init, train_sgd):
        fam()
    total = sum(os.path.getsize(os.path.join(OUT_DIR, n)) for n in os.listdir(OUT_DIR))
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
