"""Output-shape arithmetic and the one place where padding forms become ``(lo, hi)`` pairs.

For one spatial dimension with input size ``n``, kernel ``k``, stride ``s``, kernel dilation ``d``,
input dilation ``di`` and padding ``(lo, hi)``:

    dilated input   n' = (n - 1) * di + 1
    effective kernel  k_eff = d * (k - 1) + 1
    output            o  = floor((n' + lo + hi - k_eff) / s) + 1

With ``di = 1`` and ``lo = hi = p`` this is the formula in the PyTorch ``Conv2d`` docs and in
Dumoulin & Visin (2016): ``o = floor((n + 2p - d(k - 1) - 1) / s) + 1``.
"""
from __future__ import annotations

from typing import Sequence

from ._args import PADDING_STRINGS, IntOrSeq, Padding, check_int, is_int, per_dim
from .errors import ArgumentTypeError, ArgumentValueError


def effective_kernel_size(k: int, dilation: int = 1) -> int:
    """Span of a kernel of ``k`` taps spaced ``dilation`` apart: ``d * (k - 1) + 1``.

    >>> effective_kernel_size(3, dilation=2)
    5
    """
    k = check_int("k", k, 1)
    dilation = check_int("dilation", dilation, 1)
    return dilation * (k - 1) + 1


def dilated_size(n: int, input_dilation: int = 1) -> int:
    """Length after inserting ``input_dilation - 1`` zeros between ``n`` samples."""
    return (n - 1) * input_dilation + 1 if n > 0 else 0


def _string_padding(name: str, n: int, k: int, s: int, d: int, ndim: int) -> tuple[int, int]:
    """(lo, hi) for a padding string in one dimension (input dilation already ruled out)."""
    k_eff = d * (k - 1) + 1
    if name == "valid":
        return (0, 0)
    if name == "full":
        return (k_eff - 1, k_eff - 1)
    if name == "causal":
        if ndim != 1:
            raise ArgumentValueError(
                f"padding='causal' is only defined for 1-D convolutions (as in Flax), "
                f"but the input has {ndim} spatial dims; give explicit (lo, hi) pairs",
                argument="padding", kind="causal_not_1d", value="causal")
        return (k_eff - 1, 0)
    # 'same' in the JAX/TensorFlow sense: output ceil(n / s); the odd unit of padding goes last.
    out = -(-n // s)
    total = max((out - 1) * s + k_eff - n, 0)
    return (total // 2, total - total // 2)


def _pair(name: str, value: object, axis: int) -> tuple[int, int]:
    """Check one (lo, hi) pair of non-negative ints."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ArgumentValueError(f"{name} must be an int or a (lo, hi) pair, got {value!r}",
                                 argument=name, kind="length", value=value, axis=axis)
    return (check_int(f"{name}[0]", value[0], 0, axis), check_int(f"{name}[1]", value[1], 0, axis))


def resolve_padding(padding: Padding, in_sizes: Sequence[int], kernel_sizes: Sequence[int],
                    stride: IntOrSeq = 1, dilation: IntOrSeq = 1, input_dilation: IntOrSeq = 1
                    ) -> list[tuple[int, int]]:
    """Turn any padding form into a list of ``(lo, hi)`` pairs, one per spatial dim.

    Parameters
    ----------
    padding : int | sequence of ints | sequence of (lo, hi) pairs | str
        An int pads both sides of every dim; a tuple of ints gives one symmetric amount per dim;
        a sequence of pairs is used as given; ``'valid'``, ``'same'``, ``'causal'`` or ``'full'``
        (any case) are computed from the sizes below.
    in_sizes, kernel_sizes : sequence of int
        Spatial input sizes (before input dilation) and kernel sizes, one per dim.
    stride, dilation, input_dilation : int or sequence of int

    Returns
    -------
    list of (int, int)

    >>> resolve_padding("same", [5], [2])       # JAX/TF put the odd unit at the end
    [(0, 1)]
    >>> resolve_padding("causal", [100], [3], dilation=4)
    [(8, 0)]
    """
    in_sizes, kernel_sizes = tuple(in_sizes), tuple(kernel_sizes)
    ndim = len(kernel_sizes)
    if len(in_sizes) != ndim:
        raise ArgumentValueError(
            f"in_sizes {in_sizes} and kernel_sizes {kernel_sizes} must have the same length",
            argument="in_sizes", kind="length", value=in_sizes)
    stride = per_dim("stride", stride, ndim)
    dilation = per_dim("dilation", dilation, ndim)
    input_dilation = per_dim("input_dilation", input_dilation, ndim)

    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in PADDING_STRINGS:
            raise ArgumentValueError(
                f"Invalid padding string {padding!r}, should be one of {PADDING_STRINGS}",
                argument="padding", kind="bad_padding_string", value=padding)
        if any(di > 1 for di in input_dilation):
            raise ArgumentValueError(
                f"padding={padding!r} cannot be combined with input_dilation={input_dilation}: "
                f"give explicit (lo, hi) pairs instead (JAX and Flax have the same rule)",
                argument="padding", kind="string_with_input_dilation", value=padding)
        return [_string_padding(mode, n, k, s, d, ndim)
                for n, k, s, d in zip(in_sizes, kernel_sizes, stride, dilation)]
    if is_int(padding):
        p = check_int("padding", padding, 0)
        return [(p, p)] * ndim
    if isinstance(padding, (tuple, list)):
        if len(padding) != ndim:
            raise ArgumentValueError(f"padding must have one entry per spatial dim ({ndim}), "
                                     f"got padding={padding!r} of length {len(padding)}",
                                     argument="padding", kind="length", value=padding)
        pairs = []
        for i, p in enumerate(padding):  # like Flax, each entry is an int or a (lo, hi) pair
            if is_int(p):
                p = check_int(f"padding[{i}]", p, 0, axis=i)
                pairs.append((p, p))
            else:
                pairs.append(_pair(f"padding[{i}]", p, axis=i))
        return pairs
    raise ArgumentTypeError(f"padding must be an int, a sequence of ints or (lo, hi) pairs, or "
                            f"one of {PADDING_STRINGS}; got {padding!r}",
                            argument="padding", kind="type", value=padding)


def _output_size_1d(n: int, k: int, s: int, d: int, di: int, lo: int, hi: int,
                    dim: int | None = None) -> int:
    k_eff = d * (k - 1) + 1
    n_padded = dilated_size(n, di) + lo + hi
    if n_padded < k_eff:
        where = "" if dim is None else f" in spatial dim {dim}"
        raise ArgumentValueError(
            f"kernel larger than the padded input{where}: effective kernel size "
            f"d*(k-1)+1 = {d}*({k}-1)+1 = {k_eff} but the (dilated, padded) input has only "
            f"{n_padded} samples (n={n}, input_dilation={di}, padding=({lo}, {hi}))",
            argument="kernel_sizes", kind="kernel_too_large", value=k, axis=dim)
    return (n_padded - k_eff) // s + 1


def output_shape(in_sizes: Sequence[int], kernel_sizes: Sequence[int], stride: IntOrSeq = 1,
                 padding: Padding = 0, dilation: IntOrSeq = 1, input_dilation: IntOrSeq = 1
                 ) -> tuple[int, ...]:
    """Spatial output sizes of a convolution (the batch and channel dims are not included).

    >>> output_shape((56, 56), (5, 5), padding=4, dilation=2)
    (56, 56)
    """
    in_sizes, kernel_sizes = tuple(in_sizes), tuple(kernel_sizes)
    ndim = len(kernel_sizes)
    for i, (n, k) in enumerate(zip(in_sizes, kernel_sizes)):
        check_int(f"in_sizes[{i}]", n, 1, axis=i)
        check_int(f"kernel_sizes[{i}]", k, 1, axis=i)
    pads = resolve_padding(padding, in_sizes, kernel_sizes, stride, dilation, input_dilation)
    stride = per_dim("stride", stride, ndim)
    dilation = per_dim("dilation", dilation, ndim)
    input_dilation = per_dim("input_dilation", input_dilation, ndim)
    return tuple(_output_size_1d(n, k, s, d, di, lo, hi, dim=i if ndim > 1 else None)
                 for i, (n, k, s, d, di, (lo, hi)) in enumerate(
                     zip(in_sizes, kernel_sizes, stride, dilation, input_dilation, pads)))


def output_size(n: int, k: int, stride: int = 1, padding: int | str | Sequence[int] = 0,
                dilation: int = 1, input_dilation: int = 1) -> int:
    """Output length along one spatial dim.

    ``padding`` is an int (both sides), a ``(lo, hi)`` pair or a padding string.

    >>> output_size(5, 3, stride=2)
    2
    >>> output_size(224, 7, dilation=2)             # Flax kernel_dilation example
    212
    >>> output_size(224, 7, input_dilation=2, padding=(0, 0))
    441
    """
    if isinstance(padding, (tuple, list)):
        padding = [tuple(padding)]
    return output_shape((n,), (k,), stride, padding, dilation, input_dilation)[0]


def transposed_output_size(n: int, k: int, stride: int = 1, padding: int = 0,
                           output_padding: int = 0, dilation: int = 1,
                           axis: int | None = None) -> int:
    """Output length of a transposed convolution (PyTorch's ``ConvTranspose``), one spatial dim:

        out = (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1

    It is the input length of the convolution whose gradient it is (up to ``output_padding``,
    which picks one of the ``s`` input lengths that all give ``n`` outputs). A size below 1 is an
    error, as in PyTorch (2.13 raises "Output size is too small" for 0 as well). ``axis`` names the
    spatial dim in error messages (``padding[axis]``) when called once per dim.

    >>> transposed_output_size(5, 3, stride=2, padding=1, output_padding=1)
    10
    >>> transposed_output_size(1, 1, padding=0)
    1
    """
    def name(arg):
        return arg if axis is None else f"{arg}[{axis}]"

    n, k = check_int(name("n"), n, 1, axis), check_int(name("k"), k, 1, axis)
    s, d = check_int(name("stride"), stride, 1, axis), check_int(name("dilation"), dilation, 1, axis)
    p = check_int(name("padding"), padding, 0, axis)
    op = check_int(name("output_padding"), output_padding, 0, axis)
    if op >= max(s, d):
        raise ArgumentValueError(
            f"{name('output_padding')}={op} must be smaller than stride or dilation "
            f"(stride={s}, dilation={d}), as in PyTorch",
            argument=name("output_padding"), kind="output_padding_too_large", value=op, axis=axis)
    out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1:
        raise ArgumentValueError(
            f"{name('padding')}={p} is too large: the transposed convolution output "
            f"(n-1)*s - 2p + d(k-1) + output_padding + 1 = {out} would be < 1",
            argument=name("padding"), kind="output_too_small", value=p, axis=axis)
    return out

