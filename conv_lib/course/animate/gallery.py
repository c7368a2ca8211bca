"""The gallery: Dumoulin & Visin's classic animations regenerated, plus what they never drew.

Each case is a title and the exact command that draws it; ``show`` (used by the book's gallery
page) renders a list of cases as a grid of figures, each captioned with its command, so the
commands on the page are the ones that made the pictures.

``python -m conv_lib.course.animate.gallery --write`` rewrites the few GIFs the README shows
(``README_FILES``); ``--check`` fails when a committed one differs from what the generator draws now.
"""
from __future__ import annotations

import argparse
import html
import pathlib
import sys
import time

from .cli import from_command

CMD = "python -m conv_lib.course.animate"

# The guide's figures (arXiv:1603.07285, sections 2-4; the animations in its repository):
# 7 convolutions, their 7 transposes (drawn as the equivalent convolution, as the guide does)
# and 1 dilated convolution. Sizes are the guide's.
CLASSIC = [
    ("No padding, no strides", "--input 4 --kernel 3"),
    ("Arbitrary padding, no strides", "--input 5 --kernel 4 --padding 2"),
    ("Half padding, no strides", "--input 5 --kernel 3 --padding 1"),
    ("Full padding, no strides", "--input 5 --kernel 3 --padding 2"),
    ("No padding, strides", "--input 5 --kernel 3 --stride 2"),
    ("Padding, strides", "--input 5 --kernel 3 --stride 2 --padding 1"),
    ("Padding, strides (odd)", "--input 6 --kernel 3 --stride 2 --padding 1"),
    ("No padding, no strides, transposed", "--input 2 --kernel 3 --transposed"),
    ("Arbitrary padding, no strides, transposed", "--input 6 --kernel 4 --padding 2 --transposed"),
    ("Half padding, no strides, transposed", "--input 5 --kernel 3 --padding 1 --transposed"),
    ("Full padding, no strides, transposed", "--input 7 --kernel 3 --padding 2 --transposed"),
    ("No padding, strides, transposed", "--input 2 --kernel 3 --stride 2 --transposed"),
    ("Padding, strides, transposed", "--input 3 --kernel 3 --stride 2 --padding 1 --transposed"),
    ("Padding, strides, transposed (odd)",
     "--input 3 --kernel 3 --stride 2 --padding 1 --output-padding 1 --transposed"),
    ("Dilation, no padding, no strides", "--input 7 --kernel 3 --dilation 2"),
]

BEYOND = [
    ("Zero padding, with numbers", "--input 5 --kernel 3 --padding 1 --numbers"),
    ("Reflect padding", "--input 5 --kernel 3 --padding 1 --mode reflect"),
    ("Replicate padding", "--input 5 --kernel 3 --padding 1 --mode replicate"),
    ("Circular padding", "--input 5 --kernel 3 --padding 1 --mode circular"),
    ("'same' padding with an even kernel (the odd unit goes last)",
     "--input 5 --kernel 4 --padding same --numbers"),
    ("Input dilation (JAX's lhs_dilation)", "--input 3 --kernel 3 --input-dilation 2 --padding 1"),
    ("Transposed convolution as a scatter",
     "--input 3 --kernel 3 --stride 2 --padding 1 --transposed --view scatter --numbers"),
    ("1-D, dilation 2, reflect padding",
     "--dims 1 --input 8 --kernel 3 --dilation 2 --padding 2 --mode reflect --numbers"),
    ("1-D transposed convolution, stride 2, as a scatter",
     "--dims 1 --input 4 --kernel 3 --stride 2 --transposed --view scatter --numbers"),
    ("Causal padding in 1-D", "--dims 1 --input 8 --kernel 3 --padding causal --numbers"),
    ("Causal dilated stack (WaveNet's picture)",
     "--input 16 --kernel 2 --causal-stack 1,2,4,8 --cell-size 26"),
    ("Causal stack with kernel 3", "--input 12 --kernel 3 --causal-stack 1,3 --cell-size 28"),
    ("Grouped convolution: 2 groups", "--channels 4,4 --groups 2"),
    ("Depthwise convolution: groups = channels", "--channels 4 --groups 4"),
    ("Depthwise with channel multiplier 2", "--channels 3,6 --groups 3"),
]

# The GIFs the README shows (committed; checked for drift by tests/test_animate.py).
README_FILES = {
    "book/images/animate-padding-strides.gif":
        "--input 5 --kernel 3 --stride 2 --padding 1 --cell-size 28",
    "book/images/animate-reflect.gif":
        "--input 5 --kernel 3 --padding 1 --mode reflect --cell-size 28",
    "book/images/animate-causal-stack.gif":
        "--input 16 --kernel 2 --causal-stack 1,2,4,8 --cell-size 22",
}


def command(args, output):
    """The full shell command of a case."""
    return f"{CMD} {args} -o {output}"


def slug(title):
    keep = "".join(ch if ch.isalnum() else "-" for ch in title.lower())
    return "-".join(part for part in keep.split("-") if part)


def figure_html(title, args, fmt="gif"):
    """One figure: the animation (inline), its title and the command that drew it."""
    anim = from_command(args)
    cmd = command(args, f"{slug(title)}.{fmt}")
    return (f'<figure style="margin:0;width:{anim.scene.width}px;max-width:100%">'
            f'{anim.img(fmt, alt=f"{title}: {anim.scene.caption}")}'
            f'<figcaption style="font-size:0.9em"><strong>{html.escape(title)}</strong>'
            f'<pre style="white-space:pre-wrap;margin:0.3em 0 0;font-size:0.8em;'
            f'overflow-x:auto"><code>{html.escape(cmd)}</code></pre></figcaption></figure>')


def grid_html(cases, fmt="gif"):
    """The figures side by side at their natural size (the same scale for all), wrapping onto
    new rows; a figure wider than the page (a phone) shrinks to fit."""
    figures = "".join(figure_html(title, args, fmt) for title, args in cases)
    return (f'<div style="display:flex;flex-wrap:wrap;gap:1.5em 2em;align-items:flex-start">'
            f'{figures}</div>')


def show(cases, fmt="gif"):
    """Display the cases in a notebook (HTML, so the static book renders it too)."""
    from IPython.display import display
    display({"text/html": grid_html(cases, fmt),
             "text/plain": f"{len(cases)} animations"}, raw=True)


def readme_bytes(root):
    """{path: bytes the generator draws now} for the README's GIFs."""
    return {root / path: from_command(args).to_bytes("gif") for path, args in README_FILES.items()}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m conv_lib.course.animate.gallery",
                                description="Write or check the README's GIFs; time the gallery.")
    p.add_argument("--root", type=pathlib.Path, default=pathlib.Path.cwd(),
                   help="repository root (default: the current directory)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help="rewrite the README's GIFs")
    group.add_argument("--check", action="store_true", help="fail if a committed GIF is stale")
    group.add_argument("--time", action="store_true", help="time drawing the whole gallery")
    args = p.parse_args(argv)
    if args.time:
        start = time.perf_counter()
        for title, case in CLASSIC + BEYOND:
            t0 = time.perf_counter()
            size = len(from_command(case).to_bytes("gif"))
            print(f"{time.perf_counter() - t0:6.3f} s {size / 1024:7.1f} KiB  {title}")
        print(f"{time.perf_counter() - start:.2f} s for {len(CLASSIC + BEYOND)} animations")
        return 0
    stale = []
    for path, data in readme_bytes(args.root).items():
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            print(f"wrote {path} ({len(data)} bytes)")
        elif not path.exists() or path.read_bytes() != data:
            stale.append(str(path))
    if stale:
        print("stale (run python -m conv_lib.course.animate.gallery --write): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
