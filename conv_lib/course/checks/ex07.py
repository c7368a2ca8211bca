"""Checks of the exercise notebook ex07: receptive field."""

import io
from contextlib import redirect_stdout

import numpy as np

from conv_lib.receptive import receptive_field

from ._harness import (
    _consistent, _torch, _jax, _ok, _failure, _require_values, _call, _parts, Case, _check_scalars,
    _same_value, case_rng, exercise, framework_seed, register)
from ._scratch import ARITHMETIC, Rule, _require_rule
from ._refs import _impulse_span, _torch_rf, _jax_rf, _layers3

RULES = {
    "ex07-receptive-field": ARITHMETIC,
    "ex07-wavenet": Rule("PyTorch is the tool here; no conv_lib: measure the field by "
                         "backpropagation through your model.", modules=("conv_lib",)),
}

_RF_FORMULA = "r = 1, jump = 1; per layer: r += d*(k-1)*jump; jump *= s"
EXERCISES = {
    "ex07-receptive-field": (
        "each layer widens the field by its dilated span minus one, measured in INPUT samples: "
        "multiplied by the product of the strides before it (the jump).", _RF_FORMULA),
    "ex07-stacked-3x3": (
        "stacked stride-1 layers add k-1 each to the field; parameters are counted per (input, "
        "output) channel pair.", "rf = 1 + sum(k_i - 1); params per channel pair = sum(k_i * k_i)"),
    "ex07-pooled": (
        "a pooling layer is a layer with its own kernel and stride; it multiplies the jump of every "
        "later layer.", _RF_FORMULA),
    "ex07-wavenet": (
        "a causal layer pads d*(k-1) zeros on the left only; the receptive field is measured by the "
        "inputs that get a non-zero gradient from the last output.",
        "layer i: F.pad(x, (2**i * (k-1), 0)) then nn.Conv1d(C, C, k, dilation=2**i); "
        "rf after n layers = 1 + (k-1)(2**n - 1)"),
}

_RF_MISTAKES = {
    "current-stride": ("uses the current layer's stride, no dilation",
                       "that is the recursion with the CURRENT layer's stride. The increment uses "
                       "the product of all PREVIOUS strides (the jump), and the dilation."),
    "current-stride-dilated": ("scales by the current layer's stride",
                               "you scaled by the current layer's stride; the increment uses the "
                               "product of the PREVIOUS strides (the jump)."),
    "no-jump": ("jump missing", "the jump is missing: after a stride-s layer, one step of the next "
                                "layer moves s input samples."),
    "no-dilation": ("dilation missing", "the dilation is missing: a dilated kernel spans more than "
                                        "k samples."),
    "jump-includes-current": ("jump includes this layer's stride",
                              "the jump you use already includes this layer's stride; use the "
                              "product of the strides BEFORE the layer (the PREVIOUS strides)."),
    "d-times-k": ("dilated span counted as d*k", "a dilated kernel has only k-1 gaps of d samples."),
}
DIAGNOSES = {f"{ex}/{slug}": entry for ex in ("ex07-receptive-field", "ex07-pooled")
             for slug, entry in _RF_MISTAKES.items()}
DIAGNOSES.update({
    "ex07-stacked-3x3/double-count": ("adds kernel sizes", "adding the kernel sizes double counts "
                                                           "the shared pixel; add k-1 per layer, "
                                                           "starting from 1."),
    "ex07-stacked-3x3/ratio-inverted": ("ratio inverted", "inverted: divide the two-3x3 count by "
                                                          "the single-kernel count."),
    "ex07-wavenet/not-causal": ("padding not all on the left", "all padding zeros must go on the "
                                                               "LEFT; zeros on the right let y[t] "
                                                               "see x[t+1], ..."),
    "ex07-wavenet/hard-coded": ("measure_rf does not measure", "measure_rf must measure the model "
                                                               "it is given: for each depth, "
                                                               "backpropagate from the LAST output "
                                                               "and count the inputs with a "
                                                               "non-zero gradient."),
})
register(EXERCISES, DIAGNOSES, RULES)


def _rf_variants():
    def run(increment):
        def f(c):
            rf, jump = 1, 1
            for k, s, d in c.layers3:
                rf += increment(k, s, d, jump)
                jump *= s
            return rf
        return f

    return [
        ("current-stride", run(lambda k, s, d, j: (k - 1) * s)),
        ("current-stride-dilated", run(lambda k, s, d, j: d * (k - 1) * s)),
        ("no-jump", run(lambda k, s, d, j: d * (k - 1))),
        ("no-dilation", run(lambda k, s, d, j: (k - 1) * j)),
        ("jump-includes-current", run(lambda k, s, d, j: d * (k - 1) * j * s)),
        ("d-times-k", run(lambda k, s, d, j: (d * k - 1) * j)),
    ]


@exercise("ex07-receptive-field")
def check_receptive_field(fn):
    """fn(layers) -> receptive field; layers are (k, s, d) or (k, s) tuples (pooling: d = 1)."""
    ex = "ex07-receptive-field"
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    stacks = [[(3, 1, 1)] * 3, [(2, 1, 2 ** i) for i in range(4)],
              [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1)], [(3, 2, 1), (3, 1, 2)]]
    while len(stacks) < 30:
        stack = []
        for _ in range(int(rng.integers(1, 6))):
            k, s, d = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
            stack.append((k, s) if rng.random() < 0.25 else (k, s, d))
        stacks.append(stack)
    cases = [Case((st,), show={"layers": st}, layers=st, layers3=_layers3(st)) for st in stacks]
    refs = [("PyTorch (impulse response of a stack of F.conv1d)", lambda c: _torch_rf(c.layers3), None),
            ("JAX (jax.grad through lax.conv_general_dilated)", lambda c: _jax_rf(c.layers3), 3),
            ("conv_lib.receptive_field", lambda c: receptive_field(c.layers), None)]
    tally = _check_scalars(ex, fn, cases, refs, _rf_variants())
    _ok(ex, f"{len(cases)} random stacks agree with impulse responses measured through PyTorch and "
            f"JAX convolutions." + tally)


@exercise("ex07-stacked-3x3")
def check_stacked_3x3(rf_two_3x3, equivalent_kernel, param_ratio, fewer_params):
    """Two stacked 3x3 convs vs one 5x5: receptive field, same-RF kernel, parameter ratio/difference."""
    ex = "ex07-stacked-3x3"
    torch, _ = _torch()
    rf = _torch_rf([(3, 1, 1)] * 2)
    _consistent(ex, rf == _jax_rf([(3, 1, 1)] * 2), "receptive fields measured in PyTorch and JAX")
    single = next((k for k in range(1, 20) if _torch_rf([(k, 1, 1)]) == rf), None)
    count = lambda k: sum(p.numel() for p in torch.nn.Conv2d(1, 1, k, bias=False).parameters())  # noqa: E731
    two, one = 2 * count(3), count(single)

    def rf_part():
        _require_values(ex, rf_two_3x3=rf_two_3x3)
        if not _same_value(rf_two_3x3, rf):
            doubled = _same_value(rf_two_3x3, 2 * 3)
            raise _failure(ex, "rf_two_3x3 does not match the impulse response through two 3x3 convs",
                           hint=DIAGNOSES[f"{ex}/double-count"][1] if doubled else
                           "each stride-1 layer widens the field by k-1 pixels.",
                           diagnosis=f"{ex}/double-count" if doubled else None)

    def kernel_part():
        _require_values(ex, equivalent_kernel=equivalent_kernel)
        if not _same_value(equivalent_kernel, single):
            raise _failure(ex, "equivalent_kernel is not the single kernel with the same receptive "
                               "field", hint="one stride-1 layer sees exactly k pixels per axis.")

    def ratio_part():
        _require_values(ex, param_ratio=param_ratio)
        if not isinstance(param_ratio, (int, float, np.floating)) or not np.isclose(param_ratio, two / one):
            inverted = isinstance(param_ratio, (int, float)) and np.isclose(param_ratio, one / two)
            raise _failure(ex, "param_ratio does not match the parameter counts of nn.Conv2d",
                           hint=DIAGNOSES[f"{ex}/ratio-inverted"][1] if inverted else
                           "count per (input, output) channel pair: k*k weights per layer.",
                           diagnosis=f"{ex}/ratio-inverted" if inverted else None)

    def fewer_part():
        _require_values(ex, fewer_params=fewer_params)
        if not _same_value(fewer_params, one - two):
            raise _failure(ex, "fewer_params does not match the parameter counts of nn.Conv2d",
                           hint="count the weights of each choice per (input, output) channel pair, "
                                "without bias, and subtract.")

    _parts(ex, [("rf_two_3x3", rf_part), ("equivalent_kernel", kernel_part),
                ("param_ratio", ratio_part), ("fewer_params", fewer_part)])
    _ok(ex, "receptive fields match impulse responses (PyTorch and JAX), parameter counts match "
            "nn.Conv2d.")


@exercise("ex07-pooled")
def check_pooled_rf(rf_pooled):
    """Quick check: conv3 s1, conv3 s1, pool2 s2, conv3 s1, conv3 s1."""
    ex = "ex07-pooled"
    _require_values(ex, rf_pooled=rf_pooled)
    layers = [(3, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1), (3, 1, 1)]
    torch, F = _torch()
    truth = _torch_rf(layers)
    _consistent(ex, truth == _jax_rf(layers) == receptive_field(layers),
                "receptive fields from PyTorch, JAX and conv_lib")
    # average pooling in PyTorch sees the same region as the equivalent all-ones conv
    x = torch.ones(1, 1, 40, dtype=torch.float64, requires_grad=True)
    ones3 = torch.ones(1, 1, 3, dtype=torch.float64)
    y = F.avg_pool1d(F.conv1d(F.conv1d(x, ones3), ones3), 2, 2)
    y = F.conv1d(F.conv1d(y, ones3), ones3)
    y[0, 0, 0].backward()
    first, last = _impulse_span(x.grad[0, 0].numpy())
    _consistent(ex, last - first + 1 == truth, "average pooling vs all-ones conv receptive field")
    if not _same_value(rf_pooled, truth):
        case = Case(layers3=layers)
        slug = next((slug for slug, f in _rf_variants() if _same_value(rf_pooled, f(case))), None)
        key = f"{ex}/{slug}" if slug else None
        raise _failure(ex, "rf_pooled does not match the impulse response through PyTorch "
                           "(conv, conv, avg_pool1d, conv, conv) and JAX",
                       hint=DIAGNOSES[key][1] if key else EXERCISES[ex][0], diagnosis=key)
    _ok(ex, "matches the impulse response through PyTorch (with avg_pool1d) and JAX.")


@exercise("ex07-wavenet")
def check_wavenet(model_cls, measure_rf):
    """The WaveNet challenge: a causal dilated stack (k=2, dilations 1..512) in PyTorch.

    model_cls(channels) -> nn.Module with forward(x, depth=None) (x: (N, channels, T), first
    ``depth`` layers only); measure_rf(model) prints and returns the receptive field after each layer.
    """
    ex = "ex07-wavenet"
    _require_rule(ex, {"WaveNetStack": model_cls, "measure_rf": measure_rf}, RULES[ex])
    torch, _ = _torch()
    rng = case_rng(ex)
    with torch.random.fork_rng():
        torch.manual_seed(framework_seed(rng))
        model = _call(ex, model_cls, 2)
    t_len = 1100
    gen = torch.Generator().manual_seed(framework_seed(rng))
    x = torch.randn(1, 2, t_len, generator=gen)
    with torch.no_grad():
        y = _call(ex, model, x)
    if tuple(y.shape) != (1, 2, t_len):
        short = t_len - y.shape[-1]
        hint = {1023: "no padding at all: each layer must first pad d*(k-1) zeros on the left.",
                1013: "the padding ignores the dilation: pad d*(k-1) = d zeros, not k-1 = 1."}.get(
                    short, "pad each layer by d*(k-1) on the left, so every layer keeps the length.")
        raise _failure(ex, "the output length differs from the input length",
                       config={"x": tuple(x.shape)},
                       details=[f"expected shape (1, 2, {t_len}), got {tuple(y.shape)}"], hint=hint)
    t0 = 700
    x2 = x.clone()
    x2[..., t0 + 1:] = torch.randn(1, 2, t_len - t0 - 1, generator=gen)
    with torch.no_grad():
        y2 = model(x2)
    if not torch.allclose(y[..., :t0 + 1], y2[..., :t0 + 1], atol=1e-6):
        bad = int(torch.nonzero((y[..., :t0 + 1] - y2[..., :t0 + 1]).abs().amax(1)[0] > 1e-6)[0])
        raise _failure(ex, "the stack is not causal: changing inputs after t = 700 changed outputs "
                           "at or before t = 700",
                       details=[f"first changed output: t = {bad}"],
                       hint=DIAGNOSES[f"{ex}/not-causal"][1], diagnosis=f"{ex}/not-causal")

    def measure(net, n_layers, channels):
        fields = []
        for depth in range(1, n_layers + 1):
            xg = torch.randn(1, channels, t_len, generator=gen, requires_grad=True)
            out = _call(ex, net, xg, depth, config={"depth": depth})
            out[0, :, -1].sum().backward()
            first, last = _impulse_span(xg.grad[0].abs().sum(0).numpy())
            fields.append(last - first + 1)
        return fields

    measured = measure(model, 10, 2)
    expected = [receptive_field([(2, 1, 2 ** i) for i in range(n)]) for n in range(1, 11)]
    if measured != expected:
        hint = ("the dilation does not double: layer i needs dilation 2**i."
                if measured == list(range(2, 12)) else
                "layer i (from 0) is nn.Conv1d(C, C, 2, dilation=2**i); forward(x, depth) must run "
                "only the first `depth` layers.")
        raise _failure(ex, "receptive fields measured by backpropagation through your model "
                           "(last output, first `depth` layers) are not 2, 4, ..., 1024",
                       details=[f"measured {measured}"], hint=hint)
    # measure_rf on the model above and on held-out stacks of another depth and width: a list
    # written down in advance cannot match them all
    channels, n_layers = int(rng.integers(1, 4)), int(rng.choice([3, 4, 5, 6, 7, 8]))
    with torch.random.fork_rng():
        torch.manual_seed(framework_seed(rng))
        other = _call(ex, model_cls, channels, n_layers=n_layers,
                      config={"channels": channels, "n_layers": n_layers})
    for net, truth, show in [(model, measured, {"channels": 2, "n_layers": 10}),
                             (other, measure(other, n_layers, channels),
                              {"channels": channels, "n_layers": n_layers})]:
        buf = io.StringIO()
        with redirect_stdout(buf):
            reported = _call(ex, measure_rf, net, config=show)
        if not buf.getvalue().strip():
            raise _failure(ex, "measure_rf printed nothing",
                           hint="print the receptive field after each layer (and return the list).")
        reported = [int(v) for v in reported] if isinstance(reported, (list, tuple)) else reported
        if reported != truth:
            raise _failure(ex, "measure_rf does not return what backpropagation through the model "
                               "shows", config=show, details=[f"expected {truth}, got {reported!r}"],
                           hint=DIAGNOSES[f"{ex}/hard-coded"][1], diagnosis=f"{ex}/hard-coded")
    # JAX: the same stack with the student's weights, causal padding written as lax pairs
    _, jnp, lax = _jax()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d)]
    yj = jnp.asarray(x.numpy())
    for m in convs:
        (k,), (d,) = m.kernel_size, m.dilation
        yj = lax.conv_general_dilated(yj, jnp.asarray(m.weight.detach().numpy()), (1,),
                                      [(d * (k - 1), 0)], rhs_dilation=(d,),
                                      precision=lax.Precision.HIGHEST)
        if m.bias is not None:
            yj = yj + jnp.asarray(m.bias.detach().numpy())[:, None]
    if len(convs) == 10 and not np.allclose(np.asarray(yj), y.numpy(), rtol=1e-3, atol=1e-4):
        raise _failure(ex, "your stack differs from the same causal stack rebuilt in JAX from your "
                           "weights", hint="keep the stack linear (no activations) and pad only "
                                           "on the left, by d*(k-1) per layer.")
    _ok(ex, "length preserved, causal, receptive field doubles 2 -> 1024 (measured by backprop), "
            f"measure_rf also right on a held-out {n_layers}-layer stack, and the same stack in JAX "
            "gives the same output.")
