"""Reference computations shared by several exercises (shapes, receptive fields by backprop)."""

import functools

import numpy as np

from conv_lib.receptive import receptive_field

from ._harness import _torch, _jax


def _f32(a):
    return np.asarray(a, dtype=np.float32)


def _torch_shape(module_cls, in_shape, *args, **kwargs):
    """Output shape of a torch.nn module, computed on the 'meta' device (no arithmetic)."""
    torch, _ = _torch()
    layer = getattr(torch.nn, module_cls)(*args, device="meta", **kwargs)
    return tuple(layer(torch.empty(in_shape, device="meta")).shape)


def _jax_conv_shape(in_shape, w_shape, strides, padding, rhs_dilation=None, lhs_dilation=None):
    """Output shape of lax.conv_general_dilated via jax.eval_shape (traced, not compiled)."""
    jax, jnp, lax = _jax()
    nd = len(in_shape) - 2
    letters = "DHW"[-nd:]
    spec = ("NC" + letters, "OI" + letters, "NC" + letters)
    f = functools.partial(lax.conv_general_dilated, window_strides=strides, padding=padding,
                          lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
                          dimension_numbers=spec)
    out = jax.eval_shape(f, jax.ShapeDtypeStruct(in_shape, jnp.float32),
                         jax.ShapeDtypeStruct(w_shape, jnp.float32))
    return tuple(out.shape)


def _impulse_span(grad):
    """Positions (first, last) of the non-zero entries of a 1-D gradient."""
    nz = np.flatnonzero(np.abs(np.asarray(grad)) > 0)
    return int(nz[0]), int(nz[-1])


def _torch_rf(layers, length=None):
    """Receptive field of output 0 of a stack of 1-D convs (all-ones weights), by backprop in torch.

    layers: (k, s, d) tuples; a pooling layer is just a conv with its (k, s) and d = 1 here.
    """
    torch, F = _torch()
    length = length or receptive_field(layers) + 8 * int(np.prod([l[1] for l in layers]))
    x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in layers:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, 0].backward()
    first, last = _impulse_span(x.grad[0, 0].numpy())
    return last - first + 1


def _jax_rf(layers, length=None):
    """The same measurement as ``_torch_rf`` with jax.grad through lax.conv_general_dilated."""
    jax, jnp, lax = _jax()
    length = length or receptive_field(layers) + 8 * int(np.prod([l[1] for l in layers]))

    def first_output(x):
        y = x
        for k, s, d in layers:
            y = lax.conv_general_dilated(y, jnp.ones((1, 1, k)), (s,), "VALID", rhs_dilation=(d,),
                                         dimension_numbers=("NCH", "OIH", "NCH"))
        return y[0, 0, 0]

    g = jax.grad(first_output)(jnp.ones((1, 1, length)))
    first, last = _impulse_span(np.asarray(g[0, 0]))
    return last - first + 1


def _layers3(layers):
    return [(l[0], l[1] if len(l) > 1 else 1, l[2] if len(l) > 2 else 1) for l in layers]


def _same_pads(n, k, s, d):
    _, _, lax = _jax()
    return tuple(lax.padtype_to_pads((n,), (d * (k - 1) + 1,), (s,), "SAME")[0])
