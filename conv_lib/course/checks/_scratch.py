"""What an answer may not use, decided on its syntax tree and on what its names refer to.

Each exercise states a ``Rule``: the packages it forbids (``torch``, ``conv_lib``, ...), single
functions it forbids (``numpy.pad``), what it requires (``numpy.convolve``) and what it allows
despite a forbidden package (``conv_lib.conv_transpose``). ``offences(fn, rule)`` inspects the
answer's own code: the function (or every method of a class), the helper functions and classes it
reaches that are defined in the same notebook, and their default arguments. For each of them it
parses the source and

* resolves every global or free name and every attribute chain on it (``np.pad``,
  ``conv_lib.counts.conv_params``, ``F.conv1d``) to the object it denotes *now*, through the
  function's globals, closure and builtins, whatever the name is called (``from numpy import pad
  as p`` is caught, a local variable named ``tf`` or ``pad`` is not a module and is fine);
* checks ``import`` statements inside the function by module name;
* rejects dynamic machinery outright: ``eval``, ``exec``, ``compile``, ``__import__``, ``globals``,
  ``vars``, ``locals``, ``importlib``, ``sys.modules``, the ``builtins`` module, ``getattr`` on a
  module, and dunder escape hatches (``__dict__``, ``__globals__``, ``__builtins__``, ...), so a name
  assembled from strings (``"tor" + "ch"``) never reaches an import.

Limits (documented for instructors): the rule sees the code the answer runs, not data it is handed;
an object smuggled in through a mutable container or an instance attribute set elsewhere is not
followed, and the rule does not run the code.
"""
import ast
import builtins
import functools
import importlib
import inspect
import sys
import textwrap
import types
from dataclasses import dataclass

from ._harness import _failure, _not_attempted, protect

FRAMEWORKS = ("torch", "jax", "jaxlib", "flax", "scipy", "tensorflow", "keras")
LIBRARIES = FRAMEWORKS + ("conv_lib",)

_DYNAMIC_BUILTINS = {"eval", "exec", "compile", "__import__", "globals", "vars", "locals",
                     "breakpoint", "open"}
_DYNAMIC_MODULES = ("importlib", "builtins", "ctypes", "inspect", "pickle", "marshal", "runpy")
_DUNDER_ESCAPES = {"__dict__", "__globals__", "__builtins__", "__subclasses__", "__getattribute__",
                   "__import__", "__loader__", "__spec__", "__code__", "__closure__", "f_globals",
                   "f_locals", "f_back", "gi_frame", "__self__", "__module__", "__bases__", "__mro__"}


@dataclass(frozen=True)
class Rule:
    """What one exercise forbids and requires.

    modules: top-level packages whose modules, functions, classes and objects are forbidden;
    names: dotted names of single forbidden objects (``"numpy.pad"``);
    allow: dotted names allowed although their package is forbidden (``"conv_lib.conv_transpose"``);
    require: dotted names the answer must use (``"numpy.convolve"``);
    strings: string literals that may not appear (``"causal"``: the library would do the work);
    text: the rule in words, shown in the prompt and in every message.
    """
    text: str
    modules: tuple = ()
    names: tuple = ()
    allow: tuple = ()
    require: tuple = ()
    strings: tuple = ()


def _lookup(dotted):
    """The object a dotted name denotes, importing only light modules (numpy, conv_lib)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        module_name = ".".join(parts[:i])
        if module_name in sys.modules or parts[0] in ("numpy", "conv_lib"):
            try:
                obj = importlib.import_module(module_name)
            except ImportError:
                continue
            for attr in parts[i:]:
                obj = getattr(obj, attr, None)
            return obj
    return None


def _object_module(obj):
    """Dotted module an object comes from ('' if unknown)."""
    if inspect.ismodule(obj):
        return obj.__name__
    if isinstance(obj, functools.partial):
        return _object_module(obj.func)
    module = getattr(obj, "__module__", None) if isinstance(obj, (type, types.FunctionType,
                                                                   types.BuiltinFunctionType,
                                                                   types.MethodType)) else None
    if not isinstance(module, str):
        module = getattr(type(obj), "__module__", "") or ""
    return module


def _short(dotted):
    """'numpy.pad' -> 'np.pad' (the name students write)."""
    return "np." + dotted[6:] if dotted.startswith("numpy.") else dotted


def _describe(obj, fallback):
    if inspect.ismodule(obj):
        return f"the module {obj.__name__}"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    module = _object_module(obj)
    return _short(f"{module}.{name}") if name and module else fallback


class _Judge:
    """Decides, object by object, whether the answer may use it."""

    def __init__(self, rule):
        self.rule = rule
        self.forbidden = {id(o): _short(n) for n in rule.names if (o := _lookup(n)) is not None}
        self.allowed = {id(o) for n in rule.allow if (o := _lookup(n)) is not None}
        self.allowed_prefixes = tuple(rule.allow)

    def module_forbidden(self, module):
        if any(module == a or module.startswith(a + ".") for a in self.allowed_prefixes):
            return False
        return module.split(".")[0] in self.rule.modules

    def offence(self, obj, text):
        """None if ``obj`` is fine, else a phrase naming it."""
        if id(obj) in self.allowed:
            return None
        if id(obj) in self.forbidden:
            return self.forbidden[id(obj)]
        if obj is sys.modules:
            return "sys.modules (dynamic import)"
        if inspect.ismodule(obj):
            if obj.__name__.split(".")[0] in _DYNAMIC_MODULES:
                return f"the module {obj.__name__} (dynamic import machinery)"
            return f"the module {obj.__name__}" if self.module_forbidden(obj.__name__) else None
        if obj in _DYNAMIC_BUILTIN_OBJECTS:
            return f"{obj.__name__}() (dynamic code or import)"
        module = _object_module(obj)
        if module.split(".")[0] in _DYNAMIC_MODULES and module != "builtins" and callable(obj):
            return f"{_describe(obj, text)} (dynamic import machinery)"
        if module and self.module_forbidden(module):
            return _describe(obj, text)
        if isinstance(obj, functools.partial):
            return self.offence(obj.func, text)
        return None


_DYNAMIC_BUILTIN_OBJECTS = [getattr(builtins, n) for n in sorted(_DYNAMIC_BUILTINS)]


def _source_tree(fn):
    """The parsed source of ``fn`` (a function definition or a lambda), or None."""
    try:
        src = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return None
    if fn.__name__ == "<lambda>":
        lambdas = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)]
        return lambdas[0] if len(lambdas) == 1 else tree
    return tree


def _bound_names(tree):
    """Every name the code binds itself (parameters, assignments, loop and with targets, ...)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return bound


class _Inspector:
    """Walks the answer's own functions and collects what the rule forbids."""

    def __init__(self, rule):
        self.judge = _Judge(rule)
        self.rule = rule
        self.found = []
        self.used = set()          # ids of every resolved object (for Rule.require)
        self.todo, self.seen = [], set()

    # -- which functions belong to the answer ---------------------------------------------------
    def add(self, obj, home):
        """Queue a function, or every method of a class, defined where the answer was."""
        if isinstance(obj, type):
            if obj.__module__ != home or id(obj) in self.seen:
                return
            self.seen.add(id(obj))
            for value in vars(obj).values():
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                if isinstance(value, property):
                    value = value.fget
                if inspect.isfunction(value):
                    self.add(value, home)
        elif inspect.isfunction(obj) and obj.__module__ == home and id(obj) not in self.seen:
            self.seen.add(id(obj))
            self.todo.append(obj)

    def run(self, answer):
        home = getattr(answer, "__module__", None)
        self.add(answer, home)
        while self.todo:
            self.inspect_function(self.todo.pop(), home)
        return list(dict.fromkeys(self.found))

    # -- one function ----------------------------------------------------------------------------
    def note(self, obj, text, home):
        self.used.add(id(obj))
        if isinstance(obj, (type, types.FunctionType)) and getattr(obj, "__module__", None) == home:
            self.add(obj, home)
            return
        problem = self.judge.offence(obj, text)
        if problem:
            self.found.append(problem)

    def inspect_function(self, fn, home):
        for default in (fn.__defaults__ or ()) + tuple((fn.__kwdefaults__ or {}).values()):
            self.note(default, "a default argument", home)
        tree = _source_tree(fn)
        if tree is None:
            self.inspect_bytecode(fn, home)
            return
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        local = _bound_names(tree) - {fn.__name__} if not isinstance(tree, ast.Lambda) else \
            _bound_names(tree)
        if isinstance(tree, ast.Module) and len(tree.body) == 1 and isinstance(
                tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
            local.discard(tree.body[0].name)
            for deco in tree.body[0].decorator_list:  # decorators run at definition, not in fn
                self.visit(deco, fn, cells, local, {}, home)
            body = tree.body[0]
        else:
            body = tree
        aliases = {}
        for node in ast.walk(body):  # `m = np` then `m.pad(...)`: follow simple local aliases
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                    node.targets[0], ast.Name) and isinstance(node.value, (ast.Name, ast.Attribute)):
                ok, obj = self.resolve(node.value, fn, cells, local, aliases)
                if ok and (inspect.ismodule(obj) or isinstance(obj, type)):
                    aliases[node.targets[0].id] = obj
        self.visit(body, fn, cells, local, aliases, home, skip_decorators=True)

    def inspect_bytecode(self, fn, home):
        """No source (rare): judge the global names the bytecode loads."""
        def names(code):
            out = set(code.co_names)
            for const in code.co_consts:
                if isinstance(const, types.CodeType):
                    out |= names(const)
            return out
        loaded = names(fn.__code__)
        for name in loaded:
            if name in fn.__globals__:
                obj = fn.__globals__[name]
                self.note(obj, name, home)
                if inspect.ismodule(obj):  # without a tree, `m.attr` is judged by the names loaded
                    for attr in loaded:
                        if isinstance(getattr(obj, attr, None), (types.FunctionType,
                                                                 types.BuiltinFunctionType, type)):
                            self.note(getattr(obj, attr), f"{name}.{attr}", home)
            elif name in _DYNAMIC_BUILTINS:
                self.found.append(f"{name}() (dynamic code or import)")

    def resolve(self, node, fn, cells, local, aliases):
        """(True, object) for a name or attribute chain that denotes a known object."""
        if isinstance(node, ast.Name):
            if node.id in aliases:
                return True, aliases[node.id]
            if node.id in local:
                return False, None
            if node.id in cells:
                try:
                    return True, cells[node.id].cell_contents
                except ValueError:
                    return False, None
            if node.id in fn.__globals__:
                return True, fn.__globals__[node.id]
            if hasattr(builtins, node.id):
                return True, getattr(builtins, node.id)
            return False, None
        if isinstance(node, ast.Attribute):
            ok, base = self.resolve(node.value, fn, cells, local, aliases)
            if ok and (inspect.ismodule(base) or isinstance(base, type)):
                try:
                    return True, inspect.getattr_static(base, node.attr) if isinstance(base, type) \
                        else getattr(base, node.attr)
                except Exception:  # missing, or a lazy module attribute that refuses to load
                    return False, None
        return False, None

    def visit(self, node, fn, cells, local, aliases, home, skip_decorators=False):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self.check_import(node)
            return
        if isinstance(node, ast.Attribute) and node.attr in _DUNDER_ESCAPES:
            self.found.append(f"the attribute .{node.attr} (reaches around the rule)")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(s == node.value.lower() for s in self.rule.strings):
                self.found.append(f"the string {node.value!r}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            ok, func = self.resolve(node.func, fn, cells, local, aliases)
            if ok and func is getattr:
                ok_base, base = self.resolve(node.args[0], fn, cells, local, aliases)
                if ok_base and inspect.ismodule(base) or not (
                        len(node.args) > 1 and isinstance(node.args[1], ast.Constant)):
                    self.found.append("getattr() on a module or with a computed name")
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            ok, obj = self.resolve(node, fn, cells, local, aliases)
            if ok:
                self.note(obj, ast.unparse(node), home)
                return
        for field, value in ast.iter_fields(node):
            if skip_decorators and field == "decorator_list":
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    self.visit(child, fn, cells, local, aliases, home)

    def check_import(self, node):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                return
            targets = [f"{node.module}.{a.name}" for a in node.names]
            modules = [node.module] * len(targets)
        else:
            targets = modules = [a.name for a in node.names]
        for module, target in zip(modules, targets):
            obj = _lookup(target) if module.split(".")[0] in ("numpy", "conv_lib") else None
            if obj is not None:
                self.used.add(id(obj))
            if module.split(".")[0] in _DYNAMIC_MODULES or module == "sys":
                self.found.append(f"import {module} (dynamic import machinery)")
            elif obj is not None and self.judge.offence(obj, target):
                self.found.append(f"import of {target}")
            elif obj is None and self.judge.module_forbidden(module):
                self.found.append(f"import of {target}")


def judge(fn, rule):
    """(what ``fn`` and its own helpers use that ``rule`` forbids, what it should use and does not)."""
    inspector = _Inspector(rule)
    found = inspector.run(fn)
    missing = [name for name in rule.require
               if (obj := _lookup(name)) is not None and id(obj) not in inspector.used]
    return found, missing


def offences(fn, rule):
    """Everything wrong with ``fn`` under ``rule``, as phrases (empty when it follows the rule)."""
    found, missing = judge(fn, rule)
    return found + [f"does not use {name}" for name in missing]


def _require_rule(ex, answers, rule):
    """Raise the "forbidden" failure when an answer breaks the exercise's rule.

    answers: one function/class or a dict {shown name: function/class}.
    """
    if not isinstance(answers, dict):
        answers = {getattr(answers, "__name__", "your answer"): answers}
    for name, fn in answers.items():
        if fn is Ellipsis or fn is None:
            raise _not_attempted(ex)
        found, missing = judge(fn, rule)
        if found or missing:
            what = ([f"it uses {'; '.join(found)}"] if found else []) + (
                [f"it does not use {', '.join(missing)}, which the exercise asks for"] if missing else [])
            failure = _failure(ex, f"`{name}` breaks this exercise's rule: {'; and '.join(what)}",
                               hint=f"the rule: {rule.text}")
            failure.status = "forbidden"
            raise failure


FROM_SCRATCH = Rule("from-scratch: NumPy and plain Python only (no PyTorch, JAX, Flax, SciPy, "
                    "TensorFlow or conv_lib, no np.pad/np.convolve/np.correlate).",
                    modules=LIBRARIES, names=("numpy.pad", "numpy.convolve", "numpy.correlate"))
ARITHMETIC = Rule("from-scratch integer arithmetic in plain Python/NumPy (no conv_lib, no frameworks).",
                  modules=LIBRARIES)


def _require_from_scratch(ex, fn, extra=(), what=None):
    """The classic from-scratch rule (see FROM_SCRATCH), optionally with more forbidden names."""
    rule = FROM_SCRATCH if not extra else Rule(FROM_SCRATCH.text, FROM_SCRATCH.modules,
                                               FROM_SCRATCH.names + tuple(extra))
    _require_rule(ex, fn, rule)


def _forbidden_uses(fn, rule=FROM_SCRATCH):
    """Kept for tests and tools: the offences of ``fn`` under ``rule``."""
    return offences(fn, rule)


protect(judge, offences, _require_rule, _require_from_scratch, _Inspector, _Judge)
