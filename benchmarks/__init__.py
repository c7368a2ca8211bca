"""Benchmarks of conv_lib against PyTorch and JAX. Run ``python -m benchmarks.conv --help``."""
