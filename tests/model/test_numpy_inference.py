"""Torch-free curve inference (NumPy front end and network, weights as arrays beside the .pt) against the torch
twins it mirrors: the same curves on real clips, the same level invariance, the same refusals; and the arrays
file that can never be stale."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from model.audio_input import prepare_audio
from model.curve import numpy_network, numpy_stats
from model.curve.checkpoint import CurveCheckpoint, load_curve_checkpoint
from model.curve.features import ClipStats, band_stats, pair_input
from model.curve.inference import MIN_DURATION_S, MIN_SOUND_S, load_curve_model, predict_curve, predict_curve_segments
from model.curve.network_config import CurveNetConfig
from model.curve.weights import META_KEY, arrays_path, file_sha256, load_weights, write_arrays
from model.errors import AudioInputError, CheckpointError
from model.curve.response import mel_center_frequencies_hz
from model.mel_power import analysis_window, mel_power
from model.profiles import CURVE_CHECKPOINT

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "examples" / "audio"
LOOPS = Path("/usr/share/sonic-pi/samples")  # sonic-pi-samples: real drum and synth loops, where installed
TOLERANCE_DB = 1e-4

pytestmark = pytest.mark.skipif(not CURVE_CHECKPOINT.is_file(), reason=f"no curve model at {CURVE_CHECKPOINT}")


def _read(path: Path) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(path, dtype="float32")
    return audio, rate


def real_clips() -> dict[str, tuple[np.ndarray, int]]:
    clips = {p.name: _read(p) for p in (AUDIO / "track.flac", AUDIO / "reference.flac")}
    for name in ("loop_amen.flac", "loop_compus.flac", "loop_garzul.flac"):
        if (LOOPS / name).is_file():
            clips[name] = _read(LOOPS / name)
    return clips


@pytest.fixture(scope="module")
def torch_model() -> tuple[CurveCheckpoint, ClipStats]:
    ckpt = load_curve_checkpoint(CURVE_CHECKPOINT)
    return ckpt, ClipStats(ckpt.features, replace(ckpt.stats, min_active_s=MIN_SOUND_S))


def torch_curve(model: tuple[CurveCheckpoint, ClipStats], track: np.ndarray, reference: np.ndarray,
                sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The curve model as it ran in torch before inference went torch-free: (median dB, scale dB)."""
    ckpt, front = model
    t = prepare_audio(track, sample_rate, ckpt.features.sample_rate, MIN_DURATION_S, "track")
    r = prepare_audio(reference, sample_rate, ckpt.features.sample_rate, MIN_DURATION_S, "reference")
    with torch.inference_mode():
        x = pair_input(front(torch.from_numpy(t), "track")[None], front(torch.from_numpy(r), "reference")[None],
                       front.stats)
        median, log_scale = ckpt.network(x)
    return median[0].double().numpy(), torch.exp(log_scale[0]).double().numpy()


def test_curves_equal_torchs_on_real_clips(torch_model) -> None:
    clips = real_clips()
    pairs = [(a, b) for a in clips for b in clips if a != b]
    assert len(pairs) >= 2
    for a, b in pairs:
        (track, rate), (reference, _) = clips[a], clips[b]
        median, scale = torch_curve(torch_model, track, reference, rate)
        ours = predict_curve(track, reference, rate, restraint=0.0)
        assert np.abs(ours.median_db - median).max() < TOLERANCE_DB, (a, b)
        assert np.abs(ours.scale_db - scale).max() < TOLERANCE_DB, (a, b)
        np.testing.assert_array_equal(ours.curve_db, ours.median_db)  # restraint 0: the median itself


def test_segment_curves_equal_torchs(torch_model) -> None:
    ckpt, front = torch_model
    (track, rate), (reference, _) = (_read(AUDIO / "track.flac"), _read(AUDIO / "reference.flac"))
    ours = predict_curve_segments(track, reference, rate, hop_s=1.5, segment_s=3.0, restraint=0.0)
    hop_frames = ckpt.features.hop_ms / 1000.0
    with torch.inference_mode():
        r_stats = front(torch.from_numpy(reference), "reference")
        power = front.mel_power(torch.from_numpy(track))
        n = int(3.0 / hop_frames)
        t_stats = torch.stack([band_stats(power[:, int(s / hop_frames):int(s / hop_frames) + n], front.stats,
                                          front.features, check=False) for s in ours.times_s])
        median, log_scale = ckpt.network(pair_input(t_stats, r_stats.expand(len(t_stats), -1, -1), front.stats))
    assert len(ours.times_s) == 4
    assert np.abs(ours.curve_db - median.double().numpy()).max() < TOLERANCE_DB
    assert np.abs(ours.scale_db - torch.exp(log_scale).double().numpy()).max() < TOLERANCE_DB


def test_the_front_ends_agree_frame_by_frame(torch_model) -> None:
    """Mel power to float32 FFT rounding; the band statistics of the same power to 1e-4 dB."""
    _, front = torch_model
    model = load_curve_model()
    audio, _ = _read(AUDIO / "reference.flac")
    theirs = front.mel_power(torch.from_numpy(audio)).numpy()
    ours = mel_power(audio, model.features, model.bank)
    assert ours.shape == theirs.shape == (128, len(audio) // model.features.hop_length + 1)
    loud = theirs > theirs.max() * 1e-6
    np.testing.assert_allclose(ours[loud], theirs[loud], rtol=1e-4)
    stats = band_stats(torch.from_numpy(theirs), front.stats, front.features).numpy()
    assert np.abs(numpy_stats.band_stats(theirs, model.stats, model.features) - stats).max() < TOLERANCE_DB


def test_a_louder_or_quieter_pair_gives_the_same_curve() -> None:
    (track, rate), (reference, _) = (_read(AUDIO / "track.flac"), _read(AUDIO / "reference.flac"))
    base = predict_curve(track, reference, rate).curve_db
    for gain_t, gain_r in ((2.0, 1.0), (1.0, 0.25), (0.5, 3.0)):
        moved = predict_curve(track * gain_t, reference * gain_r, rate).curve_db
        assert np.abs(moved - base).max() < 1e-3


@pytest.mark.parametrize("case", ["mostly silence", "steady noise", "too short", "silent"])
def test_refusals_are_torchs(torch_model, case: str) -> None:
    rate = 44100
    music, _ = _read(AUDIO / "reference.flac")
    if case == "mostly silence":
        bad = np.zeros(10 * rate, np.float32)
        bad[:rate // 2] = music[:rate // 2]
    elif case == "steady noise":
        bad = 0.1 * np.random.default_rng(5).standard_normal(5 * rate).astype(np.float32)
    elif case == "too short":
        bad = music[:rate // 2]
    else:
        bad = np.zeros(3 * rate, np.float32)
    with pytest.raises(AudioInputError) as theirs:
        torch_curve(torch_model, music, bad, rate)
    with pytest.raises(AudioInputError) as ours:
        predict_curve(music, bad, rate)
    assert str(ours.value) == str(theirs.value) and "reference" in str(ours.value)


def test_gelu_and_layer_norm_are_torchs() -> None:
    x = np.linspace(-12.0, 12.0, 20001, dtype=np.float32)
    expected = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    assert np.abs(numpy_network.gelu(x) - expected).max() < 1e-6
    assert max(abs(float(numpy_network._erf(np.array(v))) - math.erf(v)) for v in np.linspace(-6, 6, 1201)) < 2e-7
    h = np.random.default_rng(0).standard_normal((3, 768)).astype(np.float32) * 5 + 2
    w, b = np.linspace(0.5, 1.5, 768, dtype=np.float32), np.linspace(-1, 1, 768, dtype=np.float32)
    ln = torch.nn.functional.layer_norm(torch.from_numpy(h), (768,), torch.from_numpy(w), torch.from_numpy(b), 1e-5)
    np.testing.assert_allclose(numpy_network.layer_norm(h, w, b), ln.numpy(), atol=1e-5)


def test_the_arrays_are_made_beside_the_checkpoint_and_remade_when_it_changes(tmp_path: Path) -> None:
    pt = tmp_path / "curve.pt"
    shutil.copyfile(CURVE_CHECKPOINT, pt)
    first = load_weights(pt)
    npz = arrays_path(pt)
    assert npz == tmp_path / "curve.npz" and npz.is_file()
    again = load_weights(pt)  # from the .npz now
    assert len(again.networks) == len(first.networks)
    for net_first, net_again in zip(first.networks, again.networks):
        for name, array in net_first.arrays.items():
            np.testing.assert_array_equal(net_again.arrays[name], array)
    ckpt = load_curve_checkpoint(pt)
    for net_again, arrays in zip(again.networks, ckpt.member_arrays()):
        for name, array in arrays.items():
            np.testing.assert_array_equal(net_again.arrays[name], array)
    assert (again.features, again.stats, again.trained_on) == (ckpt.features, ckpt.stats, ckpt.trained_on)
    # arrays recorded for another .pt (a new checkpoint landed): never used, made again
    first_net = first.networks[0]
    changed = replace(first_net, arrays={**first_net.arrays, "ratio_weight": np.float32(99.0)})
    write_arrays(npz, replace(first, networks=(changed,) + first.networks[1:]), source_sha256="0" * 64)
    assert float(load_weights(pt).networks[0].arrays["ratio_weight"]) == float(ckpt.member_arrays()[0]["ratio_weight"])
    with np.load(npz) as arrays:
        assert json.loads(str(arrays[META_KEY]))["source_sha256"] == file_sha256(pt)


def test_an_unwritable_arrays_path_still_predicts(tmp_path: Path, caplog) -> None:
    pt = tmp_path / "curve.pt"
    shutil.copyfile(CURVE_CHECKPOINT, pt)
    arrays_path(pt).mkdir()  # a folder where the .npz would go: it can be neither read nor written
    weights = load_weights(pt)
    assert "cannot write" in caplog.text and weights.networks[0].arrays["body.1.weight"].shape == (768, 15 * 128)


def test_a_conv_network_is_refused_with_the_reason() -> None:
    with pytest.raises(CheckpointError, match="'mlp'.*'conv'"):
        numpy_network.MlpWeights(CurveNetConfig(arch="conv"), {})


def test_a_curve_match_loads_neither_torch_nor_librosa_and_of_scipy_only_its_fft(tmp_path: Path) -> None:
    pt = tmp_path / "curve.pt"
    shutil.copyfile(CURVE_CHECKPOINT, pt)
    load_weights(pt)  # the arrays exist, as after any first run
    code = ("import sys\nfrom host.cli import main\n"
            f"code = main(['match', {str(AUDIO / 'track.flac')!r}, {str(AUDIO / 'reference.flac')!r}, '--out', "
            f"{str(tmp_path / 'out.flac')!r}, '--model', 'curve', '--checkpoint', {str(pt)!r}, '--no-clip'])\n"
            "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'librosa', 'numba'}), "
            "sorted({m.split('.')[1] for m in sys.modules if m.startswith('scipy.')} & {'signal', 'sparse', "
            "'optimize', 'linalg', 'stats', 'ndimage', 'interpolate'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "0 [] []"


@pytest.mark.parametrize("n", [1, 2, 3, 7, 250, 1908])
def test_quantiles_are_numpys_to_float32_rounding(n: int) -> None:
    """The sort-based band quantiles against np.quantile (linear): within 1e-5 dB on dB-like values."""
    values = (np.random.default_rng(n).standard_normal((128, n)) * 20.0 - 40.0).astype(np.float32)
    q = (0.1, 0.5, 0.9)
    ours = numpy_stats.quantiles(values, q)
    assert ours.dtype == np.float32 and ours.shape == (3, 128)
    assert np.abs(ours - np.quantile(values, q, axis=1)).max() < 1e-5


def test_mel_power_of_a_sine_lies_in_its_band_and_is_the_full_frames() -> None:
    """A physical check of the NumPy front end beside the torch comparison: a steady 1 kHz sine's mel power
    peaks in the band around 1 kHz, and a frame's mel power (transformed from the window's 882 samples only)
    equals the bank times the power of the whole windowed n_fft frame in float64, to float32 rounding."""
    model = load_curve_model()
    rate, n_fft = model.features.sample_rate, model.features.n_fft
    freq_hz = rate / n_fft * 23  # on a bin: the whole line falls in bins 22..24, weighted by the bank
    audio = (0.5 * np.sin(2.0 * np.pi * freq_hz * np.arange(rate) / rate)).astype(np.float32)
    power = mel_power(audio, model.features, model.bank)
    centres = mel_center_frequencies_hz(model.features)
    assert abs(centres[int(np.argmax(power[:, 100]))] - freq_hz) < 100.0
    window = analysis_window(model.features)
    hop = model.features.hop_length
    frame = np.pad(audio, n_fft // 2, mode="reflect")[100 * hop:100 * hop + n_fft] * window
    spectrum = np.abs(np.fft.rfft(frame.astype(np.float64))) ** 2
    np.testing.assert_allclose(power[:, 100], model.bank.astype(np.float64) @ spectrum, rtol=1e-4,
                               atol=1e-6 * power[:, 100].max())


def test_reusing_clips_gives_the_same_predictions_and_never_serves_a_changed_clip() -> None:
    """Within reusing_clips() the settings and the automation share each clip's analysis: their outputs equal
    the fresh ones, and a changed clip is analysed anew (its curve differs)."""
    from model.curve.inference import reusing_clips

    (track, rate), (reference, _) = (_read(AUDIO / "track.flac"), _read(AUDIO / "reference.flac"))
    fresh = predict_curve(track, reference, rate)
    fresh_segments = predict_curve_segments(track, reference, rate, hop_s=2.0)
    louder = track.copy()
    louder[: rate // 2] *= 4.0  # the first half second 12 dB up: another clip
    with reusing_clips():
        ours = predict_curve(track, reference, rate)
        segments = predict_curve_segments(track, reference, rate, hop_s=2.0)
        changed = predict_curve_segments(louder, reference, rate, hop_s=2.0)
    # Equal to float32 rounding (1e-5 dB): the same arithmetic, but float32 sums may round with memory alignment.
    assert np.abs(ours.curve_db - fresh.curve_db).max() < 1e-5
    assert np.abs(segments.curve_db - fresh_segments.curve_db).max() < 1e-5
    assert np.abs(changed.curve_db - predict_curve_segments(louder, reference, rate, hop_s=2.0).curve_db).max() < 1e-5
    assert np.abs(changed.curve_db[0] - segments.curve_db[0]).max() > 0.01


def test_segment_statistics_from_the_tracks_levels_equal_band_stats() -> None:
    """predict_curve_segments slices one logarithm of the whole track (the segments overlap): the same values to
    float32 rounding (NumPy's float32 sums may round differently with the arrays' memory alignment)."""
    model = load_curve_model()
    audio, _ = _read(AUDIO / "track.flac")
    power = mel_power(audio.mean(axis=1) if audio.ndim == 2 else audio, model.features, model.bank)
    levels = numpy_stats.band_levels(power)
    for first in (0, 300, 1000):
        part = slice(first, first + 1000)
        ours = numpy_stats.stats_of(power[:, part], levels[:, part], model.stats, model.features)
        assert np.abs(ours - numpy_stats.band_stats(power[:, part], model.stats, model.features)).max() < 1e-5
