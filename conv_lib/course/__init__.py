"""The course runtime: what the chapter and exercise notebooks import.

``checks`` (instant feedback for the exercises), ``viz`` (figures and live controls),
``widgets`` (the playgrounds' Python side) and ``animate`` (step-by-step pictures). They import
matplotlib, ipywidgets, anywidget and, inside the checks, PyTorch, JAX and Flax; the library
``conv_lib`` itself needs only NumPy. Imports go one way: ``conv_lib.tools`` -> ``conv_lib.course``
-> ``conv_lib``.
"""
