"""A smoke run of each `eqbridge bench` at its smallest size, through the CLI with --json.

Only the shape of the report and the sanity of its figures are checked (positive, finite, ordered where
physics orders them); how fast anything runs is never asserted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from host.cli import main
from tests.audio import write_folder
from tests.conftest import require_host


def _bench(capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert main(["bench", *argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"title", "columns", "rows", "data"}
    assert report["rows"] and all(len(row) == len(report["columns"]) for row in report["rows"])
    return report


def _positive(*values: float) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values)


def test_bench_render(tmp_path: Path, capsys) -> None:
    require_host("faust-peq")
    audio = write_folder(tmp_path / "audio", groups=2, per_group=1, seconds=3.0)
    argv = ("render", "--audio", str(audio), "--iterations", "1", "--segments", "1", "--segment-seconds", "1",
            "--workers", "1")
    report = _bench(capsys, *argv)
    assert report["columns"] == ["what", "rows/s", "per worker / raw"]
    assert [row[0] for row in report["rows"]] == ["raw DawDreamer, 1 process", "render-dataset, 1 worker(s)"]
    data = report["data"]
    assert (data["profile"], data["segment_s"], data["sample_rate"]) == ("faust-peq", 1.0, 44100)
    assert _positive(data["raw_rows_per_s"], data["dataset_rows_per_s"]["1"], data["per_worker_ratio"]["1"])
    assert report["rows"][1][1:] == pytest.approx([data["dataset_rows_per_s"]["1"], data["per_worker_ratio"]["1"]])
    assert data["per_worker_ratio"]["1"] == pytest.approx(data["dataset_rows_per_s"]["1"] / data["raw_rows_per_s"])
    assert main(["bench", *argv]) == 0  # the same figures as a table
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("bench render: faust-peq") and table[1].split() == ["what", "rows/s", "per", "worker",
                                                                                 "/", "raw"]


def test_bench_predict(capsys) -> None:
    report = _bench(capsys, "predict", "-n", "2")
    data = report["data"]
    assert data["n"] == 2 and data["duration_s"] == 10.0 and data["threads"] >= 1
    assert _positive(data["min_ms"], data["median_ms"], data["p90_ms"])
    assert data["min_ms"] <= data["median_ms"] <= data["p90_ms"]
    assert report["rows"][0] == ["model.predict, classifier (features + network)", data["median_ms"],
                                 data["p90_ms"], data["min_ms"], data["cpu_median_ms"]]
    curve = data["curve"]  # the shipped curve model, with faust-peq's fit
    assert report["rows"][1] == ["curve model (statistics + network + the profile's fit)", curve["median_ms"],
                                 curve["p90_ms"], curve["min_ms"], curve["cpu_median_ms"]]
    assert _positive(curve["min_ms"], curve["median_ms"], curve["p90_ms"], curve["cpu_median_ms"])


def test_bench_osc(capsys) -> None:
    require_host("faust-peq")
    report = _bench(capsys, "osc", "--iterations", "1", "--duration-seconds", "2")
    assert report["columns"] == ["round trip", "median ms", "p90 ms", "median / ping"]
    assert [row[0] for row in report["rows"]] == ["ping", "files", "files to settings", "clips"]
    data = report["data"]
    assert (data["plugin"], data["duration_s"], data["iterations"]) == ("faust-peq", 2.0, 1)
    assert data["clip_bytes"] == 2 * 4 * 2 * 44100  # two 2 s float32 clips
    for _, median, p90, ratio in report["rows"]:
        assert _positive(median, p90, ratio) and median <= p90
    for kind in ("files", "files_to_settings", "clips"):
        assert data[kind]["median_ms"] / data["ping_ms"] == pytest.approx(
            report["rows"][["files", "files_to_settings", "clips"].index(kind) + 1][3])
    assert data["files_to_settings"]["median_ms"] <= data["files"]["median_ms"]  # settings come before done


def test_bench_apply(capsys) -> None:
    require_host("faust-peq")
    report = _bench(capsys, "apply", "--stems", "1", "--stem-seconds", "2", "--workers", "1")
    assert report["columns"] == ["what", "stems/s", "x real time", "time / raw's"]
    assert [row[0] for row in report["rows"]] == ["raw DawDreamer, 1 process", "apply, 1 worker(s)"]
    data = report["data"]
    assert (data["stems"], data["stem_s"], data["channels"]) == (1, 2.0, 2)
    for rates in (data["raw"], data["apply"]["1"]):
        assert _positive(rates["seconds"], rates["stems_per_s"], rates["rtf"], rates["x_realtime"])
        assert rates["x_realtime"] * rates["rtf"] == pytest.approx(1.0)
        assert rates["stems_per_s"] == pytest.approx(1 / rates["seconds"])
    assert _positive(data["apply_over_raw"]["1"])
    assert data["apply_over_raw"]["1"] == pytest.approx(data["apply"]["1"]["seconds"] / data["raw"]["seconds"])


def test_bench_cold(capsys) -> None:
    require_host("faust-peq")
    report = _bench(capsys, "cold", "-n", "1")
    assert report["columns"] == ["what", "median s", "min s", "x bare"]
    assert [row[0] for row in report["rows"]] == ["python -c 'import numpy, soundfile'", "eqbridge match, bundled clips"]
    data = report["data"]
    assert (data["plugin"], data["n"]) == ("faust-peq", 1)
    assert _positive(data["bare_median_s"], data["match_median_s"], data["ratio"])
    assert data["ratio"] == pytest.approx(data["match_median_s"] / data["bare_median_s"])
    assert report["rows"][1][1:] == pytest.approx([data["match_median_s"], data["match_min_s"], data["ratio"]])


def test_bench_cold_says_why_a_match_failed(capsys) -> None:
    assert main(["bench", "cold", "--plugin", "no-such-plugin", "-n", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exited 1" in err and "no-such-plugin" in err
    assert main(["bench", "cold", "-n", "0"]) == 1 and "-n must lie in 1..50" in capsys.readouterr().err


def test_bench_daw(capsys) -> None:
    from tests.host.ardour_harness import require_ardour

    require_ardour()
    report = _bench(capsys, "daw", "--iterations", "1")
    assert report["columns"] == ["round trip", "median ms", "p90 ms", "median / push"]
    data = report["data"]
    assert (data["plugin"], data["iterations"]) == ("zameq2", 1)
    for _, median, p90, ratio in report["rows"]:
        assert _positive(median, p90, ratio) and median <= p90
    # the replies' order: settings, then the values confirmed in Ardour, then done (after the automation)
    assert data["to_settings"]["median_ms"] <= data["to_pushed"]["median_ms"] <= data["to_done"]["median_ms"]
