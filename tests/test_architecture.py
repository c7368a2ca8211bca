"""The house rules of the package: rooms, import direction, module size, typed errors, doctests.

conv_lib (the NumPy library)  <-  conv_lib.course (what notebooks import)  <-  conv_lib.tools
"""
import ast
import doctest
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import conv_lib
from conv_lib import errors

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "conv_lib"
LIBRARY = sorted(p for p in PKG.glob("*.py"))
HEAVY = ("torch", "jax", "jaxlib", "flax", "matplotlib", "ipywidgets", "anywidget", "IPython",
         "nbformat", "nbclient", "nbval", "pytest", "distributed", "PIL")
MAX_LINES = 650  # "about 600": a hand-written module longer than this should be split


def test_import_conv_lib_needs_numpy_only():
    code = ("import sys, json, conv_lib, conv_lib.errors; "
            f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [], "import conv_lib pulled in heavy packages"


def _imports(path, top_level_only):
    """Module names imported by a file (relative imports resolved against conv_lib)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                names.append(mod)
                names += [f"{mod}.{a.name}" for a in node.names]
            else:
                names.append(node.module)
                names += [f"{node.module}.{a.name}" for a in node.names]
    return names


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name)
def test_library_imports_flow_one_way(path):
    """Library modules import neither the course runtime, nor the tools, nor (at import time)
    any framework; conv_lib.frameworks imports them inside its functions."""
    every = _imports(path, top_level_only=False)
    assert not [m for m in every if m.startswith(("conv_lib.course", "conv_lib.tools"))
                and path.name != "grade.py"], f"{path.name} imports a room above the library"
    top = _imports(path, top_level_only=True)
    assert not [m for m in top if m.split(".")[0] in HEAVY], f"{path.name} imports a heavy package"


def test_course_does_not_import_tools():
    for path in (PKG / "course").rglob("*.py"):
        assert not [m for m in _imports(path, False) if m.startswith("conv_lib.tools")], path


def _hand_written_python():
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    return [ROOT / p for p in tracked if (ROOT / p).exists()]


def test_no_hand_written_module_is_too_long():
    long = {str(p.relative_to(ROOT)): n for p in _hand_written_python()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these modules (more than {MAX_LINES} lines): {long}"


def test_checks_are_one_module_per_exercise_notebook():
    modules = {p.stem for p in (PKG / "course" / "checks").glob("ex[0-9][0-9]*.py")}
    notebooks = {p.name[:4] for p in (ROOT / "solutions").glob("ex[0-9][0-9]-*.ipynb")}
    assert notebooks and notebooks <= modules, f"no check module for {sorted(notebooks - modules)}"


def test_py_typed_marker_ships():
    assert (PKG / "py.typed").exists()


@pytest.mark.parametrize("name", sorted(p.stem for p in LIBRARY if p.stem != "grade"))
def test_docstring_examples_run(name):
    module = importlib.import_module(f"conv_lib.{name}" if name != "__init__" else "conv_lib")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


# --- typed errors -------------------------------------------------------------------------------

X, W = np.ones((1, 2, 5, 5)), np.ones((4, 2, 3, 3))
ERROR_CASES = [
    # (call, exception type, kind, argument, axis)
    (lambda: conv_lib.conv(X, W, stride=0), ValueError, "out_of_range", "stride", None),
    (lambda: conv_lib.conv(X, W, stride=(1, 0)), ValueError, "out_of_range", "stride[1]", 1),
    (lambda: conv_lib.conv(X, W, stride=1.5), TypeError, "type", "stride", None),
    (lambda: conv_lib.conv(X, W, padding="sam"), ValueError, "bad_padding_string", "padding", None),
    (lambda: conv_lib.conv(X, W, padding_mode="edge"), ValueError, "bad_padding_mode",
     "padding_mode", None),
    (lambda: conv_lib.conv(X, W, padding="causal"), ValueError, "causal_not_1d", "padding", None),
    (lambda: conv_lib.conv(X, W, padding="same", input_dilation=2), ValueError,
     "string_with_input_dilation", "padding", None),
    (lambda: conv_lib.conv(X, np.ones((4, 2, 3, 7))), ValueError, "kernel_too_large",
     "kernel_sizes", 1),
    (lambda: conv_lib.conv(X, W, groups=2), ValueError, "channels", "w", None),
    (lambda: conv_lib.conv(X, np.ones((3, 1, 3, 3)), groups=2), ValueError, "channels", "groups",
     None),
    (lambda: conv_lib.conv(X, W, padding=[(1, -1), 0]), ValueError, "out_of_range",
     "padding[0][1]", 0),
    (lambda: conv_lib.pad(np.ones((2, 3)), [(0, 0), (3, 0)], "reflect"), ValueError,
     "reflect_pad_too_large", "padding[1]", 1),
    (lambda: conv_lib.pad(np.ones(3), [(4, 0)], "circular"), ValueError, "circular_pad_too_large",
     "padding[0]", 0),
    (lambda: conv_lib.conv_transpose(np.ones((1, 1, 2)), np.ones((1, 1, 1)), padding=1),
     ValueError, "output_too_small", "padding[0]", 0),
    (lambda: conv_lib.conv_transpose(np.ones((1, 1, 4)), np.ones((1, 1, 3)), stride=2,
                                     output_padding=2), ValueError, "output_padding_too_large",
     "output_padding[0]", 0),
    (lambda: conv_lib.conv_params(6, 8, 3, groups=4), ValueError, "channels", "groups", None),
    (lambda: conv_lib.receptive_field([(3, 1, 1, (1,))]), ValueError, "length",
     "layers[0] padding", None),
]


@pytest.mark.parametrize("case", range(len(ERROR_CASES)))
def test_errors_carry_argument_and_kind(case):
    call, exc_type, kind, argument, axis = ERROR_CASES[case]
    with pytest.raises(exc_type) as info:
        call()
    err = info.value
    assert isinstance(err, errors.ArgumentError)
    assert (err.kind, err.argument, err.axis) == (kind, argument, axis)
    assert kind in errors.KINDS
    named = {"kernel_sizes": "kernel"}.get(argument.split("[")[0], argument.split("[")[0])
    assert named.split(" ")[0] in str(err), "the message names the argument"


# --- fixes that came with the reorganisation ----------------------------------------------------

def test_conv_params_accepts_numpy_ints():
    assert conv_lib.conv_params(3, 8, np.int64(3)) == 8 * 3 * 3 + 8
    assert conv_lib.conv_params(np.int32(3), 8, (np.int64(3), 3)) == 8 * 3 * 9 + 8


def test_receptive_field_keeps_both_sides_of_a_padding_pair():
    row = conv_lib.receptive_field_table([(3, 1, 1, (2, 0))])[0]
    assert (row["padding"], row["padding_hi"], row["start"]) == (2, 0, -2)
    row = conv_lib.receptive_field_table([(3, 2, 1, 1)])[0]
    assert (row["padding"], row["padding_hi"]) == (1, 1)


def test_transposed_output_size_is_the_one_formula():
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    for _ in range(40):
        n, k, s, d = (int(v) for v in rng.integers(1, 5, size=4))
        p = int(rng.integers(0, d * (k - 1) + 2))
        op = int(rng.integers(0, max(s, d)))
        x, w = torch.ones(1, 1, n), torch.ones(1, 1, k)
        try:
            expected = F.conv_transpose1d(x, w, stride=s, padding=p, output_padding=op,
                                          dilation=d).shape[-1]
        except RuntimeError:  # PyTorch rejects outputs of size < 1 (size 0 included)
            with pytest.raises(ValueError) as info:
                conv_lib.transposed_output_size(n, k, s, p, op, d)
            assert info.value.kind == "output_too_small"
            with pytest.raises(ValueError):
                conv_lib.conv_transpose(np.ones((1, 1, n)), np.ones((1, 1, k)), stride=s,
                                        padding=p, output_padding=op, dilation=d)
            continue
        assert conv_lib.transposed_output_size(n, k, s, p, op, d) == expected
        assert conv_lib.conv_transpose(np.ones((1, 1, n)), np.ones((1, 1, k)), stride=s, padding=p,
                                       output_padding=op, dilation=d).shape[-1] == expected
