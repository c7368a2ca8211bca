"""Hypothesis strategies for random convolution configurations, shared by the differential tests."""
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import conv_lib

MODES = ("zeros", "reflect", "replicate", "circular")


@st.composite
def conv_configs(draw, ndim, max_size=8, max_kernel=4, max_channels=3, input_dilation=True,
                 modes=MODES):
    """A valid (x_shape, w_shape, kwargs) triple for ``conv`` with ``ndim`` spatial dims.

    Covers even kernels, stride larger than the kernel, padding larger than the input (zeros mode),
    dilation with stride, input dilation, groups, and every padding form.
    """
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, max_channels))
    c_out = groups * draw(st.integers(1, max_channels))
    batch = draw(st.integers(1, 2))
    k = [draw(st.integers(1, max_kernel)) for _ in range(ndim)]
    stride = [draw(st.integers(1, 4)) for _ in range(ndim)]
    dilation = [draw(st.integers(1, 3)) for _ in range(ndim)]
    idil = [draw(st.integers(1, 3)) if input_dilation else 1 for _ in range(ndim)]
    sizes = [draw(st.integers(1, max_size)) for _ in range(ndim)]
    mode = draw(st.sampled_from(modes))
    forms = ["int", "tuple", "pairs", "valid", "same", "full"] + (["causal"] if ndim == 1 else [])
    form = draw(st.sampled_from(forms))
    if form in ("valid", "same", "full", "causal"):
        idil = [1] * ndim  # strings are refused with input dilation (tested elsewhere)
        padding = draw(st.sampled_from([form, form.upper(), form.capitalize()]))
    elif form == "int":
        padding = draw(st.integers(0, 5))
    elif form == "tuple":
        padding = tuple(draw(st.integers(0, 5)) for _ in range(ndim))
    else:
        padding = [(draw(st.integers(0, 5)), draw(st.integers(0, 5))) for _ in range(ndim)]
    kwargs = dict(stride=stride if draw(st.booleans()) else stride[0],
                  dilation=dilation if draw(st.booleans()) else dilation[0],
                  input_dilation=idil, groups=groups, padding=padding, padding_mode=mode)
    if not draw(st.booleans()):  # also exercise plain ints for the per-dim arguments
        kwargs["stride"], kwargs["dilation"] = stride[0], dilation[0]
    x_shape = (batch, c_in, *sizes)
    w_shape = (c_out, c_in // groups, *k)
    try:  # keep only configurations conv_lib accepts (the error paths have their own tests)
        conv_lib.conv(np.zeros(x_shape), np.zeros(w_shape), **kwargs)
    except ValueError:
        assume(False)
    return x_shape, w_shape, kwargs


def arrays_for(x_shape, w_shape, seed, dtype=np.float64, bias=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    return x, w, b
