"""Checks of the exercise notebook ex07: receptive field."""

import io
from contextlib import redirect_stdout

import numpy as np

from conv_lib.receptive import receptive_field

from ._harness import (
    _consistent, _torch, _jax, _ok, _failure, _require_values, _call, Case, _check_scalars, _same_value)
from ._refs import _impulse_span, _torch_rf, _jax_rf, _layers3


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
        ("that is the formula RF_n = RF_(n-1) + (k-1)*stride with the CURRENT layer's stride. The "
         "increment uses the product of all PREVIOUS strides (the jump), and the dilation.",
         run(lambda k, s, d, j: (k - 1) * s)),
        ("you scaled by the current layer's stride; the increment is d*(k-1) times the product "
         "of the strides BEFORE this layer (the jump).",
         run(lambda k, s, d, j: d * (k - 1) * s)),
        ("the jump is missing: after a stride-s layer, one step of the next layer moves s input "
         "samples, so later increments are multiplied by the product of earlier strides.",
         run(lambda k, s, d, j: d * (k - 1))),
        ("the dilation is missing: a dilated kernel spans d*(k-1)+1, so it adds d*(k-1) times "
         "the jump.", run(lambda k, s, d, j: (k - 1) * j)),
        ("the jump you use already includes this layer's stride; use the product of the strides "
         "BEFORE the layer.", run(lambda k, s, d, j: d * (k - 1) * j * s)),
        ("a dilated kernel adds d*(k-1), not d*k - 1... check the span d*(k-1)+1.",
         run(lambda k, s, d, j: (d * k - 1) * j)),
    ]


def check_receptive_field(fn):
    """fn(layers) -> receptive field; layers are (k, s, d) or (k, s) tuples (pooling: d = 1)."""
    ex = "ex07-receptive-field"
    rng = np.random.default_rng(701)
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
    tally = _check_scalars(ex, fn, cases, refs, _rf_variants(),
                           fallback_hint="r = 1, jump = 1; per layer: r += d*(k-1)*jump; jump *= s")
    _ok(ex, f"{len(cases)} random stacks agree with impulse responses measured through PyTorch and "
            f"JAX convolutions." + tally)


def check_stacked_3x3(rf_two_3x3, equivalent_kernel, param_ratio, fewer_params):
    """Two stacked 3x3 convs vs one 5x5: receptive field, same-RF kernel, parameter ratio/difference."""
    ex = "ex07-stacked-3x3"
    _require_values(ex, rf_two_3x3=rf_two_3x3, equivalent_kernel=equivalent_kernel,
                    param_ratio=param_ratio, fewer_params=fewer_params)
    torch, _ = _torch()
    rf = _torch_rf([(3, 1, 1)] * 2)
    _consistent(ex, rf == _jax_rf([(3, 1, 1)] * 2), "receptive fields measured in PyTorch and JAX")
    if not _same_value(rf_two_3x3, rf):
        raise _failure(ex, "rf_two_3x3 does not match the impulse response through two 3x3 convs",
                       hint="each stride-1 3x3 layer widens the field by k-1 = 2 pixels."
                            if not _same_value(rf_two_3x3, 6) else
                            "6 = 3 + 3 double counts the centre pixel; add k-1 per layer, from 1.")
    single = next((k for k in range(1, 20) if _torch_rf([(k, 1, 1)]) == rf), None)
    if not _same_value(equivalent_kernel, single):
        raise _failure(ex, "equivalent_kernel is not the single kernel with the same receptive field",
                       hint="one stride-1 layer sees exactly k pixels per axis.")
    count = lambda k: sum(p.numel() for p in torch.nn.Conv2d(1, 1, k, bias=False).parameters())  # noqa: E731
    two, one = 2 * count(3), count(single)
    if not isinstance(param_ratio, (int, float, np.floating)) or not np.isclose(param_ratio, two / one):
        hint = ("inverted: divide the two-3x3 count by the 5x5 count."
                if isinstance(param_ratio, (int, float)) and np.isclose(param_ratio, one / two) else
                "count per (input, output) channel pair: 3*3 weights per layer, two layers, vs 5*5.")
        raise _failure(ex, "param_ratio does not match the parameter counts of nn.Conv2d", hint=hint)
    if not _same_value(fewer_params, one - two):
        raise _failure(ex, "fewer_params does not match the parameter counts of nn.Conv2d",
                       hint="5*5 minus 2*(3*3), per channel pair, without bias.")
    _ok(ex, "receptive fields match impulse responses (PyTorch and JAX), parameter counts match "
            "nn.Conv2d.")


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
        hint = next((h for h, f in _rf_variants() if _same_value(rf_pooled, f(case))),
                    "r += d*(k-1)*jump per layer, where jump is the product of the strides BEFORE it; "
                    "the pool is a layer with k = 2, s = 2.")
        raise _failure(ex, "rf_pooled does not match the impulse response through PyTorch "
                           "(conv, conv, avg_pool1d, conv, conv) and JAX", hint=hint)
    _ok(ex, "matches the impulse response through PyTorch (with avg_pool1d) and JAX.")


def check_wavenet(model_cls, measure_rf):
    """The WaveNet challenge: a causal dilated stack (k=2, dilations 1..512) in PyTorch.

    model_cls(channels) -> nn.Module with forward(x, depth=None) (x: (N, channels, T), first
    ``depth`` layers only); measure_rf(model) prints and returns the receptive field after each layer.
    """
    ex = "ex07-wavenet"
    torch, _ = _torch()
    with torch.random.fork_rng():
        torch.manual_seed(7)
        model = _call(ex, model_cls, 2)
    t_len = 1100
    gen = torch.Generator().manual_seed(8)
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
                       hint="all d*(k-1) padding zeros must go on the LEFT (F.pad(x, (d*(k-1), 0)));"
                            " zeros on the right let y[t] see x[t+1], ...")
    measured = []
    for depth in range(1, 11):
        xg = torch.randn(1, 2, t_len, generator=gen, requires_grad=True)
        out = _call(ex, model, xg, depth, config={"depth": depth})
        out[0, :, -1].sum().backward()
        first, last = _impulse_span(xg.grad[0].abs().sum(0).numpy())
        measured.append(last - first + 1)
    expected = [receptive_field([(2, 1, 2 ** i) for i in range(n)]) for n in range(1, 11)]
    if measured != expected:
        hint = ("the dilation does not double: layer i needs dilation 2**i."
                if measured == list(range(2, 12)) else
                "layer i (from 0) is nn.Conv1d(C, C, 2, dilation=2**i); forward(x, depth) must run "
                "only the first `depth` layers.")
        raise _failure(ex, "receptive fields measured by backpropagation through your model "
                           "(last output, first `depth` layers) are not 2, 4, ..., 1024",
                       details=[f"measured {measured}"], hint=hint)
    buf = io.StringIO()
    with redirect_stdout(buf):
        reported = _call(ex, measure_rf, model)
    if not buf.getvalue().strip():
        raise _failure(ex, "measure_rf printed nothing",
                       hint="print the receptive field after each layer (and return the list).")
    reported = [int(v) for v in reported] if isinstance(reported, (list, tuple)) else reported
    if reported != measured:
        raise _failure(ex, "measure_rf does not return what backpropagation through the model shows",
                       details=[f"expected {measured}, got {reported!r}"],
                       hint="for each depth, backpropagate from the LAST output and count the inputs "
                            "with a non-zero gradient (from the first to the last).")
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
            "and the same stack in JAX gives the same output.")
