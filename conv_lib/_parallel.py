"""Splitting NumPy work across the cores with threads.

NumPy releases the GIL inside its ufunc and copy loops, so plain Python threads that each call
NumPy on their own slice of an array run at the same time. The fast paths use this for work that
BLAS does not already spread over the cores: copies (padding, im2col) and the depthwise taps.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Arrays smaller than this are copied in the calling thread (starting threads costs ~50 us).
PARALLEL_BYTES = 1 << 20
WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_pool = None


def parallel(work, n):
    """Run ``work(lo, hi)`` on one contiguous piece of range(n) per core, in threads.

    Threads are enough: NumPy releases the GIL inside its ufunc and copy loops, so the pieces
    run at the same time. Returns when all pieces are done (and re-raises their errors).
    """
    global _pool
    parts = min(WORKERS, n)
    if parts <= 1:
        return work(0, n)
    if _pool is None:
        _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="conv_lib")
    bounds = [n * i // parts for i in range(parts + 1)]
    for future in [_pool.submit(work, lo, hi) for lo, hi in zip(bounds, bounds[1:])]:
        future.result()


def parallel_copy(dst, src):
    """``dst[...] = src`` (same shape; src may broadcast), split across cores along the first axis
    of length > 1. One core copies at ~10 GB/s; a big im2col or padding copy is worth sharing."""
    src = np.broadcast_to(src, dst.shape)
    axis = next((a for a, size in enumerate(dst.shape) if size > 1), None)
    if axis is None or dst.nbytes < PARALLEL_BYTES:
        np.copyto(dst, src)
        return
    lead = (slice(None),) * axis
    parallel(lambda lo, hi: np.copyto(dst[lead + (slice(lo, hi),)], src[lead + (slice(lo, hi),)]),
             dst.shape[axis])
