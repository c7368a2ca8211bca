"""``python -m conv_lib.grade``: the instructor's grading command (see ``conv_lib.tools.grade``)."""
if __name__ == "__main__":
    from conv_lib.tools.grade.cli import main

    raise SystemExit(main())
