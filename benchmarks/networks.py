"""Every convolution of six real networks, float32 on the CPU: conv_lib against PyTorch and JAX.

    python -m benchmarks.networks                  # full run -> benchmarks/networks.json + tables
    python -m benchmarks.networks --quick          # batch 1, a quarter of the resolution, seconds
    python -m benchmarks.networks --networks resnet50,mobilenet_v2 --no-save
    python -m benchmarks.networks --strategies     # every strategy on every layer: the cost model

The networks (``NETWORKS``; full-run batch in brackets):

* ``resnet50``      ResNet-50 (v1.5, stride on the 3x3) at 224x224 [8]: its 53 convolutions,
                    23 distinct.
* ``mobilenet_v2``  MobileNetV2 at 224x224 [8]: stem, 17 inverted-residual blocks (1x1 expand,
                    3x3 depthwise, 1x1 project) and the last 1x1, 52 convolutions.
* ``resnext``       one ResNeXt-50 (32x4d) stage, conv3 (4 blocks at 28x28, 3x3 with groups 32,
                    the first one strided) [8].
* ``wavenet``       a WaveNet stack in 1-D [4 x 4096 samples]: 64 residual channels, causal
                    kernel-2 convolutions with dilations 1, 2, ..., 512 (filter and gate as one
                    64 -> 128 conv), the 1x1 residual + skip convolution (64 -> 128) of each layer.
* ``unet3d``        one 3-D U-Net level [2 x 32^3]: two 3x3x3 convolutions and the 2x2x2 stride-2
                    transposed convolution coming up from the level below.
* ``decoder``       transposed convolutions: the DCGAN generator (4x4, stride 2) [32 x 100-d
                    noise] and U-Net's 2x2 stride-2 up-convolutions [4].

Each distinct layer is timed once and weighted by how often it occurs in the network (``count``).
The contenders are ``conv_lib.conv`` / ``conv_lib.conv_transpose`` (NCHW), PyTorch's functional
convolutions in NCHW and in channels-last memory format (2-D and 3-D only: 1-D has no such format,
so its "NHWC" total reuses the NCHW time), and ``jax.jit(lax.conv_general_dilated)`` in NCHW
(transposed layers as the stride-dilated input convolved with the flipped kernel). All contenders
of a layer are sampled *alternately* in one process (A B C D A B C D ..., see
``benchmarks.conv.time_interleaved``); the tables use the fastest sample of each and the JSON
keeps the median too. Before each sample the process sleeps 0.12 s: after a call that ran BLAS on
several threads, OpenBLAS keeps one thread spinning on a core for about 0.1 s (measured here:
0.1 s of CPU time during a 0.2 s sleep; PyTorch's OpenMP threads spin about 7 ms, XLA's not at
all), and a shorter pause would charge that spinning to whichever contender runs next. Thread
counts are whatever the libraries pick on this machine and are recorded
(``machine.torch_threads``, ``machine.numpy_blas.num_threads``; XLA uses one pool of all cores):
on the 2-core reference machine every library uses 2 threads.

``--strategies`` audits the cost model instead: every convolution layer (not the transposed ones)
is computed by every strategy that can run it, forced through ``_engine.correlate``, the results
are checked against each other, and the strategies are timed alternately like the contenders.
The table shows each strategy's time next to the cost model's estimate, the strategy the model
picks and the fastest, and sums per network the time the model's picks lose to the fastest ones
(``audit`` in ``benchmarks/strategies.json`` for a full run of every network, read by the
book's appendix; other runs write JSON only with ``--out``). A pick within ``AUDIT_TOLERANCE``
of the fastest counts as right: closer than that, two strategies trade places from run to run.

JSON schema (``benchmarks/networks.json``; times in seconds, ratios are conv_lib's throughput
over the other's, i.e. other time / conv_lib time, so > 1 means conv_lib is faster):

    date, command, quick (bool), timing {rounds, min_sample, warmup, pause},
    machine {cpu, logical_cpus, torch_threads, numpy_blas, ...}, loadavg_1min [start, end],
    contenders ["conv_lib", "torch NCHW", "torch NHWC", "JAX NCHW"], allocator (glibc's
    thresholds, pinned by ``conv.keep_freed_memory`` so that no contender's temporaries fault),
    networks: [{
        name, title, batch, input (shape), description,
        layers: [{
            name, op ("conv" | "conv_transpose"), x (shape), w (shape, PyTorch layout),
            kwargs (conv_lib keyword arguments), count, flops (one call), strategy (the cost
            model's choice; "transposed" for conv_transpose), max_rel_error_vs_torch,
            times {contender: {min, median, samples, page_faults_per_call}},
            vs_torch, vs_torch_nhwc, vs_torch_best_layout, vs_jax          (from the minima)
        }],
        totals {contender: seconds, sum of count * min},  flops (sum of count * flops),
        vs_torch, vs_torch_nhwc, vs_torch_best_layout (against the faster of the two torch
        totals), vs_jax, worst_layer {name, vs_torch}
    }],
    summary {per network name: {vs_torch, vs_torch_best_layout, vs_jax},
             min_layer_vs_torch, min_transposed_vs_torch, layers, goals {name: bool}}
"""
import argparse
import datetime
import json
import math
import os
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np

import conv_lib
from benchmarks import conv as bench
from conv_lib._args import per_dim
from conv_lib._engine import choose_strategy
from conv_lib.conv import plan_conv

RESULTS = Path(__file__).with_name("networks.json")
AUDIT = Path(__file__).with_name("strategies.json")       # ``--strategies`` over every network
CONTENDERS = ("conv_lib", "torch NCHW", "torch NHWC", "JAX NCHW")

# op: "conv" (w is (C_out, C_in/groups, *k)) or "conv_transpose" (w is (C_in, C_out/groups, *k))
Layer = namedtuple("Layer", "name op x w kwargs count")
Network = namedtuple("Network", "name title description build full quick")


def _conv(name, x, c_out, k, count=1, op="conv", **kwargs):
    """A layer of an NCHW input ``x`` with ``c_out`` channels and a square/cubic kernel ``k``."""
    ndim, groups = len(x) - 2, kwargs.get("groups", 1)
    defaults = dict(stride=1, padding=0, dilation=1, groups=1)
    kwargs = {k: v for k, v in kwargs.items() if defaults.get(k, None) != v}
    if op == "conv":
        w = (c_out, x[1] // groups, *(k,) * ndim)
    else:
        w = (x[1], c_out // groups, *(k,) * ndim)
    return Layer(name, op, tuple(x), w, kwargs, count)


def _merge(layers):
    """Identical layers (same op, shapes and arguments) become one with the summed count."""
    merged = {}
    for layer in layers:
        key = (layer.op, layer.x, layer.w, json.dumps(layer.kwargs, sort_keys=True))
        if key in merged:
            merged[key] = merged[key]._replace(count=merged[key].count + layer.count)
        else:
            merged[key] = layer
    return list(merged.values())


def _out(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def resnet50(batch, res):
    """Bottleneck blocks (1x1, 3x3 with the stage's stride, 1x1 x4) of stages 3, 4, 6, 3."""
    layers = [_conv("stem 7x7/2", (batch, 3, res, res), 64, 7, stride=2, padding=3)]
    size = _out(_out(res, 7, 2, 3), 3, 2, 1)                      # after the 3x3/2 max pool
    c_in = 64
    for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], start=1):
        for b in range(blocks):
            s = 2 if b == 0 and stage > 1 else 1
            out = size // s
            layers += [
                _conv(f"{stage}: 1x1 {c_in}->{width}", (batch, c_in, size, size), width, 1),
                _conv(f"{stage}: 3x3{'/2' if s > 1 else ''} {width}", (batch, width, size, size),
                      width, 3, stride=s, padding=1),
                _conv(f"{stage}: 1x1 {width}->{4 * width}", (batch, width, out, out), 4 * width, 1)]
            if b == 0:
                layers.append(_conv(f"{stage}: shortcut 1x1{'/2' if s > 1 else ''} "
                                    f"{c_in}->{4 * width}", (batch, c_in, size, size), 4 * width,
                                    1, stride=s))
            c_in, size = 4 * width, out
    return layers


def mobilenet_v2(batch, res):
    """Inverted residual blocks (t, c, n, s) of Sandler et al. (2018), Table 2."""
    size = _out(res, 3, 2, 1)
    layers = [_conv("stem 3x3/2", (batch, 3, res, res), 32, 3, stride=2, padding=1)]
    c_in = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)]:
        for b in range(n):
            stride = s if b == 0 else 1
            hidden = c_in * t
            if t != 1:
                layers.append(_conv(f"1x1 {c_in}->{hidden} @{size}", (batch, c_in, size, size),
                                    hidden, 1))
            out = _out(size, 3, stride, 1)
            layers += [
                _conv(f"dw 3x3{'/2' if stride > 1 else ''} {hidden} @{size}",
                      (batch, hidden, size, size), hidden, 3, stride=stride, padding=1,
                      groups=hidden),
                _conv(f"1x1 {hidden}->{c} @{out}", (batch, hidden, out, out), c, 1)]
            c_in, size = c, out
    layers.append(_conv(f"1x1 {c_in}->1280 @{size}", (batch, c_in, size, size), 1280, 1))
    return layers


def resnext(batch, res):
    """ResNeXt-50 32x4d, stage conv3: width 256 in 32 groups, output 512, at res/8."""
    size = res // 4                                               # the stage's input size
    layers = [_conv("1x1 256->256", (batch, 256, size, size), 256, 1),
              _conv("3x3/2 g32 256", (batch, 256, size, size), 256, 3, stride=2, padding=1,
                    groups=32),
              _conv("shortcut 1x1/2 256->512", (batch, 256, size, size), 512, 1, stride=2)]
    size //= 2
    for _ in range(4):
        layers.append(_conv("1x1 256->512", (batch, 256, size, size), 512, 1))
    for _ in range(3):
        layers += [_conv("1x1 512->256", (batch, 512, size, size), 256, 1),
                   _conv("3x3 g32 256", (batch, 256, size, size), 256, 3, padding=1, groups=32)]
    return layers


def wavenet(batch, length):
    """Ten causal dilated layers (kernel 2, dilation 2**i), each with its 1x1 res + skip conv."""
    layers = [_conv("input causal k2 1->64", (batch, 1, length), 64, 2, padding="causal")]
    for i in range(10):
        layers += [_conv(f"dilated k2 d{2 ** i} 64->128", (batch, 64, length), 128, 2,
                         dilation=2 ** i, padding="causal"),
                   _conv("1x1 res+skip 64->128", (batch, 64, length), 128, 1)]
    return layers


def unet3d(batch, res):
    """A 3-D U-Net level at res^3: up-conv 64->32 from the level below, then two 3x3x3 convs."""
    return [_conv("up 2x2x2/2 64->32", (batch, 64, res // 2, res // 2, res // 2), 32, 2,
                  op="conv_transpose", stride=2),
            _conv("3x3x3 64->32", (batch, 64, res, res, res), 32, 3, padding=1),
            _conv("3x3x3 32->32", (batch, 32, res, res, res), 32, 3, padding=1)]


def decoder(batch, res):
    """DCGAN generator (100-d noise -> 64x64 RGB) and U-Net's 2x2/2 up-convolutions."""
    t = dict(op="conv_transpose")
    dcgan = [_conv("DCGAN 4x4 100->512 (1->4)", (batch, 100, 1, 1), 512, 4, **t)]
    size, c = 4, 512
    while c > 64:
        dcgan.append(_conv(f"DCGAN 4x4/2 {c}->{c // 2} ({size}->{2 * size})",
                           (batch, c, size, size), c // 2, 4, stride=2, padding=1, **t))
        size, c = 2 * size, c // 2
    dcgan.append(_conv(f"DCGAN 4x4/2 64->3 ({size}->{2 * size})", (batch, 64, size, size), 3, 4,
                       stride=2, padding=1, **t))
    unet_batch, top = max(1, batch // 8), res // 2
    unet = [_conv(f"U-Net up 2x2/2 {c}->{c // 2} ({top // f}->{2 * top // f})",
                  (unet_batch, c, top // f, top // f), c // 2, 2, stride=2, **t)
            for c, f in [(512, 8), (256, 4), (128, 2)]]
    return dcgan + unet


NETWORKS = (
    Network("resnet50", "ResNet-50", "224x224 images", resnet50, (8, 224), (1, 56)),
    Network("mobilenet_v2", "MobileNetV2", "224x224 images", mobilenet_v2, (8, 224), (1, 56)),
    Network("resnext", "ResNeXt-50 stage conv3 (groups 32)", "56x56 stage input", resnext,
            (8, 224), (1, 56)),
    Network("wavenet", "WaveNet stack (1-D)", "4096 samples", wavenet, (4, 4096), (1, 1024)),
    Network("unet3d", "3-D U-Net level", "32^3 voxels", unet3d, (2, 32), (1, 16)),
    Network("decoder", "DCGAN / U-Net decoder (transposed)", "DCGAN noise, U-Net 128^2 output",
            decoder, (32, 256), (8, 64)),
)


# ------------------------------------------------------------------------------ the contenders

def _transpose_as_conv(x_shape, w, kwargs):
    """lax arguments of a transposed conv: stride-dilated input, flipped in/out-swapped kernel."""
    ndim = len(x_shape) - 2
    stride = per_dim("stride", kwargs.get("stride", 1), ndim)
    padding = per_dim("padding", kwargs.get("padding", 0), ndim, minimum=0)
    k = w.shape[2:]
    pads = [(kk - 1 - p, kk - 1 - p) for kk, p in zip(k, padding)]
    flipped = np.ascontiguousarray(w.swapaxes(0, 1)[(Ellipsis, *(slice(None, None, -1),) * ndim)])
    return flipped, stride, pads


def layer_calls(layer, x, w, contenders):
    """Timed callables (name -> no-argument function) for one layer; inputs converted beforehand."""
    import torch
    import torch.nn.functional as F

    ndim = x.ndim - 2
    calls = {}
    if layer.op == "conv":
        calls["conv_lib"] = lambda: conv_lib.conv(x, w, **layer.kwargs)
        fw = bench.framework_calls(x, w, layer.kwargs)
        calls.update({k: v for k, v in fw.items() if k != "JAX NHWC"})
    else:
        stride = per_dim("stride", layer.kwargs.get("stride", 1), ndim)
        padding = per_dim("padding", layer.kwargs.get("padding", 0), ndim, minimum=0)
        calls["conv_lib"] = lambda: conv_lib.conv_transpose(x, w, **layer.kwargs)
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[ndim - 1]
        tx, tw = torch.from_numpy(x.copy()), torch.from_numpy(w.copy())
        calls["torch NCHW"] = lambda: fn(tx, tw, stride=stride, padding=padding)
        if ndim in (2, 3):
            fmt = torch.channels_last if ndim == 2 else torch.channels_last_3d
            cx, cw = tx.contiguous(memory_format=fmt), tw.contiguous(memory_format=fmt)
            calls["torch NHWC"] = lambda: fn(cx, cw, stride=stride, padding=padding)
        if "JAX NCHW" in contenders:
            import jax
            from jax import lax

            flipped, stride, pads = _transpose_as_conv(x.shape, w, layer.kwargs)
            sp = bench._letters(ndim)
            f = jax.jit(lambda a, b: lax.conv_general_dilated(
                a, b, (1,) * ndim, pads, lhs_dilation=stride, precision=lax.Precision.HIGHEST,
                dimension_numbers=("NC" + sp, "OI" + sp, "NC" + sp)))
            xj, wj = jax.device_put(x), jax.device_put(flipped)
            calls["JAX NCHW"] = lambda: f(xj, wj).block_until_ready()
    return {k: v for k, v in calls.items() if k in contenders}


def layer_flops(layer):
    if layer.op == "conv":
        return conv_lib.conv_flops(layer.x, layer.w, **layer.kwargs)
    return 2 * math.prod(layer.x) * math.prod(layer.w[1:])   # every input meets every tap


def layer_strategy(layer, x, w):
    """The strategy conv_lib runs for this layer (its cost model's choice)."""
    if layer.op != "conv":
        return "transposed"
    p = plan_conv(x, w, **layer.kwargs)
    return choose_strategy(w.shape, p.stride, p.x.shape, p.groups, p.dilation,
                           p.out_sizes).__name__.lstrip("_")


def run_layer(layer, timing, contenders):
    import torch

    rng = np.random.default_rng(0)
    x = rng.standard_normal(layer.x, dtype=np.float32)
    w = rng.standard_normal(layer.w, dtype=np.float32)
    calls = layer_calls(layer, x, w, contenders)
    ours = calls["conv_lib"]()
    theirs = calls["torch NCHW"]().contiguous().numpy() if "torch NCHW" in calls else ours
    error = float(np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-30))
    assert ours.dtype == np.float32 and ours.shape == theirs.shape and error < 1e-4, \
        (layer.name, ours.shape, theirs.shape, error)
    del ours, theirs
    times = bench.summarise(bench.time_interleaved(calls, **timing))
    t = {k: v["min"] for k, v in times.items()}
    result = {"name": layer.name, "op": layer.op, "x": list(layer.x), "w": list(layer.w),
              "kwargs": layer.kwargs, "count": layer.count, "flops": layer_flops(layer),
              "strategy": layer_strategy(layer, x, w), "max_rel_error_vs_torch": error,
              "times": times, "torch_threads": torch.get_num_threads()}
    result.update(_ratios(t))
    return result


def _ratios(t):
    """Throughput ratios of conv_lib from per-contender seconds ``t`` (missing ones are None)."""
    ours = t["conv_lib"]
    nchw, nhwc = t.get("torch NCHW"), t.get("torch NHWC", t.get("torch NCHW"))
    jax_t = t.get("JAX NCHW")
    return {"vs_torch": nchw and nchw / ours, "vs_torch_nhwc": nhwc and nhwc / ours,
            "vs_torch_best_layout": nchw and min(nchw, nhwc) / ours,
            "vs_jax": jax_t and jax_t / ours}


def run_network(net, quick, timing, contenders, progress=None):
    batch, size = net.quick if quick else net.full
    layers = _merge(net.build(batch, size))
    rows = []
    for layer in layers:
        if progress:
            progress(f"{net.name}: {layer.name}")
        rows.append(run_layer(layer, timing, contenders))
    totals = {}
    for name in contenders:
        # 1-D layers have no channels-last format: their NHWC total uses the NCHW time
        key = lambda r: name if name in r["times"] else "torch NCHW"    # noqa: E731
        if all(key(r) in r["times"] for r in rows):
            totals[name] = sum(r["count"] * r["times"][key(r)]["min"] for r in rows)
    ratios = _ratios(totals)
    ratios["vs_torch_best_layout"] = ratios["vs_torch"] and min(
        totals["torch NCHW"], totals.get("torch NHWC", math.inf)) / totals["conv_lib"]
    worst = min(rows, key=lambda r: r["vs_torch"] or math.inf)
    x0 = layers[0].x
    return {"name": net.name, "title": net.title, "batch": batch, "input": list(x0),
            "description": net.description, "layers": rows, "totals": totals,
            "flops": sum(r["count"] * r["flops"] for r in rows),
            "worst_layer": {"name": worst["name"], "vs_torch": worst["vs_torch"]}, **ratios}


def summary(networks):
    by_name = {n["name"]: n for n in networks}
    layers = [r for n in networks for r in n["layers"] if r["vs_torch"]]
    transposed = [r["vs_torch"] for r in layers if r["op"] == "conv_transpose"]
    out = {"networks": {n["name"]: {k: n[k] for k in ("vs_torch", "vs_torch_best_layout", "vs_jax")}
                        for n in networks},
           "min_layer_vs_torch": min((r["vs_torch"] for r in layers), default=None),
           "min_transposed_vs_torch": min(transposed, default=None), "layers": len(layers)}
    goals = {}
    if "resnet50" in by_name and by_name["resnet50"]["vs_torch"]:
        goals["resnet50 >= 1.0x torch NCHW"] = by_name["resnet50"]["vs_torch"] >= 1.0
    if "mobilenet_v2" in by_name and by_name["mobilenet_v2"]["vs_torch"]:
        goals["mobilenet_v2 >= 0.7x torch NCHW"] = by_name["mobilenet_v2"]["vs_torch"] >= 0.7
    if layers:
        goals["every layer >= 0.4x torch NCHW"] = out["min_layer_vs_torch"] >= 0.4
    if transposed:
        goals["transposed layers >= 0.7x torch NCHW"] = min(transposed) >= 0.7
    out["goals"] = goals
    return out


# ------------------------------------------------------------------- the cost model, audited

# A cost-model pick this much slower than the fastest strategy counts as a wrong pick.
AUDIT_TOLERANCE = 1.10


def strategy_calls(layer, x, w):
    """name -> no-argument call of every strategy that can compute this conv layer, forced."""
    return _forced(plan_conv(x, w, **layer.kwargs))


def _forced(p):
    """``strategy_calls`` for a planned layer ``p`` (``conv.plan_conv``)."""
    from conv_lib import _engine

    args = (p.x, p.w, p.stride, p.dilation, p.groups, p.out_sizes, p.pads, p.padding_mode)
    return {s.__name__.lstrip("_"): (lambda s=s: _engine.correlate(*args, strategy=s))
            for s in _engine.candidates(p.w.shape, p.stride, p.dilation, p.groups)}


def audit_layer(layer, timing):
    """Every applicable strategy on one conv layer: times, the cost model's estimates, its pick."""
    from conv_lib import _engine

    rng = np.random.default_rng(0)
    x = rng.standard_normal(layer.x, dtype=np.float32)
    w = rng.standard_normal(layer.w, dtype=np.float32)
    p = plan_conv(x, w, **layer.kwargs)
    calls = _forced(p)
    results = {name: call() for name, call in calls.items()}
    first = next(iter(results.values()))
    scale = max(float(np.abs(first).max()), 1e-30)
    error = max(float(np.abs(r - first).max()) / scale for r in results.values())
    assert error < 1e-4, (layer.name, error)          # every strategy computes the same layer
    del results, first
    times = {k: v["min"] for k, v in
             bench.summarise(bench.time_interleaved(calls, **timing)).items()}
    by_name = {s.__name__.lstrip("_"): s for s in _engine.STRATEGIES}
    estimates = {k: _engine.estimate_seconds(by_name[k], p.x.shape, p.w.shape, p.stride,
                                             p.dilation, p.groups, p.out_sizes) for k in calls}
    chosen = layer_strategy(layer, x, w)
    fastest = min(times, key=times.get)
    return {"name": layer.name, "x": list(layer.x), "w": list(layer.w), "kwargs": layer.kwargs,
            "count": layer.count, "chosen": chosen, "fastest": fastest, "times": times,
            "estimates": estimates, "max_rel_difference": error,
            "chosen_over_fastest": times[chosen] / times[fastest]}


def run_audit(quick=False, rounds=None, names=None, progress=None):
    """The audit of ``--strategies`` for the networks in ``names`` (all by default)."""
    timing = _timing(quick, rounds)
    results = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
               "quick": quick, "timing": timing, "machine": bench.machine_info(),
               "allocator": bench.keep_freed_memory(), "tolerance": AUDIT_TOLERANCE,
               "audit": []}
    for net in NETWORKS:
        if names and net.name not in names:
            continue
        batch, size = net.quick if quick else net.full
        rows = []
        for layer in _merge(net.build(batch, size)):
            if layer.op != "conv" or len(strategy_calls(layer, *_zeros(layer))) < 2:
                continue
            if progress:
                progress(f"{net.name}: {layer.name}")
            rows.append(audit_layer(layer, timing))
        picked = sum(r["count"] * r["times"][r["chosen"]] for r in rows)
        best = sum(r["count"] * r["times"][r["fastest"]] for r in rows)
        wrong = [r["name"] for r in rows if r["chosen_over_fastest"] > AUDIT_TOLERANCE]
        results["audit"].append({"name": net.name, "title": net.title, "batch": batch,
                                 "layers": rows, "seconds_picked": picked, "seconds_fastest": best,
                                 "wrong_picks": wrong})
    return results


def _zeros(layer):
    """Placeholder operands of a layer's shapes (for ``strategy_calls``' applicability only)."""
    return np.zeros(layer.x, np.float32), np.zeros(layer.w, np.float32)


def format_audit(results):
    """Markdown: per network, each layer's strategies (ms, estimate), the pick and the fastest."""
    parts = []
    for net in results["audit"]:
        head = ("| layer | × | cost model's pick | fastest | pick / fastest "
                "| strategies: ms (estimate) |")
        lines = [f"**{net['title']}** (batch {net['batch']})", "", head,
                 "|" + "---|" * (head.count("|") - 1)]
        for r in net["layers"]:
            each = ", ".join(f"{k} {r['times'][k] * 1e3:.2f} ({r['estimates'][k] * 1e3:.1f})"
                             for k in sorted(r["times"], key=r["times"].get))
            lines.append(f"| {r['name']} | {r['count']} | {r['chosen']} | {r['fastest']} | "
                         f"{r['chosen_over_fastest']:.2f} | {each} |")
        lost = net["seconds_picked"] - net["seconds_fastest"]
        lines += ["", f"{len(net['layers'])} layers with a choice; picks more than "
                      f"{(results['tolerance'] - 1) * 100:.0f}% slower than the fastest: "
                      f"{', '.join(net['wrong_picks']) or 'none'}. A network pass with the "
                      f"model's picks: {net['seconds_picked'] * 1e3:.1f} ms, with the fastest: "
                      f"{net['seconds_fastest'] * 1e3:.1f} ms ({lost * 1e3:.1f} ms lost)."]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------------- reporting

def _ms(t):
    return "—" if t is None else f"{t * 1e3:.2f}"


def _x(r):
    return "—" if r is None else f"{r:.2f}"


def format_tables(results):
    """Markdown: one summary table over the networks, then a per-layer table for each."""
    nets = results["networks"]
    head = ("| network | batch | convs (distinct) | GFLOP | conv_lib ms | torch NCHW ms "
            "| torch NHWC ms | JAX ms | × torch NCHW | × torch best layout | × JAX | worst layer |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for n in nets:
        t = n["totals"]
        lines.append(
            f"| {n['title']} | {n['batch']} | {sum(r['count'] for r in n['layers'])} "
            f"({len(n['layers'])}) | {n['flops'] / 1e9:.1f} | {_ms(t['conv_lib'])} | "
            f"{_ms(t.get('torch NCHW'))} | {_ms(t.get('torch NHWC'))} | {_ms(t.get('JAX NCHW'))} | "
            f"{_x(n['vs_torch'])} | {_x(n['vs_torch_best_layout'])} | {_x(n['vs_jax'])} | "
            f"{n['worst_layer']['name']} ({_x(n['worst_layer']['vs_torch'])}) |")
    s = results["summary"]
    lines += ["", "Goals: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}"
                                        for k, v in s["goals"].items()) + ".",
              f"Slowest layer against torch NCHW: {_x(s['min_layer_vs_torch'])}; slowest "
              f"transposed layer: {_x(s['min_transposed_vs_torch'])}."]
    m = results["machine"]
    blas = m.get("numpy_blas") or {}
    lines.append(f"{results['date']} on {m['cpu']} ({m['logical_cpus']} CPUs), threads: NumPy BLAS "
                 f"{blas.get('num_threads')}, torch {m['torch_threads']}, conv_lib depthwise "
                 f"{results['conv_lib_threads']}; load average {results['loadavg_1min'][0]:.1f} → "
                 f"{results['loadavg_1min'][1]:.1f}; fastest of {results['timing']['rounds']} "
                 f"alternating samples per contender.")
    text = "\n".join(lines[:lines.index("")]) + "\n\n" + "\n\n".join(lines[lines.index("") + 1:])
    for n in nets:
        text += "\n\n" + format_layers(n)
    return text


def format_layers(net):
    head = ("| layer | × | strategy | GFLOP | conv_lib ms | torch NCHW ms | torch NHWC ms | JAX ms "
            "| × torch | × torch best | × JAX |")
    lines = [f"**{net['title']}** (batch {net['batch']}, {net['description']})", "", head,
             "|" + "---|" * (head.count("|") - 1)]
    for r in net["layers"]:
        t = {k: v["min"] for k, v in r["times"].items()}
        lines.append(f"| {r['name']} | {r['count']} | {r['strategy']} | {r['flops'] / 1e9:.3f} | "
                     f"{_ms(t['conv_lib'])} | {_ms(t.get('torch NCHW'))} | "
                     f"{_ms(t.get('torch NHWC'))} | {_ms(t.get('JAX NCHW'))} | "
                     f"{_x(r['vs_torch'])} | {_x(r['vs_torch_best_layout'])} | {_x(r['vs_jax'])} |")
    return "\n".join(lines)


def _timing(quick, rounds=None):
    """``bench.time_interleaved``'s arguments: a full run, or a quick one (seconds in all)."""
    return dict(rounds=rounds or (2 if quick else 7), min_sample=0.005 if quick else 0.03,
                warmup=0.02 if quick else 0.2, pause=0.01 if quick else 0.12)


def run(quick=False, rounds=None, names=None, contenders=CONTENDERS, progress=None):
    """Run the networks named in ``names`` (all by default); returns the results dict."""
    from conv_lib import _engine

    timing = _timing(quick, rounds)
    started = os.getloadavg()[0]
    results = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
               "quick": quick, "timing": timing, "machine": bench.machine_info(),
               "conv_lib_threads": _engine.WORKERS, "contenders": list(contenders),
               "allocator": bench.keep_freed_memory()}
    results["networks"] = [run_network(net, quick, timing, contenders, progress)
                           for net in NETWORKS if not names or net.name in names]
    results["summary"] = summary(results["networks"])
    results["loadavg_1min"] = [started, os.getloadavg()[0]]
    return results


def load_results(path=RESULTS):
    return bench.load_results(path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks.networks",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="batch 1 (DCGAN 8), a quarter of the resolution, 2 rounds")
    parser.add_argument("--rounds", type=int, help="samples per contender (default 7, quick 2)")
    parser.add_argument("--networks", help="comma-separated subset of: " +
                        ",".join(n.name for n in NETWORKS))
    parser.add_argument("--no-jax", action="store_true", help="skip JAX (no XLA compilations)")
    parser.add_argument("--out", type=Path, help=f"JSON output (default {RESULTS.name} for a "
                                                 "full run of every network)")
    parser.add_argument("--no-save", action="store_true", help="print the tables only")
    parser.add_argument("--strategies", action="store_true",
                        help="audit the cost model: time every strategy on every conv layer "
                             f"(a full run writes {AUDIT.name})")
    bench.add_openblas_flag(parser)
    args = parser.parse_args(argv)
    if args.unset_openblas_env:
        bench.rerun_without_openblas_env("benchmarks.networks", argv)
    names = args.networks.split(",") if args.networks else None
    unknown = set(names or ()) - {n.name for n in NETWORKS}
    if unknown:
        parser.error(f"unknown network(s) {sorted(unknown)}; valid: "
                     f"{[n.name for n in NETWORKS]}")
    progress = lambda name: print(f"... {name}", file=sys.stderr, flush=True)    # noqa: E731
    if args.strategies:
        results = run_audit(args.quick, args.rounds, names, progress)
        results["command"] = "python -m benchmarks.networks " + " ".join(argv)
        print(format_audit(results))
        out = args.out or (AUDIT if not (args.quick or names) else None)
        if out and not args.no_save:
            out.write_text(json.dumps(results, indent=1, default=float) + "\n")
            print(f"\nwrote {out}")
        return
    contenders = tuple(c for c in CONTENDERS if not (args.no_jax and c.startswith("JAX")))
    results = run(args.quick, args.rounds, names, contenders, progress=progress)
    results["command"] = "python -m benchmarks.networks " + " ".join(argv)
    print(format_tables(results))
    full = not (args.quick or names or args.no_jax)
    out = args.out or (RESULTS if full else None)
    if out and not args.no_save:
        out.write_text(json.dumps(results, indent=1, default=float) + "\n")
        print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
