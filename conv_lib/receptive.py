"""Receptive fields of a stack of layers (Araujo, Norris & Sim, 2019).

Layer l has kernel k_l, stride s_l and dilation d_l. Its *jump* j_{l-1} = s_1 * ... * s_{l-1} is how
far apart, in input samples, two neighbouring positions of its input are. Then

    r_0 = 1,      r_l = r_{l-1} + d_l * (k_l - 1) * j_{l-1}

Pooling layers count as layers with their own (k, s) and d = 1. The increment uses the product of the
strides *before* layer l, not the stride of layer l itself.
"""
from ._args import check_int, is_int


def _layers(layers):
    """Normalise to a list of (k, s, d, left_pad) tuples, checking every entry."""
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be a sequence of (kernel, stride, dilation) tuples, got {layers!r}")
    out = []
    for i, layer in enumerate(layers):
        if is_int(layer) or not isinstance(layer, (tuple, list)) or not 1 <= len(layer) <= 4:
            raise ValueError(f"layers[{i}] must be a (kernel, stride[, dilation[, padding]]) tuple, "
                             f"got {layer!r}")
        k = check_int(f"layers[{i}] kernel", layer[0], 1)
        s = check_int(f"layers[{i}] stride", layer[1], 1) if len(layer) > 1 else 1
        d = check_int(f"layers[{i}] dilation", layer[2], 1) if len(layer) > 2 else 1
        p = layer[3] if len(layer) > 3 else 0
        if isinstance(p, (tuple, list)):
            if len(p) != 2:
                raise ValueError(f"layers[{i}] padding must be an int or a (lo, hi) pair, got {p!r}")
            p = p[0]
        p = check_int(f"layers[{i}] padding", p, 0)
        out.append((k, s, d, p))
    return out


def receptive_field_table(layers):
    """One row per layer: kernel, stride, dilation, jumps before/after, receptive field, start.

    ``start`` is where, in input coordinates, the region seen by output 0 of that layer begins
    (negative when it reaches into the left padding).

    >>> [row["rf"] for row in receptive_field_table([(3, 1, 1)] * 3)]
    [3, 5, 7]
    """
    rows, rf, jump, start = [], 1, 1, 0
    for i, (k, s, d, p) in enumerate(_layers(layers), start=1):
        rf += d * (k - 1) * jump
        start -= p * jump
        rows.append({"layer": i, "kernel": k, "stride": s, "dilation": d, "padding": p,
                     "jump_in": jump, "jump": jump * s, "rf": rf, "start": start})
        jump *= s
    return rows


def receptive_field(layers):
    """Receptive field, in input samples, of one output of the last layer.

    ``layers`` is a sequence of ``(kernel, stride, dilation)`` tuples (dilation optional).

    >>> receptive_field([(2, 1, 2 ** i) for i in range(10)])   # WaveNet: 10 layers, k=2
    1024
    """
    table = receptive_field_table(layers)
    return table[-1]["rf"] if table else 1


def input_region(layers, index):
    """Input samples ``[start, stop)`` that output ``index`` of the last layer depends on.

    Layers may carry a 4th item, the left padding (int or (lo, hi) pair). Coordinates are those of
    the unpadded input, so ``start`` is negative when the region reaches into the padding.

    >>> input_region([(3, 1, 1, 1), (3, 2, 1, 1)], 2)
    (2, 7)
    """
    index = check_int("index", index, 0)
    table = receptive_field_table(layers)
    if not table:
        return (index, index + 1)
    jump, rf, start = table[-1]["jump"], table[-1]["rf"], table[-1]["start"]
    return (start + index * jump, start + index * jump + rf)
