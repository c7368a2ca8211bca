"""Checks of the exercise notebook ex02: output shape."""

import warnings

import numpy as np

from ._harness import (
    _consistent, _torch, _jax, _ok, _failure, _require_values, _call, Case, _check_scalars, _same_value,
    _as_shape, _as_tuple)
from ._scratch import _require_from_scratch
from ._refs import _f32, _torch_shape, _jax_conv_shape, _torch_rf, _jax_rf, _same_pads


def check_56x56(out_plain, out_dilated, rf_plain, rf_dilated, extra_params):
    """Textbook exercises 1-2: Conv2d(64, 128, 5, padding=2) on 56x56, then dilation=2, padding=4."""
    ex = "ex02-56x56"
    _require_values(ex, out_plain=out_plain, out_dilated=out_dilated, rf_plain=rf_plain,
                    rf_dilated=rf_dilated, extra_params=extra_params)
    torch, _ = _torch()
    true_plain = _torch_shape("Conv2d", (1, 64, 56, 56), 64, 128, 5, padding=2)[-1]
    true_dil = _torch_shape("Conv2d", (1, 64, 56, 56), 64, 128, 5, padding=4, dilation=2)[-1]
    _consistent(ex, _jax_conv_shape((1, 64, 56, 56), (128, 64, 5, 5), (1, 1), [(2, 2)] * 2)[-1]
                == true_plain, "JAX and PyTorch output sizes of the plain layer")
    _consistent(ex, _jax_conv_shape((1, 64, 56, 56), (128, 64, 5, 5), (1, 1), [(4, 4)] * 2,
                                    rhs_dilation=(2, 2))[-1] == true_dil,
                "JAX and PyTorch output sizes of the dilated layer")
    for name, got, true in (("out_plain", out_plain, true_plain), ("out_dilated", out_dilated, true_dil)):
        if not _same_value(got, true):
            raise _failure(ex, f"{name} is not what PyTorch and JAX produce",
                           hint="O = floor((I + 2P - D(K-1) - 1) / S) + 1, with P added on BOTH sides "
                                "and the kernel spanning D(K-1)+1 pixels.")
    true_rf = _torch_rf([(5, 1, 1)]), _torch_rf([(5, 1, 2)])
    _consistent(ex, true_rf == (_jax_rf([(5, 1, 1)]), _jax_rf([(5, 1, 2)])),
                "receptive fields measured in PyTorch and JAX")
    if not _same_value(rf_plain, true_rf[0]):
        raise _failure(ex, "rf_plain is not right",
                       hint="one layer sees exactly the pixels its kernel covers along one axis.")
    if not _same_value(rf_dilated, true_rf[1]):
        hint = ("D*K overcounts: 5 taps spaced 2 apart span D(K-1)+1 pixels."
                if _same_value(rf_dilated, 10) else
                "the 5 taps are now spaced D=2 apart, so their span is larger than 5.")
        raise _failure(ex, "rf_dilated is not right (measured by backpropagating an impulse)", hint=hint)
    counts = [sum(p.numel() for p in torch.nn.Conv2d(64, 128, 5, dilation=d, device="meta").parameters())
              for d in (1, 2)]
    if not _same_value(extra_params, counts[1] - counts[0]):
        raise _failure(ex, "extra_params is not right",
                       hint="dilation spreads the same K x K weights apart; does it store new ones?")
    _ok(ex, "shapes agree with PyTorch and JAX, receptive fields with impulse responses, "
            "parameter counts with nn.Conv2d.")


def check_quick_shapes(out_224, pad_5x5):
    """Quick checks: Conv2d(64, 128, 3, padding=1, stride=2) on 224x224; padding for a size-keeping 5x5."""
    ex = "ex02-quick-checks"
    _require_values(ex, out_224=out_224, pad_5x5=pad_5x5)
    torch, F = _torch()
    _, _, lax = _jax()
    true_224 = _torch_shape("Conv2d", (1, 64, 224, 224), 64, 128, 3, padding=1, stride=2)[-1]
    _consistent(ex, _jax_conv_shape((1, 64, 224, 224), (128, 64, 3, 3), (2, 2), [(1, 1)] * 2)[-1]
                == true_224, "JAX and PyTorch output sizes")
    if not _same_value(out_224, true_224):
        hints = {113: "you rounded up; the formula floors (the last half window is dropped).",
                 111: "the padding (1 on each side) is missing from your computation.",
                 224: "stride 2 visits every other position.",
                 112.5: "the output size is an integer: floor((I + 2P - K) / S) + 1."}
        raise _failure(ex, "out_224 does not match PyTorch and JAX",
                       hint=hints.get(out_224 if isinstance(out_224, (int, float)) else None,
                                      "O = floor((I + 2P - K) / S) + 1"))
    ok = isinstance(pad_5x5, (int, np.integer)) and not isinstance(pad_5x5, bool) and pad_5x5 >= 0
    if ok:
        for n in (7, 16, 33):
            x = torch.randn(1, 1, n, n, dtype=torch.float64)
            w = torch.randn(1, 1, 5, 5, dtype=torch.float64)
            y = F.conv2d(x, w, padding=int(pad_5x5))
            ok = ok and y.shape[-2:] == x.shape[-2:] and torch.allclose(y, F.conv2d(x, w, padding="same"))
        ok = ok and lax.padtype_to_pads((16,), (5,), (1,), "SAME") == [(int(pad_5x5),) * 2]
    if not ok:
        raise _failure(ex, "pad_5x5 does not keep the size of a 5x5, stride-1 convolution",
                       hint=("that is the TOTAL padding; padding=P in PyTorch adds P on each side."
                             if _same_value(pad_5x5, 4) else
                             "the kernel removes K-1 pixels; padding adds 2P (both sides)."))
    _ok(ex, "both answers agree with PyTorch and JAX (shape and 'same' padding).")


def check_explainer_examples(shape1, example2_raises, shape2_fixed, shape3):
    """The PyTorch explainer's three examples, run for real."""
    ex = "ex02-explainer-examples"
    _require_values(ex, shape1=shape1, example2_raises=example2_raises, shape2_fixed=shape2_fixed,
                    shape3=shape3)
    torch, _ = _torch()
    true1 = _torch_shape("Conv2d", (1, 3, 64, 64), 3, 32, 3, stride=1, padding="same")
    if _as_shape(shape1) != true1:
        raise _failure(ex, "shape1 is not what PyTorch returns",
                       hint="(N, C_out, H, W); 'same' at stride 1 keeps H and W.")
    try:
        torch.nn.Conv2d(32, 64, 5, stride=2, padding="same")
        raises = False
    except ValueError:
        raises = True
    if not isinstance(example2_raises, (bool, np.bool_)) or bool(example2_raises) != raises:
        raise _failure(ex, "example2_raises (True/False) is not what PyTorch does",
                       hint="build nn.Conv2d(32, 64, 5, stride=2, padding='same') and see: PyTorch "
                            "defines 'same' as 'output size == input size'.")
    true2 = _torch_shape("Conv2d", true1, 32, 64, 5, stride=2, padding=2)
    if _as_shape(shape2_fixed) != true2:
        raise _failure(ex, "shape2_fixed is not what PyTorch returns",
                       hint="floor((64 + 2*2 - 5) / 2) + 1 for each spatial axis; 64 channels out.")
    true3 = _torch_shape("Conv2d", true2, 64, 128, 3, padding="same", dilation=2)
    if _as_shape(shape3) != true3:
        raise _failure(ex, "shape3 is not what PyTorch returns",
                       hint="'same' keeps the spatial size at stride 1, with or without dilation.")
    _ok(ex, "all three predictions agree with PyTorch (including the ValueError of example 2).")


def check_torch_accepts(fn):
    """fn(n, kernel_size, stride, padding, dilation) -> True iff nn.Conv1d accepts it on length n."""
    ex = "ex02-torch-accepts"
    torch, _ = _torch()
    rng = np.random.default_rng(202)
    configs = [(8, 3, 2, "same", 1), (8, 3, 1, "same", 1), (5, 4, 1, "same", 2), (8, 4, 2, "valid", 1),
               (3, 5, 1, 0, 1), (3, 5, 1, 1, 1), (4, 3, 1, 0, 2), (2, 5, 1, "same", 1)]
    while len(configs) < 40:
        configs.append((int(rng.integers(1, 9)), int(rng.integers(1, 6)), int(rng.integers(1, 4)),
                        [0, 1, 2, "same", "valid"][int(rng.integers(0, 5))], int(rng.integers(1, 3))))
    for i, (n, k, s, p, d) in enumerate(configs):
        show = {"input length": n, "kernel_size": k, "stride": s, "padding": p, "dilation": d}
        try:
            torch.nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d)(torch.zeros(1, 1, n))
            truth, err = True, None
        except (ValueError, RuntimeError) as exc:
            truth, err = False, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        got = _call(ex, fn, n, k, s, p, d, config=show)
        if not isinstance(got, (bool, np.bool_)):
            raise _failure(ex, f"return True or False, got {got!r}", config=show)
        if bool(got) != truth:
            if truth:
                hint = "PyTorch runs this one fine: the kernel fits and nothing forbids the padding."
                detail = ["PyTorch accepted this configuration"]
            elif p == "same" and s > 1:
                hint = ("'same' in PyTorch means output length == input length, which no padding "
                        "can achieve when stride > 1, so PyTorch refuses it.")
                detail = [f"PyTorch raised {err}"]
            else:
                hint = ("the (padded) input must be at least as long as the dilated kernel "
                        "d*(k-1)+1, otherwise there is not a single output position.")
                detail = [f"PyTorch raised {err}"]
            raise _failure(ex, f"case {i + 1} of {len(configs)}: your function says "
                               f"{bool(got)}", config=show, details=detail, hint=hint)
    _ok(ex, f"{len(configs)} configurations: your predictions agree with what PyTorch actually does.")


def _output_size_variants():
    def keff(c): return c.d * (c.k - 1) + 1
    return [
        ("you rounded up: the formula floors, i.e. windows that would run past the end are dropped "
         "(use // on the numerator, then + 1).",
         lambda c: -(-(c.n + 2 * c.p - keff(c)) // c.s) + 1),
        ("the dilation is missing: a kernel of k taps spaced d apart spans d*(k-1)+1 samples.",
         lambda c: (c.n + 2 * c.p - c.k) // c.s + 1),
        ("the effective kernel is d*(k-1)+1, not d*k.",
         lambda c: (c.n + 2 * c.p - c.d * c.k) // c.s + 1),
        ("padding is added on BOTH sides: n + 2p.",
         lambda c: (c.n + c.p - keff(c)) // c.s + 1),
        ("you forgot the + 1 (the first window is already one output).",
         lambda c: (c.n + 2 * c.p - keff(c)) // c.s),
        ("the stride divides (n + 2p - k_eff) only, then you add 1 — not (n + 2p - k_eff + 1) / s.",
         lambda c: (c.n + 2 * c.p - keff(c) + 1) // c.s),
    ]


def check_output_size(fn):
    """fn(n, k, s, p, d) -> output length, from scratch; compared with PyTorch and JAX shapes."""
    ex = "ex02-output-size"
    _require_from_scratch(ex, fn, what="integer arithmetic")
    rng = np.random.default_rng(203)
    cases = []
    while len(cases) < 40:
        n, k, s, p, d = (int(rng.integers(1, 41)), int(rng.integers(1, 8)), int(rng.integers(1, 5)),
                         int(rng.integers(0, 4)), int(rng.integers(1, 4)))
        if n + 2 * p >= d * (k - 1) + 1:
            cases.append(Case((n, k, s, p, d), show={"n": n, "k": k, "s": s, "p": p, "d": d},
                              n=n, k=k, s=s, p=p, d=d))
    refs = [("PyTorch (nn.Conv1d output shape)",
             lambda c: _torch_shape("Conv1d", (1, 1, c.n), 1, 1, c.k, stride=c.s, padding=c.p,
                                    dilation=c.d)[-1], None),
            ("JAX (lax.conv_general_dilated output shape)",
             lambda c: _jax_conv_shape((1, 1, c.n), (1, 1, c.k), (c.s,), [(c.p, c.p)],
                                       rhs_dilation=(c.d,))[-1], None)]
    tally = _check_scalars(ex, fn, cases, refs, _output_size_variants(),
                           fallback_hint="O = floor((n + 2p - d(k-1) - 1) / s) + 1")
    _ok(ex, f"{len(cases)} random (n, k, s, p, d) agree with PyTorch and JAX output shapes." + tally)


def check_same_padding(fn):
    """fn(n, k, s, d) -> (lo, hi) of JAX/TensorFlow 'SAME' padding, from scratch."""
    ex = "ex02-same-padding"
    _require_from_scratch(ex, fn, what="integer arithmetic")
    torch, F = _torch()
    rng = np.random.default_rng(204)
    cases = [Case((n, k, s, d), show={"n": n, "k": k, "s": s, "d": d}, n=n, k=k, s=s, d=d)
             for n, k, s, d in [(5, 2, 1, 1), (7, 4, 3, 1), (10, 3, 2, 2), (4, 5, 1, 1)]]
    while len(cases) < 40:
        n, k, s, d = (int(rng.integers(1, 21)), int(rng.integers(1, 7)), int(rng.integers(1, 5)),
                      int(rng.integers(1, 4)))
        cases.append(Case((n, k, s, d), show={"n": n, "k": k, "s": s, "d": d}, n=n, k=k, s=s, d=d))

    def total(c):
        return max((-(-c.n // c.s) - 1) * c.s + c.d * (c.k - 1) + 1 - c.n, 0)

    variants = [
        ("the odd unit of padding is on the wrong side: JAX/TensorFlow put the extra one at the "
         "END (lo = total // 2, hi = total - lo).",
         lambda c: (total(c) - total(c) // 2, total(c) // 2)),
        ("symmetric floor((k_eff-1)/2) on both sides (the textbook recipe) is not 'SAME' when the "
         "total padding is odd or the stride is > 1: compute the total first, then split it.",
         lambda c: ((c.d * (c.k - 1)) // 2,) * 2),
        ("the stride is missing: 'SAME' aims for ceil(n / s) outputs, so the total padding is "
         "(ceil(n/s) - 1)*s + k_eff - n (never negative).",
         lambda c: ((c.d * (c.k - 1)) // 2, c.d * (c.k - 1) - (c.d * (c.k - 1)) // 2)),
        ("the dilation is missing: the kernel spans k_eff = d*(k-1)+1 samples.",
         lambda c: _same_pads(c.n, c.k, c.s, 1)),
        ("the total padding can come out negative for large strides: clamp it at 0.",
         lambda c: (((-(-c.n // c.s) - 1) * c.s + c.d * (c.k - 1) + 1 - c.n) // 2,
                    ((-(-c.n // c.s) - 1) * c.s + c.d * (c.k - 1) + 1 - c.n)
                    - ((-(-c.n // c.s) - 1) * c.s + c.d * (c.k - 1) + 1 - c.n) // 2)),
    ]
    refs = [("JAX (lax.padtype_to_pads 'SAME')", lambda c: _same_pads(c.n, c.k, c.s, c.d), None)]
    tally = _check_scalars(ex, fn, cases, refs, variants, normalise=_as_tuple,
                           fallback_hint="total = max((ceil(n/s) - 1)*s + d*(k-1) + 1 - n, 0); "
                                         "lo = total // 2; hi = total - lo")
    # the pads must also reproduce the convolutions themselves
    _, _, lax = _jax()
    n_torch = n_jax = 0
    for c in cases:
        lo, hi = tuple(int(v) for v in fn(c.n, c.k, c.s, c.d))
        x, w = rng.normal(size=(1, 1, c.n)), rng.normal(size=(1, 1, c.k))
        if c.s == 1:
            xt, wt = torch.from_numpy(x), torch.from_numpy(w)
            with warnings.catch_warnings():  # even kernels: PyTorch warns about an extra copy
                warnings.simplefilter("ignore")
                a = F.conv1d(xt, wt, padding="same", dilation=c.d)
            _consistent(ex, torch.allclose(a, F.conv1d(F.pad(xt, (lo, hi)), wt, dilation=c.d)),
                        "PyTorch padding='same' vs the verified (lo, hi) pads")
            n_torch += 1
        if n_jax < 5:
            a = lax.conv_general_dilated(_f32(x), _f32(w), (c.s,), "SAME", rhs_dilation=(c.d,))
            b = lax.conv_general_dilated(_f32(x), _f32(w), (c.s,), [(lo, hi)], rhs_dilation=(c.d,))
            _consistent(ex, np.allclose(a, b, atol=1e-5), "lax 'SAME' vs the verified (lo, hi) pads")
            n_jax += 1
    _ok(ex, f"{len(cases)} configurations agree with lax 'SAME' padding; the pads reproduce "
            f"PyTorch padding='same' ({n_torch} stride-1 cases) and lax 'SAME' outputs ({n_jax})." + tally)
