"""The command line: ``python -m conv_lib.course.animate [options] -o FILE``.

Examples::

    python -m conv_lib.course.animate --input 5 --kernel 3 --stride 2 --padding 1 --mode reflect -o conv.gif
    python -m conv_lib.course.animate --input 7 --kernel 3 --dilation 2 --numbers -o dilated.webp
    python -m conv_lib.course.animate --input 3 --kernel 3 --stride 2 --padding 1 --transposed --view scatter -o up.svg
    python -m conv_lib.course.animate --dims 1 --input 16 --kernel 2 --causal-stack 1,2,4,8 -o tcn.gif
    python -m conv_lib.course.animate --channels 4,8 --groups 4 -o groups.png

The output format follows the file's extension (.gif .webp .svg .png); ``--frame N`` writes only
frame N (a PNG is always one frame: the last unless ``--frame`` says otherwise).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time

from . import PALETTE, Animation, animate


def _ints(text):
    """'5' -> 5, '5,6' -> (5, 6)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an int or ints separated by commas, got {text!r}")
    return values[0] if len(values) == 1 else tuple(values)


def _int_list(text):
    value = _ints(text)
    return [value] if isinstance(value, int) else list(value)


def _padding(text):
    """'1', '1,2', 'same' or (lo, hi) pairs as 'lo:hi' ('0:1' or '0:1,1:1' per dim)."""
    if text.lower() in ("valid", "same", "full", "causal"):
        return text.lower()
    if ":" in text:
        pairs = []
        for part in text.split(","):
            lo, _, hi = part.partition(":")
            try:
                pairs.append((int(lo), int(hi)))
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected lo:hi pairs like 0:1,1:1, got {text!r}")
        return pairs
    return _ints(text)


def _palette(text):
    """'okabe-ito' (the default) or overrides 'input=#cce5ff,current=#117733'."""
    if text.lower() == "okabe-ito":
        return {}
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected 'okabe-ito' or key=#rrggbb pairs "
                                             f"(keys: {', '.join(PALETTE)}), got {text!r}")
        out[key.strip()] = value.strip()
    return out


class _RaisingParser(argparse.ArgumentParser):
    """For ``from_command``: a bad command raises ValueError instead of exiting."""

    def error(self, message):
        raise ValueError(message)


def parser(raise_errors=False):
    p = (_RaisingParser if raise_errors else argparse.ArgumentParser)(
        prog="python -m conv_lib.course.animate",
        description="Draw a convolution step by step (computed by conv_lib) as GIF, WebP, SVG "
                    "or PNG.", epilog="Example: --input 5 --kernel 3 --stride 2 --padding 1 "
                                      "--mode reflect -o conv.gif")
    p.add_argument("-o", "--output", required=True,
                   help="file to write; .gif .webp .svg (animated) or .png (one frame)")
    p.add_argument("--input", type=_ints, default=5, metavar="N[,N]",
                   help="input size, one int or one per dim (default 5); the sequence length of "
                        "a causal stack")
    p.add_argument("--kernel", type=_ints, default=3, metavar="K[,K]", help="kernel size (3)")
    p.add_argument("--stride", type=_ints, default=1, metavar="S[,S]")
    p.add_argument("--padding", type=_padding, default=0, metavar="P",
                   help="int, ints per dim, lo:hi pairs per dim, or valid/same/full/causal")
    p.add_argument("--mode", default="zeros", help="padding mode: zeros, reflect, replicate, "
                                                   "circular (default zeros)")
    p.add_argument("--dilation", type=_ints, default=1, metavar="D[,D]", help="kernel dilation")
    p.add_argument("--input-dilation", type=_ints, default=1, metavar="D[,D]",
                   help="zeros inserted between input samples (JAX's lhs_dilation)")
    p.add_argument("--dims", type=int, default=2, help="1 or 2 spatial dims (default 2)")
    p.add_argument("--transposed", action="store_true",
                   help="a transposed convolution with these stride/padding/dilation")
    p.add_argument("--view", default="conv",
                   help="transposed: 'conv' (equivalent conv over the dilated input) or "
                        "'scatter' (each input adds a scaled kernel)")
    p.add_argument("--output-padding", type=_ints, default=0, metavar="A[,A]",
                   help="transposed: extra output cells at the end")
    p.add_argument("--groups", type=int, default=None, help="draw channel connectivity with "
                                                            "this many groups")
    p.add_argument("--channels", type=_ints, default=None, metavar="C[,C_OUT]",
                   help="channels in (and out) for --groups (depthwise: groups = channels)")
    p.add_argument("--causal-stack", type=_int_list, default=None, metavar="D,D,...",
                   help="dilations of a stack of causal 1-D layers, e.g. 1,2,4,8")
    p.add_argument("--numbers", action="store_true", help="write the values into the cells")
    p.add_argument("--fps", type=float, default=2.0, help="frames per second (default 2)")
    p.add_argument("--palette", type=_palette, default={},
                   help="'okabe-ito' (default) or key=#rrggbb overrides; keys: "
                        + ", ".join(PALETTE))
    p.add_argument("--cell-size", type=int, default=36, help="cell size in pixels (36)")
    p.add_argument("--frame", type=int, default=None, help="write only frame N")
    p.add_argument("--seed", type=int, default=0, help="seed of the example values (0)")
    return p


def _build(args) -> Animation:
    if args.dims == 1 and args.causal_stack is None and isinstance(args.padding, list):
        args.padding = [tuple(p) for p in args.padding]
    return animate(args.input, args.kernel, stride=args.stride, padding=args.padding,
                   mode=args.mode, dilation=args.dilation, input_dilation=args.input_dilation,
                   dims=args.dims, transposed=args.transposed, view=args.view,
                   output_padding=args.output_padding, groups=args.groups,
                   channels=args.channels, causal_stack=args.causal_stack, numbers=args.numbers,
                   fps=args.fps, palette=args.palette, cell_size=args.cell_size, seed=args.seed)


def from_command(command: str) -> Animation:
    """The animation a command line describes (``python -m conv_lib.course.animate ...``);
    the book's gallery shows each command and draws it with this, so they cannot disagree."""
    argv = shlex.split(command)
    if argv[:3] == ["python", "-m", "conv_lib.course.animate"]:
        argv = argv[3:]
    if not {"-o", "--output"} & set(argv):
        argv += ["-o", "animation.gif"]
    return _build(parser(raise_errors=True).parse_args(argv))


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    start = time.perf_counter()
    try:
        anim = _build(args)
        anim.save(args.output, args.frame)
    except (ValueError, TypeError) as err:
        p.error(str(err))
    count = 1 if args.frame is not None or args.output.endswith(".png") else len(anim)
    print(f"wrote {args.output}: {count} frame(s), {anim.scene.width}x{anim.scene.height} px, "
          f"{time.perf_counter() - start:.2f} s", file=sys.stderr)
    return 0
