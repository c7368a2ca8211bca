"""The GEMM strategies: gather the windows into a matrix (im2col), multiply it by the weights.

For one group g (Cg = C_in / groups input channels, Og = C_out / groups outputs), the
convolution is one matrix product

    y[n, g*Og + o, i] = sum_{(c, t)} W[o, (c, t)] * cols[(c, t), (n, i)]
    W    = w[g*Og:(g+1)*Og].reshape(Og, Cg * prod(k))         (a view, no copy)
    cols[(c, t), (n, i)] = xp[n, g*Cg + c, i*s + t*d]           (the im2col matrix)

``_pointwise``   1x1 kernel, stride 1: the input already IS the matrix (no copy).
``_flat_gemm``   stride 1: each row (c, t) of cols is ONE contiguous slice of the flattened input
                 (``_workspace.flat_geometry``), plus a few junk columns dropped afterwards.
``_im2col_gemm`` any stride: cols gathered from the exact window view.
``transposed``   conv_transpose: the same product read backwards (see its docstring).

Column layout. With many output positions per image, each image is its own product
(b, Cg*prod(k), positions) and lands directly in NCHW order. With few positions (the 7x7 and
14x14 layers at the end of a network), such products are too narrow for BLAS to run well, so
the columns of all images of a chunk are put side by side -- cols of shape
(Cg*prod(k), b * positions) -- and ONE wide product is computed, whose (C_out, b, positions)
result is copied into y. ``WIDE_COLUMNS`` is the crossover (``layout=`` forces either).

Chunks: the columns of a few images, or of a band of output rows of one image, fill a buffer of
about ``CHUNK_BYTES`` that is kept between calls (``_workspace.scratch``, one per thread); the
cores take chunks from a common queue (``_workspace.each_chunk``), each with a single-threaded BLAS.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _workspace as ws
from .padding import pad

# Columns per image from which one product per image beats one product over the whole chunk
# (measured: a (128 x 1152) @ (1152 x N) float32 product runs at about half speed below N ~ 1000).
WIDE_COLUMNS = 1024
# The same for conv_transpose, whose products have prod(k) times more rows (Og * prod(k)) and so
# run well on fewer columns (measured on DCGAN's 4x4/2 layers: 16x16 inputs, 256 columns, run
# fastest per image, 8x8 inputs 10% faster side by side).
TRANSPOSED_COLUMNS = 128
# Up to this many entries of the scatter matrix (prod(k) * prod(in) * prod(out)), the scatter of
# conv_transpose is one product with it (a 4x4 input to an 8x8 output: 16,384), beyond, phases.
SCATTER_MATRIX_ENTRIES = 1 << 16
# Images per step of conv_transpose: their columns (about this many bytes) are scattered right after
# their product, while they are still in cache (measured on the decoder layers of the network
# benchmark: 1 to 8 MiB within about 10% of each other, 4 MiB best, all images at once up to 50%
# slower).
TRANSPOSED_CHUNK_BYTES = 4 << 20
# Numbers per tap and chunk from which _im2col_gemm pads in its buffer rather than padding the
# input first (measured: ResNet's 7x7 stem, 19K per tap, runs 30% slower padding in the buffer;
# MobileNet's 3x3 stem, 75K, and 256-channel 3x3/2 layers, 100K, 10-25% faster).
IN_CACHE_MIN = 1 << 15


def _layout(b, columns, layout, wide=WIDE_COLUMNS):
    if layout is None:
        return "images" if b == 1 or columns >= wide else "side_by_side"
    if layout not in ("images", "side_by_side"):
        raise ValueError(f"layout={layout!r} must be None, 'images' or 'side_by_side'")
    return layout


def _multiply(w_mat, block, kdims, y_band, valid=None, layout=None, ordered=False):
    """One chunk: copy the im2col ``block`` into scratch columns, multiply, store in ``y_band``.

    w_mat  : (groups, Og, Cg * prod(k))
    block  : view (b, C_in, *k, *positions) -- the columns of b images (kdims kernel axes)
    y_band : (b, C_out, *band) -- where the results go
    valid  : None when the positions of ``block`` are exactly y_band's, else a function taking
             the product viewed as (b, C_out, columns) to a view of the valid outputs
    ordered: ``block`` is already the contiguous side-by-side buffer (C_in, *k, b, *positions)
             (``_im2col_gemm`` fills it in that order), so nothing is copied
    """
    groups, og, kg = w_mat.shape
    b, pos_shape = block.shape[kdims + 1 if ordered else 0], block.shape[2 + kdims:]
    columns = math.prod(pos_shape)
    dtype = y_band.dtype
    if ordered or _layout(b, columns, layout) == "side_by_side":
        if ordered:
            cols = block                                                   # nothing to copy
        else:
            order = (*range(1, 2 + kdims), 0, *range(2 + kdims, block.ndim))   # (C, *k, b, *pos)
            cols = ws.scratch("cols", block.size, dtype).reshape([block.shape[i] for i in order])
            np.copyto(cols, block.transpose(order))                        # the im2col copy
        prod = ws.scratch("product", groups * og * b * columns, dtype)
        np.matmul(w_mat, cols.reshape(groups, kg, b * columns),
                  out=prod.reshape(groups, og, b * columns))
        prod = prod.reshape(groups * og, b, columns).swapaxes(0, 1)        # (b, C_out, columns)
    else:
        if block.flags.c_contiguous:
            cols = block                                                   # pointwise: no copy
        else:
            cols = ws.scratch("cols", block.size, dtype).reshape(block.shape)
            np.copyto(cols, block)                                         # the im2col copy
        cols = cols.reshape(b, groups, kg, columns)
        if valid is None:                                                  # straight into y
            np.matmul(w_mat, cols, out=np.reshape(y_band, (b, groups, og, columns), copy=False))
            return
        prod = ws.scratch("product", b * groups * og * columns, dtype)
        np.matmul(w_mat, cols, out=prod.reshape(b, groups, og, columns))
        prod = prod.reshape(b, groups * og, columns)
    y_band[...] = prod.reshape(y_band.shape) if valid is None else valid(prod)


def _pointwise(xp, w, stride, dilation, groups, out_sizes, layout=None):
    """1x1 kernel, stride 1: y[n, g] = w[g] @ x[n, g] with positions flattened (a plain matmul).

    Layout: one product per image, a chunk of images per ``np.matmul`` call, unless the images
    are narrow AND the weight is big next to them: every product packs the whole weight again,
    so for a 2048 -> 512 layer on 7x7 images the images go side by side instead (one product,
    paid for with copying them in and out).
    (``stride`` and ``dilation`` are accepted for a uniform signature; here they change nothing.)
    """
    n, c_in = xp.shape[:2]
    c_out = w.shape[0]
    cg, og = c_in // groups, c_out // groups
    positions = math.prod(out_sizes)
    x = np.ascontiguousarray(xp).reshape(n, c_in, positions)      # 1x1 windows = the input itself
    w_mat = w.reshape(groups, og, cg)
    y = np.empty((n, c_out, *out_sizes), dtype=xp.dtype)
    flat_y = y.reshape(n, c_out, positions)
    if layout is None:
        narrow = n > 1 and positions < WIDE_COLUMNS
        layout = "side_by_side" if narrow and og * cg > 4 * (og + cg) * positions else "images"
    layout = _layout(n, positions, layout)      # "images": x[n0:n1] IS the block, no copy
    ws.each_chunk(lambda c: _multiply(w_mat, x[c[0]:c[1]], 0, flat_y[c[0]:c[1]], layout=layout),
                  ws._chunks(n, 1, c_in * positions * xp.itemsize))
    return y


def _im2col_gemm(xp, w, stride, dilation, groups, out_sizes, layout=None, pads=None):
    """im2col from the exact window view into a cache-sized buffer, then one matmul per chunk.

    The buffer for b images and r rows of the first output axis has shape
    (b, C_in, *k, r, *out_sizes[1:]) = (b, C_in * prod(k), positions), so ``w_mat @ cols`` lands
    directly in y[n0:n1, :, r0:r1] (a contiguous block per output channel).

    With ``pads`` (zero padding, as ``correlate`` passes it), ``xp`` is the unpadded input and the
    padded copy is never made: tap t's rows of the buffer are copied from the outputs whose input
    lies inside x (``_workspace.tap_box``), the rest of them set to zero -- the padding happens in
    the buffer, in cache (a padded copy of a 256-channel 56x56 input costs a quarter of the layer).
    That takes a few NumPy calls per tap and chunk, so when a tap's rows hold fewer than
    ``IN_CACHE_MIN`` numbers (a 7x7 kernel on 3 channels) the input is padded first after all.
    """
    ndim = len(out_sizes)
    n, c_in = xp.shape[:2]
    c_out, c_group = w.shape[:2]
    kernel = w.shape[2:]
    w_mat = w.reshape(groups, c_out // groups, c_group * math.prod(kernel))
    y = np.empty((n, c_out, *out_sizes), dtype=xp.dtype)
    per_row = c_in * math.prod(kernel) * math.prod(out_sizes[1:])   # buffer entries per output row
    rest = (slice(None),) * (ndim - 1)
    chunks = list(ws._chunks(n, out_sizes[0], per_row * xp.itemsize))
    n0, n1, r0, r1 = chunks[0]
    if pads is not None and (n1 - n0) * (r1 - r0) * per_row // math.prod(kernel) < IN_CACHE_MIN:
        xp, pads = pad(xp, pads), None      # few numbers per tap: pad first, one copy per chunk
    if pads is None:
        # (N, C, *out, *k) -> (N, C, *k, *out): the (channel, tap) axes first, positions last
        view = windows_nckp(xp, kernel, stride, dilation, out_sizes)

        def chunk(c):
            n0, n1, r0, r1 = c
            block = view[(slice(n0, n1), Ellipsis, slice(r0, r1)) + rest]
            _multiply(w_mat, block, ndim, y[n0:n1, :, r0:r1], layout=layout)
    else:
        # per tap and axis: the outputs [o0, o0 + count) that read inside x (one axis each)
        boxes = [[ws.tap_box(t, s, d, lo, size, out)
                  for t, s, d, (lo, _), size, out in zip(tap, stride, dilation, pads,
                                                         xp.shape[2:], out_sizes)]
                 for tap in np.ndindex(*kernel)]

        def chunk(c):
            n0, n1, r0, r1 = c
            b, rows = n1 - n0, r1 - r0
            buf = ws.scratch("im2col", b * per_row * rows, xp.dtype)
            # images side by side: fill the buffer in that order, (C, tap, b, *positions), not
            # image by image and then copy it again (``_multiply``)
            ordered = _layout(b, rows * math.prod(out_sizes[1:]), layout) == "side_by_side"
            if ordered:
                buf = buf.reshape(c_in, len(boxes), b, rows, *out_sizes[1:])
                cols = buf.transpose(2, 0, 1, *range(3, buf.ndim))         # (b, C, tap, ...)
            else:
                cols = buf.reshape(b, c_in, len(boxes), rows, *out_sizes[1:])
            for i, (tap, box) in enumerate(zip(np.ndindex(*kernel), boxes)):
                # this band's outputs [a, e) along each axis that read inside x (band-relative)
                base = [r0] + [0] * (ndim - 1)
                spans = [(min(max(o0 - b0, 0), size), min(max(o0 + count - b0, 0), size))
                         for (o0, count), b0, size in zip(box, base, (rows, *out_sizes[1:]))]
                dst = cols[:, :, i]
                for j, (a, e) in enumerate(spans):                      # the padding: zeros
                    before = (slice(None),) * (2 + j)
                    if a > 0:
                        dst[before + (slice(0, a),)] = 0
                    if e < dst.shape[2 + j]:
                        dst[before + (slice(e, None),)] = 0
                if all(a < e for a, e in spans):                        # the rest: from x
                    # output o reads input o*s + t*d - lo: the first and last of [a, e), step s
                    src = tuple(slice((b0 + a) * s + t * d - lo,
                                      (b0 + e - 1) * s + t * d - lo + 1, s)
                                for (a, e), b0, t, s, d, (lo, _)
                                in zip(spans, base, tap, stride, dilation, pads))
                    dst[(slice(None), slice(None), *(slice(a, e) for a, e in spans))] = \
                        xp[(slice(n0, n1), slice(None), *src)]
            shape = (c_in, *kernel, b) if ordered else (b, c_in, *kernel)
            _multiply(w_mat, buf.reshape(*shape, rows, *out_sizes[1:]), ndim, y[n0:n1, :, r0:r1],
                      layout=layout, ordered=ordered)

    ws.each_chunk(chunk, chunks)
    return y


def windows_nckp(xp, kernel, stride, dilation, out_sizes):
    """The window view with the kernel axes before the positions: (N, C, *k, *out_sizes)."""
    ndim = len(out_sizes)
    view = ws.windows(xp, kernel, stride, dilation, out_sizes)
    return view.transpose(0, 1, *range(2 + ndim, 2 + 2 * ndim), *range(2, 2 + ndim))


def _flat_gemm(xp, w, stride, dilation, groups, out_sizes, layout=None):
    """Stride 1: im2col whose rows are contiguous slices of the flattened input, then matmul.

    Row (c, t) of a chunk's buffer is xp[n, c].flat[start + offset(t) : ... + span]
    (``flat_geometry``), so the copy moves long contiguous runs instead of short image rows. The
    product has the padded row length; its junk columns are dropped when it is copied into y
    (in 1-D there are none and the product can go straight into y).
    """
    xp = np.ascontiguousarray(xp)
    n, c_in = xp.shape[:2]
    c_out, c_group = w.shape[:2]
    kernel, padded = w.shape[2:], xp.shape[2:]
    row, inner, tap_strides = ws.flat_geometry(padded, kernel, dilation, out_sizes)
    flat_strides = [math.prod(padded[j + 1:]) for j in range(len(padded))]
    w_mat = w.reshape(groups, c_out // groups, c_group * math.prod(kernel))
    y = np.empty((n, c_out, *out_sizes), dtype=xp.dtype)
    junk = tuple(padded[1:]) != tuple(out_sizes[1:])
    item, (sn, sc) = xp.itemsize, xp.strides[:2]

    def chunk(c):
        n0, n1, r0, r1 = c
        b, span = n1 - n0, (r1 - r0 - 1) * row + inner          # flat outputs of rows r0..r1-1
        start = xp[n0:n1].reshape(-1)[r0 * row:]                 # first input read by this chunk
        block = as_strided(start, (b, c_in, *kernel, span),
                           (sn, sc, *(s * item for s in tap_strides), item), writeable=False)
        band = y[n0:n1, :, r0:r1]
        # output (r, *i) of an image is column (r - r0) * row + sum_j i_j * S_j of its product
        valid = None if not junk else lambda prod, band=band: as_strided(
            prod, band.shape, (*prod.strides[:2], *(s * item for s in flat_strides)),
            writeable=False)
        _multiply(w_mat, block, len(kernel), band, valid, layout)

    ws.each_chunk(chunk, ws._chunks(n, out_sizes[0], c_in * math.prod(kernel) * row * item))
    return y


def scatter_matrix(kernel, sizes, out_sizes, stride, dilation, padding, dtype):
    """The scatter of ``transposed`` as a 0/1 matrix S (prod(k) * prod(in), prod(out)):
    S[(t, i), o] = 1 where o = i*s + t*d - p lies inside the output."""
    ndim = len(sizes)
    t = np.indices(kernel).reshape(ndim, -1, 1)
    i = np.indices(sizes).reshape(ndim, 1, -1)
    o = [i[j] * stride[j] + t[j] * dilation[j] - padding[j] for j in range(ndim)]   # (T, in)
    inside = np.logical_and.reduce([(oj >= 0) & (oj < out) for oj, out in zip(o, out_sizes)])
    s_mat = np.zeros((inside.size, math.prod(out_sizes)), dtype)
    s_mat[np.flatnonzero(inside), np.ravel_multi_index([oj[inside] for oj in o], out_sizes)] = 1
    return s_mat


def _flat_add(acc, src, e, plane_shape, lead=1):
    """acc[..., r, q] += src[..., r, q - e] (zero where q - e is outside the plane), for runs of
    planes: the last ``lead + len(e)`` axes of both, (*R, *plane_shape), are ONE contiguous run,
    and the addition is one slice of that run shifted by the flat offset of e.

    With flat indices, q - e can wrap around a row, or into the neighbouring plane, and read an
    element that does not belong there. Such a read always lands on a source element with no
    target for this shift (along some axis j, i_j + e_j is outside the plane), so those elements
    are zeroed first -- ``src`` is the engine's own scratch, and each tap's planes are added once.
    """
    ndim = len(e)
    for j in range(ndim):
        if e[j]:
            n = plane_shape[j]
            cut = slice(max(0, n - e[j]), None) if e[j] > 0 else slice(0, min(n, -e[j]))
            src[(Ellipsis, cut) + (slice(None),) * (ndim - 1 - j)] = 0
    off = sum(ej * math.prod(plane_shape[j + 1:]) for j, ej in enumerate(e))
    run = math.prod(src.shape[-lead - ndim:])
    lo, hi = max(0, off), run + min(0, off)
    if lo < hi:
        a2 = np.reshape(acc, (*acc.shape[:-lead - ndim], run), copy=False)   # (acc may be a view)
        s2 = src.reshape(*src.shape[:-lead - ndim], run)
        a2[..., lo:hi] += s2[..., lo - off:hi - off]


def _phase_taps(kernel, stride, dilation, padding):
    """{phase a: [(tap t, shift e), ...]}: the outputs a + s*q of phase a receive tap t from
    input q - e (``transposed``'s docstring)."""
    by_phase = {a: [] for a in np.ndindex(*stride)}
    for t in np.ndindex(*kernel):
        a = tuple((tj * d - p) % s for tj, s, d, p in zip(t, stride, dilation, padding))
        e = [(tj * d - p - aj) // s for tj, s, d, p, aj in zip(t, stride, dilation, padding, a)]
        by_phase[a].append((t, e))
    return by_phase


def transposed(x, w, stride, padding, dilation, groups, out_sizes, layout=None, scatter=None):
    """conv_transpose as a product and a scatter ("col2im"), the way its definition reads.

    Definition (PyTorch's ConvTranspose): every input sample spreads over the output,

        y[n, g*Og + o, i*s + t*d - p] += sum_{c < Cg} x[n, g*Cg + c, i] * w[g*Cg + c, o, t]

    (x (N, C_in, *in), w (C_in, Og, *k), y (N, C_out, *out_sizes); ``conv.conv_transpose`` states
    the equivalent identity with an ordinary convolution, which the tests check). The inner sum
    over c is one matrix product for all (t, o) pairs and all positions,

        cols[(t, o), (n, i)] = W^T @ X,   W^T (prod(k) * Og, Cg),   X (Cg, N * prod(in)),

    a GEMM without a single multiplication by an inserted zero; then each tap t adds its planes
    cols[(t, .), (n, .)] into the outputs i*s + t*d - p that lie inside y.

    The scatter goes phase by phase: the outputs o = a + s*q of one phase a (0 <= a < s) receive
    exactly the taps with (t*d - p) % s == a, each shifted by e = (t*d - p - a) // s (q = i + e).
    So the taps of a phase are added up with unit strides, and the sum is written into every s-th
    output once -- instead of prod(k) additions into strided outputs, which NumPy runs several
    times slower. The rows of the product are ordered tap first, (t, o), so one tap's planes for
    all channels are one contiguous run, and (when a phase has as many outputs as the input has
    samples, as in a 4x4 kernel with stride 2 and padding 1) each addition is ONE NumPy call over
    that whole run (``_flat_add``), into the planes of the phase's unshifted tap.

    A few images at a time go through both steps, so their columns are scattered while still in
    cache. Where the images are multiplied one by one (``layout``, as in ``_multiply``) and the
    phases have taps to add up, each phase even gets its own product, of its taps' rows only
    (the rows then ordered phase by phase), scattered right after it: a quarter of the columns
    of a stride-2 2-D layer at a time, which stay in the core's cache. Measured alternating in one
    process: DCGAN's 128 -> 64 layer on 16x16 inputs 8-11% faster than with one product of all
    the taps (e.g. 16.2 -> 14.6 ms, 14.1 -> 12.8), its 64 -> 3 on 32x32 5-10%; its 8x8 inputs go
    side by side and keep the one product, as do the 2x2/2 U-Net layers (one tap per phase,
    nothing to add). On tiny planes (a 1x1 or 4x4 input) the scatter is one product with its 0/1
    matrix instead (``scatter_matrix``, with the rows ordered channel first; ``scatter=`` forces
    'matrix' or 'phases').
    """
    n, c_in = x.shape[:2]
    og, kernel = w.shape[1], w.shape[2:]
    c_out, taps, sizes = og * groups, math.prod(kernel), x.shape[2:]
    plane, cg = math.prod(sizes), c_in // groups
    x = np.ascontiguousarray(x)
    y = np.empty((n, c_out, *out_sizes), dtype=x.dtype)
    if scatter is None:
        small = taps * plane * math.prod(out_sizes) <= SCATTER_MATRIX_ENTRIES
        scatter = "matrix" if small else "phases"
    if scatter not in ("matrix", "phases"):
        raise ValueError(f"scatter={scatter!r} must be None, 'matrix' or 'phases'")
    chunks = [(n0, n1) for n0, n1, _, _ in
              ws._chunks(n, 1, c_out * taps * plane * x.itemsize, TRANSPOSED_CHUNK_BYTES)]
    per_phase = False                                       # one product per phase (docstring)
    if scatter == "matrix":   # rows (o, t): w_t is a transposed view, BLAS reads it as it is
        w_t = w.reshape(groups, cg, og * taps).transpose(0, 2, 1)           # (g, Og*K, Cg)
        s_mat = scatter_matrix(kernel, sizes, out_sizes, stride, dilation, padding, x.dtype)
        identity = s_mat.shape[0] == s_mat.shape[1] and (s_mat == np.eye(len(s_mat))).all()
    else:                     # rows (t, o): one copy of the weights, then a transposed view
        phases = list(_phase_taps(kernel, stride, dilation, padding).items())
        per_phase = (_layout(chunks[0][1] - chunks[0][0], plane, layout, TRANSPOSED_COLUMNS)
                     == "images" and any(len(phase) > 1 for _, phase in phases))
        flat = lambda t: int(np.ravel_multi_index(t, kernel))                # noqa: E731
        order = [flat(t) for _, phase in phases for t, _ in phase] if per_phase else range(taps)
        row_of = {t: row for row, t in enumerate(order)}
        tap_rows = {a: [row_of[flat(t)] for t, _ in phase] for a, phase in phases}
        w_k = ws.scratch("transposed_w", w.size, w.dtype).reshape(groups, cg, taps, og)
        w_g = w.reshape(groups, cg, og, taps)
        if per_phase:         # (a loop: w_g[..., order] would copy w twice; either takes
            for row, t in enumerate(order):     # 3-4 times the one copy below, so tap order
                w_k[:, :, row] = w_g[..., t]    # is kept where no phase has its own product)
        else:
            np.copyto(w_k, w_g.swapaxes(-1, -2))
        w_t = w_k.reshape(groups, cg, taps * og).transpose(0, 2, 1)         # (g, K*Og, Cg)

    def chunk(c):                  # images n0..n1-1: their product, then their scatter, in cache
        n0, n1 = c
        b = n1 - n0
        band = y[n0:n1]
        per_image = _layout(b, plane, layout, wide=TRANSPOSED_COLUMNS) == "images"
        if per_phase:                            # each phase: its product, then its scatter
            xb = x[n0:n1].reshape(b, groups, cg, plane)
            for a, phase in phases:
                t0, t1 = (tap_rows[a][0], tap_rows[a][-1] + 1) if phase else (0, 0)
                prod = ws.scratch("transposed", b * c_out * (t1 - t0) * plane, x.dtype)
                prod = prod.reshape(b, groups, (t1 - t0) * og, plane)
                np.matmul(w_t[:, t0 * og:t1 * og], xb, out=prod)
                planes = prod.reshape(b, groups, t1 - t0, og, *sizes)
                target = _phase_view(band, a, stride, groups)                  # (b, g, o, *q)
                _scatter_phase(lambda j: planes[:, :, j], phase, target, sizes, lead=1)
            return
        cols = ws.scratch("transposed", b * c_out * taps * plane, x.dtype)
        if per_image:                                   # cols (b, g, rows, *in)
            cols = cols.reshape(b, groups, og * taps, plane)
            for i in range(b):
                np.matmul(w_t, x[n0 + i].reshape(groups, cg, plane), out=cols[i])
        else:                                 # cols (g, rows, b, *in): the images side by side
            xs = ws.scratch("transposed_x", b * c_in * plane, x.dtype).reshape(c_in, b, plane)
            np.copyto(xs, x[n0:n1].reshape(b, c_in, plane).swapaxes(0, 1))
            cols = cols.reshape(groups, og * taps, b * plane)
            np.matmul(w_t, xs.reshape(groups, cg, b * plane), out=cols)
        if scatter == "matrix":
            # channel (o) x (t, i) -> outputs: rows (b, g, o) or (g, o, b), then into y
            rows = cols.reshape(b, c_out, taps * plane) if per_image else \
                cols.reshape(c_out, taps, b, plane).swapaxes(1, 2).reshape(c_out, b, -1)
            if identity:
                band.reshape(b, c_out, -1)[...] = rows if per_image else rows.swapaxes(0, 1)
            elif per_image:
                np.matmul(rows, s_mat, out=band.reshape(b, c_out, -1))
            else:
                prod = ws.scratch("transposed_out", b * c_out * math.prod(out_sizes), x.dtype)
                prod = prod.reshape(c_out, b, -1)
                np.matmul(rows, s_mat, out=prod)
                band.reshape(b, c_out, -1)[...] = prod.swapaxes(0, 1)
            return
        # the phases: planes in the order of the product, (b, g, t, o, *in) or (g, t, o, b, *in)
        for a, phase in phases:
            target = _phase_view(band, a, stride, groups)                      # (b, g, o, *q)
            if per_image:
                planes = cols.reshape(b, groups, taps, og, *sizes)
                _scatter_phase(lambda j, r=tap_rows[a]: planes[:, :, r[j]], phase, target, sizes, 1)
            else:
                planes = cols.reshape(groups, taps, og, b, *sizes)
                target = target.transpose(1, 2, 0, *range(3, target.ndim))     # (g, o, b, *q)
                _scatter_phase(lambda j, r=tap_rows[a]: planes[:, r[j]], phase, target, sizes, 2)

    ws.each_chunk(chunk, chunks)
    return y


def _phase_view(y, a, stride, groups):
    """The outputs a + s*q of phase a, y[:, :, a_0::s_0, a_1::s_1, ...], with the channels split
    by group: a view of shape (N, groups, C_out / groups, *q)."""
    view = y[(slice(None), slice(None), *(slice(aj, None, s) for aj, s in zip(a, stride)))]
    return view.reshape(y.shape[0], groups, y.shape[1] // groups, *view.shape[2:])


def _scatter_phase(planes, taps, target, sizes, lead):
    """target[..., q] = sum over the taps (t, e) of one phase of planes(j)[..., q - e]
    (``transposed``).

    planes(j) : the planes of the phase's j-th tap, (..., *in), in the order of the product (the
                phase's taps in ``_phase_taps``' order); they may be overwritten
    target    : the phase's outputs, (..., *q), arranged in that same order
    lead      : the axes before *in that belong to one contiguous run (``_flat_add``)
    """
    ndim = len(sizes)
    counts = target.shape[-ndim:]
    same = tuple(counts) == tuple(sizes)
    order = sorted(range(len(taps)), key=lambda j: any(taps[j][1]))      # an unshifted tap first
    if same and order and not any(taps[order[0]][1]):   # it covers every output of the phase:
        acc, order = planes(order[0]), order[1:]        # add the others into its planes
    else:
        acc = ws.scratch("phase", target.size, target.dtype).reshape(target.shape)
        acc.fill(0)
    for j in order:
        src, e = planes(j), taps[j][1]
        if same:
            _flat_add(acc, src, e, sizes, lead)
            continue
        box = tuple(slice(max(0, -ej), min(i_max, q - ej))
                    for ej, i_max, q in zip(e, sizes, counts))
        if all(r.start < r.stop for r in box):
            dst = tuple(slice(r.start + ej, r.stop + ej) for r, ej in zip(box, e))
            acc[(Ellipsis, *dst)] += src[(Ellipsis, *box)]
    target[...] = acc
