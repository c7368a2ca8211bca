"""output_size/output_shape against the shapes PyTorch and JAX produce; pad/dilate against NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import conv_lib
from conv_lib import frameworks as fw

from strategies import conv_configs

SETTINGS = dict(deadline=None, derandomize=True)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_output_shape_matches_framework_shapes(ndim):
    """The shape conv_lib predicts is the shape torch and lax actually return."""
    @settings(max_examples=60 if ndim < 3 else 25, **SETTINGS)
    @given(cfg=conv_configs(ndim, max_size=12 if ndim < 3 else 6, modes=("zeros",)))
    def run(cfg):
        x_shape, w_shape, kw = cfg
        predicted = conv_lib.output_shape(x_shape[2:], w_shape[2:], kw["stride"], kw["padding"],
                                          kw["dilation"], kw["input_dilation"])
        x, w = np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32)
        assert fw.torch_conv(x, w, **kw).shape[2:] == predicted
        assert fw.jax_conv(x, w, **kw).shape[2:] == predicted
    run()


@settings(max_examples=200, **SETTINGS)
@given(n=st.integers(1, 40), k=st.integers(1, 6), s=st.integers(1, 5), d=st.integers(1, 4),
       lo=st.integers(0, 6), hi=st.integers(0, 6), di=st.integers(1, 3))
def test_output_size_is_the_floor_formula(n, k, s, d, lo, hi, di):
    span = (n - 1) * di + 1 + lo + hi
    if span < d * (k - 1) + 1:
        with pytest.raises(ValueError, match="kernel larger than the padded input"):
            conv_lib.output_size(n, k, s, (lo, hi), d, di)
    else:
        assert conv_lib.output_size(n, k, s, (lo, hi), d, di) == (span - d * (k - 1) - 1) // s + 1
        if lo == hi:
            assert conv_lib.output_size(n, k, s, lo, d, di) == conv_lib.output_size(n, k, s, (lo, hi), d, di)


@settings(max_examples=150, **SETTINGS)
@given(n=st.integers(1, 30), k=st.integers(1, 7), s=st.integers(1, 4), d=st.integers(1, 3))
def test_same_gives_ceil_n_over_s_and_matches_lax_pads(n, k, s, d):
    from jax import lax
    pads = conv_lib.resolve_padding("same", [n], [k], s, d)
    assert pads == [tuple(p) for p in lax.padtype_to_pads((n,), (d * (k - 1) + 1,), (s,), "SAME")]
    assert conv_lib.output_size(n, k, s, "same", d) == -(-n // s)


def test_effective_kernel_size():
    assert [conv_lib.effective_kernel_size(3, d) for d in (1, 2, 4, 8)] == [3, 5, 9, 17]


@settings(max_examples=150, **SETTINGS)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), data=st.data(),
       mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
def test_pad_matches_numpy_pad(shape, data, mode):
    m = data.draw(st.integers(1, len(shape)))
    limit = {"reflect": lambda n: n - 1, "circular": lambda n: n}.get(mode, lambda n: 7)
    pads = [(data.draw(st.integers(0, limit(n))), data.draw(st.integers(0, limit(n))))
            for n in shape[len(shape) - m:]]
    x = np.random.default_rng(0).standard_normal(shape)
    np_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    expected = np.pad(x, [(0, 0)] * (len(shape) - m) + pads, mode=np_mode)
    np.testing.assert_array_equal(conv_lib.pad(x, pads, mode), expected)


def test_pad_matches_torch_pad_modes():
    import torch
    import torch.nn.functional as F
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 6))
    pads = [(2, 1), (0, 4)]
    for mode in ("reflect", "replicate", "circular"):
        ref = F.pad(torch.from_numpy(x), (0, 4, 2, 1), mode=mode).numpy()
        np.testing.assert_array_equal(conv_lib.pad(x, pads, mode), ref)
    np.testing.assert_array_equal(conv_lib.pad(x, pads, "zeros", value=1.5),
                                  F.pad(torch.from_numpy(x), (0, 4, 2, 1), value=1.5).numpy())


def test_pad_does_not_use_np_pad():
    import inspect
    from conv_lib import padding
    assert "np.pad" not in inspect.getsource(padding).replace("no ``np.pad``", "")


def test_dilate_matches_lax_lhs_dilation():
    import jax.numpy as jnp
    from jax import lax
    x = np.arange(1, 13, dtype=np.float32).reshape(1, 1, 3, 4)
    ones = np.zeros((1, 1, 1, 1), np.float32) + 1
    via_lax = lax.conv_general_dilated(jnp.asarray(x), jnp.asarray(ones), (1, 1), [(0, 0), (0, 0)],
                                       lhs_dilation=(2, 3))
    np.testing.assert_array_equal(conv_lib.dilate(x, [2, 3]), np.asarray(via_lax))
    assert conv_lib.dilate(x, [2, 3]).shape == (1, 1, 5, 10)
