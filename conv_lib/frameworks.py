"""The same convolution through PyTorch, ``jax.lax.conv_general_dilated`` and ``flax.nnx.Conv``.

Every adapter takes NumPy arrays in PyTorch's layout (x: N, C, *spatial; w: O, I/groups, *k) and the
keyword arguments of ``conv_lib.conv``, translates them into the framework's own conventions, and
returns a NumPy array in PyTorch's layout again, so results can be compared element by element.

Translations worth reading:

* padding: ints and pairs become (lo, hi) pairs as in ``conv``; padding strings are resolved
  with the frameworks' own rules (see ``_resolve``). PyTorch's ``conv*d`` only takes symmetric
  padding, so asymmetric pairs and non-zero modes go through
  ``F.pad`` first (exactly what ``nn.Conv2d`` does internally for padding_mode != 'zeros').
* layout: JAX is told the layout with ``dimension_numbers=('NCH..', 'OIH..', 'NCH..')``; Flax is
  channels-last, so x goes NCHW -> NHWC and the kernel OIHW -> HWIO.
* input dilation: JAX's ``lhs_dilation`` and Flax's ``input_dilation``; PyTorch has no such
  argument, so zeros are inserted with a strided assignment into a zero tensor.
"""
import numpy as np

from ._args import per_dim
from .errors import ArgumentValueError
from .conv import check_conv_args
from .shapes import transposed_output_size

_TORCH_MODES = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}
_NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _spatial_letters(ndim):
    return "DHW"[-ndim:] if ndim <= 3 else "".join(chr(ord("a") + i) for i in range(ndim))


def _resolve(x, w, bias, stride, padding, dilation, input_dilation, groups, padding_mode):
    """Check arguments like conv does, then compute (lo, hi) pairs with the FRAMEWORKS' rules.

    Padding strings are resolved by JAX's own ``lax.padtype_to_pads`` ('same', 'valid') or by the
    one-line definitions of 'causal' and 'full', never by ``conv_lib.resolve_padding``, so that a
    bug there cannot hide in a comparison.
    """
    from jax import lax

    x, w, bias, stride, dilation, input_dilation, pads = check_conv_args(
        x, w, bias, stride, padding, dilation, input_dilation, groups, padding_mode)
    if isinstance(padding, str):
        spans = [d * (k - 1) + 1 for k, d in zip(w.shape[2:], dilation)]
        name = padding.lower()
        if name in ("same", "valid"):
            pads = [tuple(int(v) for v in p) for p in
                    lax.padtype_to_pads(x.shape[2:], spans, stride, name.upper())]
        else:
            pads = [(span - 1, 0 if name == "causal" else span - 1) for span in spans]
    return x, w, bias, stride, dilation, input_dilation, pads


def channels_last(x):
    """PyTorch's (N, C, *spatial) -> Flax/TF's (N, *spatial, C)."""
    return np.moveaxis(np.asarray(x), 1, -1)


def channels_first(x):
    """Flax/TF's (N, *spatial, C) -> PyTorch's (N, C, *spatial)."""
    return np.moveaxis(np.asarray(x), -1, 1)


def oihw_to_hwio(w):
    """PyTorch/lax 'OIHW' weight (O, I, *k) -> Flax/TF 'HWIO' kernel (*k, I, O)."""
    w = np.asarray(w)
    return np.transpose(w, tuple(range(2, w.ndim)) + (1, 0))


def hwio_to_oihw(k):
    """Flax/TF 'HWIO' kernel (*k, I, O) -> PyTorch 'OIHW' weight (O, I, *k)."""
    k = np.asarray(k)
    return np.transpose(k, (k.ndim - 1, k.ndim - 2) + tuple(range(k.ndim - 2)))


def torch_conv(x, w, bias=None, *, stride=1, padding=0, dilation=1, input_dilation=1, groups=1,
               padding_mode="zeros"):
    """``torch.nn.functional.conv{1,2,3}d`` with conv_lib's arguments (see module docstring)."""
    import torch
    import torch.nn.functional as F

    x, w, bias, stride, dilation, input_dilation, pads = _resolve(
        x, w, bias, stride, padding, dilation, input_dilation, groups, padding_mode)
    ndim = x.ndim - 2
    if ndim > 3:
        raise ArgumentValueError(f"PyTorch has conv1d/2d/3d only, got {ndim} spatial dims",
                                 argument="x", kind="unsupported", value=ndim)
    xt, wt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(w))
    bt = None if bias is None else torch.from_numpy(np.ascontiguousarray(bias))
    if any(d > 1 for d in input_dilation):
        sizes = [(n - 1) * d + 1 for n, d in zip(xt.shape[2:], input_dilation)]
        dilated = xt.new_zeros(tuple(xt.shape[:2]) + tuple(sizes))
        dilated[(Ellipsis,) + tuple(slice(None, None, d) for d in input_dilation)] = xt
        xt = dilated
    symmetric = all(lo == hi for lo, hi in pads)
    native_same = isinstance(padding, str) and padding.lower() == "same" and set(stride) == {1}
    if padding_mode == "zeros" and native_same:
        torch_padding = "same"        # PyTorch's own 'same' rule (stride 1 only)
    elif padding_mode == "zeros" and symmetric:
        torch_padding = tuple(lo for lo, _ in pads)
    else:
        flat = [p for lo_hi in reversed(pads) for p in lo_hi]  # F.pad wants the LAST dim first
        xt = F.pad(xt, flat, mode=_TORCH_MODES.get(padding_mode, "constant"))
        torch_padding = 0
    fn = (F.conv1d, F.conv2d, F.conv3d)[ndim - 1]
    with torch.no_grad():
        y = fn(xt, wt, bt, stride=stride, padding=torch_padding, dilation=dilation, groups=groups)
    return y.numpy()


def torch_conv_transpose(x, w, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1,
                         groups=1):
    """``torch.nn.functional.conv_transpose{1,2,3}d``; w is (C_in, C_out // groups, *k)."""
    import torch
    import torch.nn.functional as F

    ndim = np.ndim(x) - 2
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[ndim - 1]
    with torch.no_grad():
        y = fn(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(w)),
               None if bias is None else torch.from_numpy(np.ascontiguousarray(bias)),
               stride=stride, padding=padding, output_padding=output_padding, groups=groups,
               dilation=dilation)
    return y.numpy()


def jax_conv_transpose(x, w, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1,
                       groups=1):
    """PyTorch's transposed convolution computed by JAX as what it is: the gradient (VJP) of
    ``lax.conv_general_dilated`` with respect to its input. w is (C_in, C_out // groups, *k).

    The forward conv maps z (N, C_out, *out) to (N, C_in, *m) with the same weight read as
    (O=C_in, I=C_out/groups); its VJP at the cotangent x is the transposed convolution. When
    output_padding >= stride (allowed if dilation > stride), m exceeds x's sizes: those outputs
    of the forward conv have no counterpart in x, so the cotangent is zero there.
    """
    import jax
    import jax.numpy as jnp
    from jax import lax

    x, w, bias = (None if a is None else np.asarray(a) for a in (x, w, bias))
    ndim = x.ndim - 2
    s, d = per_dim("stride", stride, ndim), per_dim("dilation", dilation, ndim)
    p = per_dim("padding", padding, ndim, minimum=0)
    op = per_dim("output_padding", output_padding, ndim, minimum=0)
    k = w.shape[2:]
    out = [transposed_output_size(*args, axis=i)
           for i, args in enumerate(zip(x.shape[2:], k, s, p, op, d))]
    letters = _spatial_letters(ndim)
    forward = lambda z: lax.conv_general_dilated(
        z, jnp.asarray(w), s, [(pi, pi) for pi in p], rhs_dilation=d,
        dimension_numbers=("NC" + letters, "OI" + letters, "NC" + letters),
        feature_group_count=groups, precision=lax.Precision.HIGHEST)
    z = jnp.zeros((x.shape[0], w.shape[1] * groups, *out), dtype=x.dtype)
    y_shape, vjp = jax.vjp(forward, z)
    extra = [(0, m - n) for m, n in zip(y_shape.shape[2:], x.shape[2:])]
    (y,) = vjp(jnp.pad(jnp.asarray(x), [(0, 0), (0, 0)] + extra))
    if bias is not None:
        y = y + jnp.asarray(bias).reshape((-1,) + (1,) * ndim)
    return np.asarray(y)


def _prepad_jax(x, pads, padding_mode):
    """Non-zero padding modes are not part of lax: pad with jnp.pad and convolve with no padding."""
    import jax.numpy as jnp

    if padding_mode == "zeros":
        return x, pads
    x = jnp.pad(x, [(0, 0), (0, 0)] + list(pads), mode=_NUMPY_MODES[padding_mode])
    return x, [(0, 0)] * len(pads)


def jax_conv(x, w, bias=None, *, stride=1, padding=0, dilation=1, input_dilation=1, groups=1,
             padding_mode="zeros"):
    """``jax.lax.conv_general_dilated`` in NCH.. / OIH.. layout, precision HIGHEST."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    x, w, bias, stride, dilation, input_dilation, pads = _resolve(
        x, w, bias, stride, padding, dilation, input_dilation, groups, padding_mode)
    if padding_mode != "zeros" and any(d > 1 for d in input_dilation):
        raise ArgumentValueError(
            "jax_conv: padding_mode other than 'zeros' with input_dilation > 1 is not "
            "expressible in lax (padding happens after dilation there)",
            argument="padding_mode", kind="unsupported", value=padding_mode)
    letters = _spatial_letters(x.ndim - 2)
    xj, pads = _prepad_jax(jnp.asarray(x), pads, padding_mode)
    y = lax.conv_general_dilated(
        xj, jnp.asarray(w), window_strides=stride, padding=pads, lhs_dilation=input_dilation,
        rhs_dilation=dilation, dimension_numbers=("NC" + letters, "OI" + letters, "NC" + letters),
        feature_group_count=groups, precision=jax.lax.Precision.HIGHEST)
    if bias is not None:
        y = y + jnp.asarray(bias).reshape((-1,) + (1,) * (x.ndim - 2))
    return np.asarray(y)


def flax_conv(x, w, bias=None, *, stride=1, padding=0, dilation=1, input_dilation=1, groups=1,
              padding_mode="zeros"):
    """``flax.nnx.Conv`` built for this configuration, with ``w`` (and ``bias``) copied in.

    Flax is channels-last: x is moved to (N, *spatial, C) and the kernel to (*k, C_in/groups, C_out).
    """
    import jax
    import jax.numpy as jnp
    from flax import nnx

    x, w, bias, stride, dilation, input_dilation, pads = _resolve(
        x, w, bias, stride, padding, dilation, input_dilation, groups, padding_mode)
    ndim = x.ndim - 2
    xj = jnp.asarray(channels_last(x))                                     # NCHW -> NHWC
    if padding_mode != "zeros":
        if any(d > 1 for d in input_dilation):
            raise ArgumentValueError(
                "flax_conv: padding_mode other than 'zeros' needs input_dilation=1",
                argument="padding_mode", kind="unsupported", value=padding_mode)
        xj = jnp.pad(xj, [(0, 0)] + list(pads) + [(0, 0)], mode=_NUMPY_MODES[padding_mode])
        pads = [(0, 0)] * ndim
    layer = nnx.Conv(x.shape[1], w.shape[0], kernel_size=w.shape[2:], strides=stride,
                     padding=pads, input_dilation=input_dilation, kernel_dilation=dilation,
                     feature_group_count=groups, use_bias=bias is not None,
                     precision=jax.lax.Precision.HIGHEST, rngs=nnx.Rngs(0))
    layer.kernel[...] = jnp.asarray(oihw_to_hwio(w))
    if bias is not None:
        layer.bias[...] = jnp.asarray(bias)
    return channels_first(layer(xj))                                       # NHWC -> NCHW


def compare(x, w, bias=None, **kwargs):
    """Run one configuration through conv_lib and the three frameworks; returns a dict of arrays."""
    from .conv import conv

    results = {"conv_lib": conv(x, w, bias, **kwargs)}
    if np.ndim(x) - 2 <= 3:
        results["torch"] = torch_conv(x, w, bias, **kwargs)
    results["jax"] = jax_conv(x, w, bias, **kwargs)
    results["flax"] = flax_conv(x, w, bias, **kwargs)
    return results
