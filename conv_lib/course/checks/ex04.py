"""Checks of the exercise notebook ex04: padding."""

import warnings

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv

from ._harness import (
    _consistent, _torch, _jax, _ok, _failure, _require_values, _call, _probe, Case, _check_arrays, _same_value,
    _as_shape)
from ._scratch import (
    _code_names, _own_functions, _forbidden_uses, _require_from_scratch, _string_literals)
from ._refs import _f32, _torch_shape, _jax_conv_shape, _same_pads


def check_pad2d(fn):
    """fn(x, pads, mode): x (H, W), pads ((top, bottom), (left, right)), mode 'reflect' | 'replicate'."""
    ex = "ex04-reflect-replicate"
    _require_from_scratch(ex, fn)
    _probe(ex, fn, np.arange(12.0).reshape(3, 4), ((1, 1), (1, 1)), "reflect")
    torch, F = _torch()
    _, jnp, _ = _jax()
    rng = np.random.default_rng(401)
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
        ("your reflect repeats the edge value (that is NumPy's 'symmetric' mode). PyTorch's "
         "'reflect' mirrors around the edge sample WITHOUT repeating it: [a b c] -> b | a b c | b.",
         lambda c: np.pad(c.x, c.pads, mode="symmetric") if c.mode == "reflect" else None),
        ("reflect and replicate are swapped: 'replicate' copies the edge value outward, 'reflect' "
         "mirrors the interior.",
         lambda c: np.pad(c.x, c.pads, mode="edge" if c.mode == "reflect" else "reflect")),
        ("padding on the wrong side: pads[0] = (top, bottom), pads[1] = (left, right); the first "
         "number of each pair goes BEFORE the data.",
         lambda c: np.pad(c.x, [p[::-1] for p in c.pads], mode=np_mode[c.mode])),
        ("the axes are swapped: pads[0] applies to the rows (axis 0, height), pads[1] to the "
         "columns (axis 1, width).",
         lambda c: np.pad(c.x, c.pads[::-1], mode=np_mode[c.mode])),
        ("those are zeros: this exercise is about the 'reflect' and 'replicate' modes.",
         lambda c: np.pad(c.x, c.pads)),
        ("that is circular (wrap-around) padding.",
         lambda c: np.pad(c.x, c.pads, mode="wrap")),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random images, pads and modes match PyTorch F.pad and jnp.pad exactly." + tally)


def check_causal_conv1d(fn):
    """fn(x, w, dilation): x (N, C_in, L), w (C_out, C_in, K) -> (N, C_out, L), causal."""
    ex = "ex04-causal"
    rng = np.random.default_rng(402)
    cases = []
    for i in range(20):
        n, ci, co = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        length, k, d = int(rng.integers(4, 17)), int(rng.integers(2, 5)), int(rng.integers(1, 5))
        if i == 0:
            k, d = 3, 2
        x, w = rng.normal(size=(n, ci, length)), rng.normal(size=(co, ci, k))
        cases.append(Case((x, w, d), show={"x": x, "w": w, "dilation": d}, x=x, w=w, d=d, k=k))
    _call(ex, cases[0], fn, config=cases[0].show)
    if any("causal" in s for f in _own_functions(fn) for s in _string_literals(f)):
        raise _failure(ex, "your code passes the string 'causal' to a library",
                       hint="compute the (left, right) padding yourself; that is the exercise.")
    if _forbidden_uses(fn, allow=("conv_lib",)):
        raise _failure(ex, "use NumPy or conv_lib here (conv_lib.pad / conv_lib.conv with "
                           "explicit pairs), not PyTorch or JAX: those are what you are checked against")

    def pair(c):
        return [(c.d * (c.k - 1), 0)]

    refs = [("PyTorch (F.pad on the left + F.conv1d)",
             lambda c: fw.torch_conv(c.x, c.w, padding=pair(c), dilation=c.d), None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated, padding [(d*(k-1), 0)])",
             lambda c: fw.jax_conv(_f32(c.x), _f32(c.w), padding=pair(c), dilation=c.d), 5, 1e-4, 1e-4)]
    variants = [
        ("the output is 'same'-padded (zeros on both sides): position t then sees the future. "
         "Put ALL d*(k-1) zeros on the left.",
         lambda c: conv(c.x, c.w, padding="same", dilation=c.d)),
        ("padding on the wrong side: zeros on the RIGHT make y[t] depend on x[t+1], ... ",
         lambda c: conv(c.x, c.w, padding=[(0, c.d * (c.k - 1))], dilation=c.d)),
        ("the padding ignores the dilation: a dilated kernel spans d*(k-1)+1 samples, so the left "
         "pad must be d*(k-1) to keep the length.",
         lambda c: conv(c.x, c.w, padding=[(c.k - 1, 0)], dilation=c.d)),
        ("the convolution itself ignores the dilation (taps must be d apart).",
         lambda c: conv(c.x, c.w, padding=[(c.d * (c.k - 1), 0)])[..., :c.x.shape[-1]]),
        ("the kernel is flipped; conv layers do not flip.",
         lambda c: conv(c.x, c.w[..., ::-1].copy(), padding=pair(c), dilation=c.d)),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random configurations match PyTorch (left F.pad) and JAX "
            f"(padding [(d*(k-1), 0)]); output length = input length." + tally)


def check_conv_with_padding(fn):
    """The JAX practice problem: fn(x, kernel, padding_mode) with 0.0 -> 'VALID', 1.0 -> 'SAME'."""
    ex = "ex04-jax-padding"
    _probe(ex, fn, np.arange(5.0, dtype=np.float32), np.ones(3, np.float32), 1.0)
    torch, F = _torch()
    _, jnp, lax = _jax()
    rng = np.random.default_rng(403)
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
    _call(ex, cases[0], fn, config=cases[0].show)
    names = set().union(*(_code_names(f.__code__) for f in _own_functions(fn)))
    if "conv_general_dilated" not in names:
        raise _failure(ex, "the problem asks you to use lax.conv_general_dilated",
                       hint="reshape x to (1, 1, L) and the kernel to (1, 1, K), call "
                            "lax.conv_general_dilated with the padding string, reshape back.")

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
        ("the modes are swapped: 0.0 means 'VALID' (no padding), 1.0 means 'SAME'.",
         lambda c: with_pads(c, (0, 0) if c.mode else
                             ((len(c.k) - 1) // 2, len(c.k) - 1 - (len(c.k) - 1) // 2))),
        ("the kernel is flipped (jnp.convolve / np.convolve flip it); lax.conv_general_dilated "
         "does not.", lambda c: with_pads(c, pads(c), c.k[::-1].copy())),
        ("for even kernels the extra zero of 'SAME' goes at the END, not the front.",
         lambda c: with_pads(c, pads(c, odd_at_end=False))),
        ("'SAME' with floor((K-1)/2) zeros on both sides loses one sample for even K; use the "
         "padding string and let lax split the K-1 zeros (front gets the smaller half).",
         lambda c: with_pads(c, ((len(c.k) - 1) // 2,) * 2 if c.mode else (0, 0))),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          fallback_hint="'VALID': length L-K+1 (empty if K > L); 'SAME': length L, "
                                        "K-1 zeros split as (front, back) = ((K-1)//2, K-1 - (K-1)//2)")
    _ok(ex, f"{len(cases)} signals (odd and even kernels, K > L included) match PyTorch and lax; "
            f"note lax returns an EMPTY array for 'VALID' with K > L instead of raising." + tally)


def check_even_kernel(out_len_sym, pads_same_k4):
    """K=4 on a length-10 signal: symmetric floor((K-1)/2) padding vs what frameworks call 'same'."""
    ex = "ex04-even-kernel"
    _require_values(ex, out_len_sym=out_len_sym, pads_same_k4=pads_same_k4)
    torch, F = _torch()
    true_len = _torch_shape("Conv1d", (1, 1, 10), 1, 1, 4, padding=(4 - 1) // 2)[-1]
    _consistent(ex, _jax_conv_shape((1, 1, 10), (1, 1, 4), (1,), [(1, 1)])[-1] == true_len,
                "JAX and PyTorch output lengths")
    if not _same_value(out_len_sym, true_len):
        hint = ("that is the textbook's claim, and it is false for even K: run it."
                if _same_value(out_len_sym, 10) else "10 + 2*1 - 4 + 1")
        raise _failure(ex, "out_len_sym does not match PyTorch and JAX", hint=hint)
    true_pads = _same_pads(10, 4, 1, 1)
    x, w = torch.randn(1, 1, 10, dtype=torch.float64), torch.randn(1, 1, 4, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same = torch.allclose(F.conv1d(x, w, padding="same"), F.conv1d(F.pad(x, true_pads), w))
    _consistent(ex, same, "PyTorch padding='same' vs lax 'SAME' pads")
    got = _as_shape(pads_same_k4)
    if got != true_pads:
        if got == true_pads[::-1]:
            hint = "right numbers, wrong sides: JAX, TensorFlow and PyTorch put the extra zero at the END."
        elif isinstance(got, tuple) and len(got) == 2 and got[0] == got[1]:
            hint = "K-1 = 3 zeros cannot be split evenly; 'same' is asymmetric for even K."
        else:
            hint = "the two numbers must add up to K - 1 = 3 so that the length stays 10."
        raise _failure(ex, "pads_same_k4 is not what lax 'SAME' / PyTorch padding='same' use", hint=hint)
    _ok(ex, "agrees with PyTorch and JAX: symmetric padding loses a sample for K=4, 'same' pads "
            "asymmetrically.")
