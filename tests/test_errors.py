"""Bad input gets a clear error that names the argument, its value and what is allowed."""
import numpy as np
import pytest

import conv_lib

X = np.ones((1, 4, 6, 6))
W = np.ones((8, 4, 3, 3))


@pytest.mark.parametrize("kwargs,exc,pattern", [
    (dict(stride=0), ValueError, r"stride must be >= 1, got stride=0"),
    (dict(stride=(1, -2)), ValueError, r"stride\[1\] must be >= 1, got stride\[1\]=-2"),
    (dict(stride=1.5), TypeError, r"stride must be an int.*1\.5"),
    (dict(stride=True), TypeError, r"stride must be an int"),
    (dict(stride=(1, 1, 1)), ValueError, r"stride must be an int or a sequence of 2 ints.*length 3"),
    (dict(dilation=0), ValueError, r"dilation must be >= 1, got dilation=0"),
    (dict(input_dilation=0), ValueError, r"input_dilation must be >= 1"),
    (dict(padding=-1), ValueError, r"padding must be >= 0, got padding=-1"),
    (dict(padding=(1, -1)), ValueError, r"padding\[1\] must be >= 0"),
    (dict(padding=[(1, 2)]), ValueError, r"padding must have one entry per spatial dim \(2\).*length 1"),
    (dict(padding=[(1, 2, 3), (0, 0)]), ValueError, r"padding\[0\] must be an int or a \(lo, hi\) pair"),
    (dict(padding="smae"), ValueError, r"Invalid padding string 'smae', should be one of"),
    (dict(padding=1.0), TypeError, r"padding must be"),
    (dict(padding="causal"), ValueError, r"padding='causal' is only defined for 1-D"),
    (dict(padding="same", input_dilation=2), ValueError, r"cannot be combined with input_dilation.*explicit"),
    (dict(padding_mode="mirror"), ValueError, r"padding_mode must be one of .*'mirror'"),
    (dict(groups=0), ValueError, r"groups must be >= 1, got groups=0"),
    (dict(groups=3), ValueError, r"groups=3 must divide the input channels, but C_in=4"),
    (dict(padding=6, padding_mode="reflect"), ValueError, r"reflect padding must be smaller than the input size.*size 6"),
    (dict(padding=7, padding_mode="circular"), ValueError, r"circular padding may not wrap around more than once"),
    (dict(dilation=4), ValueError, r"kernel larger than the padded input in spatial dim 0: effective kernel size .*= 9"),
])
def test_conv_argument_errors(kwargs, exc, pattern):
    for fn in (conv_lib.conv, conv_lib.conv_reference):
        with pytest.raises(exc, match=pattern):
            fn(X, W, **kwargs)


@pytest.mark.parametrize("x,w,bias,kwargs,pattern", [
    (np.ones((4, 6, 6)), W, None, {}, r"x must have at least 3 dims|same number of dims"),
    (np.ones((1, 4, 6)), W, None, {}, r"x and w must have the same number of dims.*implies 2 spatial dims"),
    (X, np.ones((8, 3, 3, 3)), None, {}, r"channel mismatch: x has C_in=4 channels.*w.shape\[1\] must be C_in // groups = 4"),
    (X, np.ones((8, 4, 3, 3)), None, dict(groups=2), r"w.shape\[1\] must be C_in // groups = 2"),
    (X, np.ones((6, 1, 3, 3)), None, dict(groups=4), r"groups=4 must divide the output channels, but C_out=6"),
    (X, W, np.ones(3), {}, r"bias must have shape \(C_out,\) = \(8,\), got \(3,\)"),
    (X, np.ones((8, 4, 0, 3)), None, {}, r"every kernel size must be >= 1"),
    (np.array([["a"]]), W, None, {}, r"x must be a numeric array"),
])
def test_conv_operand_errors(x, w, bias, kwargs, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        conv_lib.conv(x, w, bias, **kwargs)


def test_output_size_errors():
    with pytest.raises(ValueError, match=r"effective kernel size d\*\(k-1\)\+1 = 2\*\(5-1\)\+1 = 9 but .* 8 samples"):
        conv_lib.output_size(8, 5, dilation=2)
    with pytest.raises(ValueError, match=r"stride must be >= 1, got stride=0"):
        conv_lib.output_size(8, 3, stride=0)
    with pytest.raises(ValueError, match=r"in_sizes\[0\] must be >= 1, got in_sizes\[0\]=0"):
        conv_lib.output_size(0, 3)
    with pytest.raises(ValueError, match=r"padding\[0\]\[1\] must be >= 0"):
        conv_lib.output_size(8, 3, padding=(1, -1))
    with pytest.raises(ValueError, match=r"in_sizes .* and kernel_sizes .* must have the same length"):
        conv_lib.resolve_padding(1, [4, 4], [3])


def test_pad_errors():
    x = np.ones((2, 5))
    with pytest.raises(ValueError, match=r"mode must be one of .*'edge'"):
        conv_lib.pad(x, [(1, 1)], "edge")
    with pytest.raises(TypeError, match=r"padding must be a sequence of \(lo, hi\) pairs"):
        conv_lib.pad(x, 2)
    with pytest.raises(ValueError, match=r"padding has 3 pairs but x has only 2 dims"):
        conv_lib.pad(x, [(1, 1)] * 3)
    with pytest.raises(ValueError, match=r"reflect padding must be smaller.*valid: 0 <= pad <= 4"):
        conv_lib.pad(x, [(5, 0)], "reflect")
    with pytest.raises(ValueError, match=r"padding\[0\]\[0\] must be >= 0"):
        conv_lib.pad(x, [(-1, 0)])


def test_conv_transpose_errors():
    x = np.ones((1, 4, 5))
    with pytest.raises(ValueError, match=r"output_padding\[0\]=2 must be smaller than stride or dilation"):
        conv_lib.conv_transpose(x, np.ones((4, 2, 3)), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"channel mismatch: x has C_in=4 channels but the transposed weight w.shape\[0\]=3"):
        conv_lib.conv_transpose(x, np.ones((3, 2, 3)))
    with pytest.raises(ValueError, match=r"padding\[0\]=9 is too large"):
        conv_lib.conv_transpose(x, np.ones((4, 2, 3)), padding=9)


def test_receptive_field_errors():
    with pytest.raises(ValueError, match=r"layers\[1\] stride must be >= 1, got layers\[1\] stride=0"):
        conv_lib.receptive_field([(3, 1, 1), (3, 0, 1)])
    with pytest.raises(ValueError, match=r"layers\[0\] must be a \(kernel, stride"):
        conv_lib.receptive_field([3])
    with pytest.raises(TypeError, match=r"layers must be a sequence"):
        conv_lib.receptive_field(3)


def test_no_raw_index_or_zero_division_errors_on_fuzzed_input():
    """Random garbage arguments produce ValueError/TypeError only."""
    rng = np.random.default_rng(0)
    bad_values = [0, -1, 2, 5, (0, 1), (1, 2, 3), [(1, 2)], "same", "valid", "causal", "x", 1.5, None,
                  [(0, -1), (1, 1)], ((1, 1), (2, 2))]
    for _ in range(300):
        kwargs = {name: bad_values[rng.integers(len(bad_values))]
                  for name in ("stride", "padding", "dilation", "input_dilation", "groups")
                  if rng.random() < 0.5}
        x = np.ones((1, int(rng.integers(1, 5)), *rng.integers(1, 6, size=2)))
        w = np.ones((int(rng.integers(1, 5)), int(rng.integers(1, 5)), *rng.integers(1, 5, size=2)))
        try:
            conv_lib.conv(x, w, **kwargs)
        except (ValueError, TypeError) as err:
            assert str(err)
