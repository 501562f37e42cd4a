import numpy as np
import pytest
import soxr

from model.errors import AudioInputError, CheckpointError, ProfileError, ProfileMismatchError
from model.profiles import load_profile
from model import predict, predict_segments
from model.inference import get_model

SR = 44100


@pytest.fixture(scope="module")
def clips() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return (0.1 * rng.standard_normal(SR)).astype(np.float32), (0.05 * rng.standard_normal(int(1.3 * SR))).astype(np.float32)


def test_prediction_is_consistent(tiny_checkpoint, clips) -> None:
    track, reference = clips
    pred = predict(track, reference, SR, "faust-peq", tiny_checkpoint)
    profile = load_profile("faust-peq")
    assert pred.profile_name == "faust-peq" and pred.checkpoint == str(tiny_checkpoint)
    assert list(pred.values) == list(profile.parameter_names)
    assert pred.probabilities.shape == (10, 21)
    np.testing.assert_allclose(pred.probabilities.sum(axis=1), 1.0, atol=1e-6)
    cdf = pred.probabilities.cumsum(axis=1)
    assert pred.bins == tuple(int(np.argmax(c >= 0.5)) for c in cdf)  # the median bin
    argmax = predict(track, reference, SR, "faust-peq", tiny_checkpoint, decode="argmax")
    assert argmax.bins == tuple(int(b) for b in pred.probabilities.argmax(axis=1))
    np.testing.assert_allclose(list(pred.values.values()), profile.from_bins(pred.bins))


def test_model_is_cached(tiny_checkpoint) -> None:
    assert get_model("faust-peq", tiny_checkpoint)[1] is get_model(load_profile("faust-peq"), tiny_checkpoint)[1]


def test_stereo_is_downmixed_in_either_layout(tiny_checkpoint, clips) -> None:
    track, reference = clips
    rng = np.random.default_rng(2)
    other = (0.1 * rng.standard_normal(len(track))).astype(np.float32)
    mono = predict((track + other) / 2, reference, SR, "faust-peq", tiny_checkpoint)
    frames_first = predict(np.stack([track, other], axis=1), reference, SR, "faust-peq", tiny_checkpoint)
    channels_first = predict(np.stack([track, other]), reference, SR, "faust-peq", tiny_checkpoint)
    np.testing.assert_allclose(frames_first.probabilities, mono.probabilities, atol=1e-5)
    np.testing.assert_allclose(channels_first.probabilities, mono.probabilities, atol=1e-5)


def test_other_sample_rate_is_resampled(tiny_checkpoint, clips) -> None:
    track, reference = clips
    track_48k = soxr.resample(track, SR, 48000).astype(np.float32)
    expected = predict(soxr.resample(track_48k, 48000, SR, quality="HQ"), reference, SR, "faust-peq", tiny_checkpoint)
    ref_48k = soxr.resample(reference, SR, 48000).astype(np.float32)
    got = predict(track_48k, ref_48k, 48000, "faust-peq", tiny_checkpoint)
    np.testing.assert_allclose(got.probabilities[0], expected.probabilities[0], atol=0.05)
    assert got.probabilities.shape == (10, 21)


@pytest.mark.parametrize("case, match", [
    ("silent", "silent"), ("quiet", "silent"), ("short", "lasts 0.400 s"), ("nan", "NaN"), ("inf", "infinite"),
    ("3d", "shape"), ("many_channels", "channels"), ("bad_rate", "sample_rate")])
def test_bad_input_raises_audio_input_error(tiny_checkpoint, clips, case: str, match: str) -> None:
    track, reference = clips
    rate = SR
    bad = track.copy()
    if case == "silent":
        bad[:] = 0.0
    elif case == "quiet":
        bad *= 10 ** (-70 / 20)  # RMS 0.1 (-20 dBFS) -> -90 dBFS
    elif case == "short":
        bad = bad[:int(0.4 * SR)]
    elif case == "nan":
        bad[100] = np.nan
    elif case == "inf":
        bad[5] = np.inf
    elif case == "3d":
        bad = bad.reshape(1, 1, -1)
    elif case == "many_channels":
        bad = np.stack([bad] * 2).reshape(-1, 10)
    elif case == "bad_rate":
        rate = 0
    with pytest.raises(AudioInputError, match=match):
        predict(bad, reference, rate, "faust-peq", tiny_checkpoint)
    if case in ("silent", "nan", "short"):
        with pytest.raises(AudioInputError, match=match):
            predict(track, bad, rate, "faust-peq", tiny_checkpoint)


def test_checkpoint_for_another_plugin_raises(tiny_checkpoint, clips) -> None:
    with pytest.raises(ProfileMismatchError, match="trained for plugin profile 'faust-peq'.*not 'zameq2'"):
        predict(*clips, SR, "zameq2", tiny_checkpoint)


def test_missing_checkpoint_and_unknown_profile_raise(tmp_path, clips) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        predict(*clips, SR, "faust-peq", tmp_path / "none.pt")
    with pytest.raises(ProfileError, match="unknown plugin profile"):
        predict(*clips, SR, "no-such-eq", tmp_path / "none.pt")


def test_segments_match_predicting_each_segment(tiny_checkpoint, clips) -> None:
    track, reference = clips
    long_track = np.concatenate([track, track[::-1]])  # 2 s
    seg = predict_segments(long_track, reference, SR, "faust-peq", tiny_checkpoint, hop_s=0.5)
    assert seg.segment_s == 0.5 and seg.names == load_profile("faust-peq").parameter_names
    np.testing.assert_allclose(seg.times_s, [0.0, 0.5, 1.0, 1.5])
    assert seg.values.shape == (4, 10)
    for k, start_s in enumerate(seg.times_s):
        start = int(round(start_s * SR))
        single = predict(long_track[start:start + SR // 2], reference, SR, "faust-peq", tiny_checkpoint)
        np.testing.assert_allclose(seg.values[k], list(single.values.values()))
    with pytest.raises(AudioInputError, match="segment_s"):
        predict_segments(long_track, reference, SR, "faust-peq", tiny_checkpoint, segment_s=0.1)
