"""conv_lib: convolution layers from scratch in NumPy, checked against PyTorch and JAX.

Arrays use PyTorch's layout: x is (N, C_in, *spatial) and w is (C_out, C_in // groups, *kernel).
``import conv_lib`` needs NumPy only; ``conv_lib.frameworks`` imports PyTorch, JAX and Flax on
first use. Bad arguments raise ``conv_lib.errors.ArgumentValueError``/``ArgumentTypeError``
(subclasses of ``ValueError``/``TypeError``) that carry the argument's name and the rule broken.
"""
from .conv import conv, conv_reference, conv_transpose
from .counts import conv_flops, conv_macs, conv_params
from .errors import ArgumentError, ArgumentTypeError, ArgumentValueError
from .padding import dilate, pad
from .receptive import input_region, receptive_field, receptive_field_table
from .shapes import (effective_kernel_size, output_shape, output_size, resolve_padding,
                     transposed_output_size)

__all__ = [
    "conv", "conv_reference", "conv_transpose", "pad", "dilate", "output_size", "output_shape",
    "transposed_output_size", "effective_kernel_size", "resolve_padding", "receptive_field",
    "receptive_field_table", "input_region", "conv_params", "conv_macs", "conv_flops",
    "ArgumentError", "ArgumentValueError", "ArgumentTypeError",
]
