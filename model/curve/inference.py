"""Public curve inference: the EQ curve (dB per mel band) that makes a track's tonal balance match a reference's.

The clips are validated and resampled as for :func:`model.inference.predict`; each is then summarized by its
level-normalized band statistics (model.curve.features), so a reference 6 dB louder gives the same curve. A
reference that is mostly silence (under 0.75 s of sound) or steady noise is refused with a clear error.

Torch-free: the front end (model.mel_power, model.curve.numpy_stats) and the network (model.curve.numpy_network)
run in NumPy on the checkpoint's weights as arrays (model.curve.weights), so a cold ``eqbridge match`` does not
pay torch's import. Training and the torch twins stay in torch; tests/model/test_numpy_inference.py checks that
both give the same curves.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from model.audio_input import prepare_audio
from model.config import FeatureConfig
from model.curve import numpy_network
from model.curve.numpy_stats import band_levels, band_stats, pair_input, stats_of
from model.curve.response import mel_center_frequencies_hz
from model.curve.restraint import DEFAULT_RESTRAINT, restrain
from model.curve.stats_config import StatsConfig
from model.curve.weights import CurveWeights, load_weights
from model.errors import AudioInputError, CheckpointError
from model.file_cache import FileCache
from model.mel_power import filterbank, mel_power
from model.profiles import CURVE_CHECKPOINT

MIN_DURATION_S = 1.0
# Sound (active frames) a clip needs at inference. Training segments needed 1 s (the checkpoint's StatsConfig);
# a 2 s speech row with pauses between words has 0.84 s or more (the speech test's 240 clips), and the mean and
# percentiles of 250 frames are still well measured, so inference accepts 0.75 s: mostly silence is refused.
MIN_SOUND_S = 0.75
# Within reusing_clips() a clip's mel power is computed once: the OSC bridge predicts the settings from a pair and
# then the automation from the same pair, which then costs no second STFT of either clip. At most 64 MB is kept
# (the power of 6 minutes of audio: 128 bands x 3 ms frames x 4 bytes, 10 MB per minute); a clip beyond that is
# neither kept nor hashed.
REUSE_MAX_BYTES = 64 << 20
# In a block: .powers {(front end settings, SHA-256 of the samples): read-only mel power}, .stats the same for the
# band statistics (also keyed by their settings and the clip's role, which the refusals' messages name).
_SCOPE = threading.local()


@contextlib.contextmanager
def reusing_clips() -> Iterator[None]:
    """In this block (on this thread), predictions reuse the mel power of a clip they have analysed before
    (recognized by its samples' SHA-256); outside it nothing is kept. Nested blocks share the outer one's."""
    if getattr(_SCOPE, "powers", None) is not None:
        yield
        return
    _SCOPE.powers, _SCOPE.stats = {}, {}
    try:
        yield
    finally:
        _SCOPE.powers = _SCOPE.stats = None


def _digest(audio: np.ndarray) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32)).digest()


def _power(audio: np.ndarray, features: FeatureConfig, bank: np.ndarray, digest: bytes | None = None) -> np.ndarray:
    powers: dict | None = getattr(_SCOPE, "powers", None)
    if powers is None or features.n_mels * features.n_frames(len(audio)) * 4 > REUSE_MAX_BYTES:
        return mel_power(audio, features, bank)
    key = (features, digest or _digest(audio))
    if key not in powers:
        power = mel_power(audio, features, bank)
        power.flags.writeable = False  # every later reader gets this same array
        if sum(p.nbytes for p in powers.values()) + power.nbytes > REUSE_MAX_BYTES:
            return power
        powers[key] = power
    return powers[key]


def _clip_stats(audio: np.ndarray, features: FeatureConfig, bank: np.ndarray, stats: StatsConfig,
                what: str) -> np.ndarray:
    cache: dict | None = getattr(_SCOPE, "stats", None)
    if cache is None:
        return band_stats(_power(audio, features, bank), stats, features, what)
    digest = _digest(audio)
    key = (features, stats, what, digest)
    if key not in cache:  # a refusal raises and is not kept: the next call raises it again
        cache[key] = band_stats(_power(audio, features, bank, digest), stats, features, what)
        cache[key].flags.writeable = False
    return cache[key]


@dataclass(frozen=True)
class CurvePrediction:
    """``curve_db`` (M,): the effective gain per mel band to apply (the network's Laplace median after
    :func:`restrain`); ``median_db`` (M,): the median itself; ``scale_db`` (M,): its Laplace scale, the
    network's own uncertainty per band; ``freqs_hz`` (M,): the mel band centres; ``checkpoint``: the file used."""

    freqs_hz: np.ndarray
    curve_db: np.ndarray
    scale_db: np.ndarray
    checkpoint: str
    median_db: np.ndarray


@dataclass(frozen=True)
class CurveModel:
    """A curve checkpoint ready for torch-free inference: its weights, its front end's settings (``stats`` with
    inference's MIN_SOUND_S) and its mel filterbank."""

    path: Path
    weights: CurveWeights
    features: FeatureConfig
    stats: StatsConfig
    bank: np.ndarray  # (M, n_fft // 2 + 1)

    def clip_stats(self, audio: np.ndarray, what: str) -> np.ndarray:
        """(samples,) at the model's rate -> (S, M) band statistics; raises AudioInputError as band_stats.
        Within :func:`reusing_clips` a clip's statistics are computed once (the reference's, for the settings
        and again for the automation)."""
        return _clip_stats(audio, self.features, self.bank, self.stats, what)

    def power(self, audio: np.ndarray) -> np.ndarray:
        """(samples,) at the model's rate -> (M, frames) mel power (within :func:`reusing_clips`, read-only and
        computed once per clip)."""
        return _power(audio, self.features, self.bank)

    def curves(self, track_stats: np.ndarray, reference_stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, S, M) statistics of tracks and references -> (median dB, scale dB), (B, M) float64 each."""
        return numpy_network.forward_members(self.weights.networks, pair_input(track_stats, reference_stats,
                                                                              self.stats))


_CACHE: FileCache[CurveModel] = FileCache()


def load_curve_model(path: str | Path | None = None) -> CurveModel:
    """The curve checkpoint (default ``presets/checkpoints/curve.pt``), loaded once per (file, mtime), its weights
    read from the arrays beside it (model.curve.weights: made from the ``.pt`` with torch when missing or stale).

    Raises:
        CheckpointError: missing, unreadable, or not a curve checkpoint (or not the MLP network); the message says
            how to make one.
    """
    p = Path(path) if path is not None else CURVE_CHECKPOINT
    if not p.is_file():
        raise CheckpointError(f"no curve model at {p}; train one with `eqbridge train-curve --data CURVE_DATA --out {p}`")
    return _CACHE.get(p, _load)


def _load(p: Path) -> CurveModel:
    weights = load_weights(p)
    stats = replace(weights.stats, min_active_s=min(weights.stats.min_active_s, MIN_SOUND_S))
    return CurveModel(p, weights, weights.features, stats, filterbank(weights.features))


def predict_curve(track: np.ndarray, reference: np.ndarray, sample_rate: int,
                  checkpoint: str | Path | None = None, restraint: float = DEFAULT_RESTRAINT) -> CurvePrediction:
    """Predict the EQ curve that makes ``track`` sound like ``reference`` (input conventions as ``predict``).

    Raises:
        AudioInputError: a clip is silent, shorter than 1 s, has NaN/inf, a bad shape, under 0.75 s of sound, or
            is steady noise. CheckpointError: no usable curve model. ConfigError: a restraint out of range.
    """
    restrain(np.zeros(1), np.ones(1), restraint)  # a bad restraint fails before any work
    model = load_curve_model(checkpoint)
    rate = model.features.sample_rate
    t = prepare_audio(track, sample_rate, rate, MIN_DURATION_S, "track")
    r = prepare_audio(reference, sample_rate, rate, MIN_DURATION_S, "reference")
    t_stats, r_stats = model.clip_stats(t, "track"), model.clip_stats(r, "reference")
    median, scale = model.curves(t_stats[None], r_stats[None])
    median_db, scale_db = median[0], scale[0]
    return CurvePrediction(freqs_hz=mel_center_frequencies_hz(model.features),
                           curve_db=restrain(median_db, scale_db, restraint), scale_db=scale_db,
                           checkpoint=str(model.path), median_db=median_db)


@dataclass(frozen=True)
class CurveSegments:
    """Curves per track segment against the whole reference (for DAW automation): ``times_s`` (T,) segment
    starts, ``curve_db`` (restrained, as :class:`CurvePrediction`) and ``scale_db`` (T, M), ``segment_s``
    their length, ``freqs_hz`` (M,) the mel band centres."""

    times_s: np.ndarray
    curve_db: np.ndarray
    scale_db: np.ndarray
    segment_s: float
    checkpoint: str
    freqs_hz: np.ndarray | None = None


def predict_curve_segments(track: np.ndarray, reference: np.ndarray, sample_rate: int, hop_s: float,
                           segment_s: float = 4.0, checkpoint: str | Path | None = None,
                           restraint: float = DEFAULT_RESTRAINT) -> CurveSegments:
    """One curve per ``segment_s`` segment of ``track``, every ``hop_s``, against the whole reference.

    A quiet segment is measured over the frames it has (its statistics are gated, never refused); the
    reference is checked as in :func:`predict_curve`. Raises as :func:`predict_curve`, and AudioInputError
    for a hop or segment that is not positive.
    """
    restrain(np.zeros(1), np.ones(1), restraint)
    if not (hop_s > 0 and segment_s >= MIN_DURATION_S):
        raise AudioInputError(f"need hop_s > 0 and segment_s >= {MIN_DURATION_S} s; got {hop_s}, {segment_s}")
    model = load_curve_model(checkpoint)
    rate = model.features.sample_rate
    t = prepare_audio(track, sample_rate, rate, MIN_DURATION_S, "track")
    r = prepare_audio(reference, sample_rate, rate, MIN_DURATION_S, "reference")
    seg_s = min(segment_s, len(t) / rate)
    hop_frames = model.features.hop_ms / 1000.0
    starts_s = np.arange(0.0, len(t) / rate - seg_s + 1e-9, hop_s)
    r_stats = model.clip_stats(r, "reference")
    power = model.power(t)
    levels = band_levels(power)  # once for the track: the segments overlap
    n = int(seg_s / hop_frames)
    t_stats = np.stack([stats_of(power[:, int(s / hop_frames):int(s / hop_frames) + n],
                                 levels[:, int(s / hop_frames):int(s / hop_frames) + n], model.stats, model.features,
                                 check=False) for s in starts_s])
    median, scale_db = model.curves(t_stats, np.broadcast_to(r_stats, (len(starts_s),) + r_stats.shape))
    return CurveSegments(starts_s, restrain(median, scale_db, restraint), scale_db, seg_s, str(model.path),
                         mel_center_frequencies_hz(model.features))
