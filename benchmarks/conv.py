"""Forward convolution in float32 on the CPU: conv_lib against PyTorch and JAX.

    python -m benchmarks.conv                        # full suite -> benchmarks/results.json + table
    python -m benchmarks.conv --unset-openblas-env   # the same, OpenBLAS picks its own kernel
    python -m benchmarks.conv --quick --no-save      # reduced shapes, seconds (the book runs this)

For each case the contenders are ``conv_lib.conv`` (PyTorch layout, NCHW),
``torch.nn.functional.conv*`` in NCHW and, for 2-D/3-D, channels-last memory format, and ``jax.jit(lax.conv_general_dilated)`` in
NCHW and NHWC. Two more rows show what the engine's design buys: "first version" is conv_lib's
original ``np.tensordot`` on the window view, and where ``conv`` uses a specialised strategy the
general ``_im2col_gemm`` is timed too. ``conv_lib.conv_reference`` (Python loops) is timed on a
scaled-down copy of the case and extrapolated per output value: its cost per output,
C_in/groups * prod(k) multiply-adds, is the same at any size.

Timing follows ``timeit``: each function is warmed up (oneDNN and XLA settle after a few calls),
the number of calls per sample is chosen so a sample lasts >= ``min_sample`` seconds, and the
samples of all contenders of a case are taken *interleaved* (with a short pause before each, see
``time_interleaved``), so background load hits them alike. The table reports the minimum (the
least disturbed run, as ``timeit`` recommends); the JSON also keeps the median and the minor page
faults per call. glibc is asked to keep freed memory (``keep_freed_memory``), so that no
contender's large temporaries fault in again on every call. Ratios are throughput ratios,
conv_lib / framework, from the minima; the headline ratio compares like with like (same NCHW
layout); the best-layout numbers are shown too.

OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when NumPy is imported; if the environment pins
an older kernel there, ``--unset-openblas-env`` re-executes this script without both variables.
"""
import argparse
import datetime
import json
import math
import os
import platform
import resource
import sys
import time
import timeit
from collections import namedtuple
from pathlib import Path

import numpy as np

import conv_lib
import conv_lib.frameworks
from conv_lib import _engine
from conv_lib._engine import choose_strategy
from conv_lib.conv import plan_conv

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
RESULTS = Path(__file__).with_name("results.json")

Case = namedtuple("Case", "name title x w kwargs quick_x")
CASES = (
    Case("resnet-body", "ResNet body 3x3", (8, 64, 56, 56), (64, 64, 3, 3),
         dict(stride=1, padding=1), (2, 64, 28, 28)),
    Case("resnet-stem", "ResNet stem 7x7 /2", (8, 3, 224, 224), (64, 3, 7, 7),
         dict(stride=2, padding=3), (2, 3, 112, 112)),
    Case("pointwise", "1x1 projection", (8, 256, 28, 28), (128, 256, 1, 1),
         dict(), (2, 256, 14, 14)),
    Case("depthwise", "depthwise 3x3", (8, 128, 56, 56), (128, 1, 3, 3),
         dict(groups=128, padding=1), (2, 128, 28, 28)),
    Case("tcn", "TCN causal, dilation 4", (32, 25, 1024), (25, 25, 3),
         dict(dilation=4, padding="causal"), (8, 25, 512)),
    Case("conv3d", "3-D 3x3x3", (2, 16, 16, 32, 32), (32, 16, 3, 3, 3),
         dict(padding=1), (1, 16, 8, 16, 16)),
)
# One case each for the other two public operations.
TRANSPOSE = Case("conv_transpose", "transposed 4x4 /2", (8, 128, 28, 28), (128, 64, 4, 4),
                 dict(stride=2, padding=1), (2, 128, 14, 14))
PAD = Case("pad", "zero padding 1", (8, 64, 56, 56), None, dict(padding=1), (2, 64, 28, 28))


# ------------------------------------------------------------------------------------- timing

def time_interleaved(fns, rounds=7, min_sample=0.05, warmup=0.5, pause=0.15):
    """Time each function in ``fns`` (name -> callable): {name: {"seconds": [per call, ...], ...}}.

    ``timeit.Timer`` (garbage collection off) runs ``number`` calls per sample; all functions are
    sampled in turn, ``rounds`` times. Before each sample the process sleeps ``pause`` seconds:
    OpenBLAS, OpenMP (PyTorch) and XLA keep their worker threads spinning for a while after a
    call, and without the pause those spinning threads of one library would slow down the next.
    """
    timers = {}
    for name, fn in fns.items():
        timer = timeit.Timer(fn)
        spent, calls = 0.0, 0
        while calls < 3 or spent < warmup:
            spent += timer.timeit(1)
            calls += 1
        per_call = timer.timeit(1)
        timers[name] = (timer, max(1, math.ceil(min_sample / max(per_call, 1e-9))))
    samples = {name: [] for name in fns}
    faults = {name: 0 for name in fns}
    for _ in range(rounds):
        for name, (timer, number) in timers.items():
            time.sleep(pause)
            before = _minor_faults()
            samples[name].append(timer.timeit(number) / number)
            faults[name] += (_minor_faults() - before) / number / rounds
    return {name: {"seconds": samples[name], "page_faults_per_call": faults[name]} for name in fns}


def _minor_faults():
    """Minor page faults of this process so far: memory the kernel had to map in on first touch.

    Large temporaries returned to the OS after each call (glibc's mmap threshold) fault again on
    every call; the count per call makes that cost visible next to the times.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


# glibc's mallopt parameters and the largest threshold it accepts on 64-bit systems
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX = -1, -3, 32 << 20


def keep_freed_memory():
    """Ask glibc to keep freed memory in the process, so that no contender's temporaries (up to
    32 MiB) go back to the kernel after a call and page-fault in again on the next one.

    By default glibc takes blocks above a *dynamic* threshold straight from the kernel and hands
    them back when freed; the threshold starts at 128 KiB and rises to the largest block freed so
    far. What a library pays for a large temporary then depends on what the process happened to
    free before: PyTorch's NCHW 1x1 64 -> 256 layer of ResNet-50 (25 MB output) measured 19.5 ms
    with 11,000 page faults per call in one run and 8.4 ms with 450 in the next. Fixed thresholds
    give every run, and every contender, the allocator a long-running process settles into.
    Returns a description for the results file ("default" where mallopt is not available).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        pinned = (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
                  and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):
        pinned = False
    return ("glibc mallopt: mmap threshold 32 MiB, trim threshold 2 GiB" if pinned
            else "default")


def summarise(samples):
    return {name: {"min": min(s["seconds"]), "median": float(np.median(s["seconds"])),
                   "samples": len(s["seconds"]),
                   "page_faults_per_call": round(s["page_faults_per_call"])}
            for name, s in samples.items()}


# ------------------------------------------------------------------------------ the contenders

def _letters(ndim):
    return "DHW"[-ndim:]


def framework_calls(x, w, kwargs):
    """Timed callables for PyTorch and JAX on the same problem (arrays converted beforehand)."""
    import jax
    import torch
    import torch.nn.functional as F
    from jax import lax

    ndim = x.ndim - 2
    stride = conv_lib._args.per_dim("stride", kwargs.get("stride", 1), ndim)
    dilation = conv_lib._args.per_dim("dilation", kwargs.get("dilation", 1), ndim)
    groups = kwargs.get("groups", 1)
    pads = [tuple(p) for p in conv_lib.resolve_padding(kwargs.get("padding", 0), x.shape[2:],
                                                       w.shape[2:], stride, dilation)]
    conv_nd = (F.conv1d, F.conv2d, F.conv3d)[ndim - 1]
    symmetric = all(lo == hi for lo, hi in pads)
    torch_pad = [v for lo_hi in reversed(pads) for v in lo_hi]       # F.pad wants last dim first

    def torch_call(tx, tw):
        if symmetric:
            return lambda: conv_nd(tx, tw, stride=stride, padding=[lo for lo, _ in pads],
                                   dilation=dilation, groups=groups)
        return lambda: conv_nd(F.pad(tx, torch_pad), tw, stride=stride, dilation=dilation,
                               groups=groups)

    tx, tw = torch.from_numpy(x.copy()), torch.from_numpy(w.copy())
    calls = {"torch NCHW": torch_call(tx, tw)}
    if ndim in (2, 3):
        fmt = torch.channels_last if ndim == 2 else torch.channels_last_3d
        calls["torch NHWC"] = torch_call(tx.contiguous(memory_format=fmt),
                                         tw.contiguous(memory_format=fmt))

    sp = _letters(ndim)

    def jax_call(layout):
        if layout == "NCHW":
            dn, xa, wa = ("NC" + sp, "OI" + sp, "NC" + sp), x, w
        else:   # channels last: x (N, *spatial, C), kernel (*k, I, O)
            dn = ("N" + sp + "C", sp + "IO", "N" + sp + "C")
            xa, wa = np.moveaxis(x, 1, -1).copy(), conv_lib.frameworks.oihw_to_hwio(w).copy()
        f = jax.jit(lambda a, b: lax.conv_general_dilated(
            a, b, stride, pads, rhs_dilation=dilation, feature_group_count=groups,
            dimension_numbers=dn, precision=lax.Precision.HIGHEST))
        ja, jb = jax.device_put(xa), jax.device_put(wa)
        return lambda: f(ja, jb).block_until_ready()

    calls["JAX NCHW"] = jax_call("NCHW")
    calls["JAX NHWC"] = jax_call("NHWC")
    return calls


def tensordot_correlate(xp, w, stride, dilation, groups, out_sizes):
    """conv_lib's first fast path, kept as a baseline: the window view contracted by np.tensordot.

    tensordot must give BLAS a matrix, so it silently copies the whole strided view (im2col for
    every image at once, in a transposed order), and the result (N, *out, C_out) needs another copy
    to become NCHW.
    """
    ndim = w.ndim - 2
    view = _engine.windows(xp, w.shape[2:], stride, dilation, out_sizes)
    c_group, o_group = w.shape[1], w.shape[0] // groups
    outs = [np.tensordot(view[:, g * c_group:(g + 1) * c_group], w[g * o_group:(g + 1) * o_group],
                         axes=([1, *range(2 + ndim, 2 + 2 * ndim)], list(range(1, 2 + ndim))))
            for g in range(groups)]
    return np.ascontiguousarray(np.moveaxis(np.concatenate(outs, axis=-1), -1, 1))


def conv_with(strategy, x, w, kwargs):
    """conv_lib.conv with a forced strategy (same argument handling and padding as conv)."""
    p = plan_conv(x, w, **kwargs)
    return strategy(conv_lib.pad(p.x, p.pads, p.padding_mode), p.w, p.stride, p.dilation,
                    p.groups, p.out_sizes)


def reference_seconds(case, x_shape):
    """Extrapolated run time of conv_reference: time per output value on a tiny copy of the case."""
    w_shape, kwargs = case.w, case.kwargs
    ndim = len(x_shape) - 2
    stride = conv_lib._args.per_dim("stride", kwargs.get("stride", 1), ndim)
    dilation = conv_lib._args.per_dim("dilation", kwargs.get("dilation", 1), ndim)
    groups = kwargs.get("groups", 1)
    # two outputs per spatial dim (before padding) and at most 4 output channels (if groups allow)
    small_sizes = [min(n, s + d * (k - 1) + 1) for n, k, s, d in
                   zip(x_shape[2:], w_shape[2:], stride, dilation)]
    c_out = w_shape[0] if groups > 1 else min(4, w_shape[0])
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((1, x_shape[1], *small_sizes), dtype=np.float32)
    ws = rng.standard_normal((c_out, *w_shape[1:]), dtype=np.float32)
    seconds = min(timeit.repeat(lambda: conv_lib.conv_reference(xs, ws, **kwargs),
                                number=1, repeat=2))
    outputs_small = math.prod(conv_lib.conv_reference(xs, ws, **kwargs).shape)
    outputs_full = x_shape[0] * w_shape[0] * math.prod(conv_lib.output_shape(
        x_shape[2:], w_shape[2:], stride, kwargs.get("padding", 0), dilation))
    return {"seconds": seconds / outputs_small * outputs_full, "measured_seconds": seconds,
            "measured_x": list(xs.shape), "measured_w": list(ws.shape)}


# ----------------------------------------------------------------------------------- the runs

def run_case(case, quick, timing, reference=True):
    """Time one convolution case; returns a JSON-ready dict."""
    import torch

    x_shape = case.quick_x if quick else case.x
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(case.w, dtype=np.float32)
    ndim = len(x_shape) - 2
    stride = conv_lib._args.per_dim("stride", case.kwargs.get("stride", 1), ndim)
    plan = plan_conv(x, w, **case.kwargs)
    strategy = choose_strategy(case.w, stride, plan.x.shape, plan.groups, plan.dilation,
                               plan.out_sizes)                  # what conv_lib.conv runs
    calls = {"conv_lib": lambda: conv_lib.conv(x, w, **case.kwargs),
             "first version": lambda: conv_with(tensordot_correlate, x, w, case.kwargs)}
    # what the chosen strategy buys over the next most general one
    unit_stride = all(s == 1 for s in stride)
    alternative = {_engine._pointwise: _engine._flat_gemm, _engine._depthwise: _engine._flat_gemm,
                   _engine._depthwise_toeplitz: _engine._depthwise,
                   _engine._flat_gemm: _engine._im2col_gemm,
                   _engine._winograd: _engine._flat_gemm,
                   _engine._winograd4: _engine._flat_gemm}.get(strategy)
    if strategy is _engine._depthwise and not unit_stride:
        alternative = _engine._im2col_gemm
    if strategy is _engine._im2col_gemm and unit_stride:          # the cost model preferred it
        alternative = _engine._flat_gemm
    if alternative:
        calls[alternative.__name__.lstrip("_")] = lambda: conv_with(alternative, x, w, case.kwargs)
    calls.update(framework_calls(x, w, case.kwargs))
    ours, theirs = calls["conv_lib"](), calls["torch NCHW"]().numpy()
    error = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
    assert ours.dtype == np.float32 and error < 1e-4, (case.name, ours.dtype, error)
    for name in ("first version", alternative and alternative.__name__.lstrip("_")):
        if name in calls:
            assert np.allclose(calls[name](), ours, rtol=1e-4, atol=1e-4 * np.abs(ours).max())
    load_before = os.getloadavg()[0]
    times = summarise(time_interleaved(calls, **timing))
    flops = conv_lib.conv_flops(x_shape, case.w, **case.kwargs)
    result = {
        "name": case.name, "title": case.title, "x": list(x_shape), "w": list(case.w),
        "kwargs": case.kwargs, "flops": flops, "times": times,
        "gflops": {k: flops / t["min"] / 1e9 for k, t in times.items()},
        "strategy": strategy.__name__.lstrip("_"),
        "alternative": alternative and alternative.__name__.lstrip("_"),
        "max_rel_error_vs_torch": error, "torch_threads": torch.get_num_threads(),
        "loadavg_1min": [load_before, os.getloadavg()[0]],
    }
    result.update(_ratios(times))
    if reference:
        result["reference"] = reference_seconds(case, x_shape)
    return result


def _ratios(times):
    t = {k: v["min"] for k, v in times.items()}
    best_torch = min(v for k, v in t.items() if k.startswith("torch"))
    best_jax = min(v for k, v in t.items() if k.startswith("JAX"))
    return {"vs_torch": t["torch NCHW"] / t["conv_lib"], "vs_jax": t["JAX NCHW"] / t["conv_lib"],
            "vs_torch_best_layout": best_torch / t["conv_lib"],
            "vs_jax_best_layout": best_jax / t["conv_lib"]}


def run_transpose(case, quick, timing):
    """conv_transpose against torch's conv_transpose2d and JAX's dilated-input formulation."""
    import jax
    import torch
    import torch.nn.functional as F
    from jax import lax

    x_shape = case.quick_x if quick else case.x
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    w = rng.standard_normal(case.w, dtype=np.float32)
    s, p = case.kwargs["stride"], case.kwargs["padding"]
    k = case.w[2]
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    # JAX: a transposed convolution is a convolution of the stride-dilated input with the flipped,
    # in/out-swapped kernel, padded by k - 1 - p (what lax.conv_transpose does internally).
    wj = jax.device_put(np.ascontiguousarray(w.swapaxes(0, 1)[:, :, ::-1, ::-1]))
    f = jax.jit(lambda a, b: lax.conv_general_dilated(
        a, b, (1, 1), [(k - 1 - p, k - 1 - p)] * 2, lhs_dilation=(s, s),
        precision=lax.Precision.HIGHEST))
    xj = jax.device_put(x)
    calls = {"conv_lib": lambda: conv_lib.conv_transpose(x, w, **case.kwargs),
             "torch NCHW": lambda: F.conv_transpose2d(tx, tw, stride=s, padding=p),
             "JAX NCHW": lambda: f(xj, wj).block_until_ready()}
    ours, theirs = calls["conv_lib"](), calls["torch NCHW"]().numpy()
    error = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
    assert error < 1e-4 and np.allclose(np.asarray(f(xj, wj)), theirs, rtol=1e-4, atol=1e-3)
    times = summarise(time_interleaved(calls, **timing))
    flops = 2 * math.prod(x_shape) * math.prod(case.w[1:])   # every input value meets every tap
    result = {"name": case.name, "title": case.title, "x": list(x_shape), "w": list(case.w),
              "kwargs": case.kwargs, "flops": flops, "times": times,
              "gflops": {k_: flops / t["min"] / 1e9 for k_, t in times.items()},
              "max_rel_error_vs_torch": error}
    t = {k_: v["min"] for k_, v in times.items()}
    result.update(vs_torch=t["torch NCHW"] / t["conv_lib"], vs_jax=t["JAX NCHW"] / t["conv_lib"])
    return result


def run_pad(case, quick, timing):
    """conv_lib.pad (zeros) against torch.nn.functional.pad and jax.jit(jnp.pad); GB/s moved."""
    import jax
    import jax.numpy as jnp
    import torch
    import torch.nn.functional as F

    x_shape = case.quick_x if quick else case.x
    x = np.random.default_rng(0).standard_normal(x_shape, dtype=np.float32)
    p = case.kwargs["padding"]
    tx, xj = torch.from_numpy(x), jax.device_put(x)
    f = jax.jit(lambda a: jnp.pad(a, [(0, 0), (0, 0), (p, p), (p, p)]))
    calls = {"conv_lib": lambda: conv_lib.pad(x, [(p, p), (p, p)]),
             "torch NCHW": lambda: F.pad(tx, (p, p, p, p)),
             "JAX NCHW": lambda: f(xj).block_until_ready()}
    assert np.array_equal(calls["conv_lib"](), calls["torch NCHW"]().numpy())
    times = summarise(time_interleaved(calls, **timing))
    out_shape = x_shape[:2] + tuple(n + 2 * p for n in x_shape[2:])
    moved = 4 * (math.prod(x_shape) + math.prod(out_shape))     # bytes read + written
    t = {k: v["min"] for k, v in times.items()}
    return {"name": case.name, "title": case.title, "x": list(x_shape), "kwargs": case.kwargs,
            "bytes": moved, "times": times,
            "gbytes_per_s": {k: moved / v / 1e9 for k, v in t.items()},
            "vs_torch": t["torch NCHW"] / t["conv_lib"], "vs_jax": t["JAX NCHW"] / t["conv_lib"]}


def matmul_ceiling(n, timing):
    """GFLOP/s of a plain float32 (n x n) @ (n x n): NumPy (its BLAS) and torch (MKL)."""
    import torch

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    times = summarise(time_interleaved({"numpy": lambda: a @ b, "torch": lambda: ta @ tb}, **timing))
    return {"n": n, "gflops": {k: 2 * n ** 3 / v["min"] / 1e9 for k, v in times.items()},
            "times": times}


def fft_conv(x, w):
    """'valid' cross-correlation via numpy.fft: x (N, C, H, W), w (O, C, kh, kw) -> (N, O, H', W').

    H' = H - kh + 1 and W' = W - kw + 1.

    Correlating with w is convolving with w flipped; a circular convolution of size (H, W) equals
    the linear one wherever the kernel does not wrap around, i.e. exactly on the 'valid' outputs.
    """
    h, wd = x.shape[2:]
    kh, kw = w.shape[2:]
    spectrum = np.einsum("nchw,ochw->nohw", np.fft.rfft2(x, s=(h, wd)),
                         np.fft.rfft2(w[..., ::-1, ::-1], s=(h, wd)), optimize=True)
    return np.fft.irfft2(spectrum, s=(h, wd))[..., kh - 1:, kw - 1:].astype(x.dtype)


def fft_crossover(x_shape=(1, 8, 128, 128), c_out=8, kernels=(3, 5, 7, 9, 13, 17, 25, 33),
                  rounds=5, min_sample=0.02, warmup=0.1, pause=0.05):
    """Seconds of conv_lib.conv (im2col + GEMM) and of fft_conv for square kernels of each size."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    rows = []
    for k in kernels:
        w = rng.standard_normal((c_out, x_shape[1], k, k), dtype=np.float32)
        direct, spectral = conv_lib.conv(x, w), fft_conv(x, w)
        assert np.allclose(direct, spectral, rtol=1e-3, atol=1e-3 * np.abs(direct).max())
        times = summarise(time_interleaved({"gemm": lambda: conv_lib.conv(x, w),
                                            "fft": lambda: fft_conv(x, w)},
                                           rounds, min_sample, warmup, pause))
        rows.append({"k": k, "gemm": times["gemm"]["min"], "fft": times["fft"]["min"],
                     "flops": conv_lib.conv_flops(x_shape, w.shape)})
    return {"x": list(x_shape), "c_out": c_out, "rows": rows}


# ------------------------------------------------------------------------------ machine facts

def machine_info():
    import jax
    import threadpoolctl
    import torch

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kb = None
    pools = threadpoolctl.threadpool_info()
    blas = next((p for p in pools if p.get("user_api") == "blas" and "numpy" in p["filepath"]), None)
    return {
        "cpu": cpu, "logical_cpus": os.cpu_count(), "memory_gib": mem_kb and round(mem_kb / 2**20, 1),
        "platform": platform.platform(), "python": platform.python_version(),
        "numpy": np.__version__, "torch": torch.__version__, "jax": jax.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy_blas": blas and {k: blas.get(k) for k in
                                ("internal_api", "version", "architecture", "num_threads")},
        "threadpools": pools,
        "openblas_env": {v: os.environ.get(v) for v in OPENBLAS_VARS},
        "openblas_env_removed": json.loads(os.environ.get("CK_BENCH_REMOVED_ENV", "{}")),
    }


# ----------------------------------------------------------------------------------- reporting

def geomean(values):
    return float(np.exp(np.mean(np.log(values))))


def summary(cases):
    vs_torch = [c["vs_torch"] for c in cases]
    return {"geomean_vs_torch": geomean(vs_torch), "min_vs_torch": min(vs_torch),
            "geomean_vs_torch_best_layout": geomean([c["vs_torch_best_layout"] for c in cases]),
            "geomean_vs_jax": geomean([c["vs_jax"] for c in cases]),
            "jax_parity_cases": sum(c["vs_jax"] >= 1 for c in cases),
            "jax_best_layout_parity_cases": sum(c["vs_jax_best_layout"] >= 1 for c in cases),
            "cases": len(cases)}


def format_table(results):
    """Markdown table of a results dict (as returned by ``run`` or stored in results.json)."""
    ms = lambda t: f"{t * 1e3:.2f}"        # noqa: E731
    head = ("| case | strategy | GFLOP | loops (extrap.) | first version ms | conv_lib ms | GFLOP/s "
            "| torch NCHW ms | torch NHWC ms | JAX NCHW ms | JAX NHWC ms | × torch | × JAX |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for c in results["cases"]:
        t = {k: v["min"] for k, v in c["times"].items()}
        ref = c.get("reference", {}).get("seconds")
        lines.append(
            f"| {c['title']} | {c['strategy']} | {c['flops'] / 1e9:.3f} | "
            f"{f'{ref:.0f} s' if ref else '—'} | {ms(t['first version'])} | {ms(t['conv_lib'])} | "
            f"{c['gflops']['conv_lib']:.0f} | "
            f"{ms(t['torch NCHW'])} | {ms(t['torch NHWC']) if 'torch NHWC' in t else '—'} | "
            f"{ms(t['JAX NCHW'])} | {ms(t['JAX NHWC'])} | {c['vs_torch']:.2f} | {c['vs_jax']:.2f} |")
    s = results["summary"]
    lines += ["", "conv_lib / PyTorch (NCHW) throughput: geometric mean "
              f"{s['geomean_vs_torch']:.2f}, "
              f"worst {s['min_vs_torch']:.2f}; against PyTorch's faster layout: geometric mean "
              f"{s['geomean_vs_torch_best_layout']:.2f}.",
              f"At least JAX's speed (NCHW): {s['jax_parity_cases']} of {s['cases']} cases "
              f"(against JAX's faster layout: {s['jax_best_layout_parity_cases']})."]
    lines.append("Minor page faults per call (conv_lib / torch NCHW / JAX NCHW): " + ", ".join(
        f"{c['name']} {c['times']['conv_lib']['page_faults_per_call']}/"
        f"{c['times']['torch NCHW']['page_faults_per_call']}/"
        f"{c['times']['JAX NCHW']['page_faults_per_call']}"
        for c in results["cases"]) + ".")
    for c in results["cases"]:
        if c.get("alternative"):
            lines.append(f"{c['title']}: the {c['strategy']} strategy takes "
                         f"{ms(c['times']['conv_lib']['min'])} ms, {c['alternative']} would take "
                         f"{ms(c['times'][c['alternative']]['min'])} ms.")
    for extra in results.get("extras", []):
        t = {k: v["min"] for k, v in extra["times"].items()}
        lines.append(f"{extra['title']} {tuple(extra['x'])}: conv_lib {ms(t['conv_lib'])} ms, "
                     f"torch {ms(t['torch NCHW'])} ms, JAX {ms(t['JAX NCHW'])} ms "
                     f"(× torch {extra['vs_torch']:.2f}, × JAX {extra['vs_jax']:.2f}).")
    m = results["machine"]
    if "matmul" not in results:
        return _paragraphs(lines)
    mm = results["matmul"]
    lines.append(f"Float32 matmul {mm['n']}²: NumPy {mm['gflops']['numpy']:.0f} GFLOP/s, torch "
                 f"{mm['gflops']['torch']:.0f} GFLOP/s. NumPy BLAS: {m['numpy_blas']}. "
                 f"{results['date']} on {m['cpu']} ({m['logical_cpus']} CPUs); load average "
                 f"{results['loadavg_1min'][0]:.1f} → {results['loadavg_1min'][1]:.1f}.")
    return _paragraphs(lines)


def _paragraphs(lines):
    """The table, then every remark as its own Markdown paragraph (a blank line between them)."""
    table = lines[:lines.index("")]
    return "\n".join(table) + "\n\n" + "\n\n".join(line for line in lines[len(table):] if line)


def run(quick=False, rounds=None, names=None, reference=True, extras=True, progress=None):
    """Run the suite and return the results dict (see ``format_table``).

    quick: reduced shapes and rounds. names: subset of case names. extras: also time
    conv_transpose, pad, the matmul ceiling and (full runs only) the FFT crossover sweep.
    """
    timing = dict(rounds=rounds or (3 if quick else 9), min_sample=0.01 if quick else 0.05,
                  warmup=0.1 if quick else 0.5, pause=0.02 if quick else 0.15)
    started = os.getloadavg()[0]
    results = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
               "quick": quick, "timing": timing, "machine": machine_info(),
               "allocator": keep_freed_memory(), "cases": []}
    for case in CASES:
        if names and case.name not in names:
            continue
        if progress:
            progress(case.name)
        results["cases"].append(run_case(case, quick, timing, reference))
    results["summary"] = summary(results["cases"]) if results["cases"] else {}
    results["extras"] = []
    if extras and (not names or TRANSPOSE.name in names):
        results["extras"].append(run_transpose(TRANSPOSE, quick, timing))
    if extras and (not names or PAD.name in names):
        results["extras"].append(run_pad(PAD, quick, timing))
    if extras:
        results["matmul"] = matmul_ceiling(1024 if quick else 2048, timing)
    if extras and not quick and not names:
        if progress:
            progress("fft crossover")
        results["fft_crossover"] = fft_crossover()
    results["loadavg_1min"] = [started, os.getloadavg()[0]]
    return results


def load_results(path=RESULTS):
    return json.loads(Path(path).read_text())


def add_openblas_flag(parser):
    parser.add_argument("--unset-openblas-env", action="store_true",
                        help="re-run without " + " / ".join(OPENBLAS_VARS) + " in the environment")


def rerun_without_openblas_env(module, argv):
    """If the environment sets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, replace this process
    (``os.execve``) by ``python -m module *argv`` without them; what was removed is passed on in
    CK_BENCH_REMOVED_ENV for the results file. Returns only when neither is set."""
    if not any(v in os.environ for v in OPENBLAS_VARS):
        return
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
    env["CK_BENCH_REMOVED_ENV"] = json.dumps({v: os.environ[v] for v in OPENBLAS_VARS
                                              if v in os.environ})
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conv",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced shapes and rounds")
    parser.add_argument("--rounds", type=int, help="samples per contender (default 9, quick 3)")
    parser.add_argument("--cases", help="comma-separated subset, e.g. resnet-body,tcn,pad")
    parser.add_argument("--no-reference", action="store_true", help="skip conv_reference timings")
    parser.add_argument("--out", type=Path,
                        help=f"JSON output (default {RESULTS.name} for a full run)")
    parser.add_argument("--no-save", action="store_true", help="print the table only")
    add_openblas_flag(parser)
    args = parser.parse_args(argv)
    if args.unset_openblas_env:
        rerun_without_openblas_env("benchmarks.conv", argv)
    names = args.cases.split(",") if args.cases else None
    results = run(args.quick, args.rounds, names, not args.no_reference,
                  progress=lambda name: print(f"... {name}", file=sys.stderr, flush=True))
    results["command"] = "python -m benchmarks.conv " + " ".join(argv)
    print(format_table(results))
    out = args.out or (None if args.quick or names else RESULTS)
    if out and not args.no_save:
        out.write_text(json.dumps(results, indent=1, default=float) + "\n")
        print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
