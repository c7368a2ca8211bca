"""The checks of exercise sets 11 (groups, 1x1) and 12 (pooling, shifts): right answers pass,
library shortcuts are forbidden, typical mistakes are diagnosed. (The worked solutions are run by
test_check_solutions.py.)"""
import numpy as np
import pytest

import conv_lib
from conv_lib.course import checks

from test_check_ex09 import result_of

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def separable_right(c_in, c_out, k):
    return c_out * c_in * k * k, c_in * k * k + c_in * c_out


def separable_without_pointwise(c_in, c_out, k):
    return c_out * c_in * k * k, c_in * k * k


def separable_by_library(c_in, c_out, k):
    return (conv_lib.conv_params(c_in, c_out, (k, k), bias=False),
            conv_lib.conv_params(c_in, c_in, (k, k), groups=c_in, bias=False)
            + conv_lib.conv_params(c_in, c_out, (1, 1), bias=False))


def connectivity_right(c_in, c_out, groups):
    return (np.arange(c_out)[:, None] // (c_out // groups)) == (np.arange(c_in)[None] // (c_in // groups))


def connectivity_interleaved(c_in, c_out, groups):
    return (np.arange(c_out)[:, None] % groups) == (np.arange(c_in)[None] % groups)


def conv1x1_right(x, w, b):
    return np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x) + b[None, :, None, None]


def conv1x1_without_bias(x, w, b):
    return np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x)


def conv1x1_by_library(x, w, b):
    return conv_lib.conv(x, w, b)


@pytest.mark.parametrize("check, right, wrong, diagnosis, shortcut", [
    (checks.check_separable_params, separable_right, separable_without_pointwise,
     "ex11-separable-params/pointwise-missing", separable_by_library),
    (checks.check_connectivity, connectivity_right, connectivity_interleaved,
     "ex11-connectivity/interleaved", None),
    (checks.check_pointwise_linear, conv1x1_right, conv1x1_without_bias,
     "ex11-pointwise-linear/no-bias", conv1x1_by_library),
])
def test_ex11(check, right, wrong, diagnosis, shortcut):
    assert result_of(check, right)["status"] == "passed"
    failed = result_of(check, wrong)
    assert failed["status"] == "failed" and diagnosis in failed["diagnoses"]
    if shortcut is not None:
        assert result_of(check, shortcut)["status"] == "forbidden"


def exact_shift_right(strides):
    return int(np.prod(strides))


def exact_shift_sum(strides):
    return sum(strides)


def pool_size_right(n, k, s, p, ceil_mode):
    span = n + 2 * p - k
    o = (-(-span // s) if ceil_mode else span // s) + 1
    return o - 1 if ceil_mode and (o - 1) * s >= n + p else o


def pool_size_without_drop_rule(n, k, s, p, ceil_mode):
    span = n + 2 * p - k
    return (-(-span // s) if ceil_mode else span // s) + 1


def max_pool_right(x, k, s, p):
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * p, w + 2 * p), -np.inf)
    xp[:, :, p:p + h, p:p + w] = x
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    return np.max([xp[:, :, u:u + s * (oh - 1) + 1:s, v:v + s * (ow - 1) + 1:s]
                   for u in range(k) for v in range(k)], axis=0)


def max_pool_zero_padded(x, k, s, p):
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * p, w + 2 * p))
    xp[:, :, p:p + h, p:p + w] = x
    return max_pool_right(xp, k, s, 0)


@pytest.mark.parametrize("check, right, wrong, diagnosis", [
    (checks.check_exact_shift, exact_shift_right, exact_shift_sum, "ex12-exact-shift/sum"),
    (checks.check_pool_size, pool_size_right, pool_size_without_drop_rule, "ex12-pool-size/no-drop-rule"),
    (checks.check_max_pool, max_pool_right, max_pool_zero_padded, "ex12-max-pool/zero-padding"),
])
def test_ex12(check, right, wrong, diagnosis):
    assert result_of(check, right)["status"] == "passed"
    failed = result_of(check, wrong)
    assert failed["status"] == "failed" and diagnosis in failed["diagnoses"]
