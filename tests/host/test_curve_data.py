"""`eqbridge curve-data --rendered`: segment statistics of real renders beside the analytic data, which stays
bit-identical; rendered through the real Faust EQ (faust-peq), on short synthetic recordings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from host.cli import main
from host.data.curve_data import CurveDataConfig, RenderConfig, build_curve_data, rendered_segment_stats, segment_stats
from host.errors import DatasetError
from host.plugins.curves import mel_curve_db
from model.curve.data import load_curve_data
from model.curve.features import ClipStats
from tests.audio import synth_recording, write_folder
from tests.conftest import require_host
from tests.plugins import with_values

SR = 44100
PLUGIN = "faust-peq"
SMALL = CurveDataConfig(holdout=(), curves_per_profile=20)  # a user folder has one source, "user"


@pytest.fixture(scope="module")
def front() -> ClipStats:
    return ClipStats()


def test_a_bell_moves_the_rendered_statistics_by_its_analytic_curve(front: ClipStats) -> None:
    """A +6 dB bell (1 kHz, Q 1) rendered by the real plugin: each segment's level channels move by the
    model's view of the bell (mel_curve_db) in the bell's bands, and stay put elsewhere.

    Measured on this recording: mean level 0.06 dB mean error in the bell's bands, percentiles 0.09-0.26; the
    README's renders of held-out music through faust-peq give 0.14-0.16. The bounds are about four times
    those: a render that were off by a band, or unrendered, misses by the bell's several dB."""
    host = require_host(PLUGIN)
    audio = synth_recording(8.0, SR, seed=7)
    segments = np.array([[0.3, 3.0], [4.0, 3.5], [1.0, 6.0]])
    values = with_values(host.profile, peak1_gain_db=6.0, peak1_freq_hz=1000.0, peak1_q=1.0)
    hop_s = front.features.hop_ms / 1000.0
    dry, kept = segment_stats(front, front.mel_power(torch.from_numpy(audio)), segments, hop_s)
    rendered = rendered_segment_stats(front, host, host.profile, audio, segments, values[None])
    curve = mel_curve_db(host.profile, values)
    assert kept.all() and rendered.usable.all()
    np.testing.assert_array_equal(rendered.curves[:, 0], np.repeat(curve[None].astype(np.float32), 3, axis=0))
    assert curve.max() == pytest.approx(6.0, abs=0.1)
    bell, flat = curve > 3.0, np.abs(curve) < 0.5
    moved = rendered.stats[:, 0] - dry                        # (segments, S, M)
    assert np.abs(moved[:, 0, bell] - curve[bell]).mean() < 0.25          # mean level
    assert np.abs(moved[:, 1:4, bell] - curve[bell]).mean() < 0.6         # percentiles
    assert moved[:, 0, np.argmax(curve)].min() > 5.0                      # the bell's peak band: about +6 dB
    assert np.abs(moved[:, :4, flat] - curve[flat]).mean() < 0.05         # away from the bell: untouched


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_folder(tmp_path_factory.mktemp("corpus"), groups=3, per_group=1, seconds=6.0)


@pytest.fixture(scope="module")
def analytic(corpus: Path, tmp_path_factory) -> Path:
    return build_curve_data(corpus, tmp_path_factory.mktemp("analytic"), SMALL, progress=False).parent


@pytest.fixture(scope="module")
def rendered(corpus: Path, tmp_path_factory) -> Path:
    require_host(PLUGIN)
    return build_curve_data(corpus, tmp_path_factory.mktemp("rendered"), SMALL, progress=False, workers=2,
                            render=RenderConfig(PLUGIN, 2)).parent


def test_rendering_leaves_the_analytic_data_bit_identical(analytic: Path, rendered: Path) -> None:
    for name in ("stats.npy", "segments.npy", "curves.npy"):
        assert (analytic / name).read_bytes() == (rendered / name).read_bytes(), name
    a, r = (json.loads((p / "curve_data.json").read_text()) for p in (analytic, rendered))
    assert "rendered" not in a and not (analytic / "rendered_stats.npy").exists()
    assert {k: v for k, v in r.items() if k != "rendered"} == a
    assert r["rendered"]["plugin"] == PLUGIN and r["rendered"]["renders"] == 2


def test_rendered_statistics_are_the_dry_ones_plus_each_settings_curve(rendered: Path) -> None:
    """Random settings, per segment and render: the level channels move by that render's curve (over the
    bands with energy), the spread barely; two renders of a file variant have two settings."""
    data = load_curve_data(rendered)
    r = data.rendered
    assert r is not None and r.renders == 2 and r.usable.all()  # synthetic notes: no render is refused
    assert r.stats.shape == (len(data.stats), 2, *data.stats.shape[1:])
    level = data.stats[:, 0]
    energy = np.repeat((level > level.max(axis=1, keepdims=True) - 60.0)[:, None], 2, axis=1)
    moved = r.stats - data.stats[:, None]
    assert np.abs(moved[:, :, 0] - r.curves)[energy].mean() < 0.25
    assert np.abs(moved[:, :, 4])[energy].mean() < 0.25
    assert np.abs(r.curves).mean() > 2.0                    # the settings do something
    for f in data.files:
        rows = r.curves[f.first:f.first + f.count]
        assert (rows == rows[0]).all()                      # one setting per file variant and render...
        assert not np.array_equal(rows[0, 0], rows[0, 1])   # ...and two different ones


def test_renders_do_not_depend_on_the_worker_count(corpus: Path, rendered: Path, tmp_path: Path) -> None:
    one = build_curve_data(corpus, tmp_path, SMALL, progress=False, workers=1, render=RenderConfig(PLUGIN, 2)).parent
    for name in ("rendered_stats.npy", "rendered_curves.npy", "rendered_usable.npy"):
        assert (one / name).read_bytes() == (rendered / name).read_bytes(), name


def test_render_options_are_checked_before_any_work(capsys, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for extra, message in ((["--renders", "3"], "--renders needs --rendered"),
                           (["--rendered", PLUGIN, "--renders", "9"], "--renders must lie in [1, 8]"),
                           (["--rendered", PLUGIN, "--renders", "0"], "--renders must lie in [1, 8], got 0"),
                           (["--rendered", "zamcomp"], "a dynamics profile"),
                           (["--rendered", "no-such-eq"], "no-such-eq")):
        code = main(["curve-data", "--corpus", str(corpus), "--out", str(out), "--holdout", "", *extra])
        err = capsys.readouterr().err
        assert code == 1 and message in err and err.count("\n") == 1, (extra, err)
        assert not out.exists()
    with pytest.raises(DatasetError, match="--renders"):
        RenderConfig(PLUGIN, 0)


def test_train_curve_refuses_rendered_pairs_on_analytic_data(capsys, analytic: Path, tmp_path: Path) -> None:
    code = main(["train-curve", "--data", str(analytic), "--out", str(tmp_path / "c.pt"), "--pairs", "rendered",
                 "--steps", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "curve-data --rendered" in err and err.count("\n") == 1
    assert not (tmp_path / "c.pt").exists()
