"""The benchmark script runs end to end and writes a complete results file (no timing asserted).

Speed is reported, never asserted: these tests only check that ``python -m benchmarks.conv`` still
runs, agrees with PyTorch on every case it times, and stores everything chapter 9 reads.
"""
import json
import sys

import pytest

from benchmarks import conv as bench
from benchmarks import networks as nets


def test_quick_run_writes_every_field_the_book_reads(tmp_path, capsys):
    out = tmp_path / "results.json"
    bench.main(["--quick", "--rounds", "1", "--no-reference",
                "--cases", "depthwise,tcn,conv_transpose,pad", "--out", str(out)])
    printed = capsys.readouterr().out
    results = json.loads(out.read_text())
    assert [c["name"] for c in results["cases"]] == ["depthwise", "tcn"]
    assert [e["name"] for e in results["extras"]] == ["conv_transpose", "pad"]
    for case in results["cases"]:
        assert case["max_rel_error_vs_torch"] < 1e-4
        assert {"conv_lib", "torch NCHW", "JAX NCHW", "JAX NHWC", "first version"} <= set(case["times"])
        assert case["alternative"] in case["times"]
    summary = results["summary"]
    assert summary["cases"] == 2 and 0 < summary["min_vs_torch"] <= summary["geomean_vs_torch"]
    assert results["matmul"]["gflops"]["numpy"] > 0
    assert results["command"].startswith("python -m benchmarks.conv --quick")
    assert "| depthwise 3x3 | depthwise" in printed and "transposed 4x4 /2" in printed  # or _toeplitz
    assert printed.count("\n\n") >= 3                  # remarks are separate Markdown paragraphs


def test_stored_results_are_a_full_run():
    """benchmarks/results.json is what chapter 9 presents as the full run."""
    results = bench.load_results()
    assert not results["quick"] and len(results["cases"]) == len(bench.CASES)
    assert [c["name"] for c in results["cases"]] == [c.name for c in bench.CASES]
    assert {e["name"] for e in results["extras"]} == {"conv_transpose", "pad"}
    assert "fft_crossover" in results and results["command"].startswith("python -m benchmarks.conv")
    for case in results["cases"]:
        assert list(case["x"]) == list(next(c.x for c in bench.CASES if c.name == case["name"]))
        assert case["max_rel_error_vs_torch"] < 1e-4


@pytest.mark.parametrize("module", [bench, nets])
def test_unset_openblas_env_reexecutes_without_the_variables(monkeypatch, module):
    """--unset-openblas-env replaces the process (os.execve) with one that lacks both variables,
    in both benchmarks."""
    calls = []
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setattr(bench.os, "execve", lambda exe, argv, env: calls.append((exe, argv, env)))
    monkeypatch.setattr(module, "run", lambda *a, **k: (_ for _ in ()).throw(SystemExit(0)))
    try:
        module.main(["--unset-openblas-env", "--quick", "--no-save"])
    except SystemExit:
        pass
    (exe, argv, env), = calls
    assert exe == sys.executable and argv[1:3] == ["-m", module.__name__]
    assert argv[3:] == ["--unset-openblas-env", "--quick", "--no-save"]
    assert not any(v in env for v in bench.OPENBLAS_VARS)
    assert json.loads(env["CK_BENCH_REMOVED_ENV"])["OPENBLAS_CORETYPE"] == "Haswell"
