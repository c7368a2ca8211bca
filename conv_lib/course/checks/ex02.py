"""Checks of the exercise notebook ex02: output shape."""

import warnings

import numpy as np

from ._harness import (
    _consistent, _torch, _jax, _ok, _failure, _require_values, _call, _parts, Case, _check_scalars,
    _same_value, _as_shape, _as_tuple, case_rng, exercise, register)
from ._scratch import ARITHMETIC, LIBRARIES, Rule, _require_rule
from ._refs import _f32, _torch_shape, _jax_conv_shape, _torch_rf, _jax_rf, _same_pads

RULES = {
    "ex02-torch-accepts": Rule("reason it out: no PyTorch, JAX or conv_lib in the answer (the check "
                               "runs PyTorch for you).", modules=LIBRARIES),
    "ex02-output-size": ARITHMETIC,
    "ex02-same-padding": ARITHMETIC,
}

EXERCISES = {
    "ex02-56x56": (
        "output size, receptive field and parameter count of one layer, with and without dilation.",
        "O = floor((I + 2P - D(K-1) - 1) / S) + 1; one layer sees D(K-1)+1 pixels per axis; "
        "dilation adds no weights"),
    "ex02-quick-checks": (
        "the output-size formula, and the per-side padding that keeps the size at stride 1.",
        "O = floor((I + 2P - K) / S) + 1; size kept at stride 1 when 2P = K - 1"),
    "ex02-explainer-examples": (
        "PyTorch's 'same' means output size == input size; other layers follow the output-size "
        "formula per spatial axis.",
        "(N, C_out, floor((H + 2P - D(K-1) - 1)/S) + 1, same for W); padding='same' needs stride 1"),
    "ex02-torch-accepts": (
        "PyTorch refuses 'same' with stride > 1, and any configuration with no room for one output.",
        "accepted iff (padding != 'same' or stride == 1) and n + 2p >= d*(k-1) + 1 (p = 0 for "
        "'valid'; 'same' always fits)"),
    "ex02-output-size": (
        "count the positions where the dilated kernel fits in the padded input, stepping by s.",
        "O = floor((n + 2p - d(k-1) - 1) / s) + 1"),
    "ex02-same-padding": (
        "'SAME' aims for ceil(n / s) outputs; compute the total padding that needs, then split it "
        "with the odd unit at the end.",
        "total = max((ceil(n/s) - 1)*s + d*(k-1) + 1 - n, 0); lo = total // 2; hi = total - lo"),
}

DIAGNOSES = {
    "ex02-56x56/d-times-k": ("dilated span counted as D*K",
                             "D*K overcounts: K taps spaced D apart have only K-1 gaps."),
    "ex02-quick-checks/ceil": ("rounded up", "you rounded up; the formula floors (the last partial "
                                             "window is dropped)."),
    "ex02-quick-checks/no-padding": ("padding forgotten", "the padding (on each side) is missing from "
                                                          "your computation."),
    "ex02-quick-checks/no-stride": ("stride forgotten", "the stride visits only every s-th position."),
    "ex02-quick-checks/total-padding": ("total instead of per-side padding",
                                        "that is the TOTAL padding; padding=P in PyTorch adds P on "
                                        "each side."),
    "ex02-explainer-examples/same-with-stride": (
        "believes 'same' works with stride > 1", "PyTorch defines 'same' as 'output size == input "
                                                 "size', which stride > 1 cannot give."),
    "ex02-torch-accepts/same-with-stride": (
        "accepts 'same' with stride > 1", "'same' in PyTorch means output length == input length, "
                                          "which no padding can achieve when stride > 1."),
    "ex02-torch-accepts/kernel-too-long": (
        "accepts a kernel longer than the padded input",
        "the (padded) input must be at least as long as the dilated kernel, otherwise there is not "
        "a single output position."),
    "ex02-torch-accepts/too-strict": (
        "rejects a valid configuration", "PyTorch runs this one fine: the kernel fits and nothing "
                                         "forbids the padding."),
    "ex02-output-size/ceil": ("rounds up instead of flooring",
                              "you rounded up: windows that would run past the end are dropped."),
    "ex02-output-size/no-dilation": ("dilation missing",
                                     "the dilation is missing: k taps spaced d apart span more than "
                                     "k samples."),
    "ex02-output-size/d-times-k": ("dilated span counted as d*k",
                                   "the effective kernel is not d*k: there are only k-1 gaps."),
    "ex02-output-size/one-sided-padding": ("padding on one side only",
                                           "padding is added on BOTH sides."),
    "ex02-output-size/no-plus-one": ("forgot + 1",
                                     "you forgot that the first window is already one output."),
    "ex02-output-size/stride-divides-all": (
        "divides the +1 by the stride", "the stride divides the distance the window can travel; the "
                                        "first window is added after dividing."),
    "ex02-same-padding/odd-unit-first": (
        "odd unit at the front", "the odd unit of padding is on the wrong side: JAX/TensorFlow put "
                                 "the extra one at the END."),
    "ex02-same-padding/symmetric": (
        "symmetric half-kernel padding", "symmetric padding of half the kernel on both sides is not "
                                         "'SAME' when the total is odd or the stride is > 1."),
    "ex02-same-padding/no-stride": ("stride ignored", "the stride is missing: 'SAME' aims for "
                                                      "ceil(n / s) outputs."),
    "ex02-same-padding/no-dilation": ("dilation ignored", "the dilation is missing: the kernel spans "
                                                          "d*(k-1)+1 samples."),
    "ex02-same-padding/negative": ("negative padding", "the total padding can come out negative for "
                                                       "large strides: clamp it at 0."),
}
register(EXERCISES, DIAGNOSES, RULES)


@exercise("ex02-56x56")
def check_56x56(out_plain, out_dilated, rf_plain, rf_dilated, extra_params):
    """Conv2d(64, 128, 5, padding=2) on 56x56, then dilation=2, padding=4: five independent parts."""
    ex = "ex02-56x56"
    torch, _ = _torch()
    true_plain = _torch_shape("Conv2d", (1, 64, 56, 56), 64, 128, 5, padding=2)[-1]
    true_dil = _torch_shape("Conv2d", (1, 64, 56, 56), 64, 128, 5, padding=4, dilation=2)[-1]
    _consistent(ex, _jax_conv_shape((1, 64, 56, 56), (128, 64, 5, 5), (1, 1), [(2, 2)] * 2)[-1]
                == true_plain, "JAX and PyTorch output sizes of the plain layer")
    _consistent(ex, _jax_conv_shape((1, 64, 56, 56), (128, 64, 5, 5), (1, 1), [(4, 4)] * 2,
                                    rhs_dilation=(2, 2))[-1] == true_dil,
                "JAX and PyTorch output sizes of the dilated layer")
    true_rf = _torch_rf([(5, 1, 1)]), _torch_rf([(5, 1, 2)])
    _consistent(ex, true_rf == (_jax_rf([(5, 1, 1)]), _jax_rf([(5, 1, 2)])),
                "receptive fields measured in PyTorch and JAX")
    counts = [sum(p.numel() for p in torch.nn.Conv2d(64, 128, 5, dilation=d, device="meta").parameters())
              for d in (1, 2)]
    size_formula = EXERCISES["ex02-output-size"][1]

    def size(name, got, true):
        def part():
            _require_values(ex, **{name: got})
            if not _same_value(got, true):
                raise _failure(ex, f"{name} is not what PyTorch and JAX produce",
                               hint="padding is added on BOTH sides and the kernel spans D(K-1)+1 "
                                    "pixels.", formula=size_formula)
        return part

    def rf_plain_part():
        _require_values(ex, rf_plain=rf_plain)
        if not _same_value(rf_plain, true_rf[0]):
            raise _failure(ex, "rf_plain is not right",
                           hint="one layer sees exactly the pixels its kernel covers along one axis.")

    def rf_dilated_part():
        _require_values(ex, rf_dilated=rf_dilated)
        if not _same_value(rf_dilated, true_rf[1]):
            overcount = _same_value(rf_dilated, 2 * 5)
            raise _failure(ex, "rf_dilated is not right (measured by backpropagating an impulse)",
                           hint=DIAGNOSES[f"{ex}/d-times-k"][1] if overcount else
                           "the taps are now spaced D apart, so their span is larger than K.",
                           diagnosis=f"{ex}/d-times-k" if overcount else None)

    def params_part():
        _require_values(ex, extra_params=extra_params)
        if not _same_value(extra_params, counts[1] - counts[0]):
            raise _failure(ex, "extra_params is not right",
                           hint="dilation spreads the same K x K weights apart; does it store new ones?")

    _parts(ex, [("out_plain", size("out_plain", out_plain, true_plain)),
                ("out_dilated", size("out_dilated", out_dilated, true_dil)),
                ("rf_plain", rf_plain_part), ("rf_dilated", rf_dilated_part),
                ("extra_params", params_part)])
    _ok(ex, "shapes agree with PyTorch and JAX, receptive fields with impulse responses, "
            "parameter counts with nn.Conv2d.")


@exercise("ex02-quick-checks")
def check_quick_shapes(out_224, pad_5x5):
    """Conv2d(64, 128, 3, padding=1, stride=2) on 224x224; the padding of a size-keeping 5x5."""
    ex = "ex02-quick-checks"
    torch, F = _torch()
    _, _, lax = _jax()
    true_224 = _torch_shape("Conv2d", (1, 64, 224, 224), 64, 128, 3, padding=1, stride=2)[-1]
    _consistent(ex, _jax_conv_shape((1, 64, 224, 224), (128, 64, 3, 3), (2, 2), [(1, 1)] * 2)[-1]
                == true_224, "JAX and PyTorch output sizes")

    def size_part():
        _require_values(ex, out_224=out_224)
        if not _same_value(out_224, true_224):
            slug = {true_224 + 1: "ceil", true_224 - 1: "no-padding", 224: "no-stride"}.get(
                out_224 if isinstance(out_224, (int, np.integer)) else None)
            raise _failure(ex, "out_224 does not match PyTorch and JAX",
                           hint=DIAGNOSES[f"{ex}/{slug}"][1] if slug else
                           "the output size is an integer: windows that do not fit are dropped.",
                           diagnosis=f"{ex}/{slug}" if slug else None,
                           formula=EXERCISES["ex02-output-size"][1])

    def pad_part():
        _require_values(ex, pad_5x5=pad_5x5)
        ok = isinstance(pad_5x5, (int, np.integer)) and not isinstance(pad_5x5, bool) and pad_5x5 >= 0
        if ok:
            for n in (7, 16, 33):
                x = torch.randn(1, 1, n, n, dtype=torch.float64)
                w = torch.randn(1, 1, 5, 5, dtype=torch.float64)
                y = F.conv2d(x, w, padding=int(pad_5x5))
                ok = ok and y.shape[-2:] == x.shape[-2:] and torch.allclose(y, F.conv2d(x, w, padding="same"))
            ok = ok and lax.padtype_to_pads((16,), (5,), (1,), "SAME") == [(int(pad_5x5),) * 2]
        if not ok:
            total = _same_value(pad_5x5, 4)
            raise _failure(ex, "pad_5x5 does not keep the size of a 5x5, stride-1 convolution",
                           hint=DIAGNOSES[f"{ex}/total-padding"][1] if total else
                           "the kernel removes K-1 pixels; padding adds 2P (both sides).",
                           diagnosis=f"{ex}/total-padding" if total else None)

    _parts(ex, [("out_224", size_part), ("pad_5x5", pad_part)])
    _ok(ex, "both answers agree with PyTorch and JAX (shape and 'same' padding).")


@exercise("ex02-explainer-examples")
def check_explainer_examples(shape1, example2_raises, shape2_fixed, shape3):
    """Three PyTorch layers applied one after another, run for real: four independent parts."""
    ex = "ex02-explainer-examples"
    torch, _ = _torch()
    true1 = _torch_shape("Conv2d", (1, 3, 64, 64), 3, 32, 3, stride=1, padding="same")
    try:
        torch.nn.Conv2d(32, 64, 5, stride=2, padding="same")
        raises = False
    except ValueError:
        raises = True
    true2 = _torch_shape("Conv2d", true1, 32, 64, 5, stride=2, padding=2)
    true3 = _torch_shape("Conv2d", true2, 64, 128, 3, padding="same", dilation=2)

    def shape_part(name, got, true, hint):
        def part():
            _require_values(ex, **{name: got})
            if _as_shape(got) != true:
                raise _failure(ex, f"{name} is not what PyTorch returns", hint=hint,
                               formula=EXERCISES["ex02-output-size"][1])
        return part

    def raises_part():
        _require_values(ex, example2_raises=example2_raises)
        if not isinstance(example2_raises, (bool, np.bool_)) or bool(example2_raises) != raises:
            raise _failure(ex, "example2_raises (True/False) is not what PyTorch does",
                           hint="build nn.Conv2d(32, 64, 5, stride=2, padding='same') and see: PyTorch "
                                "defines 'same' as 'output size == input size'.",
                           diagnosis=f"{ex}/same-with-stride")

    _parts(ex, [("shape1", shape_part("shape1", shape1, true1,
                                      "(N, C_out, H, W); 'same' at stride 1 keeps H and W.")),
                ("example2_raises", raises_part),
                ("shape2_fixed", shape_part("shape2_fixed", shape2_fixed, true2,
                                            "apply the output-size formula to each spatial axis; the "
                                            "channel axis holds out_channels.")),
                ("shape3", shape_part("shape3", shape3, true3,
                                      "'same' keeps the spatial size at stride 1, with or without "
                                      "dilation."))])
    _ok(ex, "all three predictions agree with PyTorch (including the ValueError of example 2).")


@exercise("ex02-torch-accepts")
def check_torch_accepts(fn):
    """fn(n, kernel_size, stride, padding, dilation) -> True iff nn.Conv1d accepts it on length n."""
    ex = "ex02-torch-accepts"
    _require_rule(ex, fn, RULES[ex])
    torch, _ = _torch()
    rng = case_rng(ex)
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
            slug = ("too-strict" if truth else
                    "same-with-stride" if p == "same" and s > 1 else "kernel-too-long")
            detail = ["PyTorch accepted this configuration" if truth else f"PyTorch raised {err}"]
            raise _failure(ex, f"case {i + 1} of {len(configs)}: your function says "
                               f"{bool(got)}", config=show, details=detail,
                           hint=DIAGNOSES[f"{ex}/{slug}"][1], diagnosis=f"{ex}/{slug}")
    _ok(ex, f"{len(configs)} configurations: your predictions agree with what PyTorch actually does.")


def _output_size_variants():
    def keff(c): return c.d * (c.k - 1) + 1
    return [
        ("ceil", lambda c: -(-(c.n + 2 * c.p - keff(c)) // c.s) + 1),
        ("no-dilation", lambda c: (c.n + 2 * c.p - c.k) // c.s + 1),
        ("d-times-k", lambda c: (c.n + 2 * c.p - c.d * c.k) // c.s + 1),
        ("one-sided-padding", lambda c: (c.n + c.p - keff(c)) // c.s + 1),
        ("no-plus-one", lambda c: (c.n + 2 * c.p - keff(c)) // c.s),
        ("stride-divides-all", lambda c: (c.n + 2 * c.p - keff(c) + 1) // c.s),
    ]


@exercise("ex02-output-size")
def check_output_size(fn):
    """fn(n, k, s, p, d) -> output length, from scratch; compared with PyTorch and JAX shapes."""
    ex = "ex02-output-size"
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
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
    tally = _check_scalars(ex, fn, cases, refs, _output_size_variants())
    _ok(ex, f"{len(cases)} random (n, k, s, p, d) agree with PyTorch and JAX output shapes." + tally)


@exercise("ex02-same-padding")
def check_same_padding(fn):
    """fn(n, k, s, d) -> (lo, hi) of JAX/TensorFlow 'SAME' padding, from scratch."""
    ex = "ex02-same-padding"
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    rng = case_rng(ex)
    cases = [Case((n, k, s, d), show={"n": n, "k": k, "s": s, "d": d}, n=n, k=k, s=s, d=d)
             for n, k, s, d in [(5, 2, 1, 1), (7, 4, 3, 1), (10, 3, 2, 2), (4, 5, 1, 1)]]
    while len(cases) < 40:
        n, k, s, d = (int(rng.integers(1, 21)), int(rng.integers(1, 7)), int(rng.integers(1, 5)),
                      int(rng.integers(1, 4)))
        cases.append(Case((n, k, s, d), show={"n": n, "k": k, "s": s, "d": d}, n=n, k=k, s=s, d=d))

    def total(c):
        return max((-(-c.n // c.s) - 1) * c.s + c.d * (c.k - 1) + 1 - c.n, 0)

    def unclamped(c):
        return (-(-c.n // c.s) - 1) * c.s + c.d * (c.k - 1) + 1 - c.n

    span = lambda c: c.d * (c.k - 1)  # noqa: E731
    variants = [
        ("odd-unit-first", lambda c: (total(c) - total(c) // 2, total(c) // 2)),
        ("symmetric", lambda c: (span(c) // 2,) * 2),
        ("no-stride", lambda c: (span(c) // 2, span(c) - span(c) // 2)),
        ("no-dilation", lambda c: _same_pads(c.n, c.k, c.s, 1)),
        ("negative", lambda c: (unclamped(c) // 2, unclamped(c) - unclamped(c) // 2)),
    ]
    refs = [("JAX (lax.padtype_to_pads 'SAME')", lambda c: _same_pads(c.n, c.k, c.s, c.d), None)]
    tally = _check_scalars(ex, fn, cases, refs, variants, normalise=_as_tuple)
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
