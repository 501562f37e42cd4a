"""Audio-domain distances between a rendered prediction and its target, on mono numpy clips.

- :func:`mel_stft_nepers`: mean absolute difference of natural-log mel magnitudes, 128 mels (the mel
  spectral distance of DeepAFx-ST, Steinmetz et al. 2022), via ``auraloss.freq.MelSTFTLoss``.
- :func:`mel_stft_nepers_level_invariant`: the same after removing the mean log-mel offset (a broadband
  gain costs nothing: the tonal error alone).
- :func:`mrstft_distance`: multi-resolution STFT distance (spectral convergence + log magnitude at FFT
  sizes 1024/2048/512; Yamamoto et al. 2020), via ``auraloss.freq.MultiResolutionSTFTLoss`` defaults.
- :func:`lufs_error_db`: absolute integrated-loudness difference (ITU-R BS.1770-4, pyloudnorm).
"""

from __future__ import annotations

import functools
import logging

import auraloss
import numpy as np
import pyloudnorm
import torch

from host.errors import AudioInputError

log = logging.getLogger(__name__)

N_MELS = 128
MEL_FFT_SIZE = 1024      # auraloss MelSTFTLoss defaults: 1024-point Hann window, hop 256
MEL_HOP_SIZE = 256
LUFS_BLOCK_S = 0.4       # pyloudnorm's gating block: a clip must be at least this long


def _pair(prediction: np.ndarray, target: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Both clips as float32 tensors (1, 1, samples), checked to be mono and of one length."""
    p, t = np.asarray(prediction), np.asarray(target)
    if p.ndim != 1 or t.ndim != 1:
        raise AudioInputError(f"metrics take mono clips (samples,), got shapes {p.shape} and {t.shape}")
    if p.shape != t.shape:
        raise AudioInputError(f"prediction and target must have one length, got {p.shape[0]} and {t.shape[0]} samples")
    if p.shape[0] < MEL_FFT_SIZE * 2:
        raise AudioInputError(f"clips of {p.shape[0]} samples are too short; need at least {MEL_FFT_SIZE * 2}")
    return (torch.from_numpy(p.astype(np.float32, copy=False)).view(1, 1, -1),
            torch.from_numpy(t.astype(np.float32, copy=False)).view(1, 1, -1))


@functools.lru_cache(maxsize=8)
def _mel_loss(sample_rate: int) -> auraloss.freq.MelSTFTLoss:
    return auraloss.freq.MelSTFTLoss(sample_rate, fft_size=MEL_FFT_SIZE, hop_size=MEL_HOP_SIZE,
                                     win_length=MEL_FFT_SIZE, w_sc=0.0, w_log_mag=1.0, n_mels=N_MELS)


@functools.lru_cache(maxsize=1)
def _mrstft_loss() -> auraloss.freq.MultiResolutionSTFTLoss:
    return auraloss.freq.MultiResolutionSTFTLoss()  # FFT 1024/2048/512, hops 120/240/50, windows 600/1200/240


def mel_stft_nepers(prediction: np.ndarray, target: np.ndarray, sample_rate: int) -> float:
    """Mean |ln M_pred - ln M_target| over 128 mel bands and all frames (nepers; x 8.69 for dB).

    0 for identical clips; a broadband gain of g dB gives |g| / 8.69 (6.02 dB -> 0.693).

    Raises:
        AudioInputError: not mono, different lengths, or shorter than 2048 samples.
    """
    p, t = _pair(prediction, target)
    with torch.no_grad():
        return float(_mel_loss(int(sample_rate))(p, t))


def mel_stft_nepers_level_invariant(prediction: np.ndarray, target: np.ndarray, sample_rate: int) -> float:
    """:func:`mel_stft_nepers` after scaling the prediction by the broadband gain that removes the mean
    ln-mel difference (nepers). A pure gain change gives 0.

    Raises:
        AudioInputError: as :func:`mel_stft_nepers`.
    """
    p, t = _pair(prediction, target)
    loss = _mel_loss(int(sample_rate))
    with torch.no_grad():
        log_p, log_t = (torch.log(torch.matmul(loss.fb, loss.stft(x.view(1, -1))[0])) for x in (p, t))
        return float((log_p + (log_t - log_p).mean() - log_t).abs().mean())


def mrstft_distance(prediction: np.ndarray, target: np.ndarray) -> float:
    """Multi-resolution STFT distance: mean over FFT sizes 1024/2048/512 of spectral convergence
    (||T - P||_F / ||T||_F) plus mean |ln |P| - ln |T||. Dimensionless; 0 for identical clips.

    Raises:
        AudioInputError: not mono, different lengths, or shorter than 2048 samples.
    """
    p, t = _pair(prediction, target)
    with torch.no_grad():
        return float(_mrstft_loss()(p, t))


def integrated_loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS, ITU-R BS.1770-4) of a mono clip; -inf for silence.

    Raises:
        AudioInputError: not mono, or shorter than pyloudnorm's 400 ms gating block.
    """
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1:
        raise AudioInputError(f"loudness takes a mono clip (samples,), got shape {x.shape}")
    duration_s = x.shape[0] / sample_rate
    if duration_s < LUFS_BLOCK_S:
        raise AudioInputError(f"a clip of {duration_s * 1000:.0f} ms is too short for LUFS: pyloudnorm needs at "
                              f"least {LUFS_BLOCK_S * 1000:.0f} ms (one gating block)")
    return float(_meter(int(sample_rate)).integrated_loudness(x))


@functools.lru_cache(maxsize=8)
def _meter(sample_rate: int) -> pyloudnorm.Meter:
    return pyloudnorm.Meter(sample_rate)


def lufs_error_db(prediction: np.ndarray, target: np.ndarray, sample_rate: int) -> float:
    """|LUFS(prediction) - LUFS(target)| in dB (LU). A clip scaled by 0.5 is 6.02 dB off.

    Raises:
        AudioInputError: a clip is not mono or is shorter than 400 ms.
    """
    return abs(integrated_loudness_lufs(prediction, sample_rate) - integrated_loudness_lufs(target, sample_rate))
