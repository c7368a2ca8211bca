"""Receptive fields of a stack of layers (Araujo, Norris & Sim, 2019).

Layer l has kernel k_l, stride s_l and dilation d_l. Its *jump* j_{l-1} = s_1 * ... * s_{l-1} is how
far apart, in input samples, two neighbouring positions of its input are. Then

    r_0 = 1,      r_l = r_{l-1} + d_l * (k_l - 1) * j_{l-1}

Pooling layers count as layers with their own (k, s) and d = 1. The increment uses the product of the
strides *before* layer l, not the stride of layer l itself.
"""
from __future__ import annotations

from typing import Any, Sequence

from ._args import check_int, is_int
from .errors import ArgumentTypeError, ArgumentValueError

Layer = Sequence[Any]  # (kernel, stride[, dilation[, padding]]); padding an int or a (lo, hi) pair


def _layers(layers: Sequence[Layer]) -> list[tuple[int, int, int, int, int]]:
    """Normalise to a list of (k, s, d, pad_lo, pad_hi) tuples, checking every entry."""
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise ArgumentTypeError(
            f"layers must be a sequence of (kernel, stride, dilation) tuples, got {layers!r}",
            argument="layers", kind="type", value=layers)
    out = []
    for i, layer in enumerate(layers):
        if is_int(layer) or not isinstance(layer, (tuple, list)) or not 1 <= len(layer) <= 4:
            raise ArgumentValueError(
                f"layers[{i}] must be a (kernel, stride[, dilation[, padding]]) tuple, got {layer!r}",
                argument=f"layers[{i}]", kind="length", value=layer)
        k = check_int(f"layers[{i}] kernel", layer[0], 1)
        s = check_int(f"layers[{i}] stride", layer[1], 1) if len(layer) > 1 else 1
        d = check_int(f"layers[{i}] dilation", layer[2], 1) if len(layer) > 2 else 1
        p = layer[3] if len(layer) > 3 else 0
        if isinstance(p, (tuple, list)):
            if len(p) != 2:
                raise ArgumentValueError(
                    f"layers[{i}] padding must be an int or a (lo, hi) pair, got {p!r}",
                    argument=f"layers[{i}] padding", kind="length", value=p)
            lo = check_int(f"layers[{i}] padding[0]", p[0], 0)
            hi = check_int(f"layers[{i}] padding[1]", p[1], 0)
        else:
            lo = hi = check_int(f"layers[{i}] padding", p, 0)
        out.append((k, s, d, lo, hi))
    return out


def receptive_field_table(layers: Sequence[Layer]) -> list[dict[str, Any]]:
    """One row per layer: kernel, stride, dilation, padding, jumps before/after, receptive field,
    start.

    ``start`` is where, in input coordinates, the region seen by output 0 of that layer begins
    (negative when it reaches into the left padding). Only the left padding moves the region;
    the right padding (``padding_hi``, reported for completeness) changes how many outputs there
    are, not what any one of them sees.

    >>> [row["rf"] for row in receptive_field_table([(3, 1, 1)] * 3)]
    [3, 5, 7]
    """
    rows, rf, jump, start = [], 1, 1, 0
    for i, (k, s, d, lo, hi) in enumerate(_layers(layers), start=1):
        rf += d * (k - 1) * jump
        start -= lo * jump
        rows.append({"layer": i, "kernel": k, "stride": s, "dilation": d, "padding": lo,
                     "padding_hi": hi, "jump_in": jump, "jump": jump * s, "rf": rf,
                     "start": start})
        jump *= s
    return rows


def receptive_field(layers: Sequence[Layer]) -> int:
    """Receptive field, in input samples, of one output of the last layer.

    ``layers`` is a sequence of ``(kernel, stride, dilation)`` tuples (dilation optional).

    >>> receptive_field([(2, 1, 2 ** i) for i in range(10)])   # WaveNet: 10 layers, k=2
    1024
    """
    table = receptive_field_table(layers)
    return table[-1]["rf"] if table else 1


def input_region(layers: Sequence[Layer], index: int) -> tuple[int, int]:
    """Input samples ``[start, stop)`` that output ``index`` of the last layer depends on.

    Layers may carry a 4th item, the padding (int or (lo, hi) pair). Coordinates are those of
    the unpadded input, so ``start`` is negative when the region reaches into the padding.

    >>> input_region([(3, 1, 1, 1), (3, 2, 1, 1)], 2)
    (2, 7)
    >>> input_region([(3, 1, 1, (2, 0))], 0)                   # causal: two zeros on the left
    (-2, 1)
    """
    index = check_int("index", index, 0)
    table = receptive_field_table(layers)
    if not table:
        return (index, index + 1)
    jump, rf, start = table[-1]["jump"], table[-1]["rf"], table[-1]["start"]
    return (start + index * jump, start + index * jump + rf)
