"""Checks of the exercise notebook ex05: dilation."""

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv
from conv_lib.padding import dilate

from ._harness import (
    _consistent, _torch, _jax, _ok, _failure, _require_values, _probe, Case, _check_arrays,
    _check_scalars, _same_value, case_rng, exercise, register)
from ._scratch import ARITHMETIC, FROM_SCRATCH, _require_rule
from ._refs import _f32, _jax_conv_shape, _same_pads

RULES = {"ex05-dilated-conv2d": FROM_SCRATCH, "ex05-dilate-kernel": FROM_SCRATCH,
         "ex05-same-dilated": ARITHMETIC}

EXERCISES = {
    "ex05-dilated-conv2d": (
        "dilation spreads the kernel taps d pixels apart; padding p goes on every side; the window "
        "moves by the stride.",
        "pad by p on every side, then out[i, j] = sum_{a, b} padded[i*s + a*d, j*s + b*d] * kern[a, b]; "
        "size floor((n + 2p - d(k-1) - 1) / s) + 1"),
    "ex05-effective-size": (
        "count the pixels from the first tap to the last one, both included.",
        "k_eff = d*(k-1) + 1"),
    "ex05-dilate-kernel": (
        "a dilated kernel has d - 1 zeros between neighbouring taps and ends on a tap.",
        "out = zeros((d(kh-1)+1, d(kw-1)+1)); out[::d, ::d] = kern"),
    "ex05-same-dilated": (
        "stride-1 'same' needs d(k-1) zeros in total, split equally when the padding is symmetric.",
        "P = d(k-1)/2 if d(k-1) is even else None"),
}

DIAGNOSES = {
    "ex05-dilated-conv2d/input-dilation": (
        "dilated the input instead of the kernel",
        "you dilated the INPUT (inserted zeros between pixels) instead of the kernel: dilation "
        "spreads the kernel taps."),
    "ex05-dilated-conv2d/no-dilation": ("dilation ignored", "the dilation is ignored: taps must sit "
                                                            "d pixels apart."),
    "ex05-dilated-conv2d/ceil": ("one row/column too many", "one output row/column too many: the "
                                                            "output size floors."),
    "ex05-dilated-conv2d/pad-top-left": ("padding only top/left", "the zeros are only on the "
                                                                  "top/left: padding=p adds p on EVERY side."),
    "ex05-dilated-conv2d/pad-bottom-right": ("padding only bottom/right", "the zeros are only on the "
                                                                          "bottom/right: padding=p "
                                                                          "adds p on EVERY side."),
    "ex05-dilated-conv2d/no-stride": ("stride not applied", "the stride is not applied to the window "
                                                            "position."),
    "ex05-dilated-conv2d/flipped": ("kernel flipped", "the kernel is flipped; no flip in conv layers."),
    "ex05-effective-size/d-times-k": ("span counted as d*k", "d*k counts a gap after the last tap "
                                                             "too; there are only k-1 gaps."),
    "ex05-dilate-kernel/d-zeros": ("d zeros between taps", "you put d zeros between taps; dilation d "
                                                           "means taps d apart."),
    "ex05-dilate-kernel/trailing-zeros": ("trailing zeros (kron style)",
                                          "there are trailing zeros after the last tap; the dilated "
                                          "kernel ends on a tap."),
    "ex05-dilate-kernel/one-axis": ("only one axis dilated", "only one axis is dilated; dilation "
                                                             "applies to both."),
    "ex05-same-dilated/odd-k-only": ("'odd K only' rule", "the rule 'odd K only' is too strict: "
                                                          "with dilation an even K can work too."),
    "ex05-same-dilated/no-dilation": ("dilation ignored", "the dilation is missing: the kernel "
                                                          "spans more than k samples."),
    "ex05-same-dilated/fraction": ("half-integer padding", "when no integer P works (PyTorch's "
                                                           "padding= is per side) return None."),
}
register(EXERCISES, DIAGNOSES, RULES)


@exercise("ex05-dilated-conv2d")
def check_dilated_conv2d(fn):
    """fn(img, kern, stride=1, padding=0, dilation=1): img (H, W), kern (kh, kw) -> 2-D output."""
    ex = "ex05-dilated-conv2d"
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
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
        ("input-dilation", lambda c: ref(c, dilation=1, input_dilation=c.d)),
        ("no-dilation", lambda c: ref(c, dilation=1)),
        ("ceil", lambda c: ref(c, padding=ceil_pad(c))),
        ("pad-top-left", lambda c: ref(c, padding=[(2 * c.p, 0)] * 2)),
        ("pad-bottom-right", lambda c: ref(c, padding=[(0, 2 * c.p)] * 2)),
        ("no-stride", lambda c: ref(c, stride=1)[:ref(c).shape[0], :ref(c).shape[1]]),
        ("flipped", lambda c: conv(c.img, c.kern[..., ::-1, ::-1].copy(), stride=c.s, padding=c.p,
                                   dilation=c.d)[0, 0]),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random configurations (stride > kernel and padding > input included) "
            f"match PyTorch (F.conv2d) and JAX." + tally)


@exercise("ex05-effective-size")
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
        key = f"{ex}/d-times-k" if _same_value(k_eff, 4 * 3) else None
        hint = {3: "dilation keeps 3 taps but spreads them apart; the span grows."}.get(
            k_eff if isinstance(k_eff, int) else None, EXERCISES[ex][0])
        raise _failure(ex, "k_eff does not match the smallest input PyTorch accepts",
                       hint=DIAGNOSES[key][1] if key else hint, diagnosis=key)
    _ok(ex, "matches PyTorch (smallest accepted input) and JAX (one output on that input).")


@exercise("ex05-dilate-kernel")
def check_dilate_kernel(fn):
    """fn(kern, d): kern (kh, kw) -> kernel with d-1 zeros between taps, shape (d(kh-1)+1, d(kw-1)+1)."""
    ex = "ex05-dilate-kernel"
    _probe(ex, fn, np.ones((2, 2)), 2)
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    rng = case_rng(ex)
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
        ("d-zeros", lambda c: dilate(c.kern, [c.d + 1, c.d + 1])),
        ("trailing-zeros",
         lambda c: np.kron(c.kern, np.pad(np.ones((1, 1)), ((0, c.d - 1), (0, c.d - 1))))),
        ("one-axis", lambda c: dilate(c.kern, [c.d, 1])),
        ("one-axis", lambda c: dilate(c.kern, [1, c.d])),
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


@exercise("ex05-same-dilated")
def check_same_padding_dilated(fn):
    """fn(k, d) -> the symmetric padding P that keeps the length at stride 1, or None if none exists."""
    ex = "ex05-same-dilated"
    _probe(ex, fn, 3, 2)
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    rng = case_rng(ex)
    grid = [(k, d) for k in range(1, 7) for d in range(1, 5)]
    held_out = [(int(rng.integers(7, 12)), int(rng.integers(1, 7))) for _ in range(8)]
    cases = [Case((k, d), show={"k": k, "d": d}, k=k, d=d, n=d * k + 8)
             for k, d in [grid[i] for i in rng.permutation(len(grid))] + held_out]

    def brute(c):
        for p in range(0, c.d * c.k + 1):  # n = d*k + 8 is longer than the dilated kernel
            y = F.conv1d(torch.zeros(1, 1, c.n), torch.zeros(1, 1, c.k), padding=p, dilation=c.d)
            if y.shape[-1] == c.n:
                return p
        return None

    def jax_sym(c):
        lo, hi = _same_pads(c.n, c.k, 1, c.d)
        return lo if lo == hi else None

    refs = [("PyTorch (brute force over symmetric paddings)", brute, None),
            ("JAX ('SAME' padding is symmetric)", jax_sym, None)]
    variants = [
        ("odd-k-only", lambda c: c.d * (c.k - 1) // 2 if c.k % 2 else None),
        ("no-dilation", lambda c: (c.k - 1) // 2 if (c.k - 1) % 2 == 0 else None),
        ("fraction", lambda c: c.d * (c.k - 1) / 2),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants)
    _ok(ex, f"all (k, d) with k <= 6, d <= 4 and {len(held_out)} larger ones agree with PyTorch "
            f"(brute force) and JAX 'SAME' pads." + tally)
