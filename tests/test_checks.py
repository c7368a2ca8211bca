"""Unit tests of conv_lib.course.checks: right answers pass, untouched ones get the friendly message, and
typical wrong answers fail with the diagnosis that names the mistake."""
import subprocess
import sys

import numpy as np
import pytest
from numpy import pad as sneaky_pad

import conv_lib
from conv_lib.course import checks
from conv_lib.course.checks import _scratch

NOT_ATTEMPTED = "not attempted yet"


def fails_with(check, *args, contains):
    """Run ``check(*args)``, expect an AssertionError, return its message (checked for ``contains``)."""
    with pytest.raises(AssertionError) as info:
        check(*args)
    message = str(info.value)
    for needle in [contains] if isinstance(contains, str) else contains:
        assert needle.lower() in message.lower(), f"{needle!r} not in:\n{message}"
    return message


def passes(check, capsys, *args):
    check(*args)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("✓"), out


def unattempted(*args, **kwargs):
    raise NotImplementedError("exercise")


# ----------------------------------------------------------------------------------------------
# import cost and shared machinery
# ----------------------------------------------------------------------------------------------


def test_importing_checks_does_not_import_frameworks():
    code = ("import sys; from conv_lib.course import checks; "
            "print(any(m in sys.modules for m in ('torch', 'jax', 'flax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unattempted_function_and_values_get_the_friendly_message():
    fails_with(checks.check_output_size, unattempted, contains=[NOT_ATTEMPTED, "ex02-output-size"])
    fails_with(checks.check_conv1d, unattempted, contains=NOT_ATTEMPTED)
    fails_with(checks.check_quick_shapes, ..., 2, contains=[NOT_ATTEMPTED, "out_224"])
    fails_with(checks.check_56x56, ..., ..., 5, 9, 0, contains="out_plain, out_dilated are")


def test_unattempted_class_gets_the_friendly_message():
    class Stack:
        def __init__(self, channels):
            raise NotImplementedError("ex07-wavenet")

    fails_with(checks.check_wavenet, Stack, unattempted, contains=NOT_ATTEMPTED)


def test_crashes_and_missing_return_are_reported_readably():
    def crashes(n, k, s=1, p=0, d=1):
        raise ValueError("boom")

    def forgets_return(x, w, bias=None):
        np.zeros(3)

    fails_with(checks.check_output_size, crashes, contains=["raised ValueError: boom", "configuration"])
    fails_with(checks.check_conv1d, forgets_return, contains="forget `return`")


def _pad_helper(x, pads):
    return np.pad(x, pads, mode="edge")


def pad_via_helper(x, pads, mode):
    return _pad_helper(x, pads)


def pad_via_alias(x, pads, mode):
    return sneaky_pad(x, pads, mode="edge")


def test_from_scratch_inspection_follows_helpers_and_aliases():
    assert "np.pad" in _scratch._forbidden_uses(pad_via_helper)
    assert any("np.pad" in found for found in _scratch._forbidden_uses(pad_via_alias))
    fails_with(checks.check_pad2d, pad_via_helper, contains="np.pad")
    # comments and strings do not count
    assert _scratch._forbidden_uses(scratch_output_size) == []


# ----------------------------------------------------------------------------------------------
# output size: floor -> ceil, dilation, from scratch
# ----------------------------------------------------------------------------------------------


def scratch_output_size(n, k, s=1, p=0, d=1):
    # not np.pad, not torch: just "integer arithmetic"
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def ceil_output_size(n, k, s=1, p=0, d=1):
    return -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1


def no_dilation_output_size(n, k, s=1, p=0, d=1):
    return (n + 2 * p - k) // s + 1


def conv_lib_output_size(n, k, s=1, p=0, d=1):
    return conv_lib.output_size(n, k, s, p, d)


def test_output_size(capsys):
    passes(checks.check_output_size, capsys, scratch_output_size)
    msg = fails_with(checks.check_output_size, ceil_output_size, contains="rounded up")
    assert "configuration: n=" in msg and "expected" in msg
    fails_with(checks.check_output_size, no_dilation_output_size, contains="dilation is missing")
    fails_with(checks.check_output_size, conv_lib_output_size, contains=["from-scratch", "conv_lib"])


def same_pads_front(n, k, s=1, d=1):
    total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
    return (total - total // 2, total // 2)


def test_same_padding_on_the_wrong_side():
    fails_with(checks.check_same_padding, same_pads_front, contains=["wrong side", "END"])


def test_value_answers_are_not_revealed():
    msg = fails_with(checks.check_quick_shapes, 113, 2, contains="rounded up")
    assert "112" not in msg


# ----------------------------------------------------------------------------------------------
# padding: swapped sides, reflect vs symmetric, np.pad in a from-scratch answer
# ----------------------------------------------------------------------------------------------


def pad2d(x, pads, mode, swap_sides=False, symmetric=False):
    def source(n, before, after):
        i = np.arange(-before, n + after)
        if mode == "replicate":
            return np.clip(i, 0, n - 1)
        if symmetric:
            i = np.where(i < 0, -i - 1, i)
            return np.where(i > n - 1, 2 * n - 1 - i, i)
        i = np.abs(i)
        return np.where(i > n - 1, 2 * (n - 1) - i, i)

    (top, bottom), (left, right) = pads
    if swap_sides:
        top, bottom, left, right = bottom, top, right, left
    return x[source(x.shape[0], top, bottom)][:, source(x.shape[1], left, right)]


def pad2d_with_np_pad(x, pads, mode):
    return np.pad(x, pads, mode={"reflect": "reflect", "replicate": "edge"}[mode])


def test_pad2d(capsys):
    passes(checks.check_pad2d, capsys, pad2d)
    fails_with(checks.check_pad2d, lambda x, p, m: pad2d(x, p, m, swap_sides=True),
               contains="padding on the wrong side")
    fails_with(checks.check_pad2d, lambda x, p, m: pad2d(x, p, m, symmetric=True),
               contains=["repeats the edge", "symmetric"])
    fails_with(checks.check_pad2d, pad2d_with_np_pad, contains=["from-scratch", "np.pad"])


def causal_on_the_right(x, w, dilation=1):
    return conv_lib.conv(x, w, padding=[(0, dilation * (w.shape[-1] - 1))], dilation=dilation)


def test_causal_padding_on_the_wrong_side():
    fails_with(checks.check_causal_conv1d, causal_on_the_right, contains="wrong side")


# ----------------------------------------------------------------------------------------------
# array-valued checks: diagnosis format, dilation on the input, ceil, flipped kernels
# ----------------------------------------------------------------------------------------------


def conv2d_dilated(img, kern, stride=1, padding=0, dilation=1, on_input=False):
    if on_input:  # the mistake: zeros between the INPUT pixels, kernel left dense
        up = np.zeros(((img.shape[0] - 1) * dilation + 1, (img.shape[1] - 1) * dilation + 1))
        up[::dilation, ::dilation] = img
        img, dilation = up, 1
    h, w = img.shape
    kh, kw = kern.shape
    padded = np.zeros((h + 2 * padding, w + 2 * padding))
    padded[padding:padding + h, padding:padding + w] = img
    sh, sw = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    out = np.zeros(((padded.shape[0] - sh) // stride + 1, (padded.shape[1] - sw) // stride + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            window = padded[i * stride:i * stride + sh:dilation, j * stride:j * stride + sw:dilation]
            out[i, j] = np.sum(window * kern)
    return out


def test_dilated_conv2d(capsys):
    passes(checks.check_dilated_conv2d, capsys, conv2d_dilated)
    fails_with(checks.check_dilated_conv2d,
               lambda *a, **k: conv2d_dilated(*a, **k, on_input=True),
               contains=["dilated the INPUT", "expected shape"])


def conv2d_strided_ceil(x, w, stride):
    sh, sw = (stride, stride) if np.ndim(stride) == 0 else stride
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = -(-(h - kh) // sh) + 1, -(-(wd - kw) // sw) + 1
    big = np.zeros((n, c, h + sh, wd + sw))
    big[:, :, :h, :wd] = x
    y = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = big[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return y


def test_strided_conv_with_ceil_instead_of_floor():
    msg = fails_with(checks.check_strided_conv, conv2d_strided_ceil,
                     contains=["extra row/column", "floors"])
    assert "expected shape" in msg and "got shape" in msg


def conv1d(x, w, bias=None, flip=False):
    k = w.shape[-1]
    w = w[..., ::-1] if flip else w
    y = np.zeros((x.shape[0], w.shape[0], x.shape[-1] - k + 1))
    for t in range(y.shape[-1]):
        y[:, :, t] = np.tensordot(x[:, :, t:t + k], w, axes=([1, 2], [1, 2]))
    return y if bias is None else y + bias[:, None]


def test_conv1d_diagnosis_has_index_values_and_tolerance(capsys):
    passes(checks.check_conv1d, capsys, conv1d)
    msg = fails_with(checks.check_conv1d, lambda x, w, bias=None: conv1d(x, w, bias, flip=True),
                     contains=["FLIPPED", "first differing index", "tolerance", "configuration"])
    assert "PyTorch" in msg


def grouped_conv1d(x, w, groups, ignore_groups=False):
    c_out, c_per_group, k = w.shape
    o_per_group = c_out // groups
    y = np.zeros((x.shape[0], c_out, x.shape[-1] - k + 1))
    for o in range(c_out):
        g = 0 if ignore_groups else o // o_per_group
        xg = x[:, g * c_per_group:(g + 1) * c_per_group]
        for t in range(y.shape[-1]):
            y[:, o, t] = np.tensordot(xg[:, :, t:t + k], w[o], axes=([1, 2], [0, 1]))
    return y


def test_grouped_conv_with_groups_ignored(capsys):
    passes(checks.check_grouped_conv1d, capsys, grouped_conv1d)
    fails_with(checks.check_grouped_conv1d,
               lambda x, w, g: grouped_conv1d(x, w, g, ignore_groups=True), contains="groups ignored")


def conv_transpose_unflipped(x, w, stride=1, padding=0, output_padding=0):
    n, c_in, length = x.shape
    _, c_out, k = w.shape
    up = np.zeros((n, c_in, (length - 1) * stride + 1))
    up[:, :, ::stride] = x
    lo = k - 1 - padding
    up = np.concatenate([np.zeros((n, c_in, lo)), up, np.zeros((n, c_in, lo + output_padding))], 2)
    w_conv = w.transpose(1, 0, 2)  # the mistake: not flipped
    y = np.zeros((n, c_out, up.shape[2] - k + 1))
    for t in range(y.shape[2]):
        y[:, :, t] = np.tensordot(up[:, :, t:t + k], w_conv, axes=([1, 2], [1, 2]))
    return y


def test_transposed_conv_without_flip():
    fails_with(checks.check_conv_transpose1d, conv_transpose_unflipped, contains="not flipped")


# ----------------------------------------------------------------------------------------------
# receptive fields and the two framework-heavy checks
# ----------------------------------------------------------------------------------------------


def rf_current_stride(layers):
    rf = 1
    for layer in layers:
        rf += (layer[0] - 1) * layer[1]
    return rf


def rf_correct(layers):
    rf, jump = 1, 1
    for layer in layers:
        d = layer[2] if len(layer) > 2 else 1
        rf += d * (layer[0] - 1) * jump
        jump *= layer[1]
    return rf


def test_receptive_field(capsys):
    passes(checks.check_receptive_field, capsys, rf_correct)
    fails_with(checks.check_receptive_field, rf_current_stride, contains="CURRENT layer's stride")
    fails_with(checks.check_pooled_rf, 11, contains="PREVIOUS strides")


def test_wavenet_with_symmetric_padding_is_not_causal():
    import torch
    import torch.nn.functional as F

    class Symmetric(torch.nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.convs = torch.nn.ModuleList(
                torch.nn.Conv1d(channels, channels, 2, dilation=2 ** i) for i in range(10))

        def forward(self, x, depth=None):
            for i, conv in enumerate(self.convs[:depth]):
                d = 2 ** i
                x = conv(F.pad(x, (d // 2, d - d // 2)))
            return x

    fails_with(checks.check_wavenet, Symmetric, lambda m: [], contains=["not causal", "LEFT"])


def test_jax_padding_problem_with_swapped_modes():
    from jax import lax

    def swapped(x, kernel, padding_mode):
        pad = "VALID" if float(padding_mode) == 1.0 else "SAME"
        return lax.conv_general_dilated(x.reshape(1, 1, -1), kernel.reshape(1, 1, -1), (1,),
                                        pad).reshape(-1)

    fails_with(checks.check_conv_with_padding, swapped, contains="modes are swapped")
