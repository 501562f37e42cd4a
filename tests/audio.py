"""Test audio made by the project: short synthetic 'recordings' of harmonic notes over noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def synth_recording(seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """Random harmonic notes (decaying partials) over quiet pink-ish noise, float32 mono, peak 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    out = 0.01 * np.cumsum(rng.standard_normal(n)) / np.sqrt(n)
    out += 0.003 * rng.standard_normal(n)
    t_note = 0.25
    for start in np.arange(0.0, seconds - t_note, t_note):
        f0 = 55.0 * 2 ** (rng.integers(0, 48) / 12)
        m = int(t_note * 2 * sample_rate)
        t = np.arange(min(m, n - int(start * sample_rate))) / sample_rate
        note = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12) if f0 * k < sample_rate / 2.2)
        i = int(start * sample_rate)
        out[i:i + len(t)] += 0.2 * note * np.exp(-t * 4.0)
    out /= np.max(np.abs(out)) * 2.0
    return out.astype(np.float32)


def write_folder(root: Path, groups: int = 3, per_group: int = 2, seconds: float = 6.0,
                 sample_rate: int = 44100, subtype: str = "PCM_16") -> Path:
    """root/<group>/<file>.wav: a user-style folder of recordings, one group per subfolder."""
    for g in range(groups):
        for k in range(per_group):
            path = root / f"group{g}" / f"take{k}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, synth_recording(seconds, sample_rate, seed=100 * g + k), sample_rate, subtype=subtype)
    return root
