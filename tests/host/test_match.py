"""`eqbridge match` end to end with the shipped checkpoint and the real plugins."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from host.audio import read_audio
from host.errors import AudioInputError, OptionError, ProfileError
from host.matching.match import match
from host.spectrum import tonal_rms_distance_db
from model.profiles import load_profile

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "audio"
TRACK, REFERENCE = EXAMPLES / "track.flac", EXAMPLES / "reference.flac"


def test_match_writes_audio_settings_and_curve(tmp_path):
    result = match(TRACK, REFERENCE, tmp_path / "out.flac", settings_out=tmp_path / "s.json",
                   plot=tmp_path / "c.png")
    src, out = read_audio(TRACK), read_audio(tmp_path / "out.flac")
    assert (out.sample_rate, out.channels, out.frames, out.subtype) == (src.sample_rate, src.channels, src.frames,
                                                                        src.subtype)
    saved = json.loads((tmp_path / "s.json").read_text())
    profile = load_profile("faust-peq")
    values = profile.values_from_dict(saved["values"])
    norms = [saved["normalized"][n]["value"] for n in profile.parameter_names]
    assert np.allclose(norms, profile.to_norm(values))
    assert saved["plugin"] == "faust-peq" and saved["checkpoint"].endswith("curve.pt")  # the default for an EQ
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.settings.values == saved["values"]


def test_match_moves_the_tonal_balance_towards_the_reference(tmp_path):
    """Distance of average log-mel spectra (levels aligned) to the reference drops, one-shot and refined."""
    track, ref = read_audio(TRACK), read_audio(REFERENCE)
    before = tonal_rms_distance_db(track.mono(), track.sample_rate, ref.mono(), ref.sample_rate)
    match(TRACK, REFERENCE, tmp_path / "out.wav")
    out = read_audio(tmp_path / "out.wav")
    after = tonal_rms_distance_db(out.mono(), out.sample_rate, ref.mono(), ref.sample_rate)
    assert after < before
    match(TRACK, REFERENCE, tmp_path / "refined.wav", refine_s=1.0)
    refined = read_audio(tmp_path / "refined.wav")
    assert tonal_rms_distance_db(refined.mono(), refined.sample_rate, ref.mono(), ref.sample_rate) < after


def test_stereo_48k_track_keeps_its_layout(tmp_path):
    src = read_audio(TRACK)
    import soxr

    # Quiet enough that no boost clips the 24-bit file (clipping would break the channel ratio).
    stereo = soxr.resample(np.stack([0.2 * src.mono(), 0.1 * src.mono()], axis=1), 44100, 48000)
    sf.write(tmp_path / "st.wav", stereo, 48000, subtype="PCM_24")
    match(tmp_path / "st.wav", REFERENCE, tmp_path / "o.wav")
    out = read_audio(tmp_path / "o.wav")
    assert (out.sample_rate, out.channels, out.frames, out.subtype) == (48000, 2, len(stereo), "PCM_24")
    # Same settings on both channels: channel 1 is half of channel 0 before and after (linear EQ).
    assert np.allclose(out.data[1], 0.5 * out.data[0], atol=2e-4)


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(AudioInputError, match="does not exist"):
        match(tmp_path / "missing.wav", REFERENCE, tmp_path / "o.wav")
    sf.write(tmp_path / "silence.wav", np.zeros(44100 * 4, np.float32), 44100)
    with pytest.raises(AudioInputError, match="silent"):
        match(TRACK, tmp_path / "silence.wav", tmp_path / "o.wav")
    sf.write(tmp_path / "short.wav", 0.1 * np.ones(2000, np.float32), 44100)
    with pytest.raises(AudioInputError, match="lasts"):
        match(tmp_path / "short.wav", REFERENCE, tmp_path / "o.wav")
    with pytest.raises(OptionError, match="overwrite"):
        match(TRACK, REFERENCE, TRACK)
    with pytest.raises(ProfileError, match="unknown plugin profile"):
        match(TRACK, REFERENCE, tmp_path / "o.wav", plugin="nope")
    assert not (tmp_path / "o.wav").exists()


def test_cli_match_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "host.cli", "match", str(tmp_path / "nope.wav"), str(REFERENCE),
                           "--out", str(tmp_path / "o.wav")], capture_output=True, text=True)
    assert proc.returncode == 1 and "does not exist" in proc.stderr and proc.stderr.count("\n") == 1


def test_a_fixed_point_output_never_clips_silently(tmp_path):
    """The bundled match is all boosts: the 16-bit FLAC says how many samples clip; --no-clip clips none."""
    import json

    plain = match(TRACK, REFERENCE, tmp_path / "plain.flac", settings_out=tmp_path / "plain.json", model="classifier")
    level = json.loads((tmp_path / "plain.json").read_text())["output_level"]
    written = read_audio(tmp_path / "plain.flac").data
    assert level["subtype"] == "PCM_16" and level["output_gain_db"] == 0.0
    assert level["clipped_samples"] > 0 and plain.level.note().startswith("peak +")
    assert np.count_nonzero(np.abs(written) >= 1.0 - 2 ** -15) >= level["clipped_samples"] - 1
    guarded = match(TRACK, REFERENCE, tmp_path / "guarded.flac", no_clip=True, model="classifier")
    out = read_audio(tmp_path / "guarded.flac").data
    assert guarded.level.clipped_samples == 0 and guarded.level.output_gain_db < 0
    assert 20 * np.log10(np.max(np.abs(out))) == pytest.approx(-0.1, abs=0.01)
    # the same audio, only quieter: the gain is the one reported
    gain = 10 ** (guarded.level.output_gain_db / 20)
    unclipped = np.abs(written) < 0.99
    np.testing.assert_allclose(out[unclipped], gain * written[unclipped], atol=2 ** -14)
