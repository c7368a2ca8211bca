"""The direct strategy for depthwise layers (one input channel per group).

    y[n, c*m + j, i] = sum_t w[c*m + j, 0, t] * xp[n, c, i*s + t*d]        (m = C_out / C_in)

A matrix product would have an inner dimension of prod(k) (9 for 3x3) and waste the BLAS kernel,
so the taps are multiply-accumulated one at a time, ``acc += w_t * (input shifted by t)``, on a
few (image, channel) planes at a time that stay in the core's cache:

1. copy the planes into a zero-bordered buffer (the padding happens here, in cache);
2. stride s > 1: split the buffer into its s**ndim *phases* ("polyphase"): phase r holds the
   samples at positions r + s*q. Output i, tap t reads position i*s + t*d = s*(i + (t*d)//s) +
   (t*d) % s, i.e. sample i + (t*d)//s of phase (t*d) % s: every tap becomes a stride-1 shift
   of one phase, and no output is computed only to be thrown away;
3. with the planes flattened, a stride-1 shift by t is ONE contiguous slice
   (``flat_geometry``), so each tap is one NumPy call on thousands of numbers:
   - ``rows`` mode (big planes): a (planes, positions) view times one weight per plane;
   - ``flat`` mode (small planes, e.g. 7x7): the planes of a chunk are one long 1-D run and the
     weight comes from ``w`` expanded to one value per position (``_expanded``), so even a 7x7
     plane costs no per-row loop overhead;
4. the last tap's sum is written straight into y, dropping the junk positions (those whose window
   wrapped around a row).

One thread per core (``_workspace.parallel``) takes (image, channel chunk) steps from a common
queue, so a core that is busy elsewhere for a while does not hold the other one up.
"""
import math
import threading

import numpy as np

from . import _workspace as ws

# Numbers per tap call, i.e. in a step's (phase) planes: 32 planes of 58x58, about 0.4 MB per
# buffer. A strided step holds s**ndim times as much input. Measured on MobileNetV2's depthwise
# layers (batch 8), alternating in one process on a 2-core Xeon: 32@112 and 144@56 ran 8-13%
# faster than with 64 planes (the buffers stay closer to the core), and the stride-2 96@112 and
# 144@56 ran 2-23% faster than with steps of this much *input* (16 planes of 114x114 then), whose
# calls, a quarter as long, make the two threads wait more for each other's GIL (appendix, "Two
# cores from one Python process").
DEPTHWISE_ELEMENTS = 32 * 58 * 58
# Planes (phase planes) of at most this many elements use the ``flat`` mode.
FLAT_PLANE = 2048


def planes_per_step(channels, plane):
    """(Phase) planes of ``plane`` numbers in one step: DEPTHWISE_ELEMENTS numbers per tap call
    (``_engine.estimate_seconds`` counts the steps the same way)."""
    return max(1, min(channels, DEPTHWISE_ELEMENTS // plane))


def phase_geometry(kernel, stride, dilation, out_sizes):
    """Phase planes of a strided depthwise layer (step 2 of the module docstring).

    Returns (planes, taps): the phase plane shape P (P_j = out_j + max_t (t_j d_j) // s_j, so
    every tap's window fits) and, per tap, (phase index, shift in phase-plane coordinates).
    """
    shifts = [[(t * d) // s for t in range(k)] for k, s, d in zip(kernel, stride, dilation)]
    planes = tuple(o + max(sh) for o, sh in zip(out_sizes, shifts))
    taps = [(tuple((tj * d) % s for tj, s, d in zip(t, stride, dilation)),
             tuple((tj * d) // s for tj, s, d in zip(t, stride, dilation)))
            for t in np.ndindex(*kernel)]
    return planes, taps


def _expanded(w2, plane, channels, dtype):
    """w2 (m, C, T) -> (m, T, C * plane): the weight of channel c repeated over its plane."""
    m, c, taps = w2.shape
    out = ws.scratch("expanded", m * taps * c * plane, dtype).reshape(m, taps, c, plane)
    out[...] = w2.transpose(0, 2, 1)[..., None]
    return out.reshape(m, taps, c * plane)


def _depthwise(xp, w, stride, dilation, groups, out_sizes, pads=None, mode=None):
    """One input channel per group, by the direct method of the module docstring.

    xp : (N, C, *sizes), the input padded already, or unpadded with ``pads`` its zero padding
    w  : (C * m, 1, *k) ; -> y (N, C * m, *out_sizes)
    mode : None (choose), 'rows' or 'flat' (step 3)
    """
    n, c, sizes = xp.shape[0], xp.shape[1], xp.shape[2:]
    kernel, ndim, mult = w.shape[2:], len(sizes), w.shape[0] // groups
    pads = pads or [(0, 0)] * ndim
    planes, taps = phase_geometry(kernel, stride, dilation, out_sizes)
    box = tuple(s * p for s, p in zip(stride, planes))          # the zero-bordered buffer
    keep = [max(0, min(size, b - lo)) for size, b, (lo, _) in zip(sizes, box, pads)]
    src = tuple(slice(0, k) for k in keep)                      # the samples any tap reads
    dst = tuple(slice(lo, lo + k) for k, (lo, _) in zip(keep, pads))
    plane = math.prod(planes)
    flat = [math.prod(planes[j + 1:]) for j in range(ndim)]
    span = sum((o - 1) * f for o, f in zip(out_sizes, flat)) + 1   # flat outputs of one plane
    phase_ids = {ph: i for i, ph in enumerate(np.ndindex(*stride))}
    offsets = [(phase_ids[ph], sum(q * f for q, f in zip(shift, flat))) for ph, shift in taps]
    mode = mode or ("flat" if plane <= FLAT_PLANE else "rows")
    if mode not in ("flat", "rows"):
        raise ValueError(f"mode={mode!r} must be None, 'flat' or 'rows'")
    w2 = w.reshape(c, mult, -1).transpose(1, 0, 2)               # (m, C, T): w2[j, c, t]
    if mode == "flat":
        weights = _expanded(w2, plane, c, xp.dtype)              # (m, T, C * plane)
    else:
        weights = np.ascontiguousarray(w2.transpose(0, 2, 1))[..., None]   # (m, T, C, 1)
    chunk = planes_per_step(c, plane)
    if n * -(-c // chunk) < ws.WORKERS:                          # give every core some planes
        chunk = max(1, -(-c // ws.WORKERS))
    steps = [(img, c0, min(c, c0 + chunk)) for img in range(n) for c0 in range(0, c, chunk)]
    y = np.empty((n, c, mult, *out_sizes), dtype=xp.dtype)
    valid = (slice(None), *(slice(0, o) for o in out_sizes))
    strided = any(s > 1 for s in stride)

    queue, lock = iter(steps), threading.Lock()

    def work(_lo, _hi):
        # buffers kept between calls (no page faults); only the block's borders need zeros
        block = ws.scratch("block", chunk * plane * len(phase_ids), xp.dtype).reshape(chunk, *box)
        block.fill(0)
        phases = ws.scratch("phases", block.size, xp.dtype).reshape(len(phase_ids), -1) \
            if strided else block.reshape(1, -1)
        acc, tmp = (ws.scratch(name, chunk * plane, xp.dtype) for name in ("acc", "tmp"))
        split = (chunk, *(a for p, s in zip(planes, stride) for a in (p, s)))
        order = (*range(2, 2 + 2 * ndim, 2), 0, *range(1, 1 + 2 * ndim, 2))
        views = {}

        def views_of(b):
            """The slices of one step over b planes, made once (a step is then only ufunc calls:
            with small steps, Python's per-slice overhead, serialised by the GIL, would add up)."""
            if b not in views:
                if mode == "flat":
                    length = (b - 1) * plane + span
                    cut = lambda a, off: a[off:off + length]                       # noqa: E731
                else:
                    cut = lambda a, off: (                                         # noqa: E731
                        a[:b * plane].reshape(b, plane)[:, off:off + span])
                planes_of = lambda a: a[:b * plane].reshape(b, *planes)[valid]     # noqa: E731
                ph = phases.reshape(*stride, chunk, *planes)[(Ellipsis, slice(0, b)) +
                                                             (slice(None),) * ndim]
                phase_src = block.reshape(split).transpose(order)[
                    (Ellipsis, slice(0, b)) + (slice(None),) * ndim]
                views[b] = (block[(slice(0, b), *dst)], ph, phase_src, cut(acc, 0), cut(tmp, 0),
                            [cut(phases[p], off) for p, off in offsets],
                            planes_of(acc), planes_of(tmp))
            return views[b]

        while True:
            with lock:                                  # the next step, whoever is free
                step = next(queue, None)
            if step is None:
                return
            img, c0, c1 = step
            (inside, ph, phase_src, head, product, sources,
             acc_planes, tmp_planes) = views_of(c1 - c0)
            inside[...] = xp[(img, slice(c0, c1), *src)]                    # 1. pad, in cache
            if strided:                                                    # 2. phases
                np.copyto(ph, phase_src)
            for j in range(mult):                                          # 3. the taps
                if mode == "flat":
                    wt = weights[j, :, c0 * plane:c0 * plane + head.shape[0]]
                else:
                    wt = weights[j, :, c0:c1]
                np.multiply(sources[0], wt[0], out=head)
                for t in range(1, len(taps)):
                    np.multiply(sources[t], wt[t], out=product)
                    if t < len(taps) - 1:
                        head += product
                out = y[img, c0:c1, j]                                     # 4. into y
                if len(taps) == 1:
                    out[...] = acc_planes
                else:
                    np.add(acc_planes, tmp_planes, out=out)

    ws.parallel(work, min(ws.WORKERS, len(steps)))
    return y.reshape(n, c * mult, *out_sizes)
