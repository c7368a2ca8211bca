"""The fast path: a strided window view of the padded input and one contraction per group.

``correlate`` receives the input already dilated and padded, so it only has to slide the kernel:

    y[n, o, i] = sum_{c, t} xp[n, g*Cg + c, i*s + t*d] * w[o, c, t]     with g = o // (C_out/groups)

``as_strided`` gives the view V[n, c, i, t] = xp[n, c, i*s + t*d] without copying; the sum over
(c, t) is then a matrix product of V reshaped to (N*prod(out), Cg*prod(k)) with the weight reshaped
to (Cg*prod(k), C_out/groups).
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided


def windows(xp, kernel_sizes, stride, dilation, out_sizes):
    """View of shape (N, C, *out_sizes, *kernel_sizes): V[..., i, t] = xp[..., i*s + t*d]."""
    n, c = xp.shape[:2]
    sn, sc, *spatial = xp.strides
    return as_strided(
        xp,
        shape=(n, c, *out_sizes, *kernel_sizes),
        strides=(sn, sc, *(st * s for st, s in zip(spatial, stride)),
                 *(st * d for st, d in zip(spatial, dilation))),
        writeable=False)


def correlate(xp, w, stride, dilation, groups, out_sizes):
    """Cross-correlate a padded input with ``w``.

    xp : (N, C_in, *padded) ; w : (C_out, C_in // groups, *k) -> (N, C_out, *out_sizes)
    """
    ndim = w.ndim - 2
    n, c_in = xp.shape[:2]
    c_out, c_per_group = w.shape[:2]
    o_per_group = c_out // groups
    view = windows(xp, w.shape[2:], stride, dilation, out_sizes)
    # contract channel + kernel axes: view axes 1 and (2+ndim ...), weight axes 1.. (c, *k)
    k_axes_view = [1] + list(range(2 + ndim, 2 + 2 * ndim))
    k_axes_w = list(range(1, 2 + ndim))
    outs = []
    for g in range(groups):
        v = view[:, g * c_per_group:(g + 1) * c_per_group]
        wg = w[g * o_per_group:(g + 1) * o_per_group]
        outs.append(np.tensordot(v, wg, axes=(k_axes_view, k_axes_w)))  # (N, *out, O_g)
    y = outs[0] if groups == 1 else np.concatenate(outs, axis=-1)
    return np.moveaxis(y, -1, 1)
