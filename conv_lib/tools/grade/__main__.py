"""``python -m conv_lib.tools.grade`` (the same as ``python -m conv_lib.grade``)."""
from conv_lib.tools.grade.cli import main

raise SystemExit(main())
