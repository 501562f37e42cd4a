"""Pictures people would rather look at: the EQ curve with before/after/reference spectra."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from host.spectrum import smoothed_spectrum_db  # noqa: E402
from model.atomic import atomic_path  # noqa: E402


CHANNEL_COLORS = ("tab:red", "tab:purple", "tab:brown")


def plot_eq_match(path: Path | str, curve: tuple[np.ndarray, np.ndarray] | Mapping[str, tuple[np.ndarray, np.ndarray]],
                  sample_rate: int, before: np.ndarray | None = None, after: np.ndarray | None = None,
                  reference: np.ndarray | None = None, reference_rate: int | None = None,
                  title: str = "") -> Path:
    """Write a PNG: the plugin's measured EQ curve (top) and average spectra (bottom), atomically.

    ``curve`` is (freqs_hz, dB), or channel name -> (freqs_hz, dB) for a mid/side or left/right match (one
    labelled line per channel)."""
    curves = {"": curve} if isinstance(curve, tuple) else dict(curve)
    fig, axes = plt.subplots(2, 1, figsize=(9, 7), sharex=True, constrained_layout=True)
    for (label, (freqs, curve_db)), color in zip(curves.items(), CHANNEL_COLORS):
        keep = (freqs >= 20) & (freqs <= sample_rate / 2)
        axes[0].semilogx(freqs[keep], curve_db[keep], color=color, lw=2, label=label or None)
    if len(curves) > 1:
        axes[0].legend()
    axes[0].axhline(0.0, color="0.6", lw=0.8)
    axes[0].set_ylabel("EQ gain (dB)")
    axes[0].set_title(title or "EQ curve (measured through the plugin)")
    axes[0].grid(True, which="both", alpha=0.3)
    for audio, rate, label, color in ((before, sample_rate, "track (before)", "tab:blue"),
                                      (after, sample_rate, "track (after)", "tab:green"),
                                      (reference, reference_rate or sample_rate, "reference", "tab:orange")):
        if audio is None:
            continue
        f, level = smoothed_spectrum_db(audio, rate)
        # Align at the mean over log frequency: the comparison is of tonal balance, not loudness.
        axes[1].semilogx(f, level - np.mean(level), label=label, color=color, lw=1.2)
    axes[1].set_xlabel("frequency (Hz)")
    axes[1].set_ylabel("average level (dB, 1/6 oct, mean-aligned)")
    axes[1].grid(True, which="both", alpha=0.3)
    if axes[1].lines:
        axes[1].legend()
    axes[1].set_xlim(20, sample_rate / 2)
    path = Path(path)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path
