"""Each exercise's rule, enforced on the answer's syntax tree (conv_lib.course.checks._scratch).

- the forbidden one-liner of every function exercise is reported with status "forbidden" (the
  seven loopholes of issue #11 included), before any case is run;
- what names refer to is resolved at check time, so aliases, helpers, defaults and closures are
  followed, and dynamic import machinery is rejected outright;
- ordinary local names (``tf``, ``conv``, ``pad``, ``torch``) are not false positives.
"""
import builtins
import functools
import importlib
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy import pad as sneaky_pad

import conv_lib
from conv_lib.course import checks
from conv_lib.course.checks import _scratch
from conv_lib.course.checks._scratch import FROM_SCRATCH, Rule, judge, offences

NO_LIB = Rule("no conv_lib", modules=("conv_lib",))


def status_of(check, *args):
    """Run a check; return its CheckResult (it must fail, not pass)."""
    with pytest.raises(checks.CheckFailure) as info:
        check(*args)
    return info.value.result


# ----------------------------------------------------------------------------------------------
# the forbidden one-liner of every function exercise
# ----------------------------------------------------------------------------------------------

def xcorr_np_correlate(x, kernel):
    return np.correlate(x, kernel, mode="valid")


def conv1d_library(x, w, bias=None):
    return conv_lib.conv(x, w, bias)


def n_params_library(c_in, c_out, kernel_size, bias=True):  # loophole 1
    return conv_lib.conv_params(c_in, c_out, kernel_size, bias=bias)


def im2col_unfold(x, kh, kw):
    return F.unfold(torch.from_numpy(x)[None], (kh, kw))[0].numpy()


def torch_accepts_by_trying(n, kernel_size, stride, padding, dilation):
    try:
        torch.nn.Conv1d(1, 1, kernel_size, stride=stride, padding=padding,
                        dilation=dilation)(torch.zeros(1, 1, n))
        return True
    except (ValueError, RuntimeError):
        return False


def output_size_library(n, k, s=1, p=0, d=1):
    return conv_lib.output_size(n, k, s, p, d)


def same_padding_library(n, k, s=1, d=1):
    return tuple(conv_lib.resolve_padding("same", [n], [k], s, d)[0])


def strided_library(x, w, stride):
    return conv_lib.conv(x, w, stride=stride)


def out_len_library(n, k, s):
    return conv_lib.output_size(n, k, s)


def dropped_scratch(n, k, s):
    return (n - k) % s


def macs_library(x_shape, w_shape, stride):  # loophole 2
    return conv_lib.conv_macs(x_shape, w_shape, stride=stride)


def pad2d_np_pad(x, pads, mode):
    return np.pad(x, pads, mode={"reflect": "reflect", "replicate": "edge"}[mode])


def causal_by_string(x, w, dilation=1):
    return conv_lib.conv(x, w, padding="causal", dilation=dilation)


def jax_padding_without_lax(x, kernel, padding_mode):
    return np.convolve(np.asarray(x), np.asarray(kernel)[::-1], "same" if padding_mode else "valid")


def dilated_library(img, kern, stride=1, padding=0, dilation=1):
    return conv_lib.conv(img[None, None], kern[None, None], stride=stride, padding=padding,
                         dilation=dilation)[0, 0]


def dilate_library(kern, d):
    return conv_lib.dilate(kern, [d, d])


def same_dilated_library(k, d):
    lo, hi = conv_lib.resolve_padding("same", [64], [k], 1, d)[0]
    return lo if lo == hi else None


def transpose_library(x, w, stride=1, padding=0, output_padding=0):
    return conv_lib.conv_transpose(x, w, stride=stride, padding=padding, output_padding=output_padding)


def transpose_size_torch(n, k, s, p, op, d):
    layer = torch.nn.ConvTranspose1d(1, 1, k, stride=s, padding=p, output_padding=op, dilation=d)
    return layer(torch.zeros(1, 1, n)).shape[-1]


def input_grad_autograd(grad_y, w, n, stride, padding):  # loophole 4
    x = torch.zeros(grad_y.shape[0], w.shape[1], n, dtype=torch.float64, requires_grad=True)
    F.conv1d(x, torch.from_numpy(w), stride=stride, padding=padding).backward(torch.from_numpy(grad_y))
    return x.grad.numpy()


def transposed_padding_by_trying(k, p):
    target = F.conv_transpose1d(torch.ones(1, 1, 2 * k), torch.ones(1, 1, k), padding=p).shape[-1]
    return next(q for q in range(k) if F.conv1d(torch.ones(1, 1, 2 * k), torch.ones(1, 1, k),
                                                padding=q).shape[-1] == target)


def bias_grad_autograd(grad_y):
    b = torch.zeros(grad_y.shape[1], dtype=torch.float64, requires_grad=True)
    (b.reshape((1, -1) + (1,) * (grad_y.ndim - 2)) * torch.from_numpy(grad_y)).sum().backward()
    return b.grad.numpy()


def weight_grad_library(x, grad_y, k, stride, padding):
    x_padded = conv_lib.pad(x, [(padding, padding)])
    return conv_lib.conv(x_padded.swapaxes(0, 1), grad_y.swapaxes(0, 1),
                         dilation=stride)[:, :, :k].swapaxes(0, 1)


def rf_library(layers):  # loophole 3
    return conv_lib.receptive_field(layers)


def port_with_adapter(layer):
    return conv_lib.frameworks.oihw_to_hwio(layer.weight.detach().numpy())


def forward_nchw_plain(flax_layer, x_nchw):
    return np.transpose(np.asarray(flax_layer(np.transpose(x_nchw, (0, 2, 3, 1)))), (0, 3, 1, 2))


def grouped_library(x, w, groups):
    return conv_lib.conv(x, w, groups=groups)


def tcn_rf_library(kernel_size, n_levels):  # loophole 3, second exercise
    return conv_lib.receptive_field([(kernel_size, 1, 2 ** i) for i in range(n_levels) for _ in "ab"])


class TorchTemporalBlock:
    def __init__(self, in_channels, out_channels, kernel_size, dilation, dropout, rngs):
        self.conv1 = torch.nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)


FORBIDDEN = [
    (checks.check_cross_correlation, (xcorr_np_correlate,), "np.correlate"),
    (checks.check_conv1d, (conv1d_library,), "conv_lib"),
    (checks.check_conv_params, (n_params_library,), "conv_params"),
    (checks.check_im2col, (im2col_unfold,), "torch"),
    (checks.check_torch_accepts, (torch_accepts_by_trying,), "torch"),
    (checks.check_output_size, (output_size_library,), "output_size"),
    (checks.check_same_padding, (same_padding_library,), "resolve_padding"),
    (checks.check_strided_conv, (strided_library,), "conv_lib"),
    (checks.check_stride_floor, (out_len_library, dropped_scratch), "output_size"),
    (checks.check_strided_macs, (macs_library,), "conv_macs"),
    (checks.check_pad2d, (pad2d_np_pad,), "np.pad"),
    (checks.check_causal_conv1d, (causal_by_string,), "'causal'"),
    (checks.check_conv_with_padding, (jax_padding_without_lax,), "conv_general_dilated"),
    (checks.check_dilated_conv2d, (dilated_library,), "conv_lib"),
    (checks.check_dilate_kernel, (dilate_library,), "dilate"),
    (checks.check_same_padding_dilated, (same_dilated_library,), "resolve_padding"),
    (checks.check_conv_transpose1d, (transpose_library,), "conv_transpose"),
    (checks.check_transpose_output_size, (transpose_size_torch,), "torch"),
    (checks.check_conv_input_grad, (input_grad_autograd,), "torch"),
    (checks.check_transpose_vocabulary, (transposed_padding_by_trying, "half", "no padding"), "torch"),
    (checks.check_conv_bias_grad, (bias_grad_autograd,), "torch"),
    (checks.check_conv_weight_grad, (weight_grad_library,), "conv_lib"),
    (checks.check_receptive_field, (rf_library,), "receptive_field"),
    (checks.check_port_conv, (port_with_adapter, forward_nchw_plain), "oihw_to_hwio"),
    (checks.check_grouped_conv1d, (grouped_library,), "conv_lib"),
    (checks.check_temporal_block, (TorchTemporalBlock,), "torch"),
    (checks.check_tcn_receptive_field, (tcn_rf_library,), "receptive_field"),
]


@pytest.mark.parametrize("check, answers, named", FORBIDDEN, ids=[c.exercise for c, _, _ in FORBIDDEN])
def test_forbidden_one_liner_is_reported_as_forbidden(check, answers, named):
    result = status_of(check, *answers)
    assert result.status == "forbidden", result.message
    assert not all(ok for _, ok in result.parts)
    assert named.lower() in result.message.lower()
    assert "the rule:" in result.message


MINE = ("ex01", "ex02", "ex03", "ex04", "ex05", "ex06", "ex07", "ex08", "ex10")


def test_every_function_exercise_has_a_rule_and_a_forbidden_test():
    """(the wavenet and depthwise rules are tested below; other notebooks test their own)"""
    tested = {check.exercise for check, _, _ in FORBIDDEN}
    rules = {e for e in checks.RULES if e.startswith(MINE)}
    assert rules - {"ex07-wavenet", "ex08-depthwise-separable"} <= tested


def test_input_gradient_must_use_conv_transpose():
    def by_hand(grad_y, w, n, stride, padding):
        return np.zeros((grad_y.shape[0], w.shape[1], n))

    result = status_of(checks.check_conv_input_grad, by_hand)
    assert result.status == "forbidden" and "does not use conv_lib.conv_transpose" in result.message


def test_depthwise_without_bias_loses_that_part_only():  # loophole 6
    from flax import nnx

    def no_bias(channels, kernel_size, multiplier, rngs):
        return nnx.Conv(channels, channels * multiplier, (kernel_size, kernel_size), padding="SAME",
                        feature_group_count=channels, use_bias=False, rngs=rngs)

    def counts(c_in, c_out, k):
        return c_out * c_in * k * k + c_out, (c_in * k * k + c_in) + (c_out * c_in + c_out)

    result = status_of(checks.check_depthwise_separable, no_bias, counts)
    assert result.status == "failed"
    assert result.parts == [("make_depthwise", False), ("separable_params", True)]
    assert result.diagnoses == ["ex08-depthwise-separable/no-bias"]


def test_separable_counts_from_the_library_are_forbidden():
    def counts(c_in, c_out, k):
        return (conv_lib.conv_params(c_in, c_out, (k, k)),
                conv_lib.conv_params(c_in, c_in, (k, k), groups=c_in) + conv_lib.conv_params(c_in, c_out, (1, 1)))

    def depthwise(channels, kernel_size, multiplier, rngs):
        raise NotImplementedError

    result = status_of(checks.check_depthwise_separable, depthwise, counts)
    assert result.status == "forbidden" and "conv_params" in result.message


class WaveNet(torch.nn.Module):
    def __init__(self, channels, n_layers=10, kernel_size=2):
        super().__init__()
        self.dilations = [2 ** i for i in range(n_layers)]
        self.convs = torch.nn.ModuleList(torch.nn.Conv1d(channels, channels, kernel_size, dilation=d)
                                         for d in self.dilations)

    def forward(self, x, depth=None):
        for conv, d in list(zip(self.convs, self.dilations))[:depth]:
            x = conv(F.pad(x, (d, 0)))
        return x


def test_wavenet_hard_coded_measure_rf_fails_on_held_out_stacks():  # loophole 7
    def hard_coded(model):
        fields = [2 ** (i + 1) for i in range(10)]
        print(fields)
        return fields

    result = status_of(checks.check_wavenet, WaveNet, hard_coded)
    assert result.status == "failed"
    assert result.diagnoses == ["ex07-wavenet/hard-coded"]
    assert "n_layers=" in result.message


def test_wavenet_measure_rf_from_conv_lib_is_forbidden():
    def from_formula(model):
        fields = [conv_lib.receptive_field([(2, 1, d) for d in model.dilations[:i + 1]])
                  for i in range(len(model.convs))]
        print(fields)
        return fields

    assert status_of(checks.check_wavenet, WaveNet, from_formula).status == "forbidden"


# ----------------------------------------------------------------------------------------------
# the syntax-tree rule: tricks are caught ...
# ----------------------------------------------------------------------------------------------

pad_alias = np.pad
partial_pad = functools.partial(np.pad, mode="edge")
torch_under_another_name = torch


def _helper(x):
    return np.pad(x, 1)


def via_helper(x):
    return _helper(x) * 2


def via_alias(x):
    return sneaky_pad(x, 1)


def via_global_alias(x):
    return pad_alias(x, 1)


def via_partial(x):
    return partial_pad(x, 1)


def via_local_module_alias(x):
    m = np
    return m.pad(x, 1)


def via_default(x, p=np.pad):
    return p(x, 1)


def via_renamed_module(x):
    return torch_under_another_name.nn.functional.pad(torch.from_numpy(x), (1, 1)).numpy()


def via_import_inside(x):
    import torch.nn.functional as G
    return G.pad(x, (1, 1))


def via_from_import_inside(x):
    from numpy import pad
    return pad(x, 1)


def via_submodule_path(c_in, c_out, k):
    return conv_lib.counts.conv_params(c_in, c_out, k)


def via_importlib(x):
    return importlib.import_module("tor" + "ch").nn.functional.pad(x, (1, 1))


def via_dunder_import(x):
    return __import__("tor" + "ch").zeros(3)


def via_getattr(x):
    return getattr(np, "p" + "ad")(x, 1)


def via_sys_modules(x):
    return sys.modules["nu" + "mpy"].pad(x, 1)


def via_eval(x):
    return eval("np.pad")(x, 1)


def via_exec(x):
    exec("y = 1")
    return x


def via_dict(x):
    return np.__dict__["pad"](x, 1)


def via_builtins(x):
    return builtins.__import__("torch")


def make_closure():
    module = torch

    def inner(x):
        return module.zeros(3)

    return inner


class Padder:
    def __call__(self, x):
        return self.helper(x)

    def helper(self, x):
        return np.pad(x, 1)


TRICKS = [via_helper, via_alias, via_global_alias, via_partial, via_local_module_alias, via_default,
          via_renamed_module, via_import_inside, via_from_import_inside, via_importlib,
          via_dunder_import, via_getattr, via_sys_modules, via_eval, via_exec, via_dict,
          via_builtins, make_closure(), Padder]


@pytest.mark.parametrize("fn", TRICKS, ids=lambda f: getattr(f, "__name__", "closure"))
def test_tricks_are_caught(fn):
    assert offences(fn, FROM_SCRATCH), fn


def test_library_functions_are_caught_by_object_not_by_name():
    assert any("conv_params" in o for o in offences(via_submodule_path, NO_LIB))
    assert any("conv_params" in o for o in offences(n_params_library, NO_LIB))


# ----------------------------------------------------------------------------------------------
# ... and ordinary code is not
# ----------------------------------------------------------------------------------------------

def locals_named_like_modules(x, tf=2, conv=None):
    pad = 1
    torch = np.zeros(3)               # a local that shadows the module
    jax = [tf, pad]
    conv = conv or (lambda a: a)
    lax = {"conv_lib": 1}
    return conv(x[pad:-pad]) * len(jax) + torch.sum() + lax["conv_lib"]


def strings_and_comments(n, k):
    # torch.conv1d would do this; np.pad too
    note = "use torch or conv_lib.output_size? no"
    return (n - k) // 1 + 1 if note else 0


def numpy_tools(x, w):
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[-1], axis=-1)
    return np.einsum("nctk,ock->not", windows, w) + np.zeros(1).sum() + float(np.prod(w.shape) > 0)


def getattr_on_an_object(layer):
    return getattr(layer, "bias", None)


@pytest.mark.parametrize("fn", [locals_named_like_modules, strings_and_comments, numpy_tools,
                                getattr_on_an_object])
def test_no_false_positives(fn):
    assert offences(fn, FROM_SCRATCH) == []


def test_allowed_function_of_a_forbidden_package():
    rule = Rule("only conv_transpose", modules=("conv_lib", "torch"), allow=("conv_lib.conv_transpose",),
                require=("conv_lib.conv_transpose",))

    def good(g, w):
        return conv_lib.conv_transpose(g, w)

    def bad(g, w):
        return conv_lib.conv(g, w)

    assert judge(good, rule) == ([], [])
    found, missing = judge(bad, rule)
    assert found and missing == ["conv_lib.conv_transpose"]


def test_required_function_found_through_an_alias():
    from jax import lax as my_lax

    def uses_lax(x, k):
        return my_lax.conv_general_dilated(x, k, (1,), "SAME")

    rule = Rule("lax", require=("jax.lax.conv_general_dilated",))
    assert judge(uses_lax, rule) == ([], [])


def test_forbidden_uses_keeps_its_old_signature():
    assert _scratch._forbidden_uses(via_helper) == ["np.pad"]


def test_prompts_state_the_rules_and_intros_the_practice_seed():
    import nbformat
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    rules = checks.RULES
    for path in sorted((root / "solutions").glob("ex*.ipynb")):
        if not path.stem.startswith(MINE):
            continue
        nb = nbformat.read(path, as_version=4)
        assert "checks.PRACTICE_SEED" in nb.cells[0].source, path.name
        for cell in nb.cells:
            knobs = cell.metadata.get("conv_knobs", {})
            if knobs.get("role") == "prompt" and knobs.get("exercise") in rules:
                assert rules[knobs["exercise"]].text in cell.source, (path.name, knobs["exercise"])
