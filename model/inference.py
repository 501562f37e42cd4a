"""Public inference API: predict a plugin's EQ settings that make a track sound like a reference.

Input conventions (documented behaviour):
* audio is a float array, mono ``(samples,)`` or multichannel ``(samples, channels)`` as
  soundfile returns it (``(channels, samples)`` is also accepted: the shorter axis, at most 8
  long, is taken as channels); multichannel audio is downmixed to mono by averaging channels;
* audio at another sample rate than the model's is resampled with soxr (high quality);
* silence (RMS below ``model.audio_input.SILENCE_DBFS``), clips shorter than one training segment, NaN or inf
  samples, and a checkpoint trained for another plugin each raise a clear error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.audio_input import prepare_audio
from model.errors import AudioInputError, CheckpointError
from model.profiles import PRESETS_DIR, PluginProfile, load_profile
from model.checkpoint import LoadedModel, load_checkpoint
from model.decode import decode_bins
from model.file_cache import FileCache

log = logging.getLogger(__name__)
CHECKPOINTS_DIR = PRESETS_DIR / "checkpoints"


@dataclass(frozen=True)
class Prediction:
    """Predicted settings for one (track, reference) pair.

    ``values``: parameter name -> physical value (dB, Hz, Q or octaves as the profile says), the
    grid value of the decoded bin (default: the median of the distribution, see model.decode);
    ``bins``: that bin per parameter (P,);
    ``probabilities``: softmax per parameter (P, D); ``checkpoint``: the file used.
    """

    profile_name: str
    values: dict[str, float]
    bins: tuple[int, ...]
    probabilities: np.ndarray
    checkpoint: str


@dataclass(frozen=True)
class SegmentPredictions:
    """Settings predicted per track segment against the whole reference (for DAW automation).

    ``times_s`` (T,): start of each segment in the track, seconds; ``values`` (T, P): physical
    values; ``names`` (P,): parameter names in column order; ``segment_s``: segment length.
    """

    profile_name: str
    times_s: np.ndarray
    values: np.ndarray
    names: tuple[str, ...]
    segment_s: float
    checkpoint: str


_CACHE: FileCache[LoadedModel] = FileCache()


def _load_logged(path: Path) -> LoadedModel:
    model = load_checkpoint(path)
    log.info("loaded checkpoint %s (%s, %s)", path, model.profile_name, model.network_config.arch)
    return model


def default_checkpoint(profile_name: str) -> Path:
    """``presets/checkpoints/<profile>.pt`` (a full network) if it exists, else the profile's controller
    ``presets/controllers/<profile>.pt`` (frozen shared encoder + per-effect controller).

    Raises:
        CheckpointError: the profile has neither; the message says how to train a controller.
    """
    full = CHECKPOINTS_DIR / f"{profile_name}.pt"
    if full.exists():
        return full
    from model.controller_train import default_controller

    controller = default_controller(profile_name)
    if controller.exists():
        return controller
    raise CheckpointError(f"profile {profile_name!r} has no model: neither {full} nor {controller} exists; train a "
                       f"controller with `eqbridge train --plugin {profile_name} --data DATASET "
                       f"--encoder presets/encoder.pt`")


def get_model(profile: str | PluginProfile, checkpoint: str | Path | None = None) -> tuple[PluginProfile, LoadedModel]:
    """The profile and its checkpoint's model, loaded once per (file, mtime) and cached.

    Raises:
        ProfileError: unknown profile. CheckpointError: missing or unreadable checkpoint.
        ProfileMismatchError: the checkpoint was trained for another profile.
    """
    prof = profile if isinstance(profile, PluginProfile) else load_profile(profile)
    path = Path(checkpoint) if checkpoint is not None else default_checkpoint(prof.name)
    model = _CACHE.get(path, _load_logged)
    model.check_profile(prof)
    return prof, model


def _to_prediction(prof: PluginProfile, model: LoadedModel, logits: torch.Tensor, decode: str) -> Prediction:
    probs = torch.softmax(logits.double(), dim=-1).numpy()  # (P, D)
    bins = decode_bins(logits, decode).numpy()  # (P,)
    values = prof.from_bins(bins)  # (P,) physical
    return Prediction(profile_name=prof.name, values=prof.values_dict(values),
                      bins=tuple(int(b) for b in bins), probabilities=probs, checkpoint=str(model.path))


def predict(track: np.ndarray, reference: np.ndarray, sample_rate: int, profile: str | PluginProfile,
            checkpoint: str | Path | None = None, decode: str = "median") -> Prediction:
    """Predict the settings of ``profile``'s plugin that make ``track`` sound like ``reference``.

    Args:
        track: audio to be equalized, (samples,) or (samples, channels), float, at ``sample_rate``.
        reference: audio with the wanted tonal balance, same conventions; its length may differ.
        sample_rate: Hz, of both clips.
        profile: a profile name (``faust-peq``) or a loaded PluginProfile.
        checkpoint: model file; default ``presets/checkpoints/<profile>.pt``.
        decode: "median" (default: lowest expected MAE) or "argmax" (the paper's) bin per parameter.

    Raises:
        AudioInputError: silent, too short (under the training segment length), NaN/inf, bad shape.
        ProfileError: unknown profile. CheckpointError: missing checkpoint. ProfileMismatchError: checkpoint for another plugin.
    """
    prof, model = get_model(profile, checkpoint)
    t = prepare_audio(track, sample_rate, model.sample_rate, model.segment_s, "track")
    r = prepare_audio(reference, sample_rate, model.sample_rate, model.segment_s, "reference")
    logits = model.logits(torch.from_numpy(t)[None], torch.from_numpy(r)[None])[0]  # (P, D)
    return _to_prediction(prof, model, logits, decode)


def predict_segments(track: np.ndarray, reference: np.ndarray, sample_rate: int, profile: str | PluginProfile,
                     checkpoint: str | Path | None = None, segment_s: float | None = None,
                     hop_s: float | None = None, decode: str = "median") -> SegmentPredictions:
    """Predict settings for each segment of ``track`` against the whole ``reference``.

    Segments start every ``hop_s`` (default ``segment_s / 2``) and last ``segment_s`` (default: the
    checkpoint's training segment); a final partial segment is dropped. The reference is embedded
    once. Raises as :func:`predict`; AudioInputError if ``segment_s`` or ``hop_s`` is not positive or
    ``segment_s`` is shorter than the training segment.
    """
    prof, model = get_model(profile, checkpoint)
    seg_s = model.segment_s if segment_s is None else float(segment_s)
    hop = seg_s / 2.0 if hop_s is None else float(hop_s)
    if hop <= 0 or seg_s < model.segment_s - 1e-9:
        raise AudioInputError(f"need hop_s > 0 and segment_s >= {model.segment_s} s (the training segment); "
                              f"got segment_s={seg_s}, hop_s={hop}")
    t = prepare_audio(track, sample_rate, model.sample_rate, seg_s, "track")
    r = prepare_audio(reference, sample_rate, model.sample_rate, model.segment_s, "reference")
    seg_n, hop_n = int(round(seg_s * model.sample_rate)), max(1, int(round(hop * model.sample_rate)))
    starts = np.arange(0, len(t) - seg_n + 1, hop_n)  # (T,)
    fc = model.feature_config
    seg_frames = fc.n_frames(seg_n)
    # One front-end pass over the whole track, then frame slices per segment (within half a 3 ms hop of
    # each segment's start): overlapping segments would otherwise compute every frame about twice.
    first = np.minimum(np.rint(starts / fc.hop_length).astype(np.int64), fc.n_frames(len(t)) - seg_frames)
    with torch.inference_mode():
        ref_mel = model.features(torch.from_numpy(r)[None])  # (1, M, frames_r)
        whole = model.features(torch.from_numpy(t)[None])[0]  # (M, frames_t)
        track_mel = torch.stack([whole[:, f:f + seg_frames] for f in first])  # (T, M, seg_frames)
        logits = model.network(track_mel, ref_mel.expand(len(starts), -1, -1))  # (T, P, D)
    bins = decode_bins(logits, decode).numpy()  # (T, P)
    return SegmentPredictions(profile_name=prof.name, times_s=starts / model.sample_rate,
                              values=prof.from_bins(bins), names=prof.parameter_names, segment_s=seg_s,
                              checkpoint=str(model.path))
