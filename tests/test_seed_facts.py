"""Every shape and value stated in the seed documents, checked in conv_lib and in the frameworks.

Where a seed is wrong, the test pins down what really happens.
"""
import numpy as np
import pytest

import conv_lib
from conv_lib import frameworks as fw

GRID = np.arange(1, 26, dtype=np.float32).reshape(1, 1, 5, 5)
CORNERS = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32).reshape(1, 1, 3, 3)


def _everywhere(x, w, **kw):
    """conv, conv_reference, torch and jax results for one config, all asserted equal; returns one."""
    outs = [conv_lib.conv(x, w, **kw), conv_lib.conv_reference(x, w, **kw),
            fw.torch_conv(x, w, **kw), fw.jax_conv(x, w, **kw)]
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=1e-6)
    return outs[0][0, 0]


def test_five_by_five_worked_example():
    assert _everywhere(GRID, CORNERS).tolist() == [[35, 40, 45], [60, 65, 70], [85, 90, 95]]
    assert _everywhere(GRID, CORNERS, stride=2).tolist() == [[35, 45], [85, 95]]
    assert _everywhere(GRID, CORNERS, dilation=2).tolist() == [[65]]
    assert _everywhere(GRID, CORNERS, dilation=2, padding=2).shape == (5, 5)
    assert _everywhere(GRID, CORNERS, padding=1).tolist() == [
        [8, 16, 19, 22, 14], [20, 35, 40, 45, 28], [35, 60, 65, 70, 43],
        [50, 85, 90, 95, 58], [38, 56, 59, 62, 44]]


@pytest.mark.parametrize("n,k,s,expected", [(32, 3, 1, 30), (32, 3, 2, 15), (32, 3, 4, 8), (32, 7, 2, 13)])
def test_stride_table(n, k, s, expected):
    assert conv_lib.output_size(n, k, s) == expected
    assert fw.torch_conv(np.zeros((1, 1, n, n), np.float32), np.zeros((1, 1, k, k), np.float32),
                         stride=s).shape[2:] == (expected, expected)


def test_fifty_six_exercises_and_quick_checks():
    assert conv_lib.output_shape((56, 56), (5, 5), padding=2) == (56, 56)
    assert conv_lib.output_shape((56, 56), (5, 5), padding=4, dilation=2) == (56, 56)
    assert conv_lib.output_size(224, 3, stride=2, padding=1) == 112
    assert conv_lib.output_size(5, 5, padding=2) == 5
    assert conv_lib.effective_kernel_size(3, 4) == 9
    assert [conv_lib.effective_kernel_size(3, d) for d in (1, 2, 4, 8)] == [3, 5, 9, 17]


def test_valid_layers_shrink_thirty_two_until_it_vanishes():
    n, layers = 32, 0
    while True:
        try:
            n = conv_lib.output_size(n, 3)
        except ValueError:
            break
        layers += 1
    assert (layers, n) == (15, 2)  # the 16th 3x3 layer no longer fits


def test_receptive_field_examples():
    assert conv_lib.receptive_field([(3, 1, 1)] * 3) == 7
    assert [r["rf"] for r in conv_lib.receptive_field_table([(2, 1, d) for d in (1, 2, 4, 8)])] == [2, 4, 8, 16]
    assert conv_lib.receptive_field([(2, 1, 2 ** i) for i in range(10)]) == 1024
    assert conv_lib.receptive_field([(3, 1), (3, 1), (2, 2), (3, 1), (3, 1)]) == 14
    # The seed's widget formula r += (k - 1) * stride (current stride) gives a different, wrong answer
    wrong = 1
    for k, s in [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1)]:
        wrong += (k - 1) * s
    assert wrong == 11 != 14


def test_jax_padding_problem_values_and_same_rules():
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
    k = np.ones((1, 1, 3), np.float32)
    assert _everywhere(x, k, padding="valid").tolist() == [6, 9, 12]
    assert _everywhere(x, k, padding="same").tolist() == [3, 6, 9, 12, 9]
    assert conv_lib.resolve_padding("same", [5], [2]) == [(0, 1)]
    assert conv_lib.output_size(10, 3, stride=3, padding="same") == 4  # ceil(10 / 3)


def test_jax_valid_with_kernel_longer_than_input_returns_empty_not_error():
    """The JAX seed says VALID with K > L errors; lax really returns an empty output."""
    import jax.numpy as jnp
    from jax import lax
    y = lax.conv_general_dilated(jnp.ones((1, 1, 3)), jnp.ones((1, 1, 5)), (1,), "VALID")
    assert y.shape == (1, 1, 0)
    with pytest.raises(ValueError, match="kernel larger than the padded input"):
        conv_lib.conv(np.ones((1, 1, 3)), np.ones((1, 1, 5)))


def test_pytorch_explainer_examples():
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    y1 = nn.Conv2d(3, 32, 3, stride=1, padding="same")(torch.randn(1, 3, 64, 64))
    assert tuple(y1.shape) == (1, 32, 64, 64)
    # Example 2 of the explainer does not run: PyTorch refuses 'same' with stride 2.
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(32, 64, 5, stride=2, padding="same")
    # What it meant: padding 2 (or JAX/TF 'SAME'), giving ceil(64 / 2) = 32
    y2 = nn.Conv2d(32, 64, 5, stride=2, padding=2)(y1)
    assert tuple(y2.shape) == (1, 64, 32, 32) and conv_lib.output_size(64, 5, 2, "same") == 32
    y3 = nn.Conv2d(64, 128, 3, stride=1, padding="same", dilation=2)(y2)
    assert tuple(y3.shape) == (1, 128, 32, 32)


def test_flax_guide_shapes():
    import jax.numpy as jnp
    from flax import nnx
    rngs = nnx.Rngs(0)
    layer = nnx.Conv(3, 4, (5, 5), rngs=rngs)
    assert layer(jnp.ones((32, 32, 3))).shape == (32, 32, 4)
    assert layer(jnp.ones((1, 32, 32, 3))).shape == (1, 32, 32, 4)
    assert layer(jnp.ones((1, 1, 32, 32, 3))).shape == (1, 1, 32, 32, 4)
    assert nnx.Conv(3, 4, 5, padding="VALID", rngs=rngs)(jnp.ones((128, 100, 3))).shape == (128, 96, 4)
    assert nnx.Conv(3, 4, 5, padding=[(4, 0)], rngs=rngs)(jnp.ones((100, 3))).shape == (100, 4)
    assert nnx.Conv(5, 6, 7, padding="VALID", kernel_dilation=2, rngs=rngs)(jnp.ones((224, 5))).shape == (212, 6)
    assert conv_lib.output_size(224, 7, dilation=2) == 212 == 224 - (7 - 1) * 2
    assert nnx.Conv(5, 6, 7, input_dilation=2, padding=[(0, 0)], rngs=rngs)(jnp.ones((224, 5))).shape == (441, 6)
    assert conv_lib.output_size(224, 7, input_dilation=2, padding=(0, 0)) == 441 == 224 + 223 - 7 + 1


def test_flax_causal_padding_is_dilation_times_k_minus_one_on_the_left():
    import jax.numpy as jnp
    from flax import nnx
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 20)).astype(np.float32)
    w = rng.standard_normal((1, 1, 3)).astype(np.float32)
    layer = nnx.Conv(1, 1, 3, padding="CAUSAL", kernel_dilation=4, use_bias=False, rngs=nnx.Rngs(0))
    layer.kernel[...] = jnp.asarray(fw.oihw_to_hwio(w))
    via_flax = np.moveaxis(np.asarray(layer(jnp.asarray(np.moveaxis(x, 1, -1)))), -1, 1)
    np.testing.assert_allclose(via_flax, conv_lib.conv(x, w, dilation=4, padding="causal"), rtol=1e-5, atol=1e-5)
    assert conv_lib.resolve_padding("causal", [20], [3], dilation=4) == [(8, 0)]


def test_padding_modes_on_the_five_by_five_grid():
    x = GRID[0, 0]
    np.testing.assert_array_equal(conv_lib.pad(x, [(2, 2), (2, 2)])[:2], 0)
    assert conv_lib.pad(x, [(2, 2), (2, 2)], "reflect")[0, :3].tolist() == [13, 12, 11]
    assert conv_lib.pad(x, [(2, 2), (2, 2)], "replicate")[0, :3].tolist() == [1, 1, 1]
    assert conv_lib.pad(x, [(2, 2), (2, 2)], "circular")[0, :3].tolist() == [19, 20, 16]
