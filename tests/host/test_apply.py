"""`eqbridge apply` on real audio through the real Faust plugin: formats kept, inputs untouched, resume,
bad stems, amount/max-gain/no-clip, the written preset re-renders the output, and the match gets closer."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from host.matching.apply import ApplyConfig, apply_stems, faust_preset_source
from host.matching.pipeline import gain_parameter_names, scale_gains
from host.audio import read_audio
from host.errors import OptionError
from model.profiles import load_profile
from host.spectrum import tonal_rms_distance_db
from tests.audio import synth_recording

ROOT = Path(__file__).resolve().parents[2]
TRACK = ROOT / "examples" / "audio" / "track.flac"
REFERENCE = ROOT / "examples" / "audio" / "reference.flac"
# The shipped checkpoint; EQBRIDGE_TEST_CHECKPOINT points elsewhere while one is being trained.
CHECKPOINT = os.environ.get("EQBRIDGE_TEST_CHECKPOINT") or str(ROOT / "presets" / "checkpoints" / "faust-peq.pt")
CLIP_S = 4.0
# A dull EQ of the reference's own material: apply should bring it back towards the reference.
DULL = {"high_gain_db": -9.0, "peak2_gain_db": -6.0, "peak2_freq_hz": 4000.0, "low_gain_db": 4.0}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _config(**changes) -> ApplyConfig:
    return ApplyConfig(**({"plugin": "faust-peq", "checkpoint": CHECKPOINT} | changes))


@pytest.fixture(scope="module")
def faust_host():
    from tests.conftest import require_host

    return require_host("faust-peq", 44100)


def _make_stems(root: Path, faust_host) -> Path:
    """Mixed formats: mono 44.1 kHz PCM_16, stereo 48 kHz PCM_24, float WAV, FLAC; plus a hot, a silent and a
    broken file."""
    root.mkdir(parents=True)
    track, rate = sf.read(TRACK, dtype="float32")
    ref, ref_rate = sf.read(REFERENCE, dtype="float32")
    n = int(CLIP_S * rate)
    sf.write(root / "track_mono16.wav", track[:n], rate, subtype="PCM_16")
    left, right = synth_recording(CLIP_S, 48000, seed=1), synth_recording(CLIP_S, 48000, seed=2)
    sf.write(root / "synth_stereo24.wav", np.stack([left, right], axis=1), 48000, subtype="PCM_24")
    sf.write(root / "synth_float.wav", synth_recording(CLIP_S, 44100, seed=3), 44100, subtype="FLOAT")
    profile = faust_host.profile
    dull = faust_host.render(ref[int(2 * ref_rate):], profile.values_from_dict(DULL))
    sf.write(root / "ref_dull.flac", 0.7 * dull / np.max(np.abs(dull)), ref_rate, subtype="PCM_16")
    sf.write(root / "hot_float.wav", 1.5 * synth_recording(CLIP_S, 44100, seed=4) / 0.5, 44100, subtype="FLOAT")
    sf.write(root / "silent.wav", np.zeros(n, np.float32), rate, subtype="PCM_16")
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    return root


@pytest.fixture(scope="module")
def main_run(tmp_path_factory, faust_host):
    root = tmp_path_factory.mktemp("apply")
    stems = _make_stems(root / "stems", faust_host)
    before = {p.name: _sha(p) for p in stems.iterdir()}
    summary = apply_stems(REFERENCE, stems, root / "out", _config(), workers=1, progress=False)
    return stems, root / "out", summary, before


def test_outputs_keep_rate_channels_length_subtype_and_format(main_run):
    stems, out, summary, _ = main_run
    done = [r.name for r in summary.results if r.status == "done"]
    assert sorted(done) == ["hot_float.wav", "ref_dull.flac", "synth_float.wav", "synth_stereo24.wav",
                            "track_mono16.wav"]
    for name in done:
        src, dst = sf.info(stems / name), sf.info(out / name)
        assert (dst.samplerate, dst.channels, dst.frames, dst.subtype, dst.format) == \
               (src.samplerate, src.channels, src.frames, src.subtype, src.format), name
        stem = Path(name).stem
        assert (out / f"{stem}.png").stat().st_size > 10_000
        assert (out / f"{stem}.faust-peq.dsp").is_file()
    assert sf.info(out / "synth_stereo24.wav").channels == 2


def test_inputs_untouched(main_run):
    stems, _, _, before = main_run
    assert {p.name: _sha(p) for p in stems.iterdir()} == before


def test_bad_stems_reported_while_others_finish(main_run):
    _, out, summary, _ = main_run
    failed = {r.name: r.error for r in summary.results if r.status == "failed"}
    assert set(failed) == {"broken.wav", "silent.wav"}
    assert "silent" in failed["silent.wav"] and "cannot read" in failed["broken.wav"]
    report = (out / "report.md").read_text()
    assert "| silent.wav | failed: " in report and "| broken.wav | failed: " in report
    assert not (out / "silent.settings.json").exists()


def test_settings_file_records_units_plugin_checkpoint_and_metrics(main_run):
    _, out, _, _ = main_run
    record = json.loads((out / "track_mono16.settings.json").read_text())
    profile = load_profile("faust-peq")
    assert record["plugin"] == "faust-peq" and record["checkpoint"] == CHECKPOINT
    assert record["amount_percent"] == 100.0 and record["max_gain_db"] is None
    assert set(record["values"]) == set(profile.parameter_names)
    norms = np.array([record["normalized"][n]["value"] for n in profile.parameter_names])
    np.testing.assert_allclose(norms, profile.to_norm(profile.values_from_dict(record["values"])))
    assert record["units"]["low_freq_hz"] == "Hz"
    assert record["plugin_state"]["format"] == "faust-dsp"
    assert record["plugin_identity"]["profile"] == "faust-peq"
    assert record["metrics"]["tonal_rms_db_before"] > 0


def test_preset_file_reproduces_the_output(main_run, faust_host):
    """The written Faust DSP, loaded with its defaults only, renders the float stem bit-for-bit (float tolerance)."""
    import dawdreamer

    stems, out, _, _ = main_run
    x, rate = sf.read(stems / "synth_float.wav", dtype="float32")
    engine = dawdreamer.RenderEngine(rate, 512)
    playback = engine.make_playback_processor("in", x[None, :])
    faust = engine.make_faust_processor("preset")
    faust.set_dsp_string((out / "synth_float.faust-peq.dsp").read_text())
    assert faust.compile()
    engine.load_graph([(playback, []), (faust, ["in"])])
    engine.render((len(x) + 0.5) / rate)
    np.testing.assert_allclose(engine.get_audio()[0, :len(x)], sf.read(out / "synth_float.wav")[0], atol=1e-5)


def test_overs_reported_without_no_clip(main_run):
    _, out, _, _ = main_run
    record = json.loads((out / "hot_float.settings.json").read_text())
    assert record["metrics"]["peak_dbfs"] > 0 and record["metrics"]["output_gain_db"] == 0
    assert any("keeps the overs" in note for note in record["notes"])
    assert np.max(np.abs(sf.read(out / "hot_float.wav")[0])) > 1.0  # a float file keeps them: nothing hidden


def test_match_brings_a_dulled_reference_closer(main_run):
    _, out, _, _ = main_run
    metrics = json.loads((out / "ref_dull.settings.json").read_text())["metrics"]
    assert metrics["tonal_rms_db_after"] < metrics["tonal_rms_db_before"] - 0.5, metrics


def test_rerun_skips_finished_stems_and_redoes_only_a_deleted_one(main_run):
    from host.commands.apply import register

    stems, out, _, _ = main_run
    files = sorted(p for p in out.iterdir() if p.name != "report.md")
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["apply", "--reference", str(REFERENCE), "--stems", str(stems), "--out", str(out),
                              "--checkpoint", CHECKPOINT, "--no-progress"])
    assert args.func(args) == 1  # two bad stems: non-zero exit
    assert {p: p.stat().st_mtime_ns for p in files} == mtimes
    (out / "synth_float.png").unlink()
    summary = apply_stems(REFERENCE, stems, out, _config(), progress=False)
    status = {r.name: r.status for r in summary.results}
    assert status["synth_float.wav"] == "done"
    assert [n for n, s in status.items() if s == "done"] == ["synth_float.wav"]
    assert (out / "synth_float.png").is_file()
    for p in files:
        if not p.name.startswith("synth_float."):
            assert p.stat().st_mtime_ns == mtimes[p], p


def test_amount_zero_is_a_bypass(tmp_path, main_run):
    stems, _, _, _ = main_run
    small = tmp_path / "stems"
    small.mkdir()
    for name in ("track_mono16.wav", "synth_float.wav"):
        shutil.copy(stems / name, small / name)
    summary = apply_stems(REFERENCE, small, tmp_path / "out", _config(amount_percent=0.0), progress=False)
    assert summary.counts["done"] == 2
    for name in ("track_mono16.wav", "synth_float.wav"):
        np.testing.assert_allclose(sf.read(tmp_path / "out" / name)[0], sf.read(small / name)[0], atol=1e-5)
        record = json.loads((tmp_path / "out" / f"{Path(name).stem}.settings.json").read_text())
        assert all(record["values"][g] == 0.0 for g in gain_parameter_names(load_profile("faust-peq")))


def test_max_gain_and_no_clip(tmp_path, main_run):
    stems, _, _, _ = main_run
    small = tmp_path / "stems"
    small.mkdir()
    shutil.copy(stems / "hot_float.wav", small / "hot_float.wav")
    summary = apply_stems(REFERENCE, small, tmp_path / "out", _config(amount_percent=200.0, max_gain_db=2.0,
                                                                      no_clip=True), progress=False)
    record = summary.results[0].record
    gains = [record["values"][g] for g in gain_parameter_names(load_profile("faust-peq"))]
    assert max(abs(g) for g in gains) <= 2.0
    m = record["metrics"]
    assert m["peak_before_output_gain_dbfs"] > 0 and m["output_gain_db"] < 0
    assert m["peak_dbfs"] <= 0.0
    assert np.max(np.abs(sf.read(tmp_path / "out" / "hot_float.wav")[0])) <= 1.0
    assert "output gain" in (tmp_path / "out" / "report.md").read_text()


def test_shared_mode_uses_one_setting_in_two_workers(tmp_path, main_run):
    stems, _, _, _ = main_run
    small = tmp_path / "stems"
    small.mkdir()
    for name in ("track_mono16.wav", "synth_stereo24.wav"):
        shutil.copy(stems / name, small / name)
    summary = apply_stems(REFERENCE, small, tmp_path / "out", _config(mode="shared"), workers=2, progress=False)
    assert summary.counts["done"] == 2 and summary.shared_values is not None
    for r in summary.results:
        assert r.record["values"] == pytest.approx(summary.shared_values)
        assert r.record["mode"] == "shared"


def test_scale_gains_amount_cap_and_range():
    profile = load_profile("faust-peq")
    values = profile.values_from_dict({"low_gain_db": 8.0, "peak1_gain_db": -3.0, "high_gain_db": 2.0})
    gains = [profile.parameter_names.index(g) for g in gain_parameter_names(profile)]
    assert len(gains) == 4
    inverted, _ = scale_gains(profile, values, -100.0)
    np.testing.assert_allclose(inverted[gains], -values[gains])
    doubled, changes = scale_gains(profile, values, 200.0)
    assert doubled[gains[0]] == 12.0 and changes[0].clipped_to_range and changes[0].requested_db == 16.0
    capped, changes = scale_gains(profile, values, 100.0, max_gain_db=2.5)
    assert capped[gains].tolist() == [2.5, -2.5, 0.0, 2.0] and changes[0].capped_by_max_gain
    kept = [i for i in range(profile.n_params) if i not in gains]
    np.testing.assert_array_equal(capped[kept], values[kept])


@pytest.mark.parametrize("changes", [{"amount_percent": 250.0}, {"amount_percent": float("nan")},
                                     {"mode": "bus"}, {"max_gain_db": -1.0}])
def test_bad_options_name_the_value(changes):
    with pytest.raises(OptionError, match=str(next(iter(changes.values())))):
        ApplyConfig(**changes)


def test_out_dir_that_would_overwrite_inputs_is_refused(tmp_path):
    stems = tmp_path / "stems"
    stems.mkdir()
    sf.write(stems / "a.wav", synth_recording(1.0, 44100, 5), 44100)
    with pytest.raises(OptionError, match="overwrite"):
        apply_stems(REFERENCE, stems, stems, _config(), progress=False)
    (tmp_path / "link").symlink_to(stems)
    with pytest.raises(OptionError, match="overwrite"):
        apply_stems(REFERENCE, stems, tmp_path / "link", _config(), progress=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.wav").symlink_to(stems / "a.wav")
    with pytest.raises(OptionError, match="overwrite"):
        apply_stems(REFERENCE, stems, out, _config(), progress=False)


def test_mel_distance_is_zero_for_the_same_clip_at_any_level_and_grows_with_eq(faust_host):
    x = synth_recording(3.0, 44100, 7)
    assert tonal_rms_distance_db(x, 44100, 0.25 * x, 44100) == pytest.approx(0.0, abs=1e-6)
    profile = faust_host.profile
    small = faust_host.render(x, profile.values_from_dict({"high_gain_db": -3.0}))
    large = faust_host.render(x, profile.values_from_dict({"high_gain_db": -9.0}))
    assert 0.1 < tonal_rms_distance_db(small, 44100, x, 44100) < tonal_rms_distance_db(large, 44100, x, 44100)


def test_faust_preset_source_sets_every_slider():
    profile = load_profile("faust-peq")
    norms = {n: 0.123 + 0.01 * i for i, n in enumerate(profile.parameter_names)}
    source = faust_preset_source(profile, norms)
    for spec in profile.parameters:
        label = spec.plugin_name.rsplit("/", 1)[-1]
        assert f'hslider("{label}", {norms[spec.name]!r},' in source


def test_vst_preset_is_the_plugins_own_fxb_bank(tmp_path):
    """A VST profile's preset is DawDreamer's save_state: an FXB chunk bank (magic 'CcnK', type 'FxBk')."""
    from host.matching.apply import save_plugin_state
    from tests.conftest import require_host

    host = require_host("zameq2", 44100)
    values = host.profile.values_from_dict({"low_gain_db": 6.0, "high_freq_hz": 5000.0})
    host.set_normalized(host.profile.to_norm(values))
    norms = dict(zip(host.profile.parameter_names, host.profile.to_norm(values)))
    state = save_plugin_state(host, tmp_path / "x.fxb", norms)
    raw = (tmp_path / "x.fxb").read_bytes()
    assert state["file"] == "x.fxb" and raw[:4] == b"CcnK" and raw[8:12] == b"FxBk"
    assert list(tmp_path.iterdir()) == [tmp_path / "x.fxb"]  # no temporary left behind


def test_refine_moves_each_stem_off_the_grid_and_closer_to_the_reference(tmp_path, main_run):
    stems, _, _, _ = main_run
    small = tmp_path / "stems"
    small.mkdir()
    shutil.copy(stems / "track_mono16.wav", small / "track_mono16.wav")
    one_shot = apply_stems(REFERENCE, small, tmp_path / "a", _config(), progress=False)
    refined = apply_stems(REFERENCE, small, tmp_path / "b", _config(refine_s=0.5), progress=False)
    assert one_shot.counts["done"] == refined.counts["done"] == 1
    profile = load_profile("faust-peq")
    values = json.loads((tmp_path / "b" / "track_mono16.settings.json").read_text())["values"]
    assert not all(np.isclose(profile.parameter(n).grid(), v, rtol=1e-4).any() for n, v in values.items())
    ref = read_audio(REFERENCE)
    dist = {k: tonal_rms_distance_db(read_audio(tmp_path / k / "track_mono16.wav").mono(), 44100, ref.mono(),
                               ref.sample_rate) for k in ("a", "b")}
    assert dist["b"] < dist["a"]
