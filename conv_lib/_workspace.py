"""What every strategy of the engine shares: window views, flat geometry, worker threads, scratch.

Nothing here computes a convolution; ``_gemm`` and ``_direct`` do, ``_engine`` chooses between them.
"""
import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import as_strided

# Bytes of im2col buffer filled and multiplied per step. Each core fills and multiplies its own
# steps (``each_chunk``); measured on ResNet-50's 3x3 layers, a 3-D layer, the stems and a grouped
# layer, 2-4 MiB steps run 5-15% faster than 8 MiB ones (less of the buffer falls out of cache
# between its copy and its product), 1 MiB ones make the products too narrow.
CHUNK_BYTES = 4 << 20

# Threads for the direct strategies (one per core the process may use), started on first use.
CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
WORKERS = len(CPUS) if CPUS else os.cpu_count() or 1
_pool = None
_started = itertools.count()


def _pin_worker():
    """Keep the i-th worker thread on the i-th core (Linux; elsewhere a no-op).

    The workers sleep between calls. Woken together, Linux first runs them on the core of the
    thread that woke them, and moves one away only a few milliseconds later; until then two
    workers share a core and each piece takes two to three times its CPU time. Measured on a 3x3
    layer (64 channels, 56x56, batch 8) called every 0.12 s: 12.1 ms unpinned, 8.8 ms pinned
    (7-8 ms back to back). OpenMP runtimes offer the same (OMP_PROC_BIND);
    ``CONV_LIB_PIN_THREADS=0`` turns it off.
    """
    i = next(_started)
    if CPUS and os.environ.get("CONV_LIB_PIN_THREADS", "1") != "0":
        try:
            os.sched_setaffinity(threading.get_native_id(), {CPUS[i % len(CPUS)]})
        except OSError:               # a sandbox that forbids it: run unpinned
            pass


def parallel(work, n):
    """Run ``work(lo, hi)`` on one contiguous piece of range(n) per core, in threads.

    Threads are enough: NumPy releases the GIL inside its ufunc loops, so the pieces run at the
    same time (only BLAS calls such as matmul use all cores by themselves) -- as long as each
    NumPy call is long. Every call takes the GIL back at its end, and a thread that finds it held
    sleeps until the other hands it over; measured here, two threads making calls of 16K float32
    numbers (3 us each) were no faster than one, calls of 256K (60-70 us) 1.5-1.9 times as fast
    (the appendix measures it live). Returns when all pieces are done, re-raising their errors.
    """
    global _pool
    parts = min(WORKERS, n)
    if parts <= 1:
        return work(0, n)
    if _pool is None:
        _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="conv_lib",
                                   initializer=_pin_worker)
    bounds = [n * i // parts for i in range(parts + 1)]
    for future in [_pool.submit(work, lo, hi) for lo, hi in zip(bounds, bounds[1:])]:
        future.result()


def each_chunk(fn, chunks):
    """Call ``fn(chunk)`` for every chunk; the cores take the next chunk as soon as they are free.

    Each core runs its own chunks' copies and products with a single-threaded BLAS, instead of
    one BLAS call at a time split over both cores. That parallelises the im2col copies too, and,
    because a free core simply takes the next chunk, a core that the operating system lends to
    another process for a while no longer stalls the other one at every product (measured on the
    shared benchmark machine: a 3x3x3 layer went from 325 to 107 ms, a ResNet 3x3 from 161 to
    28 ms). It also leaves no OpenBLAS thread spinning after the call (OpenBLAS keeps one busy
    for about 0.1 s after a multithreaded product): MobileNetV2's 1x1 24 -> 144 expansion at
    56x56 runs faster alone as one BLAS-threaded matmul, but the depthwise layer after it then
    took 22-29 ms instead of 14-17 in four runs (appendix, "Two cores from one Python
    process"). Switching BLAS to one thread needs ``threadpoolctl``; without it the chunks run
    one after the other with BLAS's own threads.
    """
    chunks = list(chunks)
    blas = _blas_controller()
    if len(chunks) < 2 or WORKERS == 1 or blas is None:
        for chunk in chunks:
            fn(chunk)
        return
    queue, lock = iter(chunks), threading.Lock()

    def worker(_lo, _hi):
        while True:
            with lock:
                chunk = next(queue, None)
            if chunk is None:
                return
            fn(chunk)

    with blas.limit(limits=1):
        parallel(worker, WORKERS)


_blas = None


def _blas_controller():
    """threadpoolctl's handle on NumPy's BLAS, or None without threadpoolctl (found once)."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas = False
        else:
            _blas = ThreadpoolController().select(user_api="blas") or False
    return _blas or None


# Scratch buffers (im2col columns, products with junk columns) are kept between calls, one set per
# thread. A fresh multi-megabyte array costs a page fault per 4 KiB the first time it is written
# (about 1 ms per 6 MB here), which is as much as the copy into it; frameworks keep workspaces
# for the same reason.
_scratch = threading.local()


def scratch(name, size, dtype):
    """A 1-D array of ``size`` elements, reused across calls (contents undefined)."""
    cache = _scratch.__dict__.setdefault("buffers", {})
    buf = cache.get((name, np.dtype(dtype)))
    if buf is None or buf.size < size:
        buf = cache[(name, np.dtype(dtype))] = np.empty(size, dtype=dtype)
    return buf[:size]


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


def tap_box(t, s, d, lo, n, out):
    """The outputs o in [o0, o0 + count) whose input o*s + t*d - lo lies in [0, n) (one axis):
    where tap t of a window reads the input itself rather than its zero padding."""
    off = t * d - lo
    o0 = -(off // s) if off < 0 else 0                    # ceil(-off / s)
    o1 = min(out, (n - 1 - off) // s + 1) if n - 1 - off >= 0 else 0
    return o0, max(0, o1 - o0)


def flat_geometry(padded, kernel, dilation, out_sizes):
    """Where a stride-1 correlation reads the input once the spatial axes are flattened.

    With flat (row-major) strides S_j of the padded grid, output position i sits at flat index
    q(i) = sum_j i_j S_j and its tap t reads input q(i) + offset(t), offset(t) = sum_j t_j d_j S_j.
    So for a fixed tap the inputs of consecutive q form ONE contiguous slice. Computing all q
    between the first and the last output also produces junk values (q whose trailing indices lie
    in the padding), which callers drop. Returns:

    row     flat distance between two steps of the first spatial axis, S_0
    inner   flat outputs needed for one step of the first axis, sum_{j>=1} (out_j - 1) S_j + 1
    strides flat strides of the kernel taps, d_j S_j (in elements)
    """
    flat = [math.prod(padded[j + 1:]) for j in range(len(padded))]
    inner = sum((o - 1) * s for o, s in zip(out_sizes[1:], flat[1:])) + 1
    return flat[0], inner, [d * s for d, s in zip(dilation, flat)]


def _chunks(n, rows, row_bytes, limit=None):
    """Split (images, rows of the first output axis) into pieces of about ``limit`` bytes
    (default CHUNK_BYTES).

    Yields (n0, n1, r0, r1): several whole images if one image fits, else bands of rows of one
    image. Pieces are of equal size, and as many as a multiple of the number of cores where
    possible (8 images of 1.4 MB: 4 x 2, not 3 + 3 + 2, which would leave one core idle for the
    last piece; a single image: one band per core).
    """
    limit = limit or CHUNK_BYTES
    if rows * row_bytes <= limit and (n >= WORKERS or rows == 1):
        count = -(-n // max(1, limit // (rows * row_bytes)))
        if count % WORKERS and n >= WORKERS:
            count = min(n, -(-count // WORKERS) * WORKERS)
        step = -(-n // count)
        for n0 in range(0, n, step):
            yield n0, min(n, n0 + step), 0, rows
    else:
        bands = -(-rows // max(1, limit // row_bytes))
        if n * bands < WORKERS:               # one image: a band per core (no BLAS threads, which
            bands = min(rows, -(-WORKERS // n))   # keep spinning on a core for 0.1 s afterwards)
        step = -(-rows // bands)                              # equal bands: 56 rows as 28 + 28
        for n0 in range(n):
            for r0 in range(0, rows, step):
                yield n0, n0 + 1, r0, min(rows, r0 + step)
