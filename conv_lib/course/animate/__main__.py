"""``python -m conv_lib.course.animate --help``: see ``cli``."""
import sys

from .cli import main

sys.exit(main())
