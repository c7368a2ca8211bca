"""The animation generator draws what conv_lib computes.

For every variant: the cells frame t highlights are conv_lib.input_region of output t, the kernel
read there (a dot product of the highlighted cells) gives the output value conv_lib.conv
computes, the frame count is the number of output positions, the rendered pixels put the
highlight where the model says, and the same call gives the same bytes twice.
"""
from __future__ import annotations

import base64
import io
import itertools
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import conv_lib
from conv_lib.course.animate import PALETTE, animate, frames as F
from conv_lib.course.animate import gallery
from conv_lib.course.animate.cli import from_command

ROOT = Path(__file__).resolve().parents[1]

CONV_CASES = [
    dict(size=4, kernel=3),
    dict(size=5, kernel=4, padding=2),
    dict(size=5, kernel=3, stride=2, padding=1, mode="reflect"),
    dict(size=6, kernel=3, stride=2, padding=1, mode="replicate"),
    dict(size=5, kernel=3, padding=2, mode="circular"),
    dict(size=7, kernel=3, dilation=2),
    dict(size=(4, 6), kernel=(2, 3), stride=(1, 2), padding=[(0, 1), (2, 1)], mode="reflect"),
    dict(size=5, kernel=4, padding="same"),
    dict(size=3, kernel=3, input_dilation=2, padding=1, mode="reflect"),
    dict(size=3, kernel=2, input_dilation=(2, 3), padding=1, mode="circular", dilation=(1, 2)),
    dict(size=8, kernel=3, dims=1, dilation=2, padding=2, mode="reflect"),
    dict(size=9, kernel=2, dims=1, stride=3, padding="causal"),
    dict(size=5, kernel=3, dims=1, input_dilation=3, padding=(1,), mode="replicate"),
]

TRANSPOSED_CASES = [
    dict(size=2, kernel=3),
    dict(size=6, kernel=4, padding=2),
    dict(size=2, kernel=3, stride=2),
    dict(size=3, kernel=3, stride=2, padding=1, output_padding=1),
    dict(size=(3, 2), kernel=(3, 2), stride=(2, 3), padding=(1, 0), dilation=(1, 2)),
    dict(size=4, kernel=3, dims=1, stride=2, dilation=2, output_padding=1),
]


def _reference_conv(m, case):
    """conv_lib.conv of the model's own arrays with the case's arguments."""
    kw = {k: case[k] for k in ("stride", "padding", "dilation", "input_dilation") if k in case}
    return conv_lib.conv(m.x[None, None], m.kernel[None, None],
                         padding_mode=case.get("mode", "zeros"), **kw)[0, 0]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_frames_show_what_conv_computes(case):
    m = F.conv_model(**case)
    y = _reference_conv(m, case)
    assert np.array_equal(m.output, y)
    assert len(m.frames) == y.size == len(animate(**case))
    ndim = m.ndim
    grid = conv_lib.pad(conv_lib.dilate(m.x, list(m.input_dilation)), [list(p) for p in m.pads],
                        case.get("mode", "zeros"))
    assert np.array_equal(m.grid_values, grid)
    for f, out in zip(m.frames, np.ndindex(*y.shape)):
        assert f.out == out
        region = tuple(conv_lib.input_region([(k, s, d, lo)], o) for k, s, d, (lo, _), o in
                       zip(m.kernel.shape, m.stride, m.dilation, m.pads, out))
        assert f.region == region
        # the highlighted taps: every dilation-th cell of the region, shifted into grid coords
        expect = list(itertools.product(*[range(a + lo, b + lo, d) for (a, b), (lo, _), d
                                          in zip(region, m.pads, m.dilation)]))
        assert list(f.taps) == expect and len(f.taps) == m.kernel.size
        # reading the kernel off the highlighted cells gives conv's value
        reads = np.array([grid[t] for t in f.taps]).reshape(m.kernel.shape)
        assert np.sum(reads * m.kernel) == pytest.approx(y[out]) == f.value
        assert all(0 <= t[a] < grid.shape[a] for t in f.taps for a in range(ndim))


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_padding_cells_are_labelled_with_the_sample_they_copy(case):
    m = F.conv_model(**case)
    mode = case.get("mode", "zeros")
    for cell in np.ndindex(*m.grid_values.shape):
        kind, src = m.grid_kind[cell], m.grid_source[cell]
        if kind == "input":
            assert src >= 0 and m.grid_values[cell] == m.x.flat[src]
        elif kind == "zero" or mode == "zeros":
            assert m.grid_values[cell] == 0
        if kind == "pad" and mode != "zeros" and src >= 0:
            assert m.grid_values[cell] == m.x.flat[src]
    if mode == "reflect" and case.get("input_dilation", 1) == 1:
        # reflect never copies the edge sample itself: in 1-D the first pad cell copies x[1]
        row = m.grid_source if m.ndim == 1 else m.grid_source[m.pads[0][0]]
        lo = m.pads[-1][0]
        if lo:
            first = np.unravel_index(row[lo - 1], m.sizes)[-1]
            assert first == 1


@pytest.mark.parametrize("case", TRANSPOSED_CASES, ids=str)
def test_transposed_as_conv_matches_conv_transpose(case):
    m = F.transposed_model(**case)
    w = m.kernel[tuple(slice(None, None, -1) for _ in m.sizes)]   # undo the flip
    kw = {k: case[k] for k in ("stride", "padding", "output_padding", "dilation") if k in case}
    y = conv_lib.conv_transpose(m.x[None, None], w[None, None], **kw)[0, 0]
    assert np.array_equal(m.output, y) and len(m.frames) == y.size
    for f in m.frames:
        region = tuple(conv_lib.input_region([(k, 1, d, lo)], o) for k, d, (lo, _), o in
                       zip(m.kernel.shape, m.dilation, m.pads, f.out))
        assert f.region == region
        reads = np.array([m.grid_values[t] for t in f.taps]).reshape(m.kernel.shape)
        assert np.sum(reads * m.kernel) == pytest.approx(y[f.out])


@pytest.mark.parametrize("case", TRANSPOSED_CASES, ids=str)
def test_scatter_adds_up_to_conv_transpose_and_mirrors_the_conv_view(case):
    s = F.scatter_model(**case)
    kw = {k: case[k] for k in ("stride", "padding", "output_padding", "dilation") if k in case}
    y = conv_lib.conv_transpose(s.x[None, None], s.kernel[None, None], **kw)[0, 0]
    assert len(s.frames) == s.x.size
    crop = tuple(slice(p, p + n) for p, n in zip(s.padding, y.shape))
    assert np.allclose(s.frames[-1].partial[crop], y)
    # input i reaches output o exactly when, in the equivalent conv, frame o highlights i
    m = F.transposed_model(**case)
    for f in s.frames:
        cell = tuple(i * st + lo for i, st, (lo, _) in zip(f.inp, s.stride, m.pads))
        reached = {o for o in (tuple(t - p for t, p in zip(target, s.padding))
                               for target in f.targets)
                   if all(0 <= a < n for a, n in zip(o, y.shape))}
        assert reached == {g.out for g in m.frames if cell in g.taps}


@pytest.mark.parametrize("kernel, dilations, length", [(2, (1, 2, 4, 8), 16), (3, (1, 3), 12),
                                                       (2, (2, 1, 3), 10)])
def test_causal_stack_frames(kernel, dilations, length):
    m = F.stack_model(length, kernel, dilations)
    layers = [(kernel, 1, d, d * (kernel - 1)) for d in dilations]
    assert len(m.frames) == length
    y = m.levels[0]
    for d, w in zip(dilations, m.weights):
        y = conv_lib.conv(y[None, None], w[None, None], padding="causal", dilation=d)[0, 0]
    assert np.array_equal(m.levels[-1], y)
    for f in m.frames:
        assert f.region == conv_lib.input_region(layers, f.t) and f.value == y[f.t]
        inputs = [t for t in f.nodes[0] if t >= 0]
        assert f.region[0] <= min(f.nodes[0]) and max(inputs) == f.t < f.region[1]
        # output t changes with exactly the highlighted inputs (the weights are positive)
        for i in range(length):
            bumped = m.levels[0].copy()
            bumped[i] += 1
            z = bumped
            for d, w in zip(dilations, m.weights):
                z = conv_lib.conv(z[None, None], w[None, None], padding="causal", dilation=d)[0, 0]
            assert (z[f.t] != y[f.t]) == (i in inputs), (f.t, i)
    if dilations == (1, 2, 4, 8):       # WaveNet: every input of the receptive field is read
        assert m.frames[-1].nodes[0] == tuple(range(0, 16))


@pytest.mark.parametrize("channels, groups", [((4, 4), 1), ((4, 6), 2), ((4, 4), 4), ((3, 6), 3)])
def test_group_connectivity(channels, groups):
    m = F.group_model(channels, groups)
    c_in, c_out = channels
    assert len(m.frames) == c_out == len(animate(channels=channels, groups=groups))
    for f in m.frames:
        g = f.out // (c_out // groups)
        assert f.group == g
        assert f.inputs == tuple(range(g * c_in // groups, (g + 1) * c_in // groups))


# ---------------------------------------------------------------------------------------------
# Pixels: the highlight is drawn where the model says


def _rgb(color):
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def _edge_pixel(box):
    """A pixel just inside a cell's left border, clear of its labels."""
    x0, y0, x1, y1 = box
    return (round(x0) + 1, round((y0 + y1) / 2))


def _centre(box):
    x0, y0, x1, y1 = box
    return (round(x0) + 4, round(y0) + 4 + round((y1 - y0) / 2) // 2)


@pytest.mark.parametrize("case", [dict(size=5, kernel=3, stride=2, padding=1, mode="reflect"),
                                  dict(size=7, kernel=3, dilation=2),
                                  dict(size=6, kernel=3, dims=1, dilation=2, padding=2),
                                  dict(size=3, kernel=3, stride=2, padding=1, transposed=True)],
                         ids=str)
@pytest.mark.parametrize("fmt", ["frames", "gif"])
def test_rendered_highlight_is_where_the_model_says(case, fmt):
    a = animate(**case)
    if fmt == "frames":
        images = a.images()
    else:
        gif = Image.open(io.BytesIO(a.to_bytes("gif")))
        assert gif.n_frames == len(a)
        images = []
        for t in range(gif.n_frames):
            gif.seek(t)
            images.append(gif.convert("RGB"))
    kernel, current = _rgb(PALETTE["kernel"]), _rgb(PALETTE["current"])
    background, done = _rgb(PALETTE["background"]), _rgb(PALETTE["output"])
    boxes = a.scene.boxes
    for t, (f, image) in enumerate(zip(a.model.frames, images)):
        taps = set(f.taps)
        for cell, box in boxes["input"].items():
            assert (image.getpixel(_edge_pixel(box)) == kernel) == (cell in taps), (t, cell)
        order = list(boxes["output"])
        for i, o in enumerate(order):
            expect = current if i == t else done if i < t else background
            assert image.getpixel(_centre(boxes["output"][o])) == expect, (t, o)


def test_rendered_scatter_stack_and_groups():
    a = animate(3, 3, stride=2, padding=1, transposed=True, view="scatter")
    kernel, active = _rgb(PALETTE["kernel"]), _rgb(PALETTE["active"])
    for f, image in zip(a.model.frames, a.images()):
        for cell, box in a.scene.boxes["canvas"].items():
            assert (image.getpixel(_edge_pixel(box)) == kernel) == (cell in f.targets)
        for cell, box in a.scene.boxes["input"].items():
            assert (image.getpixel(_centre(box)) == active) == (cell == f.inp)
    a = animate(12, 3, causal_stack=(1, 3))
    tap = _rgb(PALETTE["tap"])
    for f, image in zip(a.model.frames, a.images()):
        for t in range(12):
            x0, y0, x1, y1 = a.scene.boxes["nodes"][(0, t)]
            inside = image.getpixel((round((x0 + x1) / 2), round((y0 + y1) / 2)))
            assert (inside == tap) == (t in f.nodes[0]), (f.t, t)
    a = animate(channels=(4, 6), groups=2)
    for f, image in zip(a.model.frames, a.images()):
        for c, box in a.scene.boxes["input"].items():
            assert (image.getpixel(_edge_pixel(box)) == kernel) == (c in f.inputs)


# ---------------------------------------------------------------------------------------------
# Files, determinism, CLI and errors


@pytest.mark.parametrize("case", ["--input 3 --kernel 3 --stride 2 --padding 1 --transposed "
                                  "--view scatter --numbers",
                                  "--input 5 --kernel 3 --padding 1 --mode circular --numbers",
                                  "--input 12 --kernel 3 --causal-stack 1,3 --numbers"])
def test_gif_keeps_every_scene_colour_exactly(case):
    """Only anti-aliased glyph edges may change colour in the GIF; every colour the scene
    names (fills, borders, text) is in the palette and comes back exactly."""
    from conv_lib.course.animate.render_raster import palette
    a = from_command(case)
    pal = palette(a.scene)
    pal_keys = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    gif = Image.open(io.BytesIO(a.to_bytes("gif")))
    for t, rgb in enumerate(a.images()):
        gif.seek(t)
        got = np.asarray(gif.convert("RGB")).astype(np.int64)
        want = np.asarray(rgb).astype(np.int64)
        keys = (want[..., 0] << 16) | (want[..., 1] << 8) | want[..., 2]
        exact = np.isin(keys, pal_keys)
        assert exact.mean() > 0.9
        assert np.array_equal(got[exact], want[exact]), t


@pytest.mark.parametrize("fmt", ["gif", "webp", "svg", "png"])
def test_same_call_same_bytes(fmt):
    one = animate(5, 3, stride=2, padding=1, mode="reflect", numbers=True).to_bytes(fmt)
    two = animate(5, 3, stride=2, padding=1, mode="reflect", numbers=True).to_bytes(fmt)
    assert one == two and len(one) > 100


def test_formats_frames_and_options():
    a = animate(5, 3, stride=2, padding=1, fps=4, cell_size=24, palette={"kernel": "#000000"})
    assert a.scene.durations == [250] * 8 + [750]
    gif = Image.open(io.BytesIO(a.to_bytes("gif")))
    assert gif.n_frames == 9 and gif.info["loop"] == 0
    webp = Image.open(io.BytesIO(a.to_bytes("webp")))
    assert webp.n_frames == 9
    png = Image.open(io.BytesIO(a.to_bytes("png", frame=2)))
    assert png.size == (a.scene.width, a.scene.height)
    first_tap = a.scene.boxes["input"][a.model.frames[2].taps[0]]
    assert png.convert("RGB").getpixel(_edge_pixel(first_tap)) == (0, 0, 0)   # the new kernel colour
    svg = ET.fromstring(a.to_bytes("svg"))
    animations = svg.findall(".//{http://www.w3.org/2000/svg}animate")
    assert len(animations) == 9
    assert not ET.fromstring(a.to_bytes("svg", frame=0)).findall(
        ".//{http://www.w3.org/2000/svg}animate")
    html = a._repr_mimebundle_()["text/html"]       # what a notebook (and the static book) shows
    data = html.split("base64,")[1].split('"')[0]
    assert base64.b64decode(data) == a.to_bytes("gif") and 'alt="input 5×5' in html


def test_cli_writes_the_file_the_api_draws(tmp_path):
    out = tmp_path / "conv.gif"
    cmd = [sys.executable, "-m", "conv_lib.course.animate", "--input", "5", "--kernel", "3",
           "--stride", "2", "--padding", "1", "--mode", "reflect", "-o", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == animate(5, 3, stride=2, padding=1, mode="reflect").to_bytes("gif")
    print(run.stderr.strip())        # the generator's own timing line


@pytest.mark.parametrize("args, name", [
    (["--stride", "0"], "stride"),
    (["--mode", "mirror"], "mode"),
    (["--frame", "99"], "frame"),
    (["--dims", "3"], "dims"),
    (["--input", "2", "--kernel", "5"], "kernel"),
    (["--palette", "input=blue"], "palette"),
    (["--cell-size", "4"], "cell_size"),
    (["--padding", "5", "--mode", "reflect"], "padding"),
    (["--channels", "4,6", "--groups", "4"], "groups"),
    (["--transposed", "--output-padding", "2", "--stride", "2"], "output_padding"),
])
def test_cli_errors_name_the_argument(tmp_path, args, name):
    cmd = [sys.executable, "-m", "conv_lib.course.animate", *args, "-o", str(tmp_path / "x.gif")]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2 and name in run.stderr, run.stderr
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("kwargs, name", [
    (dict(size=0), "input"), (dict(kernel=(3,)), "kernel"), (dict(fps=0), "fps"),
    (dict(view="gather"), "view"), (dict(transposed=True, mode="reflect"), "mode"),
    (dict(transposed=True, padding=3), "padding"), (dict(causal_stack=[]), "causal_stack"),
    (dict(palette={"inptu": "#ffffff"}), "inptu"), (dict(output_padding=1), "output_padding"),
])
def test_api_errors_name_the_argument(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        animate(**kwargs)


def test_bad_output_extension_and_frame(tmp_path):
    a = animate(4, 3)
    with pytest.raises(ValueError, match="output"):
        a.save(tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="frame"):
        a.to_bytes("png", frame=len(a))


def test_gallery_commands_all_draw():
    """Every case of the book's gallery parses and draws; the classic set has the guide's sizes."""
    outputs = {"No padding, no strides": (2, 2), "Arbitrary padding, no strides": (6, 6),
               "Full padding, no strides": (7, 7), "Padding, strides (odd)": (3, 3),
               "Padding, strides, transposed (odd)": (6, 6),
               "Arbitrary padding, no strides, transposed": (5, 5),
               "Dilation, no padding, no strides": (3, 3)}
    for title, args in gallery.CLASSIC + gallery.BEYOND:
        a = from_command(args)
        assert len(a) >= 1
        if title in outputs:
            assert a.model.output.shape == outputs[title], title
    assert len(gallery.CLASSIC) == 15
    page = gallery.grid_html(gallery.CLASSIC[:2])
    assert page.count("<figure") == 2
    assert "python -m conv_lib.course.animate --input 4 --kernel 3 -o no-padding-no-strides.gif" in page


def test_readme_gifs_are_current():
    """The GIFs the README shows are what the generator draws now (else: `python -m
    conv_lib.course.animate.gallery --write`)."""
    for path, data in gallery.readme_bytes(ROOT).items():
        assert path.exists(), f"missing {path}"
        assert path.read_bytes() == data, f"{path} is stale"
