"""The checks' contract with the grader and with students (conv_lib.course.checks._harness).

Seeds and held-out cases, one CheckResult per call handed to reporters, CheckFailure / CheckBug,
partial credit per part, diagnosis ids, tiered hints, the PROTECTED registry.
"""
import functools
import json
import operator

import numpy as np
import pytest

import conv_lib
from conv_lib.course import checks
from conv_lib.course.checks import _harness, ex02, ex06


@pytest.fixture
def reports():
    got = []
    checks.add_reporter(got.append)
    yield got
    checks.remove_reporter(got.append)


@pytest.fixture
def fresh_session(monkeypatch):
    monkeypatch.setattr(_harness, "_SESSION", {"failures": __import__("collections").Counter(),
                                               "revealed": set()})


def output_size(n, k, s=1, p=0, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def ceil_output_size(n, k, s=1, p=0, d=1):
    return -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1


# ----------------------------------------------------------------------------------------------
# seeds
# ----------------------------------------------------------------------------------------------

def test_case_rng_follows_the_seed_variable(monkeypatch):
    monkeypatch.delenv(_harness.SEED_ENV, raising=False)
    practice = checks.case_rng("ex02-output-size").integers(0, 10 ** 9, 4)
    assert checks.current_seed() == checks.PRACTICE_SEED == 2024
    assert (practice == checks.case_rng("ex02-output-size").integers(0, 10 ** 9, 4)).all()
    assert (practice != checks.case_rng("ex02-same-padding").integers(0, 10 ** 9, 4)).any()
    monkeypatch.setenv(_harness.SEED_ENV, "123")
    assert (practice != checks.case_rng("ex02-output-size").integers(0, 10 ** 9, 4)).any()
    monkeypatch.setenv(_harness.SEED_ENV, "abc")
    with pytest.raises(ValueError, match="CONV_KNOBS_CHECK_SEED='abc'"):
        checks.case_rng("ex02-output-size")


def _memorise(check, answer, monkeypatch, seed):
    """A 'student' who recorded every case of one practice run and replays them."""
    seen = {}

    def recorder(*args):
        seen[repr(args)] = answer(*args)
        return seen[repr(args)]

    monkeypatch.setenv(_harness.SEED_ENV, str(seed))
    check(recorder)

    def memoriser(*args):
        return seen.get(repr(args), 0)

    return memoriser


@pytest.mark.parametrize("check, answer", [
    (checks.check_output_size, output_size),
    (checks.check_tcn_receptive_field, lambda k, lv: 1 + 2 * (k - 1) * (2 ** lv - 1)),
    (checks.check_same_padding_dilated, lambda k, d: d * (k - 1) // 2 if d * (k - 1) % 2 == 0 else None),
    (checks.check_receptive_field, conv_lib.receptive_field.__wrapped__
     if hasattr(conv_lib.receptive_field, "__wrapped__") else None),
], ids=["output-size", "tcn-rf", "same-dilated", "receptive-field"])
def test_practice_memorisers_fail_under_another_seed(check, answer, monkeypatch, capsys):
    if answer is None:  # the receptive field by hand (conv_lib's would be forbidden)
        def answer(layers):
            rf, jump = 1, 1
            for layer in layers:
                d = layer[2] if len(layer) > 2 else 1
                rf, jump = rf + d * (layer[0] - 1) * jump, jump * layer[1]
            return rf
    memoriser = _memorise(check, answer, monkeypatch, checks.PRACTICE_SEED)
    check(memoriser)                       # the practice run is fooled ...
    assert capsys.readouterr().out.count("✓") == 2
    monkeypatch.setenv(_harness.SEED_ENV, "987654")
    with pytest.raises(checks.CheckFailure) as info:  # ... the graded run is not
        check(memoriser)
    assert info.value.result.status == "failed"


# ----------------------------------------------------------------------------------------------
# results, reporters, exceptions
# ----------------------------------------------------------------------------------------------

def test_pass_reports_once_then_prints(reports, capsys):
    checks.check_output_size(output_size)
    assert len(reports) == 1
    assert reports[0]["status"] == "passed" and reports[0]["parts"] == [["ex02-output-size", True]]
    assert capsys.readouterr().out.startswith("✓ ex02-output-size:")
    json.dumps(reports)


def test_failure_is_an_assertion_error_carrying_its_result(reports):
    with pytest.raises(AssertionError) as info:
        checks.check_output_size(ceil_output_size)
    result = info.value.result
    assert isinstance(info.value, checks.CheckFailure)
    assert reports == [result.as_dict()]
    assert result.status == "failed" and result.parts == [("ex02-output-size", False)]
    assert result.diagnoses == ["ex02-output-size/ceil"]
    assert set(result.diagnoses) <= set(checks.DIAGNOSES)


def test_not_attempted_status(reports):
    def todo(*args):
        raise NotImplementedError

    with pytest.raises(checks.CheckFailure):
        checks.check_output_size(todo)
    assert reports[0]["status"] == "not-attempted"


def test_broken_reference_is_a_check_bug_not_a_wrong_answer(monkeypatch, reports):
    monkeypatch.setattr(ex02, "_jax_conv_shape", lambda *a, **k: (0, 0, 0, -1))
    with pytest.raises(checks.CheckBug, match="bug in the check, not in your answer") as info:
        checks.check_quick_shapes(112, 2)
    assert not isinstance(info.value, AssertionError)
    assert info.value.result.status == "check-bug" and reports[0]["status"] == "check-bug"


def test_crash_inside_the_check_machinery_is_a_check_bug(monkeypatch):
    # a reference that raises from C code (no frame of this test file, which would look like a
    # student's): getitem with the wrong number of arguments
    monkeypatch.setattr(ex02, "_torch_shape", functools.partial(operator.getitem, {}))
    with pytest.raises(checks.CheckBug, match="bug in the check.*TypeError"):
        checks.check_output_size(output_size)


def test_crash_in_student_code_called_directly_is_the_students(capsys):
    class Exploding:
        def __init__(self, channels, n_layers=10, kernel_size=2):
            raise ZeroDivisionError("boom")

    with pytest.raises(checks.CheckFailure, match="ZeroDivisionError: boom") as info:
        checks.check_wavenet(Exploding, lambda m: [])
    assert info.value.result.status == "failed"


def test_broken_reporter_does_not_change_the_feedback(capsys):
    def broken(result):
        raise RuntimeError("disk full")

    checks.add_reporter(broken)
    try:
        with pytest.warns(UserWarning, match="disk full"):
            checks.check_output_size(output_size)
    finally:
        checks.remove_reporter(broken)
    assert "✓" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------
# partial credit
# ----------------------------------------------------------------------------------------------

def test_multi_value_answers_get_one_part_per_value(reports):
    with pytest.raises(checks.CheckFailure) as info:
        checks.check_56x56(56, 52, 5, 10, 0)       # right, wrong, right, wrong (D*K), right
    result = info.value.result
    assert result.parts == [("out_plain", True), ("out_dilated", False), ("rf_plain", True),
                            ("rf_dilated", False), ("extra_params", True)]
    assert result.fraction == pytest.approx(3 / 5)
    assert "ex02-56x56/d-times-k" in result.diagnoses
    assert "3 of 5 parts right" in result.message
    for value in ("60", "52", "9"):  # value answers are never revealed
        assert f" {value}" not in result.message.replace("56x56", "")


def test_independent_functions_are_parts(reports):
    def out_len(n, k, s):
        return (n - k) // s + 1

    def dropped(n, k, s):
        return (n - k) // s                        # quotient instead of remainder

    with pytest.raises(checks.CheckFailure) as info:
        checks.check_stride_floor(out_len, dropped)
    assert info.value.result.parts == [("out_len", True), ("dropped", False)]
    assert info.value.result.diagnoses == ["ex03-stride-floor/dropped-quotient"]


# ----------------------------------------------------------------------------------------------
# tiered hints
# ----------------------------------------------------------------------------------------------

def test_formula_only_on_repeated_failure_or_on_request(fresh_session, capsys):
    formula = ex02.EXERCISES["ex02-output-size"][1]
    with pytest.raises(checks.CheckFailure) as first:
        checks.check_output_size(ceil_output_size)
    assert formula not in str(first.value) and "rounded up" in str(first.value)
    assert "checks.hint('ex02-output-size')" in str(first.value)
    with pytest.raises(checks.CheckFailure) as second:
        checks.check_output_size(ceil_output_size)
    assert formula in str(second.value)

    with pytest.raises(checks.CheckFailure) as other:
        checks.check_same_padding(lambda n, k, s=1, d=1: (0, 0))
    assert "max((ceil" not in str(other.value)
    checks.hint("ex02-same-padding")
    assert "max((ceil(n/s) - 1)*s" in capsys.readouterr().out
    with pytest.raises(checks.CheckFailure) as after_hint:
        checks.check_same_padding(lambda n, k, s=1, d=1: (0, 0))
    assert "max((ceil(n/s) - 1)*s" in str(after_hint.value)


def test_hint_names_valid_ids():
    with pytest.raises(ValueError, match="ex04-nope"):
        checks.hint("ex04-nope")
    checks.hint("ex04-reflect-replicate/symmetric-not-reflect")


def test_smallest_failing_case_is_shown_with_its_values(fresh_session):
    def flipped(x, kernel):
        return np.convolve(x, kernel, mode="valid")

    with pytest.raises(checks.CheckFailure) as info:
        checks.check_cross_correlation(flipped)
    message = str(info.value)
    assert "configuration: len(x)=" in message
    assert "expected: [" in message and "got: [" in message   # small enough to print in full
    assert info.value.result.diagnoses == ["ex01-cross-correlation/flipped"]
    case = int(message.split("case ")[1].split(" of")[0]) - 1
    sizes = [len(c.x) + len(c.k) for c in _cross_correlation_cases()]
    assert sizes[case] == min(s for s, c in zip(sizes, _cross_correlation_cases())
                              if c.k.size > 1 and not np.allclose(c.k, c.k[::-1]))


def _cross_correlation_cases():
    """The practice cases of ex01-cross-correlation, drawn as the check draws them."""
    rng = checks.case_rng("ex01-cross-correlation")
    cases = []
    for _ in range(24):
        n = int(rng.integers(3, 13))
        k = int(rng.integers(1, min(n, 5) + 1))
        x, kern = rng.normal(size=n), rng.normal(size=k)
        cases.append(_harness.Case((x, kern), x=x, k=kern))
    return cases


def test_every_diagnosis_has_texts_and_every_exercise_a_formula():
    for key, diag in _harness.DIAGNOSES.items():
        assert key.split("/")[0] in _harness.EXERCISES, key
        assert diag.description and diag.tier1
    for ex, (concept, formula) in _harness.EXERCISES.items():
        assert concept and formula, ex


def test_input_gradient_hint_blames_output_padding_when_padding_is_zero(fresh_session):
    def no_output_padding(grad_y, w, n, stride, padding):
        return conv_lib.conv_transpose(grad_y, w, stride=stride, padding=padding)

    with pytest.raises(checks.CheckFailure) as info:
        checks.check_conv_input_grad(no_output_padding)
    result = info.value.result
    assert result.diagnoses == ["ex06-input-gradient/no-output-padding"]
    assert "output_padding" in result.message and "forward padding" not in result.message
    assert "padding=0" in result.message           # the smallest failing case has padding 0
    assert "(n + 2p - k) % stride" not in result.message  # the formula waits for tier 2
    assert ex06.EXERCISES["ex06-input-gradient"][1].startswith("dx = conv_transpose")


# ----------------------------------------------------------------------------------------------
# what the grader verifies
# ----------------------------------------------------------------------------------------------

def test_protected_registry_covers_checks_and_machinery():
    protected = set(map(id, _harness.PROTECTED.values()))
    for name in dir(checks):
        if name.startswith("check_"):
            assert id(getattr(checks, name)) in protected, name
    for obj in (_harness.add_reporter, _harness.case_rng, _harness._call, _harness._check_arrays,
                _harness._check_scalars, _harness._same_value, _harness._array_diff, np.allclose,
                np.isclose):
        assert id(obj) in protected, obj
    for name, obj in _harness.PROTECTED.items():
        assert isinstance(name, str) and "." in name
