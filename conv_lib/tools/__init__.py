"""Instructor and maintainer tools: the exercise generator and the grader.

Nothing here is imported by the library or by the notebooks. Imports go one way:
``conv_lib.tools`` -> ``conv_lib.course`` -> ``conv_lib``.
"""
