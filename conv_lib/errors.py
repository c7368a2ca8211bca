"""Typed argument errors: tools and tests branch on attributes, never on message text.

Every bad argument to a ``conv_lib`` function raises an ``ArgumentValueError`` (a ``ValueError``)
or an ``ArgumentTypeError`` (a ``TypeError``). Both carry

* ``argument``: the name of the offending argument as the caller wrote it (``"padding[1]"``,
  ``"stride"``, ``"x"``);
* ``kind``: which rule was broken, one of ``KINDS``;
* ``value``: the offending value (when there is a single one);
* ``axis``: the spatial dim the problem is in, when it is in one (0-based), else ``None``.

The message stays the readable sentence it always was:

>>> from conv_lib import conv_params
>>> try:
...     conv_params(6, 8, (3, 3), groups=4)
... except ValueError as err:
...     print(err.kind, err.argument, err.value)
channels groups 4
"""
from __future__ import annotations

from typing import Any

KINDS = {
    "type": "the argument has the wrong type",
    "out_of_range": "a number is below its minimum",
    "length": "a sequence has the wrong number of entries",
    "bad_padding_mode": "padding_mode is not one of PADDING_MODES",
    "bad_padding_string": "a padding string is not one of PADDING_STRINGS",
    "string_with_input_dilation": "a padding string together with input_dilation > 1",
    "causal_not_1d": "padding='causal' for an input with more than one spatial dim",
    "kernel_too_large": "the effective kernel is longer than the dilated, padded input",
    "reflect_pad_too_large": "reflect padding >= the size of the axis it pads",
    "circular_pad_too_large": "circular padding wraps around more than once",
    "empty_axis": "padding an empty axis with a mode that copies samples",
    "channels": "channel counts do not fit together (groups, C_in, C_out)",
    "shape": "an array has the wrong number of dims or an empty dim",
    "output_padding_too_large": "output_padding >= max(stride, dilation) in a transposed conv",
    "output_too_small": "the padding of a transposed conv leaves fewer than one output",
    "unsupported": "a combination the framework in question cannot express",
}


class ArgumentError(Exception):
    """Base class of conv_lib's argument errors (see the module docstring)."""

    def __init__(self, message: str, *, argument: str, kind: str, value: Any = None,
                 axis: int | None = None) -> None:
        if kind not in KINDS:
            raise RuntimeError(f"conv_lib bug: unknown error kind {kind!r}")
        super().__init__(message)
        self.argument, self.kind, self.value, self.axis = argument, kind, value, axis


class ArgumentValueError(ArgumentError, ValueError):
    """A value outside its valid range (a ``ValueError``)."""


class ArgumentTypeError(ArgumentError, TypeError):
    """A value of the wrong type (a ``TypeError``)."""
