import numpy as np
import pytest
import soundfile as sf

from host.audio import load_mono, read_audio, read_window, write_audio_atomic
from host.errors import AudioInputError
from tests.audio import synth_recording


def test_window_equals_the_slice_of_the_whole_file(tmp_path):
    x = synth_recording(3.0, 44100, seed=1)
    sf.write(tmp_path / "a.wav", x, 44100, subtype="FLOAT")
    assert np.array_equal(read_window(tmp_path / "a.wav", 1000, 5000, 44100), x[1000:6000])
    tail = read_window(tmp_path / "a.wav", len(x) - 100, 300, 44100)
    assert np.array_equal(tail[:100], x[-100:]) and not tail[100:].any()


def test_window_of_a_48k_file_matches_the_resampled_whole(tmp_path):
    x = synth_recording(3.0, 48000, seed=2)
    sf.write(tmp_path / "b.wav", x, 48000, subtype="FLOAT")
    whole = load_mono(tmp_path / "b.wav", 44100)
    window = read_window(tmp_path / "b.wav", 30000, 20000, 44100)
    assert np.max(np.abs(window[200:-200] - whole[30200:49800])) < 1e-5


def test_round_trip_keeps_layout_and_subtype(tmp_path):
    data = np.stack([synth_recording(1.0, 48000, 3), synth_recording(1.0, 48000, 4)])
    write_audio_atomic(tmp_path / "c.wav", data, 48000, subtype="PCM_24")
    clip = read_audio(tmp_path / "c.wav")
    assert (clip.channels, clip.frames, clip.sample_rate, clip.subtype) == (2, 48000, 48000, "PCM_24")
    assert np.max(np.abs(clip.data - data)) < 1e-6
    assert [p.name for p in tmp_path.iterdir()] == ["c.wav"]


def test_bad_files(tmp_path):
    with pytest.raises(AudioInputError, match="does not exist"):
        read_audio(tmp_path / "nope.wav")
    (tmp_path / "bad.wav").write_bytes(b"RIFF....")
    with pytest.raises(AudioInputError, match="cannot read"):
        read_window(tmp_path / "bad.wav", 0, 10, 44100)
    sf.write(tmp_path / "nan.wav", np.array([0.0, np.nan, 0.0], np.float32), 44100, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="NaN"):
        read_audio(tmp_path / "nan.wav")
