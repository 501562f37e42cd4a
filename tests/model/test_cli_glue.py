import argparse
import json

import pytest

from host.bench import predict as bench_predict
from host.commands import evaluate, train


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eqbridge")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (train, evaluate):
        module.register(sub)
    return parser


def test_train_then_evaluate_through_the_cli(tiny_dataset, tmp_path, capsys) -> None:
    config = tmp_path / "c.toml"
    config.write_text("epochs = 1\nbatch_size = 8\n[network]\nconv_channels = 8\nembed_dim = 16\nhidden = 16\n")
    ckpt = tmp_path / "m.pt"
    args = _parser().parse_args(["train", "--data", str(tiny_dataset), "--out", str(ckpt), "--config", str(config),
                                 "--arch", "baseline-dbmel", "--plugin", "faust-peq", "--seed", "4"])
    assert args.func(args) == 0 and ckpt.exists()
    args = _parser().parse_args(["evaluate", "--data", str(tiny_dataset), "--checkpoint", str(ckpt),
                                 "--out", str(tmp_path / "rep")])
    assert args.func(args) == 0
    assert "baseline-dbmel" in capsys.readouterr().out
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["profile"] == "faust-peq" and report["rows"] == 8


def test_bench_predict_reports_a_median(tiny_checkpoint) -> None:
    result = bench_predict.bench_predict("faust-peq", n=3, duration_s=1.0, checkpoint=tiny_checkpoint)
    assert result["n"] == 3 and 0 < result["min_ms"] <= result["median_ms"] <= result["p90_ms"] + 1e-9


def test_unknown_arch_is_a_one_line_error_naming_the_known_ones(tmp_path, capsys) -> None:
    # Checked by TrainConfig, not argparse choices: the CLI must start without importing torch.
    from host.cli import main

    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "x.pt"), "--arch", "resnet"]) == 1
    err = capsys.readouterr().err
    assert "'resnet'" in err and "mimilakis" in err and err.count("\n") == 1
