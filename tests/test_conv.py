"""Differential tests: conv and conv_reference against PyTorch and jax.lax on random configurations."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import conv_lib
from conv_lib import frameworks as fw

from strategies import arrays_for, conv_configs

SETTINGS = dict(deadline=None, derandomize=True)


def _close(a, b, tol):
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max(initial=0))))


def _frameworks_agree(x_shape, w_shape, kwargs, seed, fn):
    """fn(x, w, b, **kwargs) must match torch (float64) and jax (float32, HIGHEST)."""
    x, w, b = arrays_for(x_shape, w_shape, seed)
    y = fn(x, w, b, **kwargs)
    _close(y, fw.torch_conv(x, w, b, **kwargs), 1e-9)
    jax_ok = kwargs["padding_mode"] == "zeros" or all(
        d == 1 for d in np.broadcast_to(kwargs["input_dilation"], len(x_shape) - 2))
    if jax_ok:
        x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))
        _close(fn(x32, w32, b32, **kwargs), fw.jax_conv(x32, w32, b32, **kwargs), 2e-4)


@pytest.mark.parametrize("ndim,examples", [(1, 120), (2, 80), (3, 30)])
def test_conv_matches_torch_and_jax(ndim, examples):
    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=conv_configs(ndim, max_size=9 if ndim < 3 else 5, max_kernel=4 if ndim < 3 else 3),
           seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _frameworks_agree(*cfg, seed, conv_lib.conv)
    run()


@pytest.mark.parametrize("ndim,examples", [(1, 60), (2, 30), (3, 10)])
def test_reference_matches_torch_and_jax(ndim, examples):
    @settings(max_examples=examples, **SETTINGS)
    @given(cfg=conv_configs(ndim, max_size=7 if ndim < 3 else 4, max_kernel=3 if ndim < 3 else 2,
                            max_channels=2),
           seed=st.integers(0, 2**16))
    def run(cfg, seed):
        _frameworks_agree(*cfg, seed, conv_lib.conv_reference)
    run()


@settings(max_examples=40, **SETTINGS)
@given(cfg=conv_configs(2, max_size=7, max_kernel=3, max_channels=2), seed=st.integers(0, 2**16))
def test_conv_equals_reference_including_input_dilation_with_modes(cfg, seed):
    """Padding modes after input dilation exist in neither framework: conv_reference is the truth."""
    x, w, b = arrays_for(*cfg[:2], seed)
    _close(conv_lib.conv(x, w, b, **cfg[2]), conv_lib.conv_reference(x, w, b, **cfg[2]), 1e-12)


def test_flax_adapter_agrees_on_a_config_with_every_knob():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 11, 9)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 2)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    kw = dict(stride=(2, 1), padding=[(1, 2), (0, 3)], dilation=(1, 2), input_dilation=(1, 2),
              groups=2)
    _close(fw.flax_conv(x, w, b, **kw), conv_lib.conv(x, w, b, **kw), 2e-4)
    kw = dict(stride=2, padding="same", padding_mode="reflect")
    w = rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    _close(fw.flax_conv(x, w, b, **kw), conv_lib.conv(x, w, b, **kw), 2e-4)


@st.composite
def transpose_configs(draw, ndim):
    groups = draw(st.integers(1, 2))
    c_in = groups * draw(st.integers(1, 3))
    c_out_per_group = draw(st.integers(1, 3))
    k = [draw(st.integers(1, 4)) for _ in range(ndim)]
    s = [draw(st.integers(1, 3)) for _ in range(ndim)]
    d = [draw(st.integers(1, 3)) for _ in range(ndim)]
    p = [draw(st.integers(0, 4)) for _ in range(ndim)]
    op = [draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d)]
    n = [draw(st.integers(1, 6)) for _ in range(ndim)]
    for ni, ki, si, pi, opi, di in zip(n, k, s, p, op, d):
        if (ni - 1) * si - 2 * pi + di * (ki - 1) + opi + 1 < 1:
            from hypothesis import assume
            assume(False)
    return ((draw(st.integers(1, 2)), c_in, *n), (c_in, c_out_per_group, *k),
            dict(stride=s, padding=p, output_padding=op, dilation=d, groups=groups))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_conv_transpose_matches_torch(ndim):
    @settings(max_examples=50 if ndim < 3 else 20, **SETTINGS)
    @given(cfg=transpose_configs(ndim), seed=st.integers(0, 2**16))
    def run(cfg, seed):
        x_shape, w_shape, kw = cfg
        x, w, b = arrays_for(x_shape, w_shape, seed, bias=False)
        b = np.random.default_rng(seed).standard_normal(w_shape[1] * kw["groups"])
        y = conv_lib.conv_transpose(x, w, b, **kw)
        _close(y, fw.torch_conv_transpose(x, w, b, **kw), 1e-9)
        if seed % 3 == 0:                 # XLA compiles each new shape: 1 seed in 3, float32
            x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))
            _close(conv_lib.conv_transpose(x32, w32, b32, **kw),
                   fw.jax_conv_transpose(x32, w32, b32, **kw), 2e-4)
    run()


def test_conv_transpose_is_the_adjoint_of_strided_conv():
    """<conv(x), y> == <x, conv_transpose(y)> with the same weight: the identity the docs state."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 11, 10))
    w = rng.standard_normal((4, 3, 3, 2))
    kw = dict(stride=(2, 3), padding=(1, 0), dilation=(1, 2))
    y = conv_lib.conv(x, w, **kw)
    g = rng.standard_normal(y.shape)
    # output_padding recovers the input size the floor dropped
    op = tuple(n - ((m - 1) * s - 2 * p + d * (k - 1) + 1)
               for n, m, s, p, d, k in zip(x.shape[2:], y.shape[2:], (2, 3), (1, 0), (1, 2), (3, 2)))
    xt = conv_lib.conv_transpose(g, w, output_padding=op, **kw)
    assert xt.shape == x.shape
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, xt), rtol=1e-10)


def test_float32_stays_float32_and_ints_become_float64():
    x = np.ones((1, 1, 4), np.float32)
    assert conv_lib.conv(x, np.ones((1, 1, 2), np.float32)).dtype == np.float32
    assert conv_lib.conv(np.ones((1, 1, 4), int), np.ones((1, 1, 2), int)).dtype == np.float64
