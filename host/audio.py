"""Audio files in and out: channel layout, sample rate and subtype kept; writes are atomic."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from model.atomic import atomic_path
from host.errors import AudioInputError, OptionError


@dataclass(frozen=True)
class AudioClip:
    """Audio as read from a file. ``data`` is float32 (channels, samples)."""

    data: np.ndarray
    sample_rate: int
    subtype: str
    format: str
    path: Path | None = None

    @property
    def channels(self) -> int:
        return int(self.data.shape[0])

    @property
    def frames(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def mono(self) -> np.ndarray:
        """Channel average (samples,): what the model listens to."""
        return self.data.mean(axis=0).astype(np.float32)

    def mono_at(self, sample_rate: int) -> np.ndarray:
        """Channel average resampled to ``sample_rate`` (soxr HQ when the rates differ)."""
        return resample(self.mono(), self.sample_rate, sample_rate)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """soxr HQ resampling of (samples,) or (samples, channels); float32 out; a no-op at equal rates."""
    if from_rate == to_rate:
        return np.asarray(audio, dtype=np.float32)
    return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32)


def load_mono(path: Path | str, sample_rate: int) -> np.ndarray:
    """Read a file as float32 mono (samples,) at ``sample_rate`` Hz. Raises AudioInputError as read_audio."""
    if sample_rate <= 0:
        raise OptionError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
    return np.ascontiguousarray(read_audio(path).mono_at(sample_rate))


def read_audio(path: Path | str) -> AudioClip:
    """Read an audio file keeping its channels, rate and subtype.

    Raises:
        AudioInputError: missing, unreadable, empty, or holding NaN/inf samples.
    """
    path = Path(path)
    if path.is_dir():
        raise AudioInputError(f"{path} is a folder, not an audio file")
    if not path.is_file():
        raise AudioInputError(f"audio file {path} does not exist")
    try:
        info = sf.info(str(path))
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioInputError(f"cannot read audio file {path}: {exc}") from exc
    if data.shape[0] == 0:
        raise AudioInputError(f"audio file {path} holds no samples")
    if not np.all(np.isfinite(data)):
        raise AudioInputError(f"audio file {path} holds NaN or infinite samples")
    return AudioClip(np.ascontiguousarray(data.T), int(rate), info.subtype, info.format, path)


def write_audio_atomic(path: Path | str, data: np.ndarray, sample_rate: int, subtype: str | None = None,
                       format: str | None = None) -> Path:
    """Write (channels, samples) or (samples,) under a temporary name in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.asarray(data, dtype=np.float32)
    frames = frames.T if frames.ndim == 2 else frames
    fmt = format or (path.suffix.lstrip(".").upper() or "WAV")
    with atomic_path(path, suffix=path.suffix or ".wav") as tmp:
        sf.write(str(tmp), frames, sample_rate, subtype=subtype, format=fmt)
    return path


def read_window(path: Path | str, start: int, frames: int, sample_rate: int) -> np.ndarray:
    """``frames`` samples of a file from sample ``start``, both counted at ``sample_rate``, mono float32.

    Seeks instead of decoding the whole file; a file at another rate is read around the window at its own
    rate and resampled (soxr HQ). Samples past the end of the file are zeros.

    Raises:
        AudioInputError: missing or unreadable file, NaN/inf samples.
    """
    path = Path(path)
    try:
        with sf.SoundFile(str(path)) as fh:
            native = int(fh.samplerate)
            # Start on a sample where both rates' grids meet (and 64 output samples early, for the
            # resampler's context), so the window lines up with a resampling of the whole file.
            step = sample_rate // math.gcd(sample_rate, native)
            base = max(0, ((start - (64 if native != sample_rate else 0)) // step) * step)
            first = base * native // sample_rate
            fh.seek(min(first, fh.frames))
            data = fh.read(int(np.ceil((start - base + frames) * native / sample_rate)) + 64, dtype="float32",
                           always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioInputError(f"cannot read audio file {path}: {exc}") from exc
    mono = data.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise AudioInputError(f"audio file {path} holds NaN or infinite samples")
    mono = resample(mono, native, sample_rate)[start - base:]
    out = np.zeros(frames, dtype=np.float32)
    out[: min(frames, len(mono))] = mono[:frames]
    return out
