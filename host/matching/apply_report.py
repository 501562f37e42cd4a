"""What `eqbridge apply` reports: a log-mel average-spectrum distance and the markdown table per stem."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import scipy.signal

from model.atomic import write_text_atomic

N_MELS = 64
MEL_FMIN_HZ = 40.0
MEL_FMAX_HZ = 16000.0
N_FFT = 4096


@functools.lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float, fmax_hz: float) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin_hz, fmax=fmax_hz)


def log_mel_spectrum_db(audio: np.ndarray, sample_rate: int, fmax_hz: float = MEL_FMAX_HZ,
                        n_mels: int = N_MELS, n_fft: int = N_FFT) -> np.ndarray:
    """Average (Welch) power spectrum of a mono clip (samples,) on ``n_mels`` mel bands, in dB, mean removed.

    The mean over bands is removed, so the result describes tonal balance, not loudness. Returns (n_mels,).
    """
    x = np.asarray(audio, dtype=np.float64)
    if x.shape[0] < n_fft:
        x = np.pad(x, (0, n_fft - x.shape[0]))
    _, psd = scipy.signal.welch(x, fs=sample_rate, nperseg=n_fft, nfft=n_fft)  # (n_fft // 2 + 1,)
    fmax = min(fmax_hz, sample_rate / 2.0)
    bands = _mel_basis(int(sample_rate), n_fft, n_mels, MEL_FMIN_HZ, float(fmax)) @ psd  # (n_mels,)
    level_db = 10.0 * np.log10(np.maximum(bands, 1e-20))
    return level_db - level_db.mean()


def mel_distance_db(audio: np.ndarray, sample_rate: int, reference: np.ndarray, reference_rate: int) -> float:
    """RMS difference in dB between two clips' mean-removed log-mel average spectra (0 = same tonal balance).

    Both clips use mel bands with the same edges in Hz (up to the lower of the two Nyquist frequencies and
    16 kHz), so clips at different sample rates compare directly.
    """
    fmax = shared_fmax_hz(sample_rate, reference_rate)
    return spectrum_distance_db(log_mel_spectrum_db(audio, sample_rate, fmax),
                                log_mel_spectrum_db(reference, reference_rate, fmax))


def shared_fmax_hz(sample_rate: int, reference_rate: int) -> float:
    """The top mel band edge two clips at these rates are compared up to."""
    return min(MEL_FMAX_HZ, sample_rate / 2.0, reference_rate / 2.0)


def spectrum_distance_db(spectrum_db: np.ndarray, reference_db: np.ndarray) -> float:
    """RMS difference of two :func:`log_mel_spectrum_db` results made with the same fmax."""
    return float(np.sqrt(np.mean((spectrum_db - reference_db) ** 2)))


def _fmt(value: object, spec: str = ".2f") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else format(value, spec)
    return str(value)


def _summary_row(name: str, record: Mapping | None, status: str, error: str | None) -> str:
    if record is None:
        return f"| {name} | {status}: {(error or '').replace('|', '/')} | – | – | – | – | – | – |"
    m = record["metrics"]
    clipping = (f"{m['clipped_samples']} samples clipped" if m["clipped_samples"]
                else ("over 0 dBFS (float file keeps it)" if m["peak_dbfs"] > 0 else "none"))
    return (f"| {name} | {status} | {_fmt(m['mel_distance_before_db'])} | {_fmt(m['mel_distance_after_db'])} | "
            f"{_fmt(m['peak_dbfs'], '+.2f')} | {_fmt(m['output_gain_db'], '+.2f')} | {clipping} | "
            f"{record['amount_percent']:g}% |")


def _settings_table(record: Mapping) -> list[str]:
    lines = ["| parameter | value | normalized | plugin index | note |", "|---|---|---|---|---|"]
    changes = {c["name"]: c for c in record.get("gain_changes", [])}
    for name, value in record["values"].items():
        norm = record["normalized"][name]
        note = ""
        if name in changes:
            c = changes[name]
            note = f"predicted {c['predicted_db']:+.2f} dB"
            if c["capped_by_max_gain"]:
                note += f", capped at ±{record['max_gain_db']:g} dB"
            if c["clipped_to_range"]:
                note += ", clipped to the profile's range"
        lines.append(f"| {name} | {value:.3f} | {norm['value']:.5f} | {norm['index']} | {note} |")
    return lines


def render_report(title: str, header: Sequence[str],
                  rows: Sequence[tuple[str, Mapping | None, str, str | None]]) -> str:
    """Markdown: one summary row per stem (name, status, distances, peak, gain, clipping), then each stem's settings.

    ``rows``: (stem file name, its settings record or None, status, error message or None).
    """
    lines = [f"# {title}", "", *header, "",
             "Mel distance: RMS difference (dB) of the mean-removed log-mel average spectra of the stem and "
             "the reference (lower is closer).", "",
             "| stem | status | mel distance before (dB) | after (dB) | peak (dBFS) | output gain (dB) | clipping "
             "| amount |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [_summary_row(name, record, status, error) for name, record, status, error in rows]
    for name, record, _, _ in rows:
        if record is None:
            continue
        lines += ["", f"## {name}", "", f"Plugin `{record['plugin']}`, checkpoint `{record['checkpoint']}`, "
                  f"mode {record['mode']}, amount {record['amount_percent']:g}%, max gain "
                  f"{_fmt(record['max_gain_db'], 'g')} dB.", ""]
        lines += [f"- {note}" for note in record.get("notes", [])]
        if record.get("notes"):
            lines.append("")
        lines += _settings_table(record)
    return "\n".join(lines) + "\n"


def write_report(path: Path | str, text: str) -> Path:
    return write_text_atomic(path, text)
