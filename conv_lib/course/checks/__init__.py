"""Instant feedback for the exercise notebooks: ``from conv_lib.course import checks``.

Every ``check_*`` function takes the student's answer (a function, a class or plain values), runs it
on random configurations, compares the result with PyTorch and JAX computed live (and with
``conv_lib`` where that helps), and either prints one line starting with "✓" or raises an
``AssertionError`` that says what went wrong:

* the failing configuration, the expected and the obtained shape, the first differing index with
  both values and the tolerance used;
* a hint naming the typical mistake, found by computing the outputs of known-wrong variants
  (ceil instead of floor, padding on the wrong side, dilation applied to the input, groups
  ignored, kernel flipped, reflect vs symmetric, ...) and seeing which one the answer reproduces;
* "not attempted yet" when the answer still raises ``NotImplementedError`` or is ``...``.

Value answers (predictions such as "the output is 56 wide") are never echoed back in a failure
message: the check says what is wrong and how to think about it, not what the number is.

Random cases come from ``case_rng(exercise_id)``, seeded by ``$CONV_KNOBS_CHECK_SEED`` (the
grader's secret seed) or ``PRACTICE_SEED``; every check reports one ``CheckResult`` to the
reporters registered with ``add_reporter`` and raises ``CheckFailure`` (an AssertionError) or
``CheckBug``. ``hint(exercise_id)`` prints the formula of an exercise.

Layout: ``_harness`` (seeds, results, tiers of hints, calling), ``_compare`` (case-by-case
comparison and diagnosis), ``_scratch`` (each exercise's rule on its syntax tree),
``_refs`` (reference computations shared by several exercises) and one module per exercise
notebook (with its tables RULES, EXERCISES, DIAGNOSES), ``ex01`` ... ``ex10``. PyTorch, JAX
and Flax are imported lazily, on the first check that needs them, so importing this package is
cheap.
"""
from . import _harness
from ._harness import (PRACTICE_SEED, CheckBug, CheckFailure, CheckResult, add_reporter, case_rng,
                       current_seed, hint, remove_reporter)
from .ex01 import check_conv1d, check_conv_params, check_cross_correlation, check_filters, check_im2col
from .ex02 import (check_56x56, check_explainer_examples, check_output_size, check_quick_shapes,
                   check_same_padding, check_torch_accepts)
from .ex03 import check_stride_floor, check_strided_conv, check_strided_macs
from .ex04 import check_causal_conv1d, check_conv_with_padding, check_even_kernel, check_pad2d
from .ex05 import check_dilate_kernel, check_dilated_conv2d, check_effective_size, check_same_padding_dilated
from .ex06 import (check_conv_bias_grad, check_conv_input_grad, check_conv_transpose1d,
                   check_conv_weight_grad, check_transpose_output_size, check_transpose_vocabulary)
from .ex07 import check_pooled_rf, check_receptive_field, check_stacked_3x3, check_wavenet
from .ex08 import check_depthwise_separable, check_flax_shapes, check_grouped_conv1d, check_port_conv
from .ex09 import check_gemm_dims, check_im2col_gemm, check_transpose_phases
from .ex10 import check_tcn_receptive_field, check_tcn_usage, check_temporal_block
from .ex11 import check_connectivity, check_pointwise_linear, check_separable_params
from .ex12 import check_exact_shift, check_max_pool, check_pool_size



def __getattr__(name):
    """``DIAGNOSES`` (diagnosis id -> short description, for the class report) and ``RULES``
    (exercise id -> the Rule its answer must follow), computed from every registered module."""
    if name == "DIAGNOSES":
        return {key: d.description for key, d in sorted(_harness.DIAGNOSES.items())}
    if name == "RULES":
        return dict(_harness.RULES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [name for name in dir() if name.startswith("check_")] + [
    "PRACTICE_SEED", "DIAGNOSES", "RULES", "CheckBug", "CheckFailure", "CheckResult", "add_reporter",
    "remove_reporter", "case_rng", "current_seed", "hint"]

