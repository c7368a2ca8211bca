"""Kernel-side check guard: collects the checks' results and notices tampering, for the grader.

Installed by ``kernel_setup.install`` in every grading kernel before the notebook's first cell.
It

1. registers a reporter with the checks' harness (``checks._harness.add_reporter``), which keeps
   every ``CheckResult`` dict (exercise, parts, diagnoses, status, message);
2. fingerprints what the checks rely on: every function, class and module bound in the modules of
   ``conv_lib`` (the library and the checks, with each function's code object), the objects of
   the harness's ``PROTECTED`` registry, ``sys.modules`` entries of those modules, and the
   reference functions of NumPy, PyTorch, JAX and Flax plus the builtins the harness uses. Framework
   modules imported later are fingerprinted right after their ``import`` statement returns (a
   wrapper around ``builtins.__import__``), before the importing cell can change them;
3. adds an audit hook (which cannot be removed) that notes, when called directly from notebook code,
   the writes of ``__code__``/``__defaults__``/``__kwdefaults__``, ``gc.get_referrers``/
   ``get_referents``/``get_objects`` and ``ctypes`` symbol look-ups.

The plugin calls ``probe()`` (a silent request) after every cell; it returns the results reported
since the previous probe and every new difference from the fingerprints, as JSON. The fingerprints
stay with the first state seen, so a change is reported once, by the probe after the cell that made
it. Everything here runs inside the student's process: see the README's threat model for what it
cannot see.
"""
from __future__ import annotations

import builtins
import json
import os
import sys
import tempfile
import types

# modules whose public functions the checks use as references or comparisons
REFERENCE_MODULES = ("numpy", "numpy.testing", "numpy.linalg", "numpy.lib.stride_tricks", "math",
                     "operator", "importlib", "torch", "torch.nn", "torch.nn.functional", "torch.autograd",
                     "jax", "jax.lax", "jax.numpy", "flax", "flax.nnx")
HARNESS_BUILTINS = ("abs", "all", "any", "bool", "callable", "compile", "dict", "dir", "enumerate", "eval",
                    "exec", "float", "format", "frozenset", "getattr", "hasattr", "hash", "id", "int",
                    "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "next",
                    "object", "print", "range", "repr", "round", "set", "setattr", "slice", "sorted",
                    "str", "sum", "super", "tuple", "type", "vars", "zip", "AssertionError",
                    "Exception", "NotImplementedError", "RuntimeError", "TypeError", "ValueError")
AUDITED = {"gc.get_referrers", "gc.get_referents", "gc.get_objects", "ctypes.dlsym", "ctypes.addressof",
           "ctypes.PyObj_FromPtr", "sys.settrace", "sys.setprofile"}
DUNDER_WRITES = {"__code__", "__defaults__", "__kwdefaults__", "__globals__", "__closure__"}
CHECKS_MODULE = "conv_lib.course.checks"

_guard = None


def _code_of(fn):
    """The code object of a function (or method, or wrapper's function), else None."""
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    return code if isinstance(code, types.CodeType) else None


_MISSING = object()


def _own(module_name):
    return module_name == "conv_lib" or (module_name.startswith("conv_lib.")
                                          and not module_name.startswith("conv_lib.tools"))


class Guard:
    def __init__(self, ip):
        self.ip = ip
        self.results = []          # CheckResult dicts reported since the last probe
        self.flags = []            # new tampering reasons since the last probe
        self.seen = set()          # reasons already reported
        self.modules = {}          # module name -> (module object, {attribute: fingerprint})
        self.protected = []        # (label, object, code digest)
        self.reporter = self._report
        self.reporter_home = None  # (harness module, attribute name) of the reporter registry
        self.harness = None
        self.reporting = []        # public checks that report a CheckResult (wrapped and protected)
        self.cell_prefix = os.path.join(tempfile.gettempdir(), "ipykernel_")
        self.original_import = builtins.__import__
        self.import_wrapper = None

    # -- results --------------------------------------------------------------------------------
    def _report(self, result):
        try:
            self.results.append(json.loads(json.dumps(result, default=repr)))
        except Exception as exc:   # a result that cannot be copied is itself worth reporting
            self.results.append({"status": "check-bug", "message": f"unreadable result: {exc!r}"})

    def connect_checks(self):
        """Import the checks' harness, register the reporter, fingerprint PROTECTED. False if absent."""
        try:
            __import__(CHECKS_MODULE)
            harness = sys.modules.get(CHECKS_MODULE + "._harness")
        except Exception:
            return False
        if harness is None or not hasattr(harness, "add_reporter"):
            return False
        self.harness = harness
        harness.add_reporter(self.reporter)
        for name, value in vars(harness).items():
            if isinstance(value, (list, set, tuple, dict)) and not isinstance(value, type):
                try:
                    found = any(item is self.reporter for item in value)
                except Exception:
                    found = False
                if found:
                    self.reporter_home = (harness, name)
                    break
        package = sys.modules.get(CHECKS_MODULE)
        protected_ids = {id(obj) for obj in (getattr(harness, "PROTECTED", {}) or {}).values()} \
            if isinstance(getattr(harness, "PROTECTED", None), dict) else set()
        self.reporting = sorted(name for name in dir(package) if name.startswith("check_")
                                and id(getattr(package, name)) in protected_ids)
        protected = getattr(harness, "PROTECTED", ())
        items = protected.items() if isinstance(protected, dict) else (
            (getattr(obj, "__qualname__", repr(obj)), obj) for obj in protected)
        for label, obj in items:
            self.protected.append((str(label), obj, _code_of(obj)))
        return True

    # -- fingerprints ---------------------------------------------------------------------------
    def fingerprint(self, module):
        """The module's callables and modules (objects, kept alive), with the code, defaults and
        class dictionaries of the library's own functions and classes. Code objects are immutable,
        so "same code object" means "same code"."""
        prints, extra = {}, {}
        own = _own(module.__name__)
        for name, value in list(vars(module).items()):
            if not own and name.startswith("_"):
                continue          # libraries rebind their private names themselves
            if isinstance(value, (types.ModuleType, type)) or callable(value):
                prints[name] = value
                if own and isinstance(value, types.FunctionType):
                    extra[name] = (value.__code__, value.__defaults__, value.__kwdefaults__)
                elif own and isinstance(value, type) and getattr(value, "__module__", "") == module.__name__:
                    extra[name] = dict(vars(value))
        return prints, extra

    def watch(self, name):
        module = sys.modules.get(name)
        if isinstance(module, types.ModuleType) and name not in self.modules:
            self.modules[name] = (module, *self.fingerprint(module))

    def watch_loaded(self):
        for name in list(sys.modules):
            if _own(name) or name in REFERENCE_MODULES:
                self.watch(name)

    def differences(self):
        reasons = []
        for name, (module, prints, extra) in list(self.modules.items()):
            if sys.modules.get(name) is not module:
                reasons.append(f"sys.modules[{name!r}] was replaced or removed")
                continue
            now = vars(module)
            for attr, value in prints.items():
                current = now.get(attr, _MISSING)
                if current is _MISSING:
                    if _own(name):   # a deleted reference function fails loudly by itself
                        reasons.append(f"{name}.{attr} was deleted")
                elif current is not value:
                    reasons.append(f"{name}.{attr} was replaced")
            for attr, saved in extra.items():
                value = prints[attr]
                if isinstance(saved, tuple):
                    changed = (value.__code__ is not saved[0] or value.__defaults__ is not saved[1]
                               or value.__kwdefaults__ is not saved[2])
                else:
                    current = vars(value)
                    changed = len(current) != len(saved) or any(current.get(k, _MISSING) is not v
                                                                for k, v in saved.items())
                if changed:
                    reasons.append(f"the code or defaults of {name}.{attr} were changed")
        for label, obj, code in self.protected:
            if _code_of(obj) is not code:
                reasons.append(f"the code of the protected {label} was changed")
        b = builtins.__dict__
        for name, value in self.builtins.items():
            if b.get(name) is not value:
                reasons.append(f"the builtin {name} was replaced")
        if b.get("__import__") is not self.import_wrapper:
            reasons.append("the builtin __import__ was replaced")
        if self.reporter_home is not None:
            harness, attr = self.reporter_home
            try:
                present = any(item is self.reporter for item in getattr(harness, attr))
            except Exception:
                present = False
            if not present:
                reasons.append("the grader's reporter was removed from the checks")
        return reasons

    # -- import wrapper and audit hook ------------------------------------------------------------
    def install_import_wrapper(self):
        original = self.original_import
        guard = self

        def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
            module = original(name, globals, locals, fromlist, level)
            if level == 0 and (name in REFERENCE_MODULES or name.split(".")[0] in ("torch", "jax", "flax")
                               or name.startswith("conv_lib")):
                for candidate in (name, *(f"{name}.{f}" for f in (fromlist or ()) if isinstance(f, str))):
                    if (candidate in REFERENCE_MODULES or _own(candidate)) and candidate not in guard.modules:
                        guard.watch(candidate)
            return module
        self.import_wrapper = guarded_import
        builtins.__import__ = guarded_import

    def _from_notebook(self):
        frame = sys._getframe(2)
        filename = frame.f_code.co_filename if frame is not None else ""
        return filename.startswith(self.cell_prefix) or filename.startswith("<")

    def audit(self, event, args):
        if event == "object.__setattr__":
            if len(args) > 1 and args[1] in DUNDER_WRITES and self._from_notebook():
                owner = getattr(args[0], "__qualname__", type(args[0]).__name__)
                self.flag(f"a cell assigned {args[1]} of {owner}")
        elif event in AUDITED and self._from_notebook():
            self.flag(f"a cell called {event}")

    def flag(self, reason):
        if reason not in self.seen:
            self.seen.add(reason)
            self.flags.append(reason)

    # -- the grader's request ---------------------------------------------------------------------
    def probe(self):
        self.watch_loaded()
        for reason in self.differences():
            self.flag(reason)
        out = {"results": self.results, "flags": self.flags, "checks": self.harness is not None,
               "reporting": self.reporting}
        self.results, self.flags = [], []
        return json.dumps(out, default=repr)


def install(ip):
    """Install the guard in this kernel (once); returns True when the checks' harness is connected."""
    global _guard
    if _guard is not None:
        return _guard.harness is not None
    guard = Guard(ip)
    connected = guard.connect_checks()
    guard.builtins = {name: builtins.__dict__[name] for name in HARNESS_BUILTINS if name in builtins.__dict__}
    guard.install_import_wrapper()
    guard.watch_loaded()
    sys.addaudithook(guard.audit)
    _guard = guard
    return connected


PROBE_EXPRESSION = "__import__('sys').modules['conv_lib.tools.grade.kernel_guard'].probe()"


def probe():
    """JSON text: {"results": [CheckResult dicts], "flags": [reasons], "checks": harness connected}."""
    if _guard is None:
        return json.dumps({"results": [], "flags": ["the guard is not installed"], "checks": False})
    return _guard.probe()
