"""Every layer of the benchmark networks, scaled down, through every strategy that can run it.

``benchmarks.networks`` builds the layer lists of ResNet-50, MobileNetV2, a ResNeXt stage, a
WaveNet stack, a 3-D U-Net level and the DCGAN / U-Net decoders for any batch and resolution.
Here they are built small (same channels, kernels, strides, groups and dilations; tiny images), and
each layer is computed by ``conv_lib.conv`` (the cost model's choice), by every other applicable
strategy forced through ``_engine.correlate``, by PyTorch and by JAX.
The benchmark itself runs end to end in its quick mode (no time is asserted anywhere).
"""
import json

import numpy as np
import pytest

import conv_lib
from benchmarks import networks as nets
from conv_lib import _engine
from conv_lib import frameworks as fw
from conv_lib.conv import plan_conv

# (batch, size) per network: the smallest inputs every layer of the network still accepts
SMALL = {"resnet50": (2, 32), "mobilenet_v2": (2, 32), "resnext": (2, 32), "wavenet": (2, 48),
         "unet3d": (1, 8), "decoder": (8, 16)}


def _close(a, b, tol=1e-4):
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max())))


def _layers():
    for net in nets.NETWORKS:
        for i, layer in enumerate(nets._merge(net.build(*SMALL[net.name]))):
            yield pytest.param(layer, i, id=f"{net.name}-{i}")


def test_every_network_has_a_small_size():
    assert set(SMALL) == {net.name for net in nets.NETWORKS}


@pytest.mark.parametrize("layer,index", list(_layers()))
def test_layer_through_every_strategy(layer, index):
    rng = np.random.default_rng(index)
    x = rng.standard_normal(layer.x, dtype=np.float32)
    w = (rng.standard_normal(layer.w) / np.sqrt(np.prod(layer.w[1:]))).astype(np.float32)
    if layer.op == "conv_transpose":
        y = conv_lib.conv_transpose(x, w, **layer.kwargs)
        _close(y, fw.torch_conv_transpose(x, w, **layer.kwargs))
        p = plan_transposed(x, w, layer.kwargs)
        for layout in ("images", "side_by_side"):
            _close(_engine.transposed(x, w, *p, layout=layout), y)
        _close(y, fw.jax_conv_transpose(x, w, **layer.kwargs))
        return
    y = conv_lib.conv(x, w, **layer.kwargs)
    assert y.dtype == np.float32
    _close(y, fw.torch_conv(x, w, **layer.kwargs))
    p = plan_conv(x, w, **layer.kwargs)
    chosen = _engine.choose_strategy(w.shape, p.stride, p.x.shape, p.groups, p.dilation,
                                     p.out_sizes)
    assert _engine.applicable(chosen, w.shape, p.stride, p.dilation, p.groups)
    forced = [s for s in _engine.STRATEGIES
              if _engine.applicable(s, w.shape, p.stride, p.dilation, p.groups)]
    assert chosen in forced and _engine._im2col_gemm in forced
    for strategy in forced:
        _close(_engine.correlate(p.x, p.w, p.stride, p.dilation, p.groups, p.out_sizes, p.pads,
                                 strategy=strategy), y)
    _close(y, fw.jax_conv(x, w, **layer.kwargs))


def plan_transposed(x, w, kwargs):
    """(stride, padding, dilation, groups, out_sizes) of ``_engine.transposed`` for a layer."""
    ndim = x.ndim - 2
    stride = (kwargs.get("stride", 1),) * ndim
    padding = (kwargs.get("padding", 0),) * ndim
    out = tuple((n - 1) * s - 2 * p + (k - 1) + 1
                for n, k, s, p in zip(x.shape[2:], w.shape[2:], stride, padding))
    return stride, padding, (1,) * ndim, 1, out


def test_network_shapes():
    """The layer lists have the published layer counts and end at the published sizes."""
    resnet = nets.resnet50(8, 224)
    assert len(resnet) == 53 and len(nets._merge(resnet)) == 23
    assert resnet[-1].x == (8, 512, 7, 7) and resnet[-1].w == (2048, 512, 1, 1)
    mobilenet = nets.mobilenet_v2(8, 224)
    assert len(mobilenet) == 52 and mobilenet[-1].x == (8, 320, 7, 7)
    assert sum(layer.kwargs.get("groups", 1) > 1 for layer in mobilenet) == 17
    assert [layer.x[2] for layer in nets.decoder(32, 256)[:5]] == [1, 4, 8, 16, 32]
    assert sum(layer.count for layer in nets._merge(nets.wavenet(4, 4096))) == 21


def test_quick_run_writes_the_schema(tmp_path, capsys):
    out = tmp_path / "networks.json"
    nets.main(["--quick", "--rounds", "1", "--networks", "wavenet,decoder", "--no-jax",
               "--out", str(out)])
    printed = capsys.readouterr().out
    results = json.loads(out.read_text())
    assert results["quick"] and results["command"].startswith("python -m benchmarks.networks")
    assert [n["name"] for n in results["networks"]] == ["wavenet", "decoder"]
    for net in results["networks"]:
        assert set(net["totals"]) == set(results["contenders"])
        for layer in net["layers"]:
            assert layer["max_rel_error_vs_torch"] < 1e-4 and layer["count"] >= 1
            assert layer["vs_torch"] > 0 and layer["strategy"]
            assert set(layer["times"]) <= set(results["contenders"])
        expected = sum(r["count"] * r["times"]["conv_lib"]["min"] for r in net["layers"])
        assert net["totals"]["conv_lib"] == pytest.approx(expected)
    assert "transposed layers >= 0.7x torch NCHW" in results["summary"]["goals"]
    assert "| WaveNet stack (1-D) |" in printed and "**DCGAN / U-Net decoder" in printed


def test_stored_results_are_a_full_run():
    """benchmarks/networks.json (read by the book) holds a full run of every network."""
    results = nets.load_results()
    assert not results["quick"] and [n["name"] for n in results["networks"]] == \
        [n.name for n in nets.NETWORKS]
    assert results["contenders"] == list(nets.CONTENDERS)
    for net, spec in zip(results["networks"], nets.NETWORKS):
        assert net["batch"] == spec.full[0]
        assert len(net["layers"]) == len(nets._merge(spec.build(*spec.full)))
        assert all(r["max_rel_error_vs_torch"] < 1e-4 for r in net["layers"])


def test_strategy_audit_times_every_strategy_of_every_layer(tmp_path, capsys):
    """``--strategies``: each conv layer through every strategy that can run it, timed, next to
    the cost model's estimates, its pick and the fastest (no time is asserted)."""
    out = tmp_path / "audit.json"
    nets.main(["--strategies", "--quick", "--rounds", "1", "--networks", "wavenet",
               "--out", str(out)])
    results = json.loads(out.read_text())
    (net,) = results["audit"]
    spec = next(n for n in nets.NETWORKS if n.name == "wavenet")
    layers = nets._merge(spec.build(*spec.quick))
    assert [r["name"] for r in net["layers"]] == [layer.name for layer in layers]
    for row, layer in zip(net["layers"], layers):
        expected = {"flat_gemm", "im2col_gemm"}                 # 1-D, stride 1: no Winograd
        expected |= {"pointwise"} if layer.w[2:] == (1,) else set()
        expected |= {"depthwise"} if layer.w[1] == 1 else set()     # the 1 -> 64 input layer
        assert set(row["times"]) == set(row["estimates"]) == expected, layer.name
        assert all(t > 0 for t in row["times"].values())
        assert row["fastest"] == min(row["times"], key=row["times"].get)
        assert row["chosen"] in expected and row["chosen_over_fastest"] >= 1.0
        assert row["max_rel_difference"] < 1e-4
    assert net["seconds_picked"] >= net["seconds_fastest"] > 0
    assert set(net["wrong_picks"]) == {r["name"] for r in net["layers"]
                                      if r["chosen_over_fastest"] > nets.AUDIT_TOLERANCE}
    printed = capsys.readouterr().out
    assert "**WaveNet stack (1-D)**" in printed and "cost model's pick" in printed


def test_stored_audit_is_a_full_run():
    """benchmarks/strategies.json (read by the book) audits every conv layer with a choice."""
    results = json.loads(nets.AUDIT.read_text())
    command = results["command"].split()
    assert not results["quick"] and command[:3] == ["python", "-m", "benchmarks.networks"]
    assert "--strategies" in command
    assert [n["name"] for n in results["audit"]] == [n.name for n in nets.NETWORKS]
    for net, spec in zip(results["audit"], nets.NETWORKS):
        layers = [layer for layer in nets._merge(spec.build(*spec.full)) if layer.op == "conv"]
        zeros = [nets.strategy_calls(layer, *nets._zeros(layer)) for layer in layers]
        with_choice = [layer.name for layer, calls in zip(layers, zeros) if len(calls) > 1]
        assert [r["name"] for r in net["layers"]] == with_choice
        for row, calls in zip(net["layers"], [c for c in zeros if len(c) > 1]):
            assert set(row["times"]) == set(calls) and row["chosen"] in calls
            assert row["max_rel_difference"] < 1e-4
        assert net["seconds_picked"] >= net["seconds_fastest"]
