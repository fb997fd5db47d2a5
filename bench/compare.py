#!/usr/bin/python3
"""Side-by-side speed comparison: SharpPrune (bench/SharpPrune.Bench) vs PyTorch (bench/torch_bench.py).

  /usr/bin/python3 bench/compare.py [--models lenet5,alexnet,vgg16,resnet56] [--threads 2] [--seconds 5] [--no-gemm] [--no-ort]
                                    [--isa native|avx2] [--sparse | --sparse-only] [--sparse-models alexnet,lenet300]

Builds the bench in Release once, runs both sides model by model (interleaved, so a change in machine load hits
both alike), then SGEMM vs torch.mm, prints the ratio table and writes every raw JSON line to
bench/results/<date>.jsonl, appended (each run opens with a metadata line holding the machine load). Inference also runs in ONNX Runtime
(our exported ONNX graph of the same model, IntraOpNumThreads = --threads): the third column.

--sparse adds (--sparse-only runs only) the pruned-model table of issue 10: AlexNet at Han et al. 2015's per-layer
densities and LeNet-300-100 at 8%, batch 1 and the model's batch: PyTorch dense of the same masked model
(torch_bench.py --pruned --infer-only), ours dense and ours sparse (SharpPrune.Bench --sparse: dense and sparse
interleaved in one process), the rounds interleaved between the two sides.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROJECT = os.path.join(HERE, "SharpPrune.Bench", "SharpPrune.Bench.csproj")


def sh(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, check=True, text=True, **kw)


def build():
    # With SP_BUILD_ROOT the SDK no longer excludes in-tree obj/ folders another build may have left behind.
    props = ["-p:Configuration=Release", "-p:DefaultItemExcludes=obj/**"]
    b = subprocess.run(["dotnet", "build", PROJECT, "-nologo", "-v", "q"] + props, cwd=ROOT, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if b.returncode != 0:
        sys.exit(f"compare: build failed\n{b.stdout[-4000:]}")
    out = sh(["dotnet", "msbuild", PROJECT, "-nologo", "-getProperty:TargetPath"] + props,
             stdout=subprocess.PIPE).stdout.strip()
    if not os.path.isfile(out):
        sys.exit(f"compare: built bench not found at {out}")
    return out


def json_lines(cmd):
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    rows = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0:
        print(f"compare: {' '.join(cmd)} exited with {proc.returncode}", file=sys.stderr)
    return rows


# Environment that caps each side's vector ISA (oneDNN reads ONEDNN_MAX_CPU_ISA, older builds DNNL_MAX_CPU_ISA).
ISA_CAPS = {
    "native": {},
    # DOTNET_EnableAVX512=0 (the .NET 10 name) also keeps the runtime's own vector code (TensorPrimitives, span
    # copies) to 256 bits, as on an AVX2-only CPU; SP_MAX_ISA alone caps only our kernels.
    "avx2": {"SP_MAX_ISA": "avx2", "DOTNET_EnableAVX512": "0", "ONEDNN_MAX_CPU_ISA": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2",
             "OPENBLAS_CORETYPE": "Haswell", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def cpu_info():
    """CPU model and its SIMD flags (/proc/cpuinfo, as lscpu shows them), for the results metadata."""
    model, flags = platform.processor(), []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key.strip() == "model name" and val.strip():
                    model = val.strip()
                elif key.strip() == "flags":
                    flags = val.split()
                    break
    except OSError:
        pass
    simd = [x for x in flags if x.startswith(("sse", "ssse", "avx", "fma", "f16c", "amx")) or x == "popcnt"]
    return {"cpu_model": model, "cpu_simd_flags": simd}


TORCH_BLAS = "/usr/lib/x86_64-linux-gnu/libblas.so.3"
# OpenBLAS cores that use AVX-512; on a CPU newer than its build (Debian 12's 0.3.21 reads AMD Zen 5, family 26, as
# Haswell) OpenBLAS falls back to an AVX2 core, which would make torch.mm and nn.Linear look slower than they can be.
OPENBLAS_AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")


def torch_blas_setup(isa, simd_flags, allow_reference):
    """Checks the BLAS torch.mm will use and, natively, gives OpenBLAS its best core for this CPU.

    Returns (library path, OpenBLAS core name or None, extra environment for the torch side)."""
    path = os.path.realpath(TORCH_BLAS)
    if "openblas" not in path and "mkl" not in path:
        # Debian's reference BLAS (libblas3) is unblocked scalar code, ~20x slower than OpenBLAS: the torch side's GEMM
        # and Linear numbers would be meaningless.
        msg = (f"compare: torch's BLAS is {path}, not OpenBLAS: PyTorch's matrix products would run on the unoptimised "
               f"reference BLAS. Install libopenblas0-pthread (apt-get install libopenblas0-pthread)")
        if not allow_reference:
            sys.exit(msg + ", or pass --allow-reference-blas to measure anyway.")
        print(msg + "; measuring anyway (--allow-reference-blas).", file=sys.stderr)
        return path, None, {}
    core = None
    try:
        import ctypes
        lib = ctypes.CDLL(path)
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return path, None, {}
    env = {}
    avx512 = all(f in simd_flags for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq"))
    # Natively both sides run their widest kernels (--isa avx2 caps both): an OPENBLAS_CORETYPE inherited from the
    # environment (this machine's sets Haswell) or OpenBLAS's own fallback must not cap the torch side alone.
    if isa == "native" and avx512 and core.lower() not in OPENBLAS_AVX512_CORES:
        env["OPENBLAS_CORETYPE"] = "Cooperlake" if "avx512_bf16" in simd_flags else "SkylakeX"
        why = (f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} in the environment" if "OPENBLAS_CORETYPE" in os.environ
               else "OpenBLAS does not know this CPU")
        print(f"compare: OpenBLAS runs core {core} ({why}); the torch side runs with OPENBLAS_CORETYPE="
              f"{env['OPENBLAS_CORETYPE']}, its AVX-512 kernels", file=sys.stderr)
        core = env["OPENBLAS_CORETYPE"]
    return path, core, env


def load():
    return [round(x, 2) for x in os.getloadavg()]


def ratio(a, b):
    return a / b if a and b else float("nan")


def mark(ok):
    return "ok" if ok else "MISS"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="lenet5,alexnet,vgg16,resnet56")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--min-steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the table shows each side's best")
    p.add_argument("--budget", type=float, default=540, help="start no new round that would end past this many s")
    p.add_argument("--no-gemm", action="store_true")
    p.add_argument("--isa", choices=["native", "avx2"], default="native",
                   help="cap both sides' vector ISA: avx2 sets SP_MAX_ISA=avx2 and DOTNET_EnableAVX512=0 (ours) and ONEDNN_MAX_CPU_ISA=AVX2, "
                        "OPENBLAS_CORETYPE=Haswell (torch), so a machine with AVX-512 also measures the AVX2 paths")
    p.add_argument("--no-ort", action="store_true", help="skip the ONNX Runtime inference column")
    p.add_argument("--out", default=None, help="results file (default bench/results/<date>.jsonl)")
    p.add_argument("--sparse", action="store_true", help="also run the pruned-model (sparse inference) table")
    p.add_argument("--sparse-only", action="store_true", help="run only the pruned-model (sparse inference) table")
    p.add_argument("--sparse-models", default="alexnet,lenet300")
    p.add_argument("--allow-reference-blas", action="store_true",
                   help="measure even when torch's BLAS is the unoptimised reference libblas (its numbers are then not comparable)")
    a = p.parse_args()

    cpu = cpu_info()
    blas_path, blas_core, blas_env = torch_blas_setup(a.isa, cpu["cpu_simd_flags"], a.allow_reference_blas)
    dll = build()
    os.environ.update(ISA_CAPS[a.isa])  # inherited by every child process of both sides
    os.environ.update(blas_env)  # OpenBLAS reads only OPENBLAS_*: our side is unaffected
    common = ["--threads", str(a.threads), "--seconds", str(a.seconds), "--min-steps", str(a.min_steps), "--json"]
    ours_cmd = ["dotnet", dll]
    torch_cmd = ["/usr/bin/python3", os.path.join(HERE, "torch_bench.py")]
    started = datetime.datetime.now()
    meta = {"meta": {"date": started.isoformat(timespec="seconds"), "host": platform.node(), "cpus": os.cpu_count(),
                     "load_before": load(), "threads": a.threads, "seconds": a.seconds, "command": " ".join(sys.argv),
                     "git": sh(["git", "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE).stdout.strip(),
                     # torch.mm / nn.Linear speed depends on which libblas the system alternative points at.
                     "torch_blas": blas_path, "torch_blas_core": blas_core, "torch_blas_env": blas_env,
                     "isa": a.isa, "isa_env": ISA_CAPS[a.isa], **cpu}}
    rows, loads, rounds = [], [], 0
    sides = [("ours", ours_cmd + ([] if a.no_ort else ["--ort"])), ("torch", torch_cmd)]
    t_start = time.monotonic()
    if a.sparse_only:
        sparse_rows = run_sparse(a, ours_cmd, torch_cmd, common, loads)
        meta["meta"].update(load_after=load(), load_1min_during=loads,
                            elapsed_s=round((datetime.datetime.now() - started).total_seconds(), 1))
        out = a.out or os.path.join(HERE, "results", started.strftime("%Y-%m-%d") + "-sparse.jsonl")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "a") as f:
            for r in [meta] + sparse_rows:
                f.write(json.dumps(r) + "\n")
        report_sparse(sparse_rows, meta["meta"])
        print(f"\nraw results: {os.path.relpath(out, ROOT)}")
        return 0
    while rounds < a.rounds:
        t_round = time.monotonic()
        for m in a.models.split(","):
            # Alternate which side goes first so a load trend does not always favour the same one.
            for side, cmd in (sides if rounds % 2 == 0 else sides[::-1]):
                print(f"compare: round {rounds + 1} {m} ({side}) ... load {load()}", file=sys.stderr, flush=True)
                rows += json_lines(cmd + ["--models", m] + common)
                loads.append(load()[0])
        rounds += 1
        took = time.monotonic() - t_round
        if time.monotonic() - t_start + took > a.budget:
            break
    gemm = []
    if not a.no_gemm:
        print(f"compare: gemm ... load {load()}", file=sys.stderr, flush=True)
        gemm = json_lines(ours_cmd + ["--gemm", "--threads", str(a.threads), "--json"])
        gemm += json_lines(torch_cmd + ["--gemm", "--threads", str(a.threads), "--json"])
    sparse_rows = run_sparse(a, ours_cmd, torch_cmd, common, loads) if a.sparse else []
    meta["meta"].update(load_after=load(), load_1min_during=loads, rounds=rounds,
                        elapsed_s=round((datetime.datetime.now() - started).total_seconds(), 1))

    out = a.out or os.path.join(HERE, "results", started.strftime("%Y-%m-%d") + ".jsonl")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "a") as f:
        for r in [meta] + rows + gemm + sparse_rows:
            f.write(json.dumps(r) + "\n")
    report(rows, gemm, meta["meta"], out)
    if sparse_rows:
        report_sparse(sparse_rows, meta["meta"])
    return 0


SPARSE_BATCHES = {"alexnet": [1, 128], "lenet300": [1, 128]}


def run_sparse(a, ours_cmd, torch_cmd, common, loads):
    """Pruned models: ours (dense and sparse in one process) and torch dense of the same masked model, interleaved."""
    rows = []
    for rnd in range(a.rounds):
        for m in a.sparse_models.split(","):
            for batch in SPARSE_BATCHES.get(m, [1]):
                sides = [("ours", ours_cmd + ["--sparse", "--models", m, "--batch", str(batch)] + common),
                         ("torch", torch_cmd + ["--models", m, "--batch", str(batch), "--pruned", "--infer-only"] + common)]
                for side, cmd in (sides if rnd % 2 == 0 else sides[::-1]):
                    print(f"compare: sparse round {rnd + 1} {m} batch {batch} ({side}) ... load {load()}",
                          file=sys.stderr, flush=True)
                    got = json_lines(cmd)
                    for r in got:
                        r["sparse_table"] = True
                    rows += got
                    loads.append(load()[0])
    return rows


# Issue 10's targets: sparse over both dense (ours and PyTorch) at least this factor.
SPARSE_TARGETS = {("alexnet", 1): 3.0, ("alexnet", 128): 1.0, ("lenet300", 1): 4.0}


def report_sparse(rows, meta):
    """Best round per side: torch dense, ours dense, ours sparse (ms per batch) and the speed-ups of sparse."""
    best_rows = {}
    for r in rows:
        if r.get("impl") == "torch":
            k = ("torch", r["model"], r["batch"])
            if k not in best_rows or r["infer_ms_per_batch"] < best_rows[k]:
                best_rows[k] = r["infer_ms_per_batch"]
        elif r.get("bench") == "sparse_model":
            for kind in ("dense", "sparse"):
                k = (kind, r["model"], r["batch"])
                if k not in best_rows or r[f"{kind}_ms"] < best_rows[k]:
                    best_rows[k] = r[f"{kind}_ms"]
    layers = {(r["model"], r["batch"]): r.get("layers", "") for r in rows if r.get("bench") == "sparse_model"}
    print(f"\nsparse inference of pruned models (issue 10), threads={meta['threads']}, ms per batch, best round; "
          f"CPU {meta.get('cpu_model')}")
    hdr = (f"{'model':<9}|{'batch':>6} |{'torch dense':>12} |{'ours dense':>11} |{'ours sparse':>12} |"
           f"{'vs torch':>9} |{'vs ours':>8} | target")
    print(hdr + "\n" + "-" * len(hdr))
    for (model, batch) in sorted(layers):
        t, d, s = (best_rows.get((k, model, batch)) for k in ("torch", "dense", "sparse"))
        vt, vd = ratio(t, s), ratio(d, s)
        need = SPARSE_TARGETS.get((model, batch))
        tgt = "" if need is None else (f">= {need:g}x both: {mark(vt >= need and vd >= need)}" if need > 1
                                       else f"faster than both: {mark(vt > 1 and vd > 1)}")
        fmt = lambda v: f"{v:.3f}" if v else "n/a"
        print(f"{model:<9}|{batch:>6} |{fmt(t):>12} |{fmt(d):>11} |{fmt(s):>12} |{vt:>8.2f}x |{vd:>7.2f}x | {tgt}")
    for (model, batch), l in sorted(layers.items()):
        print(f"  {model} batch {batch} layers (density, s = sparse kernel, d = dense): {l}")


def best(rows):
    """Per (impl, model): the best of the rounds for each metric (max img/s, min peak MB)."""
    by = {}
    for r in rows:
        k = (r["impl"], r["model"])
        if k not in by:
            by[k] = dict(r)
            continue
        b = by[k]
        if r.get("train_img_s", 0) > b.get("train_img_s", 0):
            b.update(train_img_s=r["train_img_s"], phase_ms=r["phase_ms"],
                     train_cpu_ms_per_step=r.get("train_cpu_ms_per_step"),
                     alloc_mb_per_step=r.get("alloc_mb_per_step", 0))
        if r["infer_img_s"] > b["infer_img_s"]:
            b.update(infer_img_s=r["infer_img_s"], infer_cpu_ms_per_batch=r.get("infer_cpu_ms_per_batch"))
        b["peak_rss_mb"] = min(b["peak_rss_mb"], r["peak_rss_mb"])
    return by


def report_ort(by, models):
    if not any(k[0] == "onnxruntime" for k in by):
        return
    print(f"\ninference, ONNX Runtime running our exported graph (same batch, threads; ratio = ours/ORT, torch/ORT)")
    print(f"{'model':<9}|{'ours infer':>11} |{'torch infer':>12} |{'ORT infer':>10} |{'ours/ORT':>9} |{'torch/ORT':>10} |{'ORT MB':>7}")
    for m in models:
        o, t, r = by.get(("sharpprune", m)), by.get(("torch", m)), by.get(("onnxruntime", m))
        if not (o and t and r):
            continue
        print(f"{m:<9}|{o['infer_img_s']:>11.1f} |{t['infer_img_s']:>12.1f} |{r['infer_img_s']:>10.1f} |"
              f"{ratio(o['infer_img_s'], r['infer_img_s']):>9.2f} |{ratio(t['infer_img_s'], r['infer_img_s']):>10.2f} |"
              f"{r['peak_rss_mb']:>7.0f}")


def report(rows, gemm, meta, out):
    by = best(rows)
    models = list(dict.fromkeys(r["model"] for r in rows))
    print(f"\nSharpPrune vs PyTorch {meta['date']}  threads={meta['threads']}  cpus={meta['cpus']}  "
          f"rounds={meta['rounds']} (best of)  load 1-min during runs {min(meta['load_1min_during'])}-"
          f"{max(meta['load_1min_during'])}  torch BLAS {meta['torch_blas']} (core {meta.get('torch_blas_core')})\n"
          f"load before {meta['load_before']} after {meta['load_after']}  ({meta['elapsed_s']} s)\n"
          f"CPU {meta.get('cpu_model')}  ISA cap {meta.get('isa', 'native')} {meta.get('isa_env', {})}")
    hdr = (f"{'model':<9}|{'ours train':>11} |{'torch train':>12} |{'ratio':>6} |{'ours infer':>11} |"
           f"{'torch infer':>12} |{'ratio':>6} |{'ours MB':>8} |{'torch MB':>9} |{'ratio':>6} | targets")
    print(hdr + "\n" + "-" * len(hdr))
    for m in models:
        o, t = by.get(("sharpprune", m)), by.get(("torch", m))
        if not o or not t:
            print(f"{m:<9}| missing result ({'ours' if not o else 'torch'})")
            continue
        rt, ri = ratio(o["train_img_s"], t["train_img_s"]), ratio(o["infer_img_s"], t["infer_img_s"])
        rm = ratio(o["peak_rss_mb"], t["peak_rss_mb"])
        need = 1.5 if m == "lenet5" else 1.0
        flags = f"train {mark(rt >= need)} infer {mark(ri >= need)} mem {mark(rm <= 1.0)}"
        if o.get("params") != t.get("params"):
            flags += f"  PARAMS DIFFER {o.get('params')} vs {t.get('params')}"
        print(f"{m:<9}|{o['train_img_s']:>11.1f} |{t['train_img_s']:>12.1f} |{rt:>6.2f} |{o['infer_img_s']:>11.1f} |"
              f"{t['infer_img_s']:>12.1f} |{ri:>6.2f} |{o['peak_rss_mb']:>8.0f} |{t['peak_rss_mb']:>9.0f} |"
              f"{rm:>6.2f} | {flags}")
    print("(img/s from the median step, best round; higher is better, ratio = ours/torch; "
          "MB = peak RSS of a fresh process, lower is better)")
    report_ort(by, models)
    if gemm:
        g = {}
        for r in gemm:
            g[(r["impl"], r["gemm_n"])] = max(g.get((r["impl"], r["gemm_n"]), 0), r["gflops"])
        print(f"\n{'gemm n':>7} |{'ours GFLOP/s':>13} |{'torch.mm':>9} |{'ratio':>6}")
        for n in sorted({r["gemm_n"] for r in gemm}):
            o, t = g.get(("sharpprune", n)), g.get(("torch", n))
            r = ratio(o, t)
            tgt = f"  target >= 0.9: {mark(r >= 0.9)}" if n == 1024 else ""
            print(f"{n:>7} |{o or float('nan'):>13.2f} |{t or float('nan'):>9.2f} |{r:>6.2f}{tgt}")
    print("\nphase ms/step (ours / torch): forward, loss, backward, optimizer; ours alloc MB/step")
    for m in models:
        o, t = by.get(("sharpprune", m)), by.get(("torch", m))
        if o and t:
            ph = "  ".join(f"{k} {o['phase_ms'].get(k, 0):.1f}/{t['phase_ms'].get(k, 0):.1f}"
                           for k in ("forward", "loss", "backward", "optimizer"))
            print(f"  {m:<9} {ph}  alloc {o.get('alloc_mb_per_step', 0):.0f} MB")
    print("\nCPU time (all threads) per train step / infer batch, ms, ours / torch (less sensitive to machine load;"
          " spin-waiting threads count too)")
    for m in models:
        o, t = by.get(("sharpprune", m)), by.get(("torch", m))
        if o and t and "train_cpu_ms_per_step" in o and "train_cpu_ms_per_step" in t:
            print(f"  {m:<9} train {o['train_cpu_ms_per_step']:.0f}/{t['train_cpu_ms_per_step']:.0f} "
                  f"(ratio {ratio(t['train_cpu_ms_per_step'], o['train_cpu_ms_per_step']):.2f})  "
                  f"infer {o['infer_cpu_ms_per_batch']:.0f}/{t['infer_cpu_ms_per_batch']:.0f} "
                  f"(ratio {ratio(t['infer_cpu_ms_per_batch'], o['infer_cpu_ms_per_batch']):.2f})")
    shrunk = [m for m in models if "-s" in m and m.split("-s")[0] in models]
    if shrunk:
        print("\nshrunk (structured-pruned) vs dense, speed-up = shrunk img/s / dense img/s (issue #9 targets for "
              "vgg16-s50 on our core: train >= 2.0, infer >= 2.5)")
        for m in shrunk:
            d = m.split("-s")[0]
            parts = []
            for impl, who in (("sharpprune", "ours"), ("torch", "torch")):
                o, b = by.get((impl, m)), by.get((impl, d))
                if o and b:
                    tr, inf = ratio(o["train_img_s"], b["train_img_s"]), ratio(o["infer_img_s"], b["infer_img_s"])
                    tgt = f" {mark(tr >= 2.0)}/{mark(inf >= 2.5)}" if impl == "sharpprune" and d == "vgg16" else ""
                    parts.append(f"{who} train {tr:.2f}x infer {inf:.2f}x{tgt}")
            print(f"  {m:<13} " + "   ".join(parts))
    print(f"\nraw results: {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
