"""Golden cases for the JavaScript playgrounds, computed by conv_lib.

    python -m tests.golden            write tests/js/golden.json
    python -m tests.golden --check    exit 1 if tests/js/golden.json differs from a fresh run

The widgets in conv_lib/course/static/ compute shapes, padded grids, outputs and receptive fields in the
browser. The Node tests (``node --test tests/js/``) compare those functions, case by case, with the
numbers below, which come from conv_lib only. Every case is either an expected result or the kind of
error conv_lib raises (classified from its message; an unknown message stops the generation, so a
reworded error cannot silently turn into a wrong expectation).

Inputs and weights are small integers, so every sum is exact in float64 and the comparison is exact.
"""
import argparse
import itertools
import json
import pathlib
import re
import sys

import numpy as np

from conv_lib import ArgumentError, conv, output_size, receptive_field, receptive_field_table, input_region, resolve_padding
from conv_lib.padding import pad, source_index
from conv_lib.course.widgets import KERNEL_NAMES, LIMITS, SCHEDULES, demo_input, demo_kernel

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "tests" / "js" / "golden.json"

# conv_lib's typed errors carry the rule they broke (err.kind) and the spatial dim (err.axis);
# the JavaScript (conv_lib/course/static/src/core.mjs) uses the same kind names.
JS_ERROR_KINDS = {"kernel_too_large", "reflect_pad_too_large", "circular_pad_too_large",
                  "string_with_input_dilation", "causal_not_1d", "bad_padding_string",
                  "bad_padding_mode", "out_of_range"}


def error_kind(err):
    """(kind, axis) of a conv_lib argument error, read from its attributes."""
    if not isinstance(err, ArgumentError) or err.kind not in JS_ERROR_KINDS:
        raise RuntimeError(f"golden: unclassified conv_lib error (no widget models it): "
                           f"{type(err).__name__}: {err}")
    return err.kind, err.axis


def _ints(a):
    return np.asarray(a).astype(int).tolist()


def _exact(a):
    """Integer-valued float results as ints (they are exact; JSON stays short)."""
    a = np.asarray(a)
    assert np.array_equal(a, np.round(a)), "golden data must be integer-valued"
    return _ints(np.round(a))


def conv2d_cases():
    """2-D single-channel convolutions over every padding mode and knob, valid and invalid."""
    rng = np.random.default_rng(0)
    in_sizes = [(5, 5), (4, 6), (3, 2), (6, 4), (1, 3)]
    kernels = [(3, 3), (2, 2), (2, 3), (1, 1), (4, 3)]
    knobs = [  # (stride, dilation, input_dilation)
        (1, 1, 1), (2, 1, 1), ((1, 2), 1, 1), (1, 2, 1), (3, (2, 1), 1), (1, 1, 2),
        (2, 1, (1, 3)), (2, 2, 2), (1, 3, 1), (3, 1, 1),
    ]
    paddings = [0, 1, 2, (1, 0), ((0, 2), (3, 1)), ((2, 0), (0, 1)), ((4, 4), (0, 0)), ((0, 0), (5, 6)),
                "same", "valid", "full", "causal", "SaMe"]
    cases = []
    for mode, (ki, kernel), (pi, padding) in itertools.product(
            ("zeros", "reflect", "replicate", "circular"), enumerate(kernels), enumerate(paddings)):
        for kn, (stride, dilation, in_dil) in enumerate(knobs):
            if (ki + pi + kn) % 3:       # a deterministic third of the grid keeps the file small
                continue
            shape = in_sizes[(ki + 2 * pi + kn) % len(in_sizes)]
            x = rng.integers(-4, 6, size=shape)
            w = rng.integers(-2, 3, size=kernel)
            kwargs = dict(stride=stride, padding=padding, dilation=dilation, input_dilation=in_dil,
                          padding_mode=mode)
            case = {"x": _ints(x), "w": _ints(w),
                    "options": {"stride": _jsonable(stride), "padding": _jsonable(padding),
                                "dilation": _jsonable(dilation), "inputDilation": _jsonable(in_dil),
                                "paddingMode": mode}}
            try:
                y = conv(x[None, None].astype(float), w[None, None].astype(float), **kwargs)[0, 0]
                pairs = resolve_padding(padding, shape, kernel, stride, dilation, in_dil)
                case["expected"] = {"output": _exact(y), "pads": [list(p) for p in pairs],
                                    "shape": list(y.shape)}
            except ValueError as err:
                kind, axis = error_kind(err)
                case["error"] = {"kind": kind, "axis": axis}
            cases.append(case)
    return cases


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def conv1d_cases():
    """1-D convolutions, including 'causal' (defined only in 1-D)."""
    rng = np.random.default_rng(1)
    cases = []
    for n, k, s, d, padding, mode in itertools.product(
            (1, 4, 7), (1, 2, 3), (1, 2), (1, 3), (0, (2, 1), "causal", "same", "full"),
            ("zeros", "reflect", "circular")):
        x = rng.integers(-3, 5, size=n)
        w = rng.integers(-2, 3, size=k)
        case = {"x": _ints(x), "w": _ints(w),
                "options": {"stride": s, "dilation": d, "padding": _jsonable(padding), "paddingMode": mode}}
        try:
            y = conv(x[None, None].astype(float), w[None, None].astype(float), stride=s, dilation=d,
                     padding=padding if isinstance(padding, (int, str)) else [padding], padding_mode=mode)
            case["expected"] = _exact(y[0, 0])
        except ValueError as err:
            case["error"] = {"kind": error_kind(err)[0]}
        cases.append(case)
    return cases


def output_size_cases():
    """Rows [n, k, stride, dilation, input_dilation, padding, expected size or error kind]."""
    rows = []
    for n, k, s, d, di, padding in itertools.product(
            (1, 2, 5, 8), (1, 2, 3, 4), (1, 2, 3), (1, 2, 3), (1, 2),
            (0, 1, 3, (0, 2), (3, 1), "same", "valid", "full", "causal")):
        try:
            result = output_size(n, k, stride=s, padding=padding, dilation=d, input_dilation=di)
        except ValueError as err:
            result = error_kind(err)[0]
        rows.append([n, k, s, d, di, _jsonable(padding), result])
    return rows


def pad_cases():
    """Where each padded position reads from, and whether conv_lib.pad accepts the padding."""
    cases = []
    for n, lo, hi, mode in itertools.product((1, 2, 3, 5), (0, 1, 2, 4, 5, 6), (0, 1, 3, 5),
                                             ("zeros", "reflect", "replicate", "circular")):
        case = {"n": n, "lo": lo, "hi": hi, "mode": mode}
        try:
            values = pad(np.arange(1.0, n + 1), [(lo, hi)], mode)  # sample i holds i + 1; zeros -> 0
            case["sources"] = [int(v) - 1 for v in values]
            assert case["sources"] == source_index(n, lo, hi, mode).tolist()
        except ValueError as err:
            case["error"] = error_kind(err)[0]
        cases.append(case)
    return cases


def receptive_cases():
    stacks = {
        "three 3x3": [(3, 1, 1, 1)] * 3,
        "two convs, pool, two convs": [(3, 1, 1, 1), (3, 1, 1, 1), (2, 2, 1, 0), (3, 1, 1, 1), (3, 1, 1, 1)],
        "resnet stem": [(7, 2, 1, 3), (3, 2, 1, 1), (3, 1, 1, 1), (3, 1, 1, 1)],
        "wavenet k=2": [(2, 1, 2 ** i, 2 ** i) for i in range(10)],
        "strided dilated": [(3, 2, 2, 2), (5, 3, 1, 0), (2, 1, 4, 4), (4, 2, 3, 1)],
        "pool first": [(3, 3, 1, 0), (3, 1, 2, 2), (1, 1, 1, 0)],
        "empty": [],
    }
    cases = []
    for name, layers in stacks.items():
        cases.append({"name": name, "layers": [list(layer) for layer in layers],
                      "table": receptive_field_table(layers), "rf": receptive_field(layers),
                      "regions": {str(i): list(input_region(layers, i)) for i in (0, 1, 2, 5)}})
    return cases


def stack_cases():
    """Dependency cones of 1-D dilated stacks, measured with conv_lib.conv on unit impulses."""
    cases = []
    configs = [
        (16, 2, [1, 2, 4, 8], True), (16, 2, [1, 2, 4, 8], False), (20, 3, [1, 1, 1], True),
        (20, 3, [1, 2, 4], False), (12, 4, [1, 3], False), (24, 2, [1, 1, 2, 2, 4], True),
        (10, 1, [5, 2], True), (18, 5, [2, 3], False),
    ]
    for n, k, dilations, causal in configs:
        rule = "causal" if causal else "same"
        pads = [resolve_padding(rule, [n], [k], dilation=d)[0] for d in dilations]
        # responses[l] has shape (n inputs, n outputs): layer-l impulses pushed through layers l+1..L
        outputs = sorted({0, n // 2, n - 1})
        counts = {}
        for t in outputs:
            per_level = []
            for first in range(len(dilations) + 1):
                x = np.eye(n)[:, None, :]
                for d, p in zip(dilations[first:], pads[first:]):
                    x = conv(x, np.ones((1, 1, k)), dilation=d, padding=[p])
                per_level.append(_exact(x[:, 0, t]))
            counts[str(t)] = per_level
        layers = [(k, 1, d, p) for d, p in zip(dilations, pads)]
        cases.append({"n": n, "k": k, "dilations": dilations, "causal": causal,
                      "pads": [list(p) for p in pads], "rf": receptive_field(layers),
                      "regions": {str(t): list(input_region(layers, t)) for t in outputs},
                      "counts": counts})
    return cases


def demo_cases():
    shapes = [(1, 1), (2, 3), (4, 4), (5, 2), (3, 5)]
    return {"inputs": [{"shape": list(s), "x": _exact(demo_input(s))} for s in shapes],
            "kernels": [{"name": n, "shape": list(s), "w": _exact(demo_kernel(n, s))}
                        for n in KERNEL_NAMES for s in shapes]}


def generate():
    return {
        "_comment": "GENERATED by `python -m tests.golden` from conv_lib; do not edit by hand.",
        "limits": {group: {k: list(v) for k, v in limits.items()} for group, limits in LIMITS.items()},
        "kernel_names": list(KERNEL_NAMES),
        "schedules": list(SCHEDULES),
        "conv2d": conv2d_cases(),
        "conv1d": conv1d_cases(),
        "output_size": output_size_cases(),
        "pad": pad_cases(),
        "receptive": receptive_cases(),
        "stacks": stack_cases(),
        "demo": demo_cases(),
    }


def dumps(data):
    return json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the golden file is stale")
    parser.add_argument("--path", type=pathlib.Path, default=DEFAULT_PATH)
    args = parser.parse_args(argv)
    text = dumps(generate())
    if args.check:
        current = args.path.read_text() if args.path.exists() else None
        if current != text:
            print(f"STALE: {args.path} differs from `python -m tests.golden` (rerun it and commit)",
                  file=sys.stderr)
            return 1
        print(f"{args.path} is up to date")
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(text)
    counts = {k: len(v) for k, v in json.loads(text).items() if isinstance(v, list)}
    print(f"wrote {args.path}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
