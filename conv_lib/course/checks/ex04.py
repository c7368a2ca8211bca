"""Checks of the exercise notebook ex04: padding."""

import warnings

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv

from ._harness import (
    _consistent, _torch, _jax, _ok, _failure, _require_values, _probe, _parts, Case, _check_arrays,
    _same_value, _as_shape, case_rng, exercise, register)
from ._scratch import FRAMEWORKS, FROM_SCRATCH, Rule, _require_rule
from ._refs import _f32, _torch_shape, _jax_conv_shape, _same_pads

RULES = {
    "ex04-reflect-replicate": FROM_SCRATCH,
    "ex04-causal": Rule("NumPy or conv_lib with explicit (lo, hi) pairs (conv_lib.pad, conv_lib.conv); "
                        "no PyTorch/JAX, and no padding='causal' string: computing the pair is the "
                        "exercise.", modules=FRAMEWORKS, strings=("causal",)),
    "ex04-jax-padding": Rule("use jax.lax.conv_general_dilated with the padding string (required); no "
                             "PyTorch, SciPy or conv_lib.",
                             modules=("torch", "scipy", "conv_lib", "tensorflow", "keras"),
                             require=("jax.lax.conv_general_dilated",)),
}

EXERCISES = {
    "ex04-reflect-replicate": (
        "'reflect' mirrors around the edge sample without repeating it, 'replicate' copies the edge "
        "value; pads[0] is (top, bottom), pads[1] is (left, right).",
        "reflect: index i -> |i| mirrored at n-1 (i -> 2(n-1) - i); replicate: clip(i, 0, n-1)"),
    "ex04-causal": (
        "a causal layer keeps the length and lets y[t] see only x[t], x[t-d], ...: every zero of "
        "padding goes on the left.",
        "conv(x, w, padding=[(d*(k-1), 0)], dilation=d)"),
    "ex04-jax-padding": (
        "lax.conv_general_dilated takes the padding string; 'SAME' keeps the length and puts the "
        "odd zero at the end.",
        "'VALID': length L-K+1 (empty if K > L); 'SAME': length L, K-1 zeros split as "
        "((K-1)//2, K-1 - (K-1)//2)"),
    "ex04-even-kernel": (
        "symmetric padding adds the same number of zeros on both sides; an even kernel needs an odd "
        "total to keep the length.",
        "out = n + 2*floor((K-1)/2) - K + 1; 'same' pads (lo, hi) with lo + hi = K - 1, the odd "
        "zero at the end"),
}

DIAGNOSES = {
    "ex04-reflect-replicate/symmetric-not-reflect": (
        "NumPy 'symmetric' instead of reflect",
        "your reflect repeats the edge value (NumPy's 'symmetric' mode). PyTorch's 'reflect' "
        "mirrors around the edge sample WITHOUT repeating it: [a b c] -> b | a b c | b."),
    "ex04-reflect-replicate/modes-swapped": (
        "reflect and replicate swapped", "reflect and replicate are swapped: 'replicate' copies the "
                                         "edge value outward, 'reflect' mirrors the interior."),
    "ex04-reflect-replicate/sides-swapped": (
        "pads on the wrong side", "padding on the wrong side: the first number of each pair goes "
                                  "BEFORE the data."),
    "ex04-reflect-replicate/axes-swapped": (
        "pads applied to the wrong axes", "the axes are swapped: pads[0] applies to the rows (axis "
                                          "0), pads[1] to the columns (axis 1)."),
    "ex04-reflect-replicate/zeros": ("zero padding", "those are zeros: this exercise is about the "
                                                     "'reflect' and 'replicate' modes."),
    "ex04-reflect-replicate/circular": ("circular padding", "that is circular (wrap-around) padding."),
    "ex04-causal/same": ("'same' padding (sees the future)",
                         "the output is 'same'-padded (zeros on both sides): position t then sees "
                         "the future."),
    "ex04-causal/right-side": ("zeros on the right", "padding on the wrong side: zeros on the RIGHT "
                                                     "make y[t] depend on x[t+1], ..."),
    "ex04-causal/pad-ignores-dilation": ("padding ignores the dilation",
                                         "the padding ignores the dilation: a dilated kernel spans "
                                         "more than k samples."),
    "ex04-causal/conv-ignores-dilation": ("convolution ignores the dilation",
                                          "the convolution itself ignores the dilation (taps must "
                                          "be d apart)."),
    "ex04-causal/flipped": ("kernel flipped", "the kernel is flipped; conv layers do not flip."),
    "ex04-jax-padding/modes-swapped": ("modes swapped", "the modes are swapped: 0.0 means 'VALID' "
                                                        "(no padding), 1.0 means 'SAME'."),
    "ex04-jax-padding/flipped": ("kernel flipped", "the kernel is flipped (np.convolve-style); "
                                                   "lax.conv_general_dilated does not flip."),
    "ex04-jax-padding/odd-zero-first": ("odd zero at the front", "for even kernels the extra zero of "
                                                                 "'SAME' goes at the END."),
    "ex04-jax-padding/symmetric": ("symmetric floor((K-1)/2) padding",
                                   "equal zeros on both sides lose one sample for even K; let lax "
                                   "split the zeros (pass the padding string)."),
}
register(EXERCISES, DIAGNOSES, RULES)


@exercise("ex04-reflect-replicate")
def check_pad2d(fn):
    """fn(x, pads, mode): x (H, W), pads ((top, bottom), (left, right)), mode 'reflect' | 'replicate'."""
    ex = "ex04-reflect-replicate"
    _require_rule(ex, fn, RULES[ex])
    _probe(ex, fn, np.arange(12.0).reshape(3, 4), ((1, 1), (1, 1)), "reflect")
    torch, F = _torch()
    _, jnp, _ = _jax()
    rng = case_rng(ex)
    cases = []
    for i in range(30):
        mode = ("reflect", "replicate")[i % 2]
        h, w = int(rng.integers(2, 8)), int(rng.integers(2, 8))
        hi_h, hi_w = (h - 1, w - 1) if mode == "reflect" else (6, 6)
        pads = ((int(rng.integers(0, hi_h + 1)), int(rng.integers(0, hi_h + 1))),
                (int(rng.integers(0, hi_w + 1)), int(rng.integers(0, hi_w + 1))))
        if i < 2:  # asymmetric first, so that swapped sides are caught at once
            h, w = max(h, 3), max(w, 3)
            pads = ((2, 0), (0, 1)) if mode == "reflect" else ((3, 0), (0, 1))
        x = (rng.permutation(h * w) + 1).reshape(h, w).astype(float)
        cases.append(Case((x, pads, mode), show={"x": x, "pads": pads, "mode": mode},
                          x=x, pads=pads, mode=mode))
    np_mode = {"reflect": "reflect", "replicate": "edge"}
    refs = [("PyTorch (F.pad)",
             lambda c: F.pad(torch.from_numpy(c.x)[None, None],
                             (*c.pads[1], *c.pads[0]), mode=c.mode)[0, 0].numpy(), None, 0, 0),
            ("JAX (jnp.pad)",
             lambda c: np.asarray(jnp.pad(jnp.asarray(_f32(c.x)), c.pads, mode=np_mode[c.mode])), 6, 0, 0)]
    variants = [
        ("symmetric-not-reflect",
         lambda c: np.pad(c.x, c.pads, mode="symmetric") if c.mode == "reflect" else None),
        ("modes-swapped",
         lambda c: np.pad(c.x, c.pads, mode="edge" if c.mode == "reflect" else "reflect")),
        ("sides-swapped", lambda c: np.pad(c.x, [p[::-1] for p in c.pads], mode=np_mode[c.mode])),
        ("axes-swapped", lambda c: np.pad(c.x, c.pads[::-1], mode=np_mode[c.mode])),
        ("zeros", lambda c: np.pad(c.x, c.pads)),
        ("circular", lambda c: np.pad(c.x, c.pads, mode="wrap")),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random images, pads and modes match PyTorch F.pad and jnp.pad exactly." + tally)


@exercise("ex04-causal")
def check_causal_conv1d(fn):
    """fn(x, w, dilation): x (N, C_in, L), w (C_out, C_in, K) -> (N, C_out, L), causal."""
    ex = "ex04-causal"
    _probe(ex, fn, np.ones((1, 1, 6)), np.ones((1, 1, 3)), 2)
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    cases = []
    for i in range(20):
        n, ci, co = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        length, k, d = int(rng.integers(4, 17)), int(rng.integers(2, 5)), int(rng.integers(1, 5))
        if i == 0:
            k, d = 3, 2
        x, w = rng.normal(size=(n, ci, length)), rng.normal(size=(co, ci, k))
        cases.append(Case((x, w, d), show={"x": x, "w": w, "dilation": d}, x=x, w=w, d=d, k=k))
    def pair(c):
        return [(c.d * (c.k - 1), 0)]

    refs = [("PyTorch (F.pad on the left + F.conv1d)",
             lambda c: fw.torch_conv(c.x, c.w, padding=pair(c), dilation=c.d), None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated, padding [(d*(k-1), 0)])",
             lambda c: fw.jax_conv(_f32(c.x), _f32(c.w), padding=pair(c), dilation=c.d), 5, 1e-4, 1e-4)]
    variants = [
        ("same", lambda c: conv(c.x, c.w, padding="same", dilation=c.d)),
        ("right-side", lambda c: conv(c.x, c.w, padding=[(0, c.d * (c.k - 1))], dilation=c.d)),
        ("pad-ignores-dilation", lambda c: conv(c.x, c.w, padding=[(c.k - 1, 0)], dilation=c.d)),
        ("conv-ignores-dilation",
         lambda c: conv(c.x, c.w, padding=[(c.d * (c.k - 1), 0)])[..., :c.x.shape[-1]]),
        ("flipped", lambda c: conv(c.x, c.w[..., ::-1].copy(), padding=pair(c), dilation=c.d)),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random configurations match PyTorch (left F.pad) and JAX "
            f"(padding [(d*(k-1), 0)]); output length = input length." + tally)


@exercise("ex04-jax-padding")
def check_conv_with_padding(fn):
    """The JAX practice problem: fn(x, kernel, padding_mode) with 0.0 -> 'VALID', 1.0 -> 'SAME'."""
    ex = "ex04-jax-padding"
    _probe(ex, fn, np.arange(5.0, dtype=np.float32), np.ones(3, np.float32), 1.0)
    torch, F = _torch()
    _, jnp, lax = _jax()
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    specs = [(5, 3, 0.0), (5, 3, 1.0), (6, 2, 1.0), (4, 6, 0.0), (7, 4, 1.0), (4, 5, 0.0)]
    while len(specs) < 16:
        specs.append((int(rng.choice([4, 7, 10])), int(rng.integers(1, 7)), float(len(specs) % 2)))
    cases = []
    for i, (n, k, mode) in enumerate(specs):
        x, kern = rng.normal(size=n).astype(np.float32), rng.normal(size=k).astype(np.float32)
        m = mode if i % 2 else jnp.float32(mode)
        cases.append(Case((jnp.asarray(x), jnp.asarray(kern), m),
                          show={"len(x)": n, "len(kernel)": k, "padding_mode": mode},
                          x=x, k=kern, mode=mode))

    def pads(c, odd_at_end=True):
        if c.mode == 0.0:
            return (0, 0)
        total = len(c.k) - 1
        return (total // 2, total - total // 2) if odd_at_end else (total - total // 2, total // 2)

    def torch_ref(c):
        if c.mode == 0.0 and len(c.k) > len(c.x):  # PyTorch refuses; lax returns an empty array
            return np.asarray(lax.conv_general_dilated(c.x[None, None], c.k[None, None], (1,),
                                                       "VALID"))[0, 0]
        xt = F.pad(torch.from_numpy(c.x.astype(np.float64))[None, None], pads(c))
        return F.conv1d(xt, torch.from_numpy(c.k.astype(np.float64))[None, None])[0, 0].numpy()

    def lax_ref(c):
        return np.asarray(lax.conv_general_dilated(c.x[None, None], c.k[None, None], (1,),
                                                   "SAME" if c.mode else "VALID"))[0, 0]

    def with_pads(c, p, kern=None):
        kern = c.k if kern is None else kern
        total = len(c.x) + p[0] + p[1] - len(kern) + 1
        if total < 0:
            return np.zeros(0)
        return conv(c.x[None, None].astype(np.float64), kern[None, None].astype(np.float64),
                    padding=[p])[0, 0]

    refs = [("PyTorch (F.conv1d, SAME = F.pad(total//2, total - total//2))", torch_ref, None, 1e-4, 1e-4),
            ("JAX (lax.conv_general_dilated with the padding string)", lax_ref, 4, 1e-5, 1e-5)]
    variants = [
        ("modes-swapped", lambda c: with_pads(c, (0, 0) if c.mode else
                                              ((len(c.k) - 1) // 2, len(c.k) - 1 - (len(c.k) - 1) // 2))),
        ("flipped", lambda c: with_pads(c, pads(c), c.k[::-1].copy())),
        ("odd-zero-first", lambda c: with_pads(c, pads(c, odd_at_end=False))),
        ("symmetric", lambda c: with_pads(c, ((len(c.k) - 1) // 2,) * 2 if c.mode else (0, 0))),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} signals (odd and even kernels, K > L included) match PyTorch and lax; "
            f"note lax returns an EMPTY array for 'VALID' with K > L instead of raising." + tally)


@exercise("ex04-even-kernel")
def check_even_kernel(out_len_sym, pads_same_k4):
    """K=4 on a length-10 signal: symmetric floor((K-1)/2) padding vs what frameworks call 'same'."""
    ex = "ex04-even-kernel"
    torch, F = _torch()
    true_len = _torch_shape("Conv1d", (1, 1, 10), 1, 1, 4, padding=(4 - 1) // 2)[-1]
    _consistent(ex, _jax_conv_shape((1, 1, 10), (1, 1, 4), (1,), [(1, 1)])[-1] == true_len,
                "JAX and PyTorch output lengths")
    true_pads = _same_pads(10, 4, 1, 1)
    x, w = torch.randn(1, 1, 10, dtype=torch.float64), torch.randn(1, 1, 4, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same = torch.allclose(F.conv1d(x, w, padding="same"), F.conv1d(F.pad(x, true_pads), w))
    _consistent(ex, same, "PyTorch padding='same' vs lax 'SAME' pads")

    def length_part():
        _require_values(ex, out_len_sym=out_len_sym)
        if not _same_value(out_len_sym, true_len):
            hint = ("a common claim, and false for even K: run it." if _same_value(out_len_sym, 10)
                    else "apply the output-size formula with the symmetric padding per side.")
            raise _failure(ex, "out_len_sym does not match PyTorch and JAX", hint=hint)

    def pads_part():
        _require_values(ex, pads_same_k4=pads_same_k4)
        got = _as_shape(pads_same_k4)
        if got != true_pads:
            if got == true_pads[::-1]:
                hint = "right numbers, wrong sides: check on which side JAX and PyTorch put the odd zero."
            elif isinstance(got, tuple) and len(got) == 2 and got[0] == got[1]:
                hint = "K-1 zeros cannot be split evenly when K is even; 'same' is asymmetric then."
            else:
                hint = "the two numbers must add up to K - 1 so that the length stays the same."
            raise _failure(ex, "pads_same_k4 is not what lax 'SAME' / PyTorch padding='same' use",
                           hint=hint)

    _parts(ex, [("out_len_sym", length_part), ("pads_same_k4", pads_part)])
    _ok(ex, "agrees with PyTorch and JAX: symmetric padding loses a sample for K=4, 'same' pads "
            "asymmetrically.")
