"""Public curve inference: the EQ curve (dB per mel band) that makes a track's tonal balance match a reference's.

The clips are validated and resampled as for :func:`model.inference.predict`; each is then summarized by its
level-normalized band statistics (model.curve.features), so a reference 6 dB louder gives the same curve. A
reference that is mostly silence (under 0.75 s of sound) or steady noise is refused with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from model.config import FeatureConfig
from model.curve.features import ClipStats, StatsConfig, pair_input
from model.curve.network import CurveNet
from model.curve.response import mel_center_frequencies_hz
from model.curve.restraint import DEFAULT_RESTRAINT, restrain
from model.curve.train import CHECKPOINT_KIND, CurveTrainConfig
from model.errors import AudioInputError, CheckpointError
from model.file_cache import FileCache
from model.inference import prepare_audio
from model.profiles import CURVE_CHECKPOINT

MIN_DURATION_S = 1.0
# Sound (active frames) a clip needs at inference. Training segments needed 1 s (the checkpoint's StatsConfig);
# a 2 s speech row with pauses between words has 0.84 s or more (the speech test's 240 clips), and the mean and
# percentiles of 250 frames are still well measured, so inference accepts 0.75 s: mostly silence is refused.
MIN_SOUND_S = 0.75


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
    path: Path
    network: CurveNet
    front: ClipStats
    trained_on: tuple[str, ...]
    holdout_sources: tuple[str, ...]


_CACHE: FileCache[CurveModel] = FileCache()


def load_curve_model(path: str | Path | None = None) -> CurveModel:
    """The curve checkpoint (default ``presets/checkpoints/curve.pt``), loaded once per (file, mtime).

    Raises:
        CheckpointError: missing, unreadable, or not a curve checkpoint; the message says how to make one.
    """
    p = Path(path) if path is not None else CURVE_CHECKPOINT
    if not p.is_file():
        raise CheckpointError(f"no curve model at {p}; train one with `eqbridge train-curve --data CURVE_DATA --out {p}`")
    return _CACHE.get(p, _load)


def _load(p: Path) -> CurveModel:
    try:
        payload = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise CheckpointError(f"cannot read curve model {p}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{p} is not a curve model (train one with `eqbridge train-curve`)")
    config = CurveTrainConfig.from_dict(payload["train_config"])
    network = CurveNet(config.network)
    network.load_state_dict(payload["state_dict"])
    network.eval()
    stats = StatsConfig.from_dict(payload["stats"])
    stats = replace(stats, min_active_s=min(stats.min_active_s, MIN_SOUND_S))
    front = ClipStats(FeatureConfig.from_dict(payload["features"]), stats)
    return CurveModel(p, network, front, tuple(payload.get("trained_on", ())), tuple(payload.get("holdout_sources", ())))


def predict_curve(track: np.ndarray, reference: np.ndarray, sample_rate: int,
                  checkpoint: str | Path | None = None, restraint: float = DEFAULT_RESTRAINT) -> CurvePrediction:
    """Predict the EQ curve that makes ``track`` sound like ``reference`` (input conventions as ``predict``).

    Raises:
        AudioInputError: a clip is silent, shorter than 1 s, has NaN/inf, a bad shape, under 0.75 s of sound, or
            is steady noise. CheckpointError: no usable curve model. ConfigError: a restraint out of range.
    """
    restrain(np.zeros(1), np.ones(1), restraint)  # a bad restraint fails before any work
    model = load_curve_model(checkpoint)
    rate = model.front.features.sample_rate
    t = prepare_audio(track, sample_rate, rate, MIN_DURATION_S, "track")
    r = prepare_audio(reference, sample_rate, rate, MIN_DURATION_S, "reference")
    with torch.inference_mode():
        t_stats = model.front(torch.from_numpy(t), "track")
        r_stats = model.front(torch.from_numpy(r), "reference")
        median, log_scale = model.network(pair_input(t_stats[None], r_stats[None], model.front.stats))
    median_db, scale_db = median[0].double().numpy(), torch.exp(log_scale[0]).double().numpy()
    return CurvePrediction(freqs_hz=mel_center_frequencies_hz(model.front.features),
                           curve_db=restrain(median_db, scale_db, restraint), scale_db=scale_db,
                           checkpoint=str(model.path), median_db=median_db)


@dataclass(frozen=True)
class CurveSegments:
    """Curves per track segment against the whole reference (for DAW automation): ``times_s`` (T,) segment
    starts, ``curve_db`` (restrained, as :class:`CurvePrediction`) and ``scale_db`` (T, M), ``segment_s``
    their length."""

    times_s: np.ndarray
    curve_db: np.ndarray
    scale_db: np.ndarray
    segment_s: float
    checkpoint: str


def predict_curve_segments(track: np.ndarray, reference: np.ndarray, sample_rate: int, hop_s: float,
                           segment_s: float = 4.0, checkpoint: str | Path | None = None,
                           restraint: float = DEFAULT_RESTRAINT) -> CurveSegments:
    """One curve per ``segment_s`` segment of ``track``, every ``hop_s``, against the whole reference.

    A quiet segment is measured over the frames it has (its statistics are gated, never refused); the
    reference is checked as in :func:`predict_curve`. Raises as :func:`predict_curve`, and AudioInputError
    for a hop or segment that is not positive.
    """
    from model.curve.features import band_stats

    restrain(np.zeros(1), np.ones(1), restraint)
    if not (hop_s > 0 and segment_s >= MIN_DURATION_S):
        raise AudioInputError(f"need hop_s > 0 and segment_s >= {MIN_DURATION_S} s; got {hop_s}, {segment_s}")
    model = load_curve_model(checkpoint)
    rate, front = model.front.features.sample_rate, model.front
    t = prepare_audio(track, sample_rate, rate, MIN_DURATION_S, "track")
    r = prepare_audio(reference, sample_rate, rate, MIN_DURATION_S, "reference")
    seg_s = min(segment_s, len(t) / rate)
    hop_frames = front.features.hop_ms / 1000.0
    starts_s = np.arange(0.0, len(t) / rate - seg_s + 1e-9, hop_s)
    with torch.inference_mode():
        r_stats = front(torch.from_numpy(r), "reference")
        power = front.mel_power(torch.from_numpy(t))
        n = int(seg_s / hop_frames)
        t_stats = torch.stack([band_stats(power[:, int(s / hop_frames):int(s / hop_frames) + n], front.stats,
                                          front.features, check=False) for s in starts_s])
        median, log_scale = model.network(pair_input(t_stats, r_stats.expand(len(starts_s), -1, -1), front.stats))
    scale_db = torch.exp(log_scale).double().numpy()
    return CurveSegments(starts_s, restrain(median.double().numpy(), scale_db, restraint), scale_db, seg_s,
                         str(model.path))
