"""The Matchering baseline (sergree/matchering 2.x): match a track's spectrum, RMS and peak to a reference.

Matchering works on files, at 44.1 kHz internally, in stereo: clips go out as temporary 32-bit float WAVs
(mono duplicated to stereo by Matchering itself) and the result comes back, resampled to the caller's rate
if needed and folded to mono. Its output is audio, not plugin settings, so it is compared directly.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from host.errors import AudioInputError, EqbridgeError

log = logging.getLogger(__name__)

MATCHERING_RATE = 44100
MIN_SAMPLES = 4096  # Matchering's default fft_size: shorter clips are refused


class MatcheringError(EqbridgeError):
    """Matchering is not installed, or refused or failed on the given clips."""


def _matchering():
    try:
        import matchering
    except ImportError as exc:
        raise MatcheringError("the matchering baseline needs the matchering package: "
                              "pip install matchering==2.0.6") from exc
    return matchering


def _checked(audio: np.ndarray, name: str, sample_rate: int) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise AudioInputError(f"{name} must be mono (samples,), got shape {x.shape}")
    needed = int(np.ceil(MIN_SAMPLES * sample_rate / MATCHERING_RATE)) + 1
    if x.shape[0] < needed:
        raise AudioInputError(f"{name} has {x.shape[0]} samples; Matchering needs more than {needed} "
                              f"({MIN_SAMPLES} at {MATCHERING_RATE} Hz)")
    if not np.any(x):
        raise AudioInputError(f"{name} is silent")
    return x


def matchering_match(track: np.ndarray, reference: np.ndarray, sample_rate: int,
                     use_limiter: bool = False) -> np.ndarray:
    """Matchering's version of ``track`` matched to ``reference``: mono float32, same length and rate as track.

    Args:
        track: mono audio (samples,) at ``sample_rate`` Hz.
        reference: mono audio (samples,) at the same rate.
        sample_rate: in Hz; Matchering runs at 44.1 kHz and the result is resampled back (soxr).
        use_limiter: apply Matchering's final brickwall limiter (off: the plain spectrum and RMS match,
            with no normalization, which is what an EQ comparison wants).

    Raises:
        MatcheringError: matchering is not installed, or it refused the clips.
        AudioInputError: a clip is not mono, too short, or silent.
    """
    mg = _matchering()
    from matchering.log.exceptions import ModuleError
    x = _checked(track, "track", sample_rate)
    ref = _checked(reference, "reference", sample_rate)
    with tempfile.TemporaryDirectory(prefix="eqbridge-matchering-") as tmp:
        paths = {name: Path(tmp) / f"{name}.wav" for name in ("track", "reference", "result")}
        sf.write(paths["track"], x, sample_rate, subtype="FLOAT")
        sf.write(paths["reference"], ref, sample_rate, subtype="FLOAT")
        result = mg.Result(str(paths["result"]), subtype="FLOAT", use_limiter=use_limiter, normalize=use_limiter)
        try:
            mg.process(target=str(paths["track"]), reference=str(paths["reference"]), results=[result],
                       config=mg.Config(allow_equality=True, temp_folder=tmp))
        except ModuleError as exc:
            raise MatcheringError(f"matchering refused the clips: {exc}") from exc
        out, out_rate = sf.read(paths["result"], dtype="float32", always_2d=True)
    mono = out.mean(axis=1)  # Matchering returns stereo: both channels equal for a mono input
    if out_rate != sample_rate:
        mono = soxr.resample(mono, out_rate, sample_rate)
    n = x.shape[0]
    if mono.shape[0] < n:
        mono = np.pad(mono, (0, n - mono.shape[0]))
    return np.ascontiguousarray(mono[:n], dtype=np.float32)
