"""Stereo modes, several references and --range (issue 18): physics of the M/S and L/R renders through the real
plugin, the link blend, the reference combination, the range, and the one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from host.audio import AudioClip, read_audio
from host.errors import AudioInputError, OptionError
from host.matching.pipeline import (MatchOptions, combined_curve, limit_to_range, match_channels, range_mask)
from host.matching.stereo import decode, encode, render_channels
from host.plugins.curves import mel_curve_db
from host.spectrum import log_mel_spectrum_db, tonal_rms_db
from model.curve.response import mel_center_frequencies_hz
from model.profiles import load_profile
from tests.audio import synth_recording
from tests.conftest import require_host

ROOT = Path(__file__).resolve().parents[2]
CLIPS = ROOT / "examples" / "audio"
SR = 44100
FAUST = load_profile("faust-peq")


def _values(profile, **named: float) -> np.ndarray:
    flat = {b.gain: 0.0 for b in profile.bands}
    return profile.values_from_dict({**flat, **named})


LOW_BOOST = _values(FAUST, low_gain_db=9.0, low_freq_hz=300.0)
HIGH_CUT = _values(FAUST, high_gain_db=-9.0, high_freq_hz=3000.0)


def _clip(data: np.ndarray) -> AudioClip:
    return AudioClip(np.atleast_2d(data).astype(np.float32), SR, "FLOAT", "WAV", None)


def _stereo(seed: int, seconds: float = 4.0) -> np.ndarray:
    """Two channels of different content (left and right are other recordings, so side is not silent)."""
    return np.stack([synth_recording(seconds, SR, seed), synth_recording(seconds, SR, seed + 1)])


@pytest.fixture(scope="module")
def host():
    return require_host("faust-peq")


def test_ms_matrix_is_its_own_inverse() -> None:
    x = _stereo(1, 1.0)
    assert np.allclose(decode(encode(x, "mid-side"), "mid-side"), x, atol=1e-7)
    mid, side = encode(x, "mid-side")
    assert np.allclose(mid, x.mean(axis=0), atol=1e-7) and np.allclose(side, (x[0] - x[1]) / 2, atol=1e-7)


def test_ms_render_of_equal_channels_leaves_side_silent(host) -> None:
    x = synth_recording(2.0, SR, 3)
    out = render_channels(host, np.stack([x, x]), "mid-side", [LOW_BOOST, HIGH_CUT])
    assert np.max(np.abs(out[0] - out[1])) < 1e-6 * np.max(np.abs(out))   # side stays silent
    assert np.allclose(out[0], host.render(x, LOW_BOOST), atol=1e-6)     # and mid got the mid setting


def _transfer_db(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|H| in dB of y = H x, measured (cross spectrum over input spectrum)."""
    f, pxy = scipy.signal.csd(x, y, SR, nperseg=4096)
    _, pxx = scipy.signal.welch(x, SR, nperseg=4096)
    return f, 20 * np.log10(np.abs(pxy) / pxx)


@pytest.mark.parametrize("mode", ["mid-side", "left-right"])
def test_each_signal_is_shaped_by_its_own_setting_and_swapping_the_settings_swaps_them(host, mode: str) -> None:
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((2, 4 * SR))).astype(np.float32)  # independent noise: M and S both present
    for settings in ([LOW_BOOST, HIGH_CUT], [HIGH_CUT, LOW_BOOST]):
        dry, wet = encode(x, mode), encode(render_channels(host, x, mode, settings), mode)
        for channel, values in enumerate(settings):
            f, measured = _transfer_db(dry[channel], wet[channel])
            grid, expected = host.magnitude_response_db(values)
            band = (f > 60) & (f < 12000)
            assert np.max(np.abs(measured[band] - np.interp(f[band], grid, expected))) < 0.3, (mode, channel)


def test_left_right_with_swapped_settings_swaps_the_channels_exactly(host) -> None:
    x = synth_recording(2.0, SR, 4)
    a = render_channels(host, np.stack([x, x]), "left-right", [LOW_BOOST, HIGH_CUT])
    b = render_channels(host, np.stack([x, x]), "left-right", [HIGH_CUT, LOW_BOOST])
    assert np.allclose(a[0], b[1], atol=1e-7) and np.allclose(a[1], b[0], atol=1e-7)
    assert tonal_rms_db(log_mel_spectrum_db(a[0], SR), log_mel_spectrum_db(a[1], SR)) > 3.0


@pytest.fixture(scope="module")
def pair(host) -> tuple[AudioClip, AudioClip]:
    """A track and a reference whose channels carry different EQs (so the independent curves differ)."""
    return _clip(_stereo(10)), _clip(render_channels(host, _stereo(20), "left-right", [LOW_BOOST, HIGH_CUT]))


@pytest.mark.parametrize("mode", ["mid-side", "left-right"])
def test_link_100_equals_link_and_link_50_lies_halfway(host, pair, mode: str) -> None:
    track, reference = pair
    link = match_channels(track, [reference], MatchOptions(FAUST))
    full = match_channels(track, [reference], MatchOptions(FAUST, stereo=mode, link_percent=100.0))
    assert all(np.array_equal(v, link.values[0]) for v in full.values)
    rendered = render_channels(host, track.data, mode, full.values)
    assert np.allclose(rendered, render_channels(host, track.data, "link", link.values), atol=2e-6)
    none = match_channels(track, [reference], MatchOptions(FAUST, stereo=mode, link_percent=0.0))
    half = match_channels(track, [reference], MatchOptions(FAUST, stereo=mode, link_percent=50.0))
    for c in range(2):
        assert np.allclose(half.targets[c].curve_db, 0.5 * (none.targets[c].curve_db + full.targets[c].curve_db))
    assert not np.allclose(none.targets[0].curve_db, none.targets[1].curve_db, atol=0.1)


def test_mid_side_recovers_different_eq_on_mid_and_side(host) -> None:
    """A reference with one EQ on mid and another on side: the mid-side match brings both channels of the track
    closer to the target (the track through the same two EQs) than leaving it alone, and the side far closer than
    today's linked match."""
    track, ref_dry = _stereo(30, 6.0), _stereo(40, 6.0)
    eqs = [LOW_BOOST, HIGH_CUT]
    reference, target = (render_channels(host, x, "mid-side", eqs) for x in (ref_dry, track))

    def side_error(out: np.ndarray) -> float:
        return tonal_rms_db(log_mel_spectrum_db(encode(out, "mid-side")[1], SR),
                            log_mel_spectrum_db(encode(target, "mid-side")[1], SR))

    errors = {}
    for mode in ("link", "mid-side"):
        matched = match_channels(_clip(track), [_clip(reference)], MatchOptions(FAUST, stereo=mode))
        errors[mode] = side_error(render_channels(host, track, mode, matched.values))
    noop = side_error(track)
    assert errors["mid-side"] < 0.8 * noop and errors["mid-side"] < 0.8 * errors["link"], (noop, errors)


def test_several_references_average_their_curves_and_weights_pick_among_them(pair) -> None:
    track, reference = pair
    other = _clip(_stereo(50))
    options = MatchOptions(FAUST, restraint=0.0)
    t, r1, r2 = track.mono(), reference.mono(), other.mono()
    one, two = combined_curve(t, [r1], SR, options), combined_curve(t, [r2], SR, options)
    both = combined_curve(t, [r1, r2], SR, options)
    assert np.allclose(both.curve_db, 0.5 * (one.curve_db + two.curve_db))
    weighted = combined_curve(t, [r1, r2], SR, replace(options, weights=(3.0, 1.0)))
    assert np.allclose(weighted.curve_db, 0.75 * one.curve_db + 0.25 * two.curve_db)
    only_first = match_channels(track, [reference, other], MatchOptions(FAUST, weights=(1.0, 0.0)))
    assert np.array_equal(only_first.values[0], match_channels(track, [reference], MatchOptions(FAUST)).values[0])
    with pytest.raises(OptionError, match="2 weights for 3 references"):
        match_channels(track, [reference, other, other], MatchOptions(FAUST, weights=(1.0, 1.0)))


def test_range_leaves_the_bands_outside_it_flat(host, pair) -> None:
    track, reference = pair
    freqs = mel_center_frequencies_hz()
    mask = range_mask(freqs, 250.0, 4000.0)
    assert np.all(mask[(freqs <= 250.0) | (freqs >= 4000.0)] == 0.0)
    assert np.all(mask[(freqs >= 250.0 * 2 ** (1 / 3)) & (freqs <= 4000.0 * 2 ** (-1 / 3))] == 1.0)
    ref = _clip(host.render(reference.mono(), _values(FAUST, low_gain_db=10.0, high_gain_db=10.0)))
    outside = (freqs < 125.0) | (freqs > 8000.0)
    spread = {}
    for range_hz in (None, (250.0, 4000.0)):
        matched = match_channels(_clip(track.mono()), [ref], MatchOptions(FAUST, range_hz=range_hz))
        response = mel_curve_db(FAUST, matched.values[0])
        spread[range_hz] = float(np.mean(np.abs(response[outside])))
        if range_hz:
            assert np.all(matched.targets[0].curve_db[(freqs < 250.0) | (freqs > 4000.0)] == 0.0)
            assert limit_to_range(matched.targets[0], None) is matched.targets[0]
    assert spread[(250.0, 4000.0)] < 1.0 and spread[(250.0, 4000.0)] < 0.3 * spread[None], spread


def test_options_out_of_place_are_one_line_errors() -> None:
    for kwargs, message in (({"link_percent": 50.0}, "needs --stereo mid-side or left-right"),
                            ({"stereo": "mid-side", "link_percent": 150.0}, "--link must lie in"),
                            ({"stereo": "sideways"}, "--stereo must be one of"),
                            ({"range_hz": (5000.0, 100.0)}, "--range needs LOW_HZ < HIGH_HZ"),
                            ({"weights": (0.0, 0.0)}, "not all zero"),
                            ({"stereo": "mid-side", "model": "classifier"}, "work on the curve model")):
        with pytest.raises(OptionError, match=message):
            MatchOptions(FAUST, **kwargs)


def test_a_silent_side_is_a_clear_error(pair) -> None:
    x = synth_recording(3.0, SR, 7)
    with pytest.raises(AudioInputError, match="side channel.*use --stereo link"):
        match_channels(_clip(np.stack([x, x])), [pair[1]], MatchOptions(FAUST, stereo="mid-side"))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "host.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_match_refuses_mono_input_in_a_two_channel_mode_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    proc = _cli("match", str(CLIPS / "track.flac"), str(CLIPS / "reference.flac"), "--out", str(out),
                "--stereo", "mid-side")
    assert proc.returncode == 1 and not out.exists()
    assert len(proc.stderr.strip().splitlines()) == 1 and "needs two-channel audio" in proc.stderr
    assert "--stereo link" in proc.stderr


def test_match_mid_side_writes_both_channels_settings_and_plot(tmp_path: Path, pair) -> None:
    import soundfile as sf

    track, reference = pair
    paths = [tmp_path / "track.wav", tmp_path / "ref.wav", tmp_path / "ref2.wav"]
    for p, clip in zip(paths, (track, reference, _clip(_stereo(60)))):
        sf.write(p, clip.data.T, SR, subtype="FLOAT")
    proc = _cli("match", *map(str, paths), "--weights", "2", "1", "--out", str(tmp_path / "out.wav"),
                "--settings-out", str(tmp_path / "s.json"), "--plot", str(tmp_path / "c.png"),
                "--stereo", "mid-side", "--link", "25", "--range", "60", "16000")
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "s.json").read_text())
    assert record["stereo"] == "mid-side" and record["link_percent"] == 25.0 and record["range_hz"] == [60, 16000]
    assert set(record["stereo_channels"]) == {"mid", "side"}
    assert [r["weight"] for r in record["references"]] == [2.0, 1.0]
    assert "mid:" in proc.stdout and "side:" in proc.stdout
    out = read_audio(tmp_path / "out.wav")
    assert out.channels == 2 and out.frames == track.frames and (tmp_path / "c.png").stat().st_size > 10_000


def test_apply_mid_side_writes_a_preset_and_settings_per_channel_and_reports_mono_stems(tmp_path: Path, pair) -> None:
    import soundfile as sf

    from host.matching.apply import ApplyConfig, apply_stems

    track, reference = pair
    stems, out = tmp_path / "stems", tmp_path / "out"
    stems.mkdir()
    sf.write(stems / "keys.wav", track.data.T, SR, subtype="FLOAT")
    sf.write(stems / "bass.wav", synth_recording(3.0, SR, 70), SR, subtype="FLOAT")
    sf.write(tmp_path / "ref.wav", reference.data.T, SR, subtype="FLOAT")
    sf.write(tmp_path / "mono_ref.wav", reference.mono(), SR, subtype="FLOAT")
    config = ApplyConfig(stereo="mid-side", link_percent=10.0)
    with pytest.raises(OptionError, match="needs two-channel audio"):
        apply_stems(tmp_path / "mono_ref.wav", stems, out, config, progress=False)
    assert not out.exists()
    summary = apply_stems([tmp_path / "ref.wav", tmp_path / "ref.wav"], stems, out,
                          ApplyConfig(stereo="mid-side", link_percent=10.0, weights=(1.0, 2.0)), progress=False)
    by_name = {r.name: r for r in summary.results}
    assert by_name["bass.wav"].status == "failed" and "needs two-channel audio" in by_name["bass.wav"].error
    record = by_name["keys.wav"].record
    assert set(record["stereo_channels"]) == {"mid", "side"} and record["link_percent"] == 10.0
    for channel in ("mid", "side"):
        preset = out / record["files"][f"plugin_state_{channel}"]
        assert preset.is_file() and preset.name == f"keys.{channel}.faust-peq.dsp"
    assert read_audio(out / "keys.wav").channels == 2
    assert "### mid" in (out / "report.md").read_text()
    shared = apply_stems(tmp_path / "ref.wav", stems, tmp_path / "shared",
                         ApplyConfig(mode="shared", stereo="left-right"), progress=False)
    assert shared.shared_channels is not None and set(shared.shared_channels) == {"left", "right"}


WESNOTH_MUSIC = Path("/usr/share/games/wesnoth/1.16/data/core/music")


def test_mid_side_on_held_out_stereo_music(host) -> None:
    """Real stereo music the curve model never trained on (the Wesnoth soundtrack's own stereo files): a reference
    part with one EQ on mid and another on side; mid-side brings left/right closer to the target than leaving the
    track alone, and side far closer than today's linked match (examples/stereo_report.py measures the whole set)."""
    import os

    import soundfile as sf

    files = sorted(WESNOTH_MUSIC.glob("*.ogg"))
    if not files:
        if os.environ.get("EQBRIDGE_REQUIRE_PLUGINS") == "1":
            raise AssertionError(f"no Wesnoth music in {WESNOTH_MUSIC}: apt-get install wesnoth-1.16-music")
        pytest.skip(f"no Wesnoth music in {WESNOTH_MUSIC}: apt-get install wesnoth-1.16-music")
    rng = np.random.default_rng(18)
    errors: dict[str, list[float]] = {"no-op": [], "link": [], "mid-side": []}
    side: dict[str, list[float]] = {k: [] for k in errors}
    for path in [f for f in files if sf.info(str(f)).duration > 60][:4]:
        parts = [sf.read(str(path), start=s * SR, frames=5 * SR, dtype="float32")[0].T for s in (20, 40)]
        eqs = [FAUST.from_bins(FAUST.sample_bins(rng)) for _ in range(2)]
        reference, target = (render_channels(host, x, "mid-side", eqs) for x in (parts[1], parts[0]))
        target_db = [log_mel_spectrum_db(x, SR) for x in (*target, encode(target, "mid-side")[1])]
        outputs = {"no-op": parts[0]}
        for mode in ("link", "mid-side"):
            matched = match_channels(_clip(parts[0]), [_clip(reference)], MatchOptions(FAUST, stereo=mode))
            outputs[mode] = render_channels(host, parts[0], mode, matched.values)
        for name, out in outputs.items():
            e = [tonal_rms_db(log_mel_spectrum_db(x, SR), t)
                 for x, t in zip((*out, encode(out, "mid-side")[1]), target_db)]
            errors[name].append(0.5 * (e[0] + e[1]))
            side[name].append(e[2])
    mean = {k: float(np.mean(v)) for k, v in errors.items()}
    side_mean = {k: float(np.mean(v)) for k, v in side.items()}
    # Measured here (4 tracks, Faust EQ): L/R 2.67 no-op, 2.31 link, 2.32 mid-side; side 2.01, 3.71, 2.06. Today's
    # linked match puts mid's EQ on side and nearly doubles its error; mid-side does not.
    assert mean["mid-side"] < mean["no-op"], mean
    assert side_mean["mid-side"] < 0.75 * side_mean["link"], side_mean
