"""evaluate_audio on a tiny dataset rendered here, and the Matchering baseline on the bundled clips."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from host.data.dataset import DatasetConfig, render_dataset
from host.errors import ProfileError
from host.evaluation.audio_eval import DSP_EQ_MATCH, MATCHERING, NO_OP, evaluate_audio, load_split
from host.evaluation.dsp_fit import target_curve_db
from tests.audio import write_folder
from tests.conftest import require_host

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "audio"


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    require_host("faust-peq")
    audio = write_folder(tmp_path_factory.mktemp("audio"), groups=2, per_group=1, seconds=3.0)
    out = tmp_path_factory.mktemp("ds")
    config = DatasetConfig(profile="faust-peq", iterations=2, segments=2, segment_s=1.0, split=(0.0, 0.0, 1.0))
    render_dataset(config, audio, out, progress=False)
    return out


def test_load_split_keeps_manifest_order(tiny_dataset):
    data = load_split(tiny_dataset, "test")
    manifest = json.loads((tiny_dataset / "manifest.json").read_text())
    first = manifest["shards"][0]["path"]
    with np.load(tiny_dataset / first) as shard:
        np.testing.assert_array_equal(data.params[:2], shard["params"])
        np.testing.assert_array_equal(data.y[:2], shard["y"])
    assert load_split(tiny_dataset, "test", max_rows=3).n_rows == 3


def test_true_settings_score_zero_and_no_op_does_not(tiny_dataset, tmp_path):
    pytest.importorskip("matchering", reason="pip install matchering==2.0.6")
    data = load_split(tiny_dataset, "test")
    report = evaluate_audio(tiny_dataset, {"truth": data.params}, max_rows=2, out_dir=tmp_path, progress=False)
    methods = report["methods"]
    assert list(methods) == [NO_OP, "truth", DSP_EQ_MATCH, MATCHERING]
    assert methods["truth"]["mean"]["mel_stft_nepers"] == 0.0          # bit-exact re-render
    assert methods["truth"]["mean"]["lufs_error_db"] == 0.0
    assert methods[NO_OP]["mean"]["mel_stft_nepers"] > 0.01
    assert all(m["rows"] == 2 for m in methods.values())
    assert json.loads((tmp_path / "audio_report.json").read_text())["methods"]["truth"]["rows"] == 2
    assert "| truth | 2 |" in (tmp_path / "audio_report.md").read_text()


def test_predictions_of_the_wrong_shape_or_a_reserved_name_are_refused(tiny_dataset):
    data = load_split(tiny_dataset, "test")
    with pytest.raises(ProfileError, match="must be"):
        evaluate_audio(tiny_dataset, {"bad": data.params[:, :3]}, dsp_eq_match=False, matchering=False,
                       progress=False)
    with pytest.raises(ProfileError, match="reserved"):
        evaluate_audio(tiny_dataset, {NO_OP: data.params}, dsp_eq_match=False, matchering=False, progress=False)


def test_matchering_moves_the_track_towards_the_reference_spectrum():
    pytest.importorskip("matchering", reason="pip install matchering==2.0.6")
    from host.evaluation.matchering import matchering_match

    track, sr = sf.read(EXAMPLES / "track.flac", dtype="float32")
    reference, _ = sf.read(EXAMPLES / "reference.flac", dtype="float32")
    out = matchering_match(track, reference, sr)
    assert out.shape == track.shape and np.all(np.isfinite(out))
    _, before, w = target_curve_db(track, reference, sr)
    _, after, w2 = target_curve_db(out, reference, sr)
    keep = (w > 0) & (w2 > 0)
    # The reference/track spectral ratio gets flatter: Matchering matched the average spectrum.
    assert np.std(after[keep]) < 0.5 * np.std(before[keep])
