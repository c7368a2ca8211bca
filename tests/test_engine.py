"""Every fast strategy of conv_lib._engine against conv_reference, PyTorch and JAX.

The strategies are called directly (forced, not only through ``conv``'s cost model), in each of
their modes (GEMM column layouts ``images`` / ``side_by_side``, depthwise ``rows`` / ``flat``, the
depthwise padding done in cache; the 2-D depthwise Toeplitz products; Winograd's F(2, 3)), on
random configurations from hypothesis in 1-D, 2-D and 3-D:
groups, depthwise with channel multipliers, dilation with stride, 1x1 kernels, big channel counts
and asymmetric padding. The chunking of the GEMM strategies is exercised by shrinking
``CHUNK_BYTES`` so that chunks split rows and batches. ``tests/test_networks.py`` runs every layer
of the benchmark networks (scaled down) through the cost model's choice and every other strategy.
No timing here: speed is measured by ``python -m benchmarks.networks``.
"""
import ast
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import conv_lib
from conv_lib import _direct, _engine, _workspace
from conv_lib import frameworks as fw

SETTINGS = dict(deadline=None, derandomize=True)
REFERENCE_MACS = 6_000           # compare with the Python loops only when they finish quickly
JAX_EVERY = 3                    # XLA compiles every new shape (~0.1-0.3 s): check 1 seed in 3


@st.composite
def engine_configs(draw, ndim, kind="any", big_channels=False):
    """(x_shape, w_shape, stride, dilation, groups, pads) valid for strategy ``kind``.

    kind: 'any' (general grouped conv), 'unit_stride' (the same with stride 1), 'pointwise'
    (1x1 kernel, stride 1), 'depthwise' (one input channel per group, any channel multiplier) or
    'winograd' (3-tap kernels, stride 1, no dilation, no groups).
    """
    small = ndim == 3
    if kind == "winograd":
        top = 48 if big_channels else 5
        groups, c_in, c_out = 1, draw(st.integers(1, top)), draw(st.integers(1, top))
    elif kind == "depthwise":
        groups = draw(st.integers(1, 8 if not big_channels else 64))
        c_in, c_out = groups, groups * draw(st.integers(1, 3))
    else:
        groups = draw(st.integers(1, 3))
        top = 48 if big_channels else 4
        c_in = groups * draw(st.integers(1, top // groups if big_channels else top))
        c_out = groups * draw(st.integers(1, 4))
    k = [1] * ndim if kind == "pointwise" else [3] * ndim if kind == "winograd" else \
        [draw(st.integers(1, 3 if small else 4)) for _ in range(ndim)]
    stride = [1] * ndim if kind in ("pointwise", "unit_stride", "winograd") else \
        [draw(st.integers(1, 3)) for _ in range(ndim)]
    dilation = [1] * ndim if kind == "winograd" else \
        [draw(st.integers(1, 3)) for _ in range(ndim)]
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


def _run(strategy, x, w, stride, dilation, groups, pads, in_cache=False, **mode):
    """Pad like conv does, then call the strategy itself (``mode``: its layout or mode keyword).

    in_cache: give the strategy the unpadded input and the padding, as ``correlate`` does for
    zero padding (depthwise, Toeplitz, im2col, Winograd).
    """
    out_sizes = conv_lib.output_shape(x.shape[2:], w.shape[2:], stride, pads, dilation)
    args = (w, tuple(stride), tuple(dilation), groups, tuple(out_sizes))
    if in_cache:
        y = strategy(x, *args, pads=pads, **mode)
    else:
        y = strategy(conv_lib.pad(x, pads), *args, **mode)
    assert y.shape == (x.shape[0], w.shape[0], *out_sizes)
    assert y.dtype == x.dtype
    return y


def _close(a, b, tol):
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max())))


def _check(strategy, cfg, seed, **mode):
    x_shape, w_shape, stride, dilation, groups, pads = cfg
    kwargs = dict(stride=stride, dilation=dilation, groups=groups, padding=pads)
    x, w = _arrays(x_shape, w_shape, seed, np.float64)
    y = _run(strategy, x, w, stride, dilation, groups, pads, **mode)
    _close(y, fw.torch_conv(x, w, **kwargs), 1e-10)
    if y.size * math.prod(w_shape[1:]) <= REFERENCE_MACS:
        _close(y, conv_lib.conv_reference(x, w, **kwargs), 1e-10)
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    y32 = _run(strategy, x32, w32, stride, dilation, groups, pads, **mode)   # float32 stays
    _close(y32, y, 1e-4)
    if seed % JAX_EVERY == 0:
        _close(y32, fw.jax_conv(x32, w32, **kwargs), 1e-4)


LAYOUTS = ["images", "side_by_side"]


@pytest.mark.parametrize("in_cache", [False, True])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("ndim,examples", [(1, 15), (2, 15), (3, 6)])
def test_im2col_gemm(ndim, examples, layout, in_cache, monkeypatch):
    """Padded before, or in the buffer (forced even for the small test sizes, which would
    otherwise be padded first); chunks of one row too, so padding rows fall in a band's middle."""
    from conv_lib import _gemm
    monkeypatch.setattr(_gemm, "IN_CACHE_MIN", 0)

    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=engine_configs(ndim), seed=st.integers(0, 2**16), tiny=st.booleans())
    def run(cfg, seed, tiny):
        with monkeypatch.context() as m:
            if tiny:
                m.setattr(_workspace, "CHUNK_BYTES", 1)
            _check(_engine._im2col_gemm, cfg, seed, layout=layout, in_cache=in_cache)
    run()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("ndim,examples", [(1, 10), (2, 12), (3, 5)])
def test_flat_gemm(ndim, examples, layout):
    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=engine_configs(ndim, "unit_stride"), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _check(_engine._flat_gemm, cfg, seed, layout=layout)
    run()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("ndim,examples", [(1, 8), (2, 8), (3, 4)])
def test_pointwise(ndim, examples, layout):
    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=engine_configs(ndim, "pointwise"), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _check(_engine._pointwise, cfg, seed, layout=layout)
    run()


@pytest.mark.parametrize("in_cache", [False, True])
@pytest.mark.parametrize("mode", ["rows", "flat"])
@pytest.mark.parametrize("ndim,examples", [(1, 10), (2, 12), (3, 5)])
def test_depthwise(ndim, examples, mode, in_cache):
    """Both depthwise modes, strided (phases) or not, padded before or in cache."""
    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=engine_configs(ndim, "depthwise"), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _check(_engine._depthwise, cfg, seed, mode=mode, in_cache=in_cache)
    run()


@pytest.mark.parametrize("in_cache", [False, True])
def test_depthwise_toeplitz(in_cache):
    """The Toeplitz products (2-D): strided, dilated, asymmetric and large padding, multipliers."""
    @settings(max_examples=25, **SETTINGS)
    @given(cfg=engine_configs(2, "depthwise"), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _check(_engine._depthwise_toeplitz, cfg, seed, in_cache=in_cache)
    run()


@pytest.mark.parametrize("strategy", ["_winograd", "_winograd4"])
@pytest.mark.parametrize("in_cache", [False, True])
@pytest.mark.parametrize("ndim,examples", [(1, 12), (2, 15), (3, 6)])
def test_winograd(strategy, ndim, examples, in_cache, monkeypatch):
    """F(2, 3) and F(4, 3) on every axis: output sizes of every remainder (the last tile partly
    outside), padding larger than the input, one image (its tile rows split between the cores)
    or several, and pieces of one tile row of one image (a piece budget of one byte)."""
    from conv_lib import _winograd

    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=engine_configs(ndim, "winograd"), seed=st.integers(0, 2**16), tiny=st.booleans())
    def run(cfg, seed, tiny):
        with monkeypatch.context() as m:
            if tiny:
                m.setattr(_winograd, "WINOGRAD_PIECE_BYTES", 1)
            _check(getattr(_engine, strategy), cfg, seed, in_cache=in_cache)
    run()


def test_winograd_identity():
    """One tile, one axis: A^T ((G g) * (B^T d)) is the 3-tap correlation of d with g, and the
    kernel transform of d axes is G applied along each of them (a Kronecker product)."""
    from conv_lib import _winograd
    rng = np.random.default_rng(5)
    d, g = rng.standard_normal(4), rng.standard_normal(3)
    v = np.empty(4)
    _winograd._input_axis(d, 0, 1, v.reshape(4, 1))
    m = (_winograd.G @ g) * v
    y = np.empty(2)
    _winograd._output_axis(m.reshape(4, 1), y[:1], y[1:])
    np.testing.assert_allclose(y, [d[0:3] @ g, d[1:4] @ g], rtol=1e-13)
    w = rng.standard_normal((3, 3))
    u = _winograd.kernel_matrix(2, np.float64) @ w.reshape(9)
    np.testing.assert_allclose(u.reshape(4, 4), _winograd.G @ w @ _winograd.G.T, rtol=1e-13)


def test_winograd4_identity():
    """F(4, 3): A^T ((G g) * (B^T d)) gives the four outputs of a tile of six inputs, and the
    Kronecker powers apply the 1-D matrices along each axis (2-D: B^T d B, G w G^T, A^T m A)."""
    from conv_lib import _winograd
    rng = np.random.default_rng(6)
    d, g = rng.standard_normal(6), rng.standard_normal(3)
    y = _winograd.A4_T @ ((_winograd.G4 @ g) * (_winograd.B4_T @ d))
    np.testing.assert_allclose(y, [d[i:i + 3] @ g for i in range(4)], rtol=1e-12)
    d, w = rng.standard_normal((6, 6)), rng.standard_normal((3, 3))
    kron = lambda name: _winograd.kronecker(name, 2, np.float64)  # noqa: E731
    v, u = kron("B") @ d.reshape(36), kron("G") @ w.reshape(9)
    np.testing.assert_allclose(v.reshape(6, 6), _winograd.B4_T @ d @ _winograd.B4_T.T, rtol=1e-12)
    np.testing.assert_allclose(u.reshape(6, 6), _winograd.G4 @ w @ _winograd.G4.T, rtol=1e-12)
    y = (kron("A") @ (u * v)).reshape(4, 4)
    expected = [[np.sum(d[i:i + 3, j:j + 3] * w) for j in range(4)] for i in range(4)]
    np.testing.assert_allclose(y, expected, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("axes", [1, 2, 3])
def test_winograd4_transform_axis_by_axis(axes, monkeypatch):
    """_transform applies F x F x F in 3-D whatever the axes it multiplies together."""
    from conv_lib import _winograd
    monkeypatch.setattr(_winograd, "KRONECKER_AXES", axes)
    data = np.random.default_rng(axes).standard_normal((216, 5))
    for matrix, rows in (("B", 6), ("A", 4)):
        out = np.empty((rows ** 3, 5))
        _winograd._transform(matrix, 3, data, out)
        np.testing.assert_allclose(out, _winograd.kronecker(matrix, 3, np.float64) @ data,
                                   rtol=1e-12, atol=1e-10)


def test_half_precision_keeps_off_winograd4():
    """float16 has 11 bits: F(4, 3)'s transforms lose about 1% of the largest output there, so
    conv computes such layers with F(2, 3) instead (forced, F(4, 3) still computes them)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 64, 28, 28)).astype(np.float16)
    w = (rng.standard_normal((64, 64, 3, 3)) / 24).astype(np.float16)
    assert _engine.choose_strategy(w.shape, (1, 1), x.shape, 1, (1, 1), (28, 28)) \
        is _engine._winograd4
    truth = fw.torch_conv(x.astype(np.float64), w.astype(np.float64), padding=1)
    error = lambda y: np.abs(y - truth).max() / np.abs(truth).max()  # noqa: E731
    y = conv_lib.conv(x, w, padding=1)
    assert y.dtype == np.float16 and error(y) < 3e-3
    forced = _engine.correlate(x, w, (1, 1), (1, 1), 1, (28, 28), [(1, 1)] * 2,
                               strategy=_engine._winograd4)
    assert error(forced) > 3e-3                          # what the choice avoids


def test_toeplitz_matrix_is_the_correlation():
    """One channel, one kernel row: x @ T equals the 1-D correlation written as loops."""
    from conv_lib import _toeplitz
    rng = np.random.default_rng(3)
    for width, k, s, d, lo, hi in [(7, 3, 1, 1, 1, 1), (9, 2, 2, 3, 0, 4), (4, 4, 3, 1, 3, 0)]:
        out = (width + lo + hi - d * (k - 1) - 1) // s + 1
        w_row = rng.standard_normal(k)
        T = _toeplitz.toeplitz(w_row.reshape(1, 1, 1, k), width, out, s, (1, d), lo, 1)[0, 0]
        x = rng.standard_normal(width)
        xp = np.pad(x, (lo, hi))
        expected = [sum(w_row[t] * xp[o * s + t * d] for t in range(k)) for o in range(out)]
        np.testing.assert_allclose(x @ T, expected, rtol=1e-12, atol=1e-12)
        assert np.count_nonzero(T) <= k * out


@pytest.mark.parametrize("kind,strategy,mode", [
    ("any", "_im2col_gemm", dict(layout="images")),
    ("any", "_im2col_gemm", dict(layout="side_by_side")),
    ("unit_stride", "_flat_gemm", dict(layout="side_by_side")),
    ("pointwise", "_pointwise", dict(layout="side_by_side")),
    ("depthwise", "_depthwise", dict(mode="rows")),
    ("depthwise", "_depthwise", dict(mode="flat", in_cache=True)),
    ("depthwise", "_depthwise_toeplitz", dict(in_cache=True)),
    ("winograd", "_winograd", dict(in_cache=True)),
    ("winograd", "_winograd4", dict(in_cache=True))])
def test_big_channels(kind, strategy, mode):
    @settings(max_examples=6, **SETTINGS)
    @given(cfg=engine_configs(2, kind, big_channels=True), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _check(getattr(_engine, strategy), cfg, seed, **mode)
    run()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("chunk_bytes", [1, 700, 5000, 40_000])
@pytest.mark.parametrize("strategy", ["_im2col_gemm", "_flat_gemm", "_pointwise"])
def test_gemm_chunks_split_rows_and_batches(monkeypatch, chunk_bytes, strategy, layout):
    """Tiny chunk budgets force one-row bands, several-row bands and multi-image chunks."""
    monkeypatch.setattr(_workspace, "CHUNK_BYTES", chunk_bytes)
    unit = strategy != "_im2col_gemm"
    cases = [((3, 4, 11, 9), (6, 2, 3, 2), (1, 1) if unit else (2, 1), (1, 2), 2, [(1, 2), (0, 1)]),
             ((4, 3, 17), (5, 3, 3), (1,), (4,), 1, [(8, 0)]),
             ((2, 2, 5, 6, 7), (4, 2, 2, 3, 2), (1, 1, 1) if unit else (1, 2, 1), (2, 1, 1), 1,
              [(1, 1)] * 3),
             ((2, 4, 6, 8), (4, 4, 3, 1), (1, 1), (1, 1), 1, [(1, 1), (0, 0)])]     # no junk columns
    if strategy == "_pointwise":
        cases = [((3, 4, 5, 7), (6, 2, 1, 1), (1, 1), (1, 1), 2, [(0, 0), (1, 0)]),
                 ((4, 6, 9), (3, 6, 1), (1,), (1,), 1, [(0, 0)])]
    for cfg in cases:
        _check(getattr(_engine, strategy), cfg, seed=0, layout=layout)
        _check(getattr(_engine, strategy), cfg, seed=1, layout=layout)


PIN_PROBE = """
import os, threading
from conv_lib import _workspace as ws
cpus, together = set(), threading.Barrier(ws.WORKERS)
def work(lo, hi):                   # each piece waits for the others: one thread each
    together.wait(timeout=10)
    cpus.add(frozenset(os.sched_getaffinity(threading.get_native_id())))
ws.parallel(work, ws.WORKERS)
print(sorted(sorted(c) for c in cpus))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or _workspace.WORKERS < 2,
                    reason="needs Linux and two cores")
@pytest.mark.parametrize("pin", ["1", "0"])
def test_worker_threads_are_pinned_one_per_core(pin):
    """Each pool thread runs on its own core (``_workspace._pin_worker``); the environment
    variable turns that off. A fresh interpreter, so that the pool starts under the setting."""
    env = dict(os.environ, CONV_LIB_PIN_THREADS=pin)
    out = subprocess.run([sys.executable, "-c", PIN_PROBE], env=env, capture_output=True,
                         text=True, check=True).stdout
    allowed = sorted(os.sched_getaffinity(0))
    expected = [[c] for c in allowed] if pin == "1" else [allowed]
    assert ast.literal_eval(out) == expected


@pytest.mark.parametrize("elements", [1, 40, 10_000])
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_depthwise_blocks(monkeypatch, batch, elements):
    """Channel chunks of one plane, of a few planes, of all: split over images and threads."""
    monkeypatch.setattr(_direct, "DEPTHWISE_ELEMENTS", elements)
    for stride in [(1, 2), (2, 2), (1, 1)]:
        cfg = ((batch, 5, 9, 8), (10, 1, 3, 3), stride, (2, 1), 5, [(1, 1), (2, 1)])
        for mode in ("rows", "flat"):
            _check(_engine._depthwise, cfg, seed=batch, mode=mode, in_cache=True)


def test_depthwise_phase_geometry():
    """Stride 2, 3x3: taps 0 and 2 read phase 0 (shifts 0 and 1), tap 1 reads phase 1."""
    planes, taps = _direct.phase_geometry((3,), (2,), (1,), (5,))
    assert planes == (6,) and taps == [((0,), (0,)), ((1,), (0,)), ((0,), (1,))]
    # dilation 3 with stride 2: tap t reads 3t = 2 * (3t // 2) + 3t % 2
    planes, taps = _direct.phase_geometry((3,), (2,), (3,), (4,))
    assert planes == (4 + 3,) and [t[0][0] for t in taps] == [0, 1, 0]


def test_modes_and_layouts_are_validated():
    x, w = np.ones((1, 2, 5, 5)), np.ones((2, 1, 3, 3))
    with pytest.raises(ValueError, match="mode='diagonal'"):
        _engine._depthwise(x, w, (1, 1), (1, 1), 2, (3, 3), mode="diagonal")
    with pytest.raises(ValueError, match="layout='columns'"):
        _engine._im2col_gemm(x, np.ones((2, 2, 3, 3)), (1, 1), (1, 1), 1, (3, 3), layout="columns")
    with pytest.raises(ValueError, match="scatter='loops'"):
        _engine.transposed(x, np.ones((2, 1, 3, 3)), (1, 1), (0, 0), (1, 1), 1, (7, 7),
                           scatter="loops")


@pytest.mark.parametrize("shape,e", [((5, 4), (1, 1)), ((5, 4), (-1, 2)), ((3, 4, 5), (0, -1, 1)),
                                     ((3, 4, 5), (2, 3, -4)), ((6,), (-2,))])
def test_flat_add_is_the_shifted_add(shape, e):
    """One flat slice over a run of planes (3 here), with the wrapped reads zeroed, adds exactly the
    shifted planes."""
    from conv_lib import _gemm
    rng = np.random.default_rng(5)
    src = rng.standard_normal((2, 3, *shape))
    acc = rng.standard_normal((2, 3, *shape))
    expected = acc.copy()
    for q in np.ndindex(*shape):
        i = tuple(qj - ej for qj, ej in zip(q, e))
        if all(0 <= ij < n for ij, n in zip(i, shape)):
            expected[(Ellipsis, *q)] += src[(Ellipsis, *i)]
    _gemm._flat_add(acc, src.copy(), e, shape)
    np.testing.assert_allclose(acc, expected, rtol=0, atol=0)


def test_scatter_matrix_is_the_definition():
    """Row (t, i) of the scatter matrix has its one 1 at o = i*s + t*d - p, when inside."""
    from conv_lib import _gemm
    s_mat = _gemm.scatter_matrix((3,), (4,), (8,), (2,), (1,), (1,), np.float64)
    for t in range(3):
        for i in range(4):
            o = i * 2 + t - 1
            row = s_mat[t * 4 + i]
            assert row.sum() == (1 if 0 <= o < 8 else 0) and (o < 0 or o >= 8 or row[o] == 1)


@st.composite
def transposed_configs(draw, ndim):
    """(x_shape, w_shape, stride, padding, dilation, groups, out_sizes) of a conv_transpose."""
    groups = draw(st.integers(1, 3))
    c_in, og = groups * draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k = [draw(st.integers(1, 4)) for _ in range(ndim)]
    s = [draw(st.integers(1, 3)) for _ in range(ndim)]
    d = [draw(st.integers(1, 2)) for _ in range(ndim)]
    p = [draw(st.integers(0, 2)) for _ in range(ndim)]
    n = [draw(st.integers(1, 6)) for _ in range(ndim)]
    op = [draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d)]
    out = [(ni - 1) * si - 2 * pi + di * (ki - 1) + o + 1
           for ni, ki, si, pi, di, o in zip(n, k, s, p, d, op)]
    assume(min(out) >= 1)
    return ((draw(st.integers(1, 3)), c_in, *n), (c_in, og, *k), s, p, d, op, groups, out)


@pytest.mark.parametrize("layout,scatter", [("images", "phases"), ("side_by_side", "phases"),
                                            ("images", "matrix"), ("side_by_side", None)])
@pytest.mark.parametrize("ndim,examples", [(1, 12), (2, 12), (3, 5)])
def test_transposed(ndim, examples, layout, scatter):
    """The GEMM + scatter of conv_transpose against PyTorch (and JAX's VJP): both layouts, the
    scatter by phases and by its 0/1 matrix."""
    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=transposed_configs(ndim), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        x_shape, w_shape, s, p, d, op, groups, out = cfg
        kw = dict(stride=s, padding=p, dilation=d, output_padding=op, groups=groups)
        x, w = _arrays(x_shape, w_shape, seed, np.float64)
        y = _engine.transposed(x, w, tuple(s), tuple(p), tuple(d), groups, tuple(out),
                               layout=layout, scatter=scatter)
        assert y.shape == (x_shape[0], w_shape[1] * groups, *out)
        _close(y, fw.torch_conv_transpose(x, w, **kw), 1e-10)
        if seed % JAX_EVERY == 0:
            x32, w32 = x.astype(np.float32), w.astype(np.float32)
            y32 = _engine.transposed(x32, w32, tuple(s), tuple(p), tuple(d), groups, tuple(out),
                                     layout=layout, scatter=scatter)
            assert y32.dtype == np.float32
            _close(y32, fw.jax_conv_transpose(x32, w32, **kw), 1e-4)
    run()


@pytest.mark.parametrize("layout", ["images", "side_by_side"])
@pytest.mark.parametrize("x_shape,w_shape,groups", [
    ((3, 4, 5, 6), (4, 3, 4, 4), 2),            # DCGAN-like 4x4 / 2 / pad 1: every phase "same"
    ((2, 3, 3, 4, 5), (3, 2, 4, 4, 4), 1),      # the same in 3-D
    ((2, 4, 7), (4, 2, 4), 2)])                 # and in 1-D
def test_transposed_phases_add_whole_runs(layout, x_shape, w_shape, groups):
    """Stride 2, kernel 4, padding 1: each phase receives two taps per axis over the input's own
    grid, so every addition is one slice over a whole run of planes (``_gemm._flat_add``)."""
    ndim = len(x_shape) - 2
    x, w = _arrays(x_shape, w_shape, 7, np.float64)
    out = tuple(2 * n for n in x_shape[2:])
    y = _engine.transposed(x, w, (2,) * ndim, (1,) * ndim, (1,) * ndim, groups, out,
                           layout=layout, scatter="phases")
    _close(y, fw.torch_conv_transpose(x, w, stride=2, padding=1, groups=groups), 1e-10)


def test_rule_without_shapes_and_cost_model_with_them():
    """Without the input shape the rule of large layers applies; with it, the cost model, whose
    choice is always a strategy that can compute the layer."""
    pick = _engine.choose_strategy
    assert pick((128, 256, 1, 1), (1, 1)) is _engine._pointwise
    assert pick((128, 256, 1, 1), (2, 2)) is _engine._im2col_gemm          # strided 1x1
    assert pick((128, 1, 3, 3), (1, 1)) is _engine._depthwise
    assert pick((256, 1, 3, 3), (2, 2)) is _engine._depthwise              # multiplier 2, stride
    assert pick((64, 64, 3, 3), (1, 1)) is _engine._flat_gemm
    assert pick((64, 3, 7, 7), (2, 2)) is _engine._im2col_gemm
    assert pick((25, 25, 3), (1,)) is _engine._flat_gemm
    # the model on ResNet and MobileNetV2 layers (batch 8, 224x224)
    assert pick((64, 64, 1, 1), (1, 1), (8, 64, 56, 56)) is _engine._pointwise
    assert pick((64, 64, 3, 3), (1, 1), (8, 64, 58, 58)) is _engine._winograd4
    assert pick((16, 16, 3, 3), (1, 1), (4, 16, 64, 64)) is _engine._flat_gemm   # few channels
    assert pick((128, 128, 3, 3), (1, 1), (8, 128, 28, 28), 1, (1, 1), (28, 28)) \
        is _engine._winograd4
    assert pick((32, 64, 3, 3, 3), (1, 1, 1), (2, 64, 32, 32, 32), 1, (1, 1, 1), (32,) * 3) \
        is _engine._winograd4                                            # 3-D U-Net
    assert pick((512, 512, 3, 3), (1, 1), (8, 512, 7, 7), 1, (1, 1), (7, 7)) \
        is _engine._im2col_gemm                      # 36 x 512 x 512 transformed kernel
    assert pick((96, 1, 3, 3), (2, 2), (8, 96, 114, 114), 96) is _engine._depthwise
    assert pick((960, 1, 3, 3), (1, 1), (8, 960, 9, 9), 960) is _engine._depthwise_toeplitz
    assert pick((32, 1, 3, 3), (1, 1), (8, 32, 114, 114), 32) is _engine._depthwise
    assert pick((256, 256, 3, 3), (1, 1), (8, 256, 14, 14), 1, (1, 1), (14, 14)) \
        is _engine._winograd
    assert pick((256, 256, 3, 3), (1, 1), (8, 256, 14, 14), 1, (2, 2), (10, 10)) \
        is not _engine._winograd                                         # dilated
    # WaveNet's causal kernel-2 layer (unpadded 4096 samples, dilation 8): the exact windows are
    # one contiguous run per (image, channel, tap), and the flat trick would first copy x padded
    assert pick((128, 64, 2), (1,), (4, 64, 4096), 1, (8,), (4096,)) is _engine._im2col_gemm
    flat = lambda x_shape: _engine.estimate_seconds(_engine._flat_gemm, x_shape,  # noqa: E731
                                                     (128, 64, 2), (1,), (8,), 1, (4096,))
    assert flat((4, 64, 4096)) > flat((4, 64, 4104))     # the copy of x padded is charged
    assert not _engine.applicable(_engine._depthwise_toeplitz, (8, 1, 3, 3, 3), (1, 1, 1))
    for strategy in _engine.STRATEGIES:               # a 1x1 depthwise layer fits all but one
        winograd = strategy in (_engine._winograd, _engine._winograd4)
        assert _engine.applicable(strategy, (8, 1, 1, 1), (1, 1)) == (not winograd)
        w_shape = (8, 1, 3, 3) if winograd else (8, 1, 1, 1)
        seconds = _engine.estimate_seconds(strategy, (8, 8, 14, 14), w_shape, (1, 1), (1, 1),
                                           8, (14, 14))
        assert 0 < seconds < 1
    assert not _engine.applicable(_engine._winograd, (8, 8, 3, 3), (1, 1), (1, 1), 2)
    assert not _engine.applicable(_engine._winograd, (8, 8, 3, 3), (1, 1), (1, 2), 1)
    assert not _engine.applicable(_engine._winograd, (8, 8, 3, 2), (1, 1), (1, 1), 1)
    assert _engine.applicable(_engine._winograd, (8, 8, 3, 3, 3), (1, 1, 1), (1, 1, 1), 1)
    assert _engine.applicable(_engine._winograd4, (8, 8, 3, 3, 3), (1, 1, 1), (1, 1, 1), 1)
    assert not _engine.applicable(_engine._winograd4, (8, 8, 3, 3), (2, 1), (1, 1), 1)
    assert not _engine.applicable(_engine._flat_gemm, (8, 8, 3, 3), (2, 1))
    assert not _engine.applicable(_engine._depthwise, (8, 2, 3, 3), (1, 1))


def test_forced_strategy_and_resnet_shapes():
    """correlate(strategy=...) forces a strategy; conv's choice keeps float32 and NCHW."""
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
        ndim = x.ndim - 2
        stride = (kwargs.get("stride", 1),) * ndim
        dilation = (kwargs.get("dilation", 1),) * ndim
        pads = conv_lib.resolve_padding(kwargs["padding"], x.shape[2:], w.shape[2:], stride,
                                        dilation)
        out = conv_lib.output_shape(x.shape[2:], w.shape[2:], stride, pads, dilation)
        groups = kwargs.get("groups", 1)
        for strategy in _engine.STRATEGIES:
            if _engine.applicable(strategy, w_shape, stride, dilation, groups):
                forced = _engine.correlate(x, w, stride, dilation, groups, out,
                                           pads, strategy=strategy)
                _close(forced, y, 1e-4)


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
    ("_pointwise", (3, 2, 1, 1, 1, 1), 1, (1, 1, 1, 1)),
    ("_winograd", (3, 2, 3, 3, 3, 3), 1, (1, 1, 1, 1)),
    ("_winograd4", (3, 2, 3, 3, 3, 3), 1, (1, 1, 1, 1))])
def test_four_spatial_dims(strategy, w_shape, groups, stride):
    """conv_lib is N-d; PyTorch stops at 3-D, so 4-D is checked against the loops and JAX."""
    x_shape = (2, 2, 3, 4, 3, 5)
    pads = [(1, 0), (0, 1), (1, 1), (0, 0)]
    x, w = _arrays(x_shape, w_shape, 4, np.float64)
    dilation = (1, 1, 1, 1) if strategy.startswith("_winograd") else (1, 2, 1, 1)
    kwargs = dict(stride=stride, dilation=dilation, groups=groups, padding=pads)
    y = _run(getattr(_engine, strategy), x, w, stride, kwargs["dilation"], groups, pads)
    _close(y, conv_lib.conv_reference(x, w, **kwargs), 1e-10)
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    _close(_run(getattr(_engine, strategy), x32, w32, stride, kwargs["dilation"], groups, pads),
           fw.jax_conv(x32, w32, **kwargs), 1e-4)
