"""Static scan of a submission's own code cells for attempts to alter the checks (grader side).

Complements the kernel-side guard (``kernel_guard``), which sees what actually changed at run time.
The scan reads the syntax tree of every code cell that is not a released setup/check cell (after
IPython's transformations, so ``%magics`` do not hide code) and reports:

- assignments, augmented assignments and deletions of attributes of the checks, the library, the
  frameworks, NumPy, ``builtins``, ``sys``, IPython or nbval (``checks.check_x = ...``,
  ``np.allclose = ...``), and ``setattr``/``delattr`` calls on them;
- edits of ``sys.modules`` (item assignment or deletion, ``pop``/``update``/``clear``/...);
- writes of ``__code__``, ``__defaults__``, ``__kwdefaults__``, ``__globals__``, ``__closure__``
  and ``__builtins__`` on anything;
- ``import gc``, ``import ctypes`` (and ``_ctypes``), ``sys.settrace``/``sys.setprofile``,
  ``sys._getframe``, unregistering IPython event callbacks.

No exercise needs any of these. Each finding names the cell and the line. The scan is pattern
based: code built at run time (``exec`` of a string) escapes it, and is for the guard to notice.
"""
from __future__ import annotations

import ast

from conv_lib.tools import notebook_meta as meta

# names (as bound in a notebook) whose attributes a submission must not rebind
GUARDED_ROOTS = {"checks", "_harness", "conv_lib", "np", "numpy", "torch", "F", "nn", "jax", "lax", "jnp",
                 "nnx", "flax", "builtins", "__builtins__", "sys", "math", "operator", "importlib",
                 "IPython", "nbval", "ipykernel", "scipy"}
DUNDERS = {"__code__", "__defaults__", "__kwdefaults__", "__globals__", "__closure__", "__builtins__"}
FORBIDDEN_IMPORTS = {"gc", "ctypes", "_ctypes"}
SYS_MODULES_METHODS = {"pop", "popitem", "update", "clear", "setdefault", "__setitem__", "__delitem__"}
SYS_CALLS = {"settrace", "setprofile", "_getframe"}


def _root(node):
    """The name at the start of an attribute/subscript chain (``a`` for ``a.b[c].d``), else None."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _is_sys_modules(node):
    return _dotted(node) in ("sys.modules",)


GUARDED_MODULES = {"conv_lib", "numpy", "torch", "jax", "flax", "builtins", "sys", "math", "operator",
                   "importlib", "IPython", "nbval", "ipykernel", "scipy"}


def _parse(source):
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        source = TransformerManager().transform_cell(source)
    except Exception:
        pass
    try:
        return ast.parse(source)
    except SyntaxError:
        return None          # the kernel will report it; nothing runs


def module_aliases(tree):
    """Names that an ``import`` binds to guarded modules (``import numpy as _n`` -> ``_n``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in GUARDED_MODULES:
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in GUARDED_MODULES:
            names.update(alias.asname or alias.name for alias in node.names if alias.name != "*")
    return names


def scan_source(source, roots=None):
    """Findings ``[(line, text)]`` for one cell's Python source (IPython syntax allowed).

    ``roots``: extra names bound to guarded modules elsewhere in the notebook.
    """
    tree = _parse(source)
    if tree is None:
        return []
    guarded = GUARDED_ROOTS | module_aliases(tree) | set(roots or ())
    found = []

    def add(node, text):
        found.append((getattr(node, "lineno", 0), text))

    def target(node, verb):
        if isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                target(elt, verb)
        elif isinstance(node, ast.Starred):
            target(node.value, verb)
        elif isinstance(node, ast.Attribute):
            if node.attr in DUNDERS:
                add(node, f"{verb} `{node.attr}` of `{ast.unparse(node.value)}`")
            elif _root(node) in guarded:
                add(node, f"{verb} `{ast.unparse(node)}`")
        elif isinstance(node, ast.Subscript):
            if _is_sys_modules(node.value):
                add(node, f"{verb} an entry of `sys.modules`")
            elif _root(node) in guarded and not isinstance(node.value, ast.Name):
                add(node, f"{verb} `{ast.unparse(node)}`")

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                target(t, "assigns")
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            target(node.target, "assigns")
        elif isinstance(node, ast.Delete):
            for t in node.targets:
                target(t, "deletes")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_IMPORTS:
                    add(node, f"imports `{alias.name}`")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in FORBIDDEN_IMPORTS:
                add(node, f"imports from `{node.module}`")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else None
            if name in ("setattr", "delattr") and node.args:
                obj = node.args[0]
                attr = node.args[1] if len(node.args) > 1 else None
                dunder = isinstance(attr, ast.Constant) and attr.value in DUNDERS
                if _root(obj) in guarded or dunder or _is_sys_modules(obj):
                    add(node, f"calls `{name}` on `{ast.unparse(obj)}`")
            elif isinstance(func, ast.Attribute):
                if func.attr in SYS_MODULES_METHODS and _is_sys_modules(func.value):
                    add(node, f"calls `sys.modules.{func.attr}`")
                elif func.attr in SYS_CALLS and _dotted(func.value) == "sys":
                    add(node, f"calls `sys.{func.attr}`")
                elif func.attr == "unregister" and _dotted(func.value) and \
                        _dotted(func.value).endswith("events"):
                    add(node, "unregisters an IPython event callback")
                elif func.attr in ("__setattr__", "__delattr__") and node.args and \
                        (_root(node.args[0]) in guarded or _root(func.value) in guarded):
                    add(node, f"calls `{ast.unparse(func)}`")
    return sorted(set(found))


def scan_notebook(nb):
    """Findings ``[{"cell": id, "line": n, "reason": text}]`` for the non-protected code cells."""
    code = [c for c in nb.cells if c.get("cell_type") == "code"]
    roots = set()
    for cell in code:
        tree = _parse(cell.get("source", ""))
        if tree is not None:
            roots |= module_aliases(tree)
    findings = []
    for cell in code:
        if meta.is_protected(cell):
            continue
        for line, text in scan_source(cell.get("source", ""), roots):
            findings.append({"cell": cell.get("id"), "line": line,
                             "reason": f"cell `{cell.get('id')}` line {line} {text}"})
    return findings
