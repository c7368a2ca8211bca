"""Instructor and maintainer tools: the exercise generator, the grader, and the step of the site
build that serves the theme's CDN stylesheets from the site itself (``site_offline``).

Nothing here is imported by the library or by the notebooks. Imports go one way:
``conv_lib.tools`` -> ``conv_lib.course`` -> ``conv_lib``.
"""
