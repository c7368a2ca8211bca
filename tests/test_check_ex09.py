"""The checks of exercise set 9 (im2col and GEMM): right answers pass, shortcuts are forbidden,
typical mistakes are diagnosed. (The worked solutions are run by test_check_solutions.py.)"""
import numpy as np
import pytest

import conv_lib
from conv_lib.course import checks

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def result_of(check, *answers):
    """The CheckResult a check reports for these answers (it may also raise)."""
    reports = []
    checks.add_reporter(reports.append)
    try:
        check(*answers)
    except (checks.CheckFailure, checks.CheckBug):
        pass
    finally:
        checks.remove_reporter(reports.append)
    assert len(reports) == 1
    return reports[0]


# --- ex09-gemm-dims ---------------------------------------------------------------------------

def gemm_dims_right(x_shape, w_shape, stride, padding, groups):
    n, _, h, w = x_shape
    c_out, c_per_group, kh, kw = w_shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    return n * groups, c_out // groups, c_per_group * kh * kw, oh * ow


def gemm_dims_k_ignores_groups(x_shape, w_shape, stride, padding, groups):
    gemms, m, _, p = gemm_dims_right(x_shape, w_shape, stride, padding, groups)
    return gemms, m, x_shape[1] * w_shape[2] * w_shape[3], p


def gemm_dims_with_library(x_shape, w_shape, stride, padding, groups):
    out = conv_lib.output_shape(x_shape[2:], w_shape[2:], stride=stride, padding=padding)
    return x_shape[0] * groups, w_shape[0] // groups, w_shape[1] * w_shape[2] * w_shape[3], out[0] * out[1]


def test_gemm_dims():
    assert result_of(checks.check_gemm_dims, gemm_dims_right)["status"] == "passed"
    wrong = result_of(checks.check_gemm_dims, gemm_dims_k_ignores_groups)
    assert wrong["status"] == "failed"
    assert wrong["diagnoses"] == ["ex09-gemm-dims/k-ignores-groups"]
    assert result_of(checks.check_gemm_dims, gemm_dims_with_library)["status"] == "forbidden"


# --- ex09-transpose-phases --------------------------------------------------------------------

def phases_right(x, w, stride, padding):
    n, k, s, p = len(x), len(w), stride, padding
    length = (n - 1) * s - 2 * p + k
    y = np.zeros(length)
    for o in range(length):
        for t in range(k):
            if (o + p - t) % s == 0 and 0 <= (o + p - t) // s < n:
                y[o] += w[t] * x[(o + p - t) // s]
    return y


def phases_uncropped(x, w, stride, padding):
    return phases_right(x, w, stride, 0)


def phases_with_library(x, w, stride, padding):
    return conv_lib.conv_transpose(x[None, None], w[None, None], stride=stride, padding=padding)[0, 0]


def test_transpose_phases():
    assert result_of(checks.check_transpose_phases, phases_right)["status"] == "passed"
    wrong = result_of(checks.check_transpose_phases, phases_uncropped)
    assert wrong["status"] == "failed" and "ex09-transpose-phases/no-crop" in wrong["diagnoses"]
    assert result_of(checks.check_transpose_phases, phases_with_library)["status"] == "forbidden"


# --- ex09-im2col-gemm -------------------------------------------------------------------------

def gemm_conv_right(x, w, stride, padding, dilation):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    s, p, d = stride, padding, dilation
    xp = np.zeros((n, c, h + 2 * p, wd + 2 * p))
    xp[:, :, p:p + h, p:p + wd] = x
    oh, ow = (h + 2 * p - d * (kh - 1) - 1) // s + 1, (wd + 2 * p - d * (kw - 1) - 1) // s + 1
    cols = np.empty((n, c, kh, kw, oh, ow))
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = xp[:, :, u * d:u * d + s * (oh - 1) + 1:s, v * d:v * d + s * (ow - 1) + 1:s]
    return (w.reshape(o, -1) @ cols.reshape(n, c * kh * kw, oh * ow)).reshape(n, o, oh, ow)


def gemm_conv_flipped(x, w, stride, padding, dilation):
    return gemm_conv_right(x, w[..., ::-1, ::-1], stride, padding, dilation)


def gemm_conv_with_library(x, w, stride, padding, dilation):
    return conv_lib.conv(x, w, stride=stride, padding=padding, dilation=dilation)


def test_im2col_gemm():
    assert result_of(checks.check_im2col_gemm, gemm_conv_right)["status"] == "passed"
    wrong = result_of(checks.check_im2col_gemm, gemm_conv_flipped)
    assert wrong["status"] == "failed" and wrong["diagnoses"] == ["ex09-im2col-gemm/flipped"]
    assert result_of(checks.check_im2col_gemm, gemm_conv_with_library)["status"] == "forbidden"


def test_every_ex09_diagnosis_is_described():
    ids = [key for key in checks.DIAGNOSES if key.startswith("ex09-")]
    assert len(ids) == 10 and all(checks.DIAGNOSES[key] for key in ids)
