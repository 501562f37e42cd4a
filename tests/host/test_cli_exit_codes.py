"""The CLI's contract: a user error is one line on stderr and exit 1, a usage error exit 2, and options
that do not apply or budgets out of range are refused before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.cli import USAGE_ERROR_EXIT, USER_ERROR_EXIT, main

AUDIO = Path(__file__).resolve().parents[2] / "examples" / "audio"


def _run(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits on a usage error
        code = int(exc.code)
    return code, capsys.readouterr().err


def test_a_usage_error_and_a_user_error_exit_differently(capsys, tmp_path: Path) -> None:
    code, err = _run(capsys, "match", str(AUDIO / "track.flac"), "--bogus-option")
    assert code == USAGE_ERROR_EXIT == 2
    code, err = _run(capsys, "match", str(tmp_path / "nope.wav"), str(AUDIO / "reference.flac"),
                     "--out", str(tmp_path / "o.wav"))
    assert code == USER_ERROR_EXIT == 1 and err.count("\n") == 1 and "does not exist" in err


@pytest.mark.parametrize("budget", ["nan", "-1", "1e300", "61"])
def test_a_refinement_budget_out_of_range_is_refused_before_any_work(capsys, tmp_path: Path, budget: str) -> None:
    out = tmp_path / "o.wav"
    code, err = _run(capsys, "match", str(AUDIO / "track.flac"), str(AUDIO / "reference.flac"), "--out", str(out),
                     "--refine", budget)
    assert code == 1 and "--refine" in err and err.count("\n") == 1
    assert not out.exists()


def test_train_refuses_options_of_the_other_mode(capsys, tmp_path: Path) -> None:
    code, err = _run(capsys, "train", "--data", str(tmp_path), "--out", str(tmp_path / "x.pt"), "--latent-dim", "4")
    assert code == 1 and "--latent-dim" in err and "without --encoder" in err
    code, err = _run(capsys, "train", "--data", str(tmp_path), "--encoder", "presets/encoder.pt", "--loss", "ce")
    assert code == 1 and "--loss" in err and "with --encoder" in err


def test_evaluate_refuses_an_audio_option_without_audio_rows(capsys, tmp_path: Path) -> None:
    code, err = _run(capsys, "evaluate", "--data", str(tmp_path), "--checkpoint", str(tmp_path / "c.pt"),
                     "--out", str(tmp_path / "r"), "--no-matchering")
    assert code == 1 and "--audio-rows" in err


@pytest.mark.parametrize("extra", [[], ["--encoder", "presets/encoder.pt"]])
def test_train_never_replaces_a_shipped_file_without_force(capsys, tmp_path: Path, extra: list[str]) -> None:
    root = Path(__file__).resolve().parents[2]
    shipped = root / "presets" / ("controllers" if extra else "checkpoints") / "faust-peq.pt"
    before = shipped.read_bytes()
    code, err = _run(capsys, "train", "--data", str(tmp_path), "--out", str(shipped), *extra)
    assert code == 1 and "--force" in err and "shipped" in err
    assert shipped.read_bytes() == before


@pytest.mark.parametrize("option, target", [("--settings-out", "track"), ("--plot", "reference"),
                                            ("--settings-out", "out"), ("--out", "link")])
def test_match_refuses_an_output_that_is_an_input_or_another_output(capsys, tmp_path: Path, option: str,
                                                                     target: str) -> None:
    track, reference = tmp_path / "track.flac", tmp_path / "reference.flac"
    track.write_bytes((AUDIO / "track.flac").read_bytes())
    reference.write_bytes((AUDIO / "reference.flac").read_bytes())
    (tmp_path / "link.flac").symlink_to(track)
    out = tmp_path / "out.wav"
    paths = {"track": track, "reference": reference, "out": out, "link": tmp_path / "link.flac"}
    argv = ["match", str(track), str(reference), "--out", str(out)]
    argv += [option, str(paths[target])] if option != "--out" else []
    if option == "--out":
        argv[argv.index("--out") + 1] = str(paths[target])
    before = {p: p.read_bytes() for p in (track, reference)}
    code, err = _run(capsys, *argv)
    assert code == 1 and err.count("\n") == 1 and ("overwrite" in err or "same file" in err)
    assert {p: p.read_bytes() for p in (track, reference)} == before and not out.exists()


def test_folders_where_files_belong_are_one_line_errors(capsys, tmp_path: Path) -> None:
    code, err = _run(capsys, "match", str(tmp_path), str(AUDIO / "reference.flac"), "--out", str(tmp_path / "o.wav"))
    assert code == 1 and "is a folder" in err and err.count("\n") == 1
    code, err = _run(capsys, "match", str(AUDIO / "track.flac"), str(AUDIO / "reference.flac"), "--out", str(tmp_path))
    assert code == 1 and "is a folder" in err and err.count("\n") == 1
