"""Checks of the exercise notebook ex05: dilation."""

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv
from conv_lib.padding import dilate

from ._harness import (
    _consistent, _torch, _jax, _ok, _failure, _require_values, _probe, Case, _check_arrays, _check_scalars,
    _same_value)
from ._scratch import _require_from_scratch
from ._refs import _f32, _jax_conv_shape, _same_pads


def check_dilated_conv2d(fn):
    """fn(img, kern, stride=1, padding=0, dilation=1): img (H, W), kern (kh, kw) -> 2-D output."""
    ex = "ex05-dilated-conv2d"
    _require_from_scratch(ex, fn)
    rng = np.random.default_rng(501)
    specs = [(5, 5, 3, 3, 1, 0, 2), (7, 6, 2, 2, 3, 0, 1), (3, 4, 2, 3, 1, 4, 1), (6, 6, 3, 2, 2, 1, 2)]
    while len(specs) < 24:
        h, w, kh, kw = (int(rng.integers(3, 11)), int(rng.integers(3, 11)), int(rng.integers(1, 4)),
                        int(rng.integers(1, 4)))
        s, p, d = int(rng.integers(1, 5)), int(rng.integers(0, 5)), int(rng.integers(1, 4))
        if min(h, w) + 2 * p >= d * (max(kh, kw) - 1) + 1:
            specs.append((h, w, kh, kw, s, p, d))
    cases = []
    for h, w, kh, kw, s, p, d in specs:
        img, kern = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
        cases.append(Case((img, kern), {"stride": s, "padding": p, "dilation": d},
                          show={"img": img, "kern": kern, "stride": s, "padding": p, "dilation": d},
                          img=img[None, None], kern=kern[None, None], s=s, p=p, d=d))

    def ref(c, **kw):
        args = dict(stride=c.s, padding=c.p, dilation=c.d)
        args.update(kw)
        return conv(c.img, c.kern, **args)[0, 0]

    def ceil_pad(c):
        out = []
        for n in c.img.shape[2:]:
            k_eff = c.d * (c.kern.shape[-1] - 1) + 1
            r = (n + 2 * c.p - k_eff) % c.s
            out.append((c.p, c.p + (c.s - r if r else 0)))
        return out

    refs = [("PyTorch (F.conv2d)",
             lambda c: fw.torch_conv(c.img, c.kern, stride=c.s, padding=c.p, dilation=c.d)[0, 0],
             None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated)",
             lambda c: fw.jax_conv(_f32(c.img), _f32(c.kern), stride=c.s, padding=c.p,
                                   dilation=c.d)[0, 0], 4, 1e-4, 1e-4)]
    variants = [
        ("you dilated the INPUT (inserted zeros between pixels) instead of the kernel: dilation "
         "spreads the kernel taps, output (i, j) reads img[i*s + a*d, j*s + b*d].",
         lambda c: ref(c, dilation=1, input_dilation=c.d)),
        ("the dilation is ignored: taps must sit d pixels apart.", lambda c: ref(c, dilation=1)),
        ("one output row/column too many: the output size floors (use //).",
         lambda c: ref(c, padding=ceil_pad(c))),
        ("the zeros are only on the top/left: padding=p adds p on EVERY side.",
         lambda c: ref(c, padding=[(2 * c.p, 0)] * 2)),
        ("the zeros are only on the bottom/right: padding=p adds p on EVERY side.",
         lambda c: ref(c, padding=[(0, 2 * c.p)] * 2)),
        ("the stride is not applied to the window position (i*s, j*s).",
         lambda c: ref(c, stride=1)[:ref(c).shape[0], :ref(c).shape[1]]),
        ("the kernel is flipped; no flip in conv layers.",
         lambda c: conv(c.img, c.kern[..., ::-1, ::-1].copy(), stride=c.s, padding=c.p,
                        dilation=c.d)[0, 0]),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          fallback_hint="pad by p on every side, then out[i, j] = sum_{a, b} "
                                        "padded[i*s + a*d, j*s + b*d] * kern[a, b]; "
                                        "size floor((n + 2p - d(k-1) - 1) / s) + 1")
    _ok(ex, f"{len(cases)} random configurations (stride > kernel and padding > input included) "
            f"match PyTorch (F.conv2d) and JAX." + tally)


def check_effective_size(k_eff):
    """Quick check: the span of a 3x3 kernel with dilation 4."""
    ex = "ex05-effective-size"
    _require_values(ex, k_eff=k_eff)
    torch, F = _torch()
    w = torch.ones(1, 1, 3, 3)
    smallest = None
    for n in range(1, 16):  # smallest input on which a dilation-4 3x3 conv has an output
        try:
            F.conv2d(torch.zeros(1, 1, n, n), w, dilation=4)
            smallest = n
            break
        except RuntimeError:
            continue
    _consistent(ex, _jax_conv_shape((1, 1, smallest, smallest), (1, 1, 3, 3), (1, 1), "VALID",
                                    rhs_dilation=(4, 4))[-1] == 1,
                "smallest input accepted by PyTorch vs the JAX output size")
    if not _same_value(k_eff, smallest):
        hint = {12: "d*k counts a gap after the last tap too; there are only k-1 gaps.",
                3: "dilation keeps 3 taps but spreads them apart; the span grows.",
                8: "count pixels from the first tap to the last one, both included."}.get(
                    k_eff if isinstance(k_eff, int) else None, "k_eff = d*(k-1) + 1")
        raise _failure(ex, "k_eff does not match the smallest input PyTorch accepts", hint=hint)
    _ok(ex, "matches PyTorch (smallest accepted input) and JAX (one output on that input).")


def check_dilate_kernel(fn):
    """fn(kern, d): kern (kh, kw) -> kernel with d-1 zeros between taps, shape (d(kh-1)+1, d(kw-1)+1)."""
    ex = "ex05-dilate-kernel"
    _require_from_scratch(ex, fn)
    _probe(ex, fn, np.ones((2, 2)), 2)
    torch, F = _torch()
    rng = np.random.default_rng(502)
    cases = []
    for i in range(16):
        kh, kw, d = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 5))
        if i == 0:
            kh, kw, d = 3, 2, 3
        kern = rng.normal(size=(kh, kw))
        cases.append(Case((kern, d), show={"kern": kern, "d": d}, kern=kern, d=d))

    def torch_equiv(c):
        # the dilated kernel, recovered from PyTorch: F.conv2d(impulse image, kern, dilation=d)
        keff = (c.d * (c.kern.shape[0] - 1) + 1, c.d * (c.kern.shape[1] - 1) + 1)
        img = torch.zeros(1, 1, 2 * keff[0] - 1, 2 * keff[1] - 1, dtype=torch.float64)
        img[0, 0, keff[0] - 1, keff[1] - 1] = 1.0
        y = F.conv2d(img, torch.from_numpy(c.kern)[None, None], dilation=c.d)[0, 0].numpy()
        return y[::-1, ::-1]  # correlating an impulse reads the kernel backwards

    refs = [("PyTorch (impulse response of F.conv2d with dilation=d)", torch_equiv, None, 1e-12, 1e-12),
            ("conv_lib.dilate", lambda c: dilate(c.kern, [c.d, c.d]), None, 0, 0)]
    variants = [
        ("you put d zeros between taps; dilation d means taps d apart, i.e. d - 1 zeros between.",
         lambda c: dilate(c.kern, [c.d + 1, c.d + 1])),
        ("there are trailing zeros after the last tap (np.kron style); the dilated kernel ends "
         "on a tap: size d*(k-1) + 1.",
         lambda c: np.kron(c.kern, np.pad(np.ones((1, 1)), ((0, c.d - 1), (0, c.d - 1))))),
        ("only one axis is dilated; dilation applies to both.",
         lambda c: dilate(c.kern, [c.d, 1])),
        ("only one axis is dilated; dilation applies to both.",
         lambda c: dilate(c.kern, [1, c.d])),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _, _, lax = _jax()
    for c in cases[:3]:  # the point of the exercise, in JAX: conv with it == rhs_dilation conv
        x = rng.normal(size=(1, 1, 13, 13)).astype(np.float32)
        a = lax.conv_general_dilated(x, _f32(c.kern)[None, None], (1, 1), "VALID", rhs_dilation=(c.d, c.d))
        b = lax.conv_general_dilated(x, _f32(fn(*c.args))[None, None], (1, 1), "VALID")
        _consistent(ex, np.allclose(a, b, atol=1e-4), "lax rhs_dilation vs the verified dilated kernel")
    _ok(ex, f"{len(cases)} kernels: identical to PyTorch's dilated kernel; convolving with yours "
            f"equals lax rhs_dilation." + tally)


def check_same_padding_dilated(fn):
    """fn(k, d) -> the symmetric padding P that keeps the length at stride 1, or None if none exists."""
    ex = "ex05-same-dilated"
    _probe(ex, fn, 3, 2)
    torch, F = _torch()
    cases = [Case((k, d), show={"k": k, "d": d}, k=k, d=d) for k in range(1, 7) for d in range(1, 5)]
    order = np.random.default_rng(503).permutation(len(cases))
    cases = [cases[i] for i in order]

    def brute(c):
        n = 32  # longer than any dilated kernel tried here
        for p in range(0, c.d * c.k + 1):
            y = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, c.k), padding=p, dilation=c.d)
            if y.shape[-1] == n:
                return p
        return None

    def jax_sym(c):
        lo, hi = _same_pads(32, c.k, 1, c.d)
        return lo if lo == hi else None

    refs = [("PyTorch (brute force over symmetric paddings)", brute, None),
            ("JAX ('SAME' padding is symmetric)", jax_sym, None)]
    variants = [
        ("the textbook rule 'odd K only' is too strict: P = d(k-1)/2 works whenever d(k-1) is "
         "even, e.g. k = 4 with d = 2.",
         lambda c: c.d * (c.k - 1) // 2 if c.k % 2 else None),
        ("the dilation is missing: the kernel spans d(k-1)+1 samples.",
         lambda c: (c.k - 1) // 2 if (c.k - 1) % 2 == 0 else None),
        ("when d(k-1) is odd no integer P works (PyTorch's padding= is per side): return None.",
         lambda c: c.d * (c.k - 1) / 2),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants,
                           fallback_hint="P = d(k-1)/2 if d(k-1) is even else None")
    _ok(ex, f"all {len(cases)} (k, d) with k <= 6, d <= 4 agree with PyTorch (brute force) and "
            f"JAX 'SAME' pads." + tally)
