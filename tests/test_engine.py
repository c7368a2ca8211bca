"""Every fast strategy of conv_lib._engine against conv_reference, PyTorch and JAX.

The strategies are called directly (not only through ``conv``'s dispatch), on random
configurations from hypothesis in 1-D, 2-D and 3-D: groups, depthwise with channel multipliers,
dilation with stride, 1x1 kernels, big channel counts and asymmetric padding. The chunking of
``_im2col_gemm`` is exercised by shrinking ``CHUNK_BYTES`` so that chunks split rows and batches.
No timing here: speed is measured by ``python -m benchmarks.conv``.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import conv_lib
from conv_lib import _engine
from conv_lib import frameworks as fw

SETTINGS = dict(deadline=None, derandomize=True)
REFERENCE_MACS = 6_000           # compare with the Python loops only when they finish quickly
JAX_EVERY = 3                    # XLA compiles every new shape (~0.1-0.3 s): check 1 seed in 3


@st.composite
def engine_configs(draw, ndim, kind="any", big_channels=False):
    """(x_shape, w_shape, stride, dilation, groups, pads) valid for strategy ``kind``.

    kind: 'any' (general grouped conv), 'unit_stride' (the same with stride 1), 'pointwise'
    (1x1 kernel, stride 1) or 'depthwise' (one input channel per group, any channel multiplier).
    """
    small = ndim == 3
    if kind == "depthwise":
        groups = draw(st.integers(1, 8 if not big_channels else 64))
        c_in, c_out = groups, groups * draw(st.integers(1, 3))
    else:
        groups = draw(st.integers(1, 3))
        top = 48 if big_channels else 4
        c_in = groups * draw(st.integers(1, top // groups if big_channels else top))
        c_out = groups * draw(st.integers(1, 4))
    k = [1] * ndim if kind == "pointwise" else \
        [draw(st.integers(1, 3 if small else 4)) for _ in range(ndim)]
    stride = [1] * ndim if kind in ("pointwise", "unit_stride") else \
        [draw(st.integers(1, 3)) for _ in range(ndim)]
    dilation = [draw(st.integers(1, 3)) for _ in range(ndim)]
    pads = [(draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(ndim)]
    sizes = []
    for kk, d, (lo, hi) in zip(k, dilation, pads):
        span = d * (kk - 1) + 1
        sizes.append(draw(st.integers(max(1, span - lo - hi), span + (4 if small else 8))))
    batch = draw(st.integers(1, 3))
    return (batch, c_in, *sizes), (c_out, c_in // groups, *k), stride, dilation, groups, pads


def _arrays(x_shape, w_shape, seed, dtype):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype))


def _run(strategy, x, w, stride, dilation, groups, pads):
    """Pad like conv does, then call the strategy itself."""
    out_sizes = conv_lib.output_shape(x.shape[2:], w.shape[2:], stride, pads, dilation)
    xp = conv_lib.pad(x, pads)
    y = strategy(xp, w, tuple(stride), tuple(dilation), groups, tuple(out_sizes))
    assert y.shape == (x.shape[0], w.shape[0], *out_sizes)
    assert y.dtype == x.dtype
    return y


def _close(a, b, tol):
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max())))


def _check(strategy, cfg, seed):
    x_shape, w_shape, stride, dilation, groups, pads = cfg
    kwargs = dict(stride=stride, dilation=dilation, groups=groups, padding=pads)
    x, w = _arrays(x_shape, w_shape, seed, np.float64)
    y = _run(strategy, x, w, stride, dilation, groups, pads)
    _close(y, fw.torch_conv(x, w, **kwargs), 1e-10)
    if y.size * math.prod(w_shape[1:]) <= REFERENCE_MACS:
        _close(y, conv_lib.conv_reference(x, w, **kwargs), 1e-10)
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    y32 = _run(strategy, x32, w32, stride, dilation, groups, pads)     # float32 stays float32
    _close(y32, y, 1e-4)
    if seed % JAX_EVERY == 0:
        _close(y32, fw.jax_conv(x32, w32, **kwargs), 1e-4)


@pytest.mark.parametrize("ndim,examples", [(1, 30), (2, 30), (3, 12)])
def test_im2col_gemm(ndim, examples):
    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=engine_configs(ndim), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _check(_engine._im2col_gemm, cfg, seed)
    run()


@pytest.mark.parametrize("ndim,examples", [(1, 20), (2, 25), (3, 10)])
def test_flat_gemm(ndim, examples):
    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=engine_configs(ndim, "unit_stride"), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _check(_engine._flat_gemm, cfg, seed)
    run()


@pytest.mark.parametrize("ndim,examples", [(1, 15), (2, 15), (3, 8)])
def test_pointwise(ndim, examples):
    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=engine_configs(ndim, "pointwise"), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _check(_engine._pointwise, cfg, seed)
    run()


@pytest.mark.parametrize("ndim,examples", [(1, 25), (2, 25), (3, 10)])
def test_depthwise(ndim, examples):
    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=engine_configs(ndim, "depthwise"), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _check(_engine._depthwise, cfg, seed)
    run()


@pytest.mark.parametrize("kind,strategy", [("any", "_im2col_gemm"), ("unit_stride", "_flat_gemm"),
                                           ("pointwise", "_pointwise"), ("depthwise", "_depthwise")])
def test_big_channels(kind, strategy):
    @settings(max_examples=8, **SETTINGS)
    @given(cfg=engine_configs(2, kind, big_channels=True), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _check(getattr(_engine, strategy), cfg, seed)
    run()


@pytest.mark.parametrize("chunk_bytes", [1, 700, 5000, 40_000])
@pytest.mark.parametrize("strategy", ["_im2col_gemm", "_flat_gemm"])
def test_gemm_chunks_split_rows_and_batches(monkeypatch, chunk_bytes, strategy):
    """Tiny chunk budgets force one-row bands, several-row bands and multi-image chunks."""
    monkeypatch.setattr(_engine, "CHUNK_BYTES", chunk_bytes)
    flat = strategy == "_flat_gemm"
    cases = [((3, 4, 11, 9), (6, 2, 3, 2), (1, 1) if flat else (2, 1), (1, 2), 2, [(1, 2), (0, 1)]),
             ((4, 3, 17), (5, 3, 3), (1,), (4,), 1, [(8, 0)]),
             ((2, 2, 5, 6, 7), (4, 2, 2, 3, 2), (1, 1, 1) if flat else (1, 2, 1), (2, 1, 1), 1,
              [(1, 1)] * 3),
             ((2, 4, 6, 8), (4, 4, 3, 1), (1, 1), (1, 1), 1, [(1, 1), (0, 0)])]     # no junk columns
    for cfg in cases:
        _check(getattr(_engine, strategy), cfg, seed=0)
        _check(getattr(_engine, strategy), cfg, seed=1)


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_depthwise_blocks(batch):
    """One image is split into channel blocks (one per thread); several images are not."""
    cfg = ((batch, 5, 9, 8), (10, 1, 3, 3), (1, 2), (2, 1), 5, [(1, 1), (2, 1)])
    _check(_engine._depthwise, cfg, seed=batch)


def test_dispatch_and_resnet_shapes():
    """conv picks the strategy the docstring promises, and the benchmark shapes are exact."""
    pick = _engine.choose_strategy
    assert pick((128, 256, 1, 1), (1, 1)) is _engine._pointwise
    assert pick((128, 256, 1, 1), (2, 2)) is _engine._im2col_gemm          # strided 1x1
    assert pick((128, 1, 3, 3), (1, 1)) is _engine._depthwise
    assert pick((256, 1, 3, 3), (2, 2)) is _engine._depthwise              # multiplier 2, stride
    assert pick((64, 64, 3, 3), (1, 1)) is _engine._flat_gemm
    assert pick((64, 3, 7, 7), (2, 2)) is _engine._im2col_gemm
    assert pick((25, 25, 3), (1,)) is _engine._flat_gemm
    rng = np.random.default_rng(0)
    for x_shape, w_shape, kwargs in [((1, 64, 12, 12), (64, 64, 3, 3), dict(padding=1)),
                                     ((1, 3, 30, 30), (8, 3, 7, 7), dict(stride=2, padding=3)),
                                     ((1, 32, 10, 10), (32, 1, 3, 3), dict(padding=1, groups=32)),
                                     ((2, 25, 64), (25, 25, 3), dict(dilation=4, padding="causal"))]:
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32)
        y = conv_lib.conv(x, w, **kwargs)
        assert y.dtype == np.float32 and y.flags.c_contiguous
        _close(y, fw.torch_conv(x, w, **kwargs), 1e-4)


@settings(max_examples=60, **SETTINGS)
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
       data=st.data(), value=st.sampled_from([0.0, 1.5, -2.0]),
       dtype=st.sampled_from([np.float32, np.float64, np.int16]))
def test_zero_pad_matches_torch(shape, data, value, dtype):
    """pad(mode='zeros') fills every border slab once; PyTorch's F.pad (constant) agrees."""
    import torch
    import torch.nn.functional as F

    n_pad = data.draw(st.integers(0, len(shape)))
    pairs = [(data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))) for _ in range(n_pad)]
    x = np.arange(math.prod(shape)).reshape(shape).astype(dtype) + 1
    y = conv_lib.pad(x, pairs, "zeros", value)
    if all(p == (0, 0) for p in pairs):
        assert y is x
        return
    assert y.dtype == np.result_type(dtype, value)
    flat = [v for pair in reversed(pairs) for v in pair]
    expected = F.pad(torch.from_numpy(x.astype(np.float64)), flat, value=value).numpy()
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("strategy,w_shape,groups,stride", [
    ("_im2col_gemm", (4, 1, 2, 1, 2, 3), 2, (1, 2, 1, 2)),
    ("_flat_gemm", (4, 1, 2, 1, 2, 3), 2, (1, 1, 1, 1)),
    ("_depthwise", (4, 1, 2, 2, 1, 2), 2, (1, 1, 2, 1)),
    ("_pointwise", (3, 2, 1, 1, 1, 1), 1, (1, 1, 1, 1))])
def test_four_spatial_dims(strategy, w_shape, groups, stride):
    """conv_lib is N-d; PyTorch stops at 3-D, so 4-D is checked against the loops and JAX."""
    x_shape = (2, 2, 3, 4, 3, 5)
    pads = [(1, 0), (0, 1), (1, 1), (0, 0)]
    x, w = _arrays(x_shape, w_shape, 4, np.float64)
    kwargs = dict(stride=stride, dilation=(1, 2, 1, 1), groups=groups, padding=pads)
    y = _run(getattr(_engine, strategy), x, w, stride, kwargs["dilation"], groups, pads)
    _close(y, conv_lib.conv_reference(x, w, **kwargs), 1e-10)
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    _close(_run(getattr(_engine, strategy), x32, w32, stride, kwargs["dilation"], groups, pads),
           fw.jax_conv(x32, w32, **kwargs), 1e-4)
