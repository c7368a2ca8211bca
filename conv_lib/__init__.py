"""conv_lib: convolution layers from scratch in NumPy, checked against PyTorch and JAX.

Arrays use PyTorch's layout: x is (N, C_in, *spatial) and w is (C_out, C_in // groups, *kernel).
"""
from .conv import conv, conv_reference, conv_transpose
from .counts import conv_flops, conv_macs, conv_params
from .padding import dilate, pad
from .receptive import input_region, receptive_field, receptive_field_table
from .shapes import effective_kernel_size, output_shape, output_size, resolve_padding

__all__ = [
    "conv", "conv_reference", "conv_transpose", "pad", "dilate", "output_size", "output_shape",
    "effective_kernel_size", "resolve_padding", "receptive_field", "receptive_field_table",
    "input_region", "conv_params", "conv_macs", "conv_flops",
]
