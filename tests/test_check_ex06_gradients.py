"""The checks of chapter 6's gradient and vocabulary exercises name the mistake an answer makes.

(The worked solutions pass under three seeds in test_check_solutions.py, and the forbidden
one-liners are rejected in test_check_rules.py.)
"""
import numpy as np
import pytest

from conv_lib.course import checks


def status_of(check, *args):
    with pytest.raises(checks.CheckFailure) as info:
        check(*args)
    return info.value.result


# --- the vocabulary ---------------------------------------------------------------------------

def padding_kept(k, p):
    return p


def padding_off_by_one(k, p):
    return k - p


def padding_right(k, p):
    return k - 1 - p


@pytest.mark.parametrize("answer, diagnosis", [(padding_kept, "same-padding"),
                                               (padding_off_by_one, "k-minus-p")])
def test_vocabulary_padding_mistakes_are_named(answer, diagnosis):
    result = status_of(checks.check_transpose_vocabulary, answer, "half", "no padding")
    assert result.status == "failed"
    assert result.parts == [("transposed_padding", False), ("half_partner", True),
                            ("full_partner", True)]
    assert result.diagnoses == [f"ex06-vocabulary/{diagnosis}"]


@pytest.mark.parametrize("half, full", [("same", "valid"), ("Half padding", "No padding"),
                                        ("half", "none")])
def test_vocabulary_names_accept_the_usual_synonyms(half, full, capsys):
    checks.check_transpose_vocabulary(padding_right, half, full)
    assert "✓ ex06-vocabulary" in capsys.readouterr().out


@pytest.mark.parametrize("half, full, wrong", [("full", "no padding", "half_partner"),
                                               ("half", "full", "full_partner"),
                                               ("half", "quarter", "full_partner")])
def test_vocabulary_wrong_partner_loses_that_part_only(half, full, wrong):
    result = status_of(checks.check_transpose_vocabulary, padding_right, half, full)
    assert result.status == "failed"
    assert dict(result.parts) == {"transposed_padding": True, "half_partner": wrong != "half_partner",
                                  "full_partner": wrong != "full_partner"}


def test_vocabulary_not_attempted():
    result = status_of(checks.check_transpose_vocabulary, padding_right, ..., "no padding")
    assert result.status == "failed" and ("half_partner", False) in result.parts


# --- the bias gradient ------------------------------------------------------------------------

def spatial_axes(g):
    return tuple(range(2, g.ndim))


def bias_mean(grad_y):
    return grad_y.mean(axis=(0,) + spatial_axes(grad_y))


def bias_batch_only(grad_y):
    return grad_y.sum(axis=0)


def bias_spatial_only(grad_y):
    return grad_y.sum(axis=spatial_axes(grad_y))


def bias_everything(grad_y):
    return grad_y.sum()


@pytest.mark.parametrize("answer, diagnosis", [(bias_mean, "mean"), (bias_batch_only, "batch-only"),
                                               (bias_spatial_only, "spatial-only"),
                                               (bias_everything, "sum-all")])
def test_bias_gradient_mistakes_are_named(answer, diagnosis):
    result = status_of(checks.check_conv_bias_grad, answer)
    assert result.status == "failed"
    assert result.diagnoses == [f"ex06-bias-gradient/{diagnosis}"]


# --- the weight gradient ----------------------------------------------------------------------

def weight_grad(x, grad_y, k, stride, padding, *, pad=True, step=True):
    p = padding if pad else 0
    xp = np.zeros(x.shape[:2] + (x.shape[2] + 2 * padding,))
    xp[:, :, p:p + x.shape[2]] = x
    s, o = (stride if step else 1), grad_y.shape[2]
    return np.stack([np.einsum("nos,ncs->oc", grad_y, xp[:, :, u:u + s * (o - 1) + 1:s])
                     for u in range(k)], axis=-1)


def weight_unpadded(x, grad_y, k, stride, padding):
    return weight_grad(x, grad_y, k, stride, padding, pad=False)


def weight_consecutive(x, grad_y, k, stride, padding):
    return weight_grad(x, grad_y, k, stride, padding, step=False)


def weight_flipped(x, grad_y, k, stride, padding):
    return weight_grad(x, grad_y, k, stride, padding)[..., ::-1]


def weight_batch_mean(x, grad_y, k, stride, padding):
    return weight_grad(x, grad_y, k, stride, padding) / x.shape[0]


def weight_right(x, grad_y, k, stride, padding):
    return weight_grad(x, grad_y, k, stride, padding)


@pytest.mark.parametrize("answer, diagnosis", [(weight_unpadded, "no-padding"),
                                               (weight_consecutive, "stride-ignored"),
                                               (weight_flipped, "flipped"),
                                               (weight_batch_mean, "batch-mean")])
def test_weight_gradient_mistakes_are_named(answer, diagnosis):
    result = status_of(checks.check_conv_weight_grad, answer)
    assert result.status == "failed"
    assert result.diagnoses == [f"ex06-weight-gradient/{diagnosis}"]


def test_weight_gradient_right_answer_passes(capsys):
    checks.check_conv_weight_grad(weight_right)
    assert "✓ ex06-weight-gradient" in capsys.readouterr().out
