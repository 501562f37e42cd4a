"""Scene augmentation: one random acoustic scene (noise, reverb, gain) applied alike to X and Y."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal


@dataclass(frozen=True)
class Scene:
    """One random scene, drawn once per dataset iteration and applied to both parts of a recording."""

    gain_db: float          # broadband gain
    noise_snr_db: float     # background noise level relative to the signal's RMS
    noise_tilt: float       # 0 white .. 1 brown-ish (one-pole low-pass coefficient)
    reverb_rt60_s: float    # decay time of the synthetic room
    reverb_wet: float       # 0 dry .. 1 wet
    seed: int               # noise and room realisation

    @staticmethod
    def random(rng: np.random.Generator) -> "Scene":
        return Scene(
            gain_db=float(rng.uniform(-12.0, 0.0)),
            noise_snr_db=float(rng.uniform(25.0, 60.0)),
            noise_tilt=float(rng.uniform(0.0, 0.95)),
            reverb_rt60_s=float(rng.uniform(0.1, 0.8)),
            # Half the scenes are dry rooms (and skip the convolution, the dearest step).
            reverb_wet=float(rng.uniform(0.0, 0.4)) if rng.random() < 0.5 else 0.0,
            seed=int(rng.integers(0, 2**31 - 1)),
        )


def room_impulse_response(rt60_s: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Exponentially decaying noise: a 60 dB decay over rt60_s, unit energy."""
    n = max(16, int(rt60_s * sample_rate))
    t = np.arange(n) / sample_rate
    ir = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60_s)  # ln(1000) = 6.9078: -60 dB at rt60
    return ir / np.sqrt(np.sum(ir**2))


def apply_scene(parts: list[np.ndarray], scene: Scene, sample_rate: int) -> list[np.ndarray]:
    """Apply the same scene (room, noise colour and level, gain) to each mono part."""
    rng = np.random.default_rng(scene.seed)
    ir = room_impulse_response(scene.reverb_rt60_s, sample_rate, rng)
    gain = 10.0 ** (scene.gain_db / 20.0)
    rooms = [p.astype(np.float32) for p in parts]
    if scene.reverb_wet > 0 and len({len(p) for p in parts}) == 1:
        # One batched float32 convolution for all parts: the room's FFT is taken once.
        wet = scipy.signal.fftconvolve(np.stack(rooms), ir.astype(np.float32)[None, :], axes=-1)
        rooms = [(1.0 - scene.reverb_wet) * x + scene.reverb_wet * w[: len(x)] for x, w in zip(rooms, wet)]
    elif scene.reverb_wet > 0:
        rooms = [(1.0 - scene.reverb_wet) * x + scene.reverb_wet * scipy.signal.fftconvolve(x, ir)[: len(x)]
                 for x in rooms]
    out = []
    for x in rooms:
        white = rng.standard_normal(len(x), dtype=np.float32)
        noise = scipy.signal.lfilter([1.0 - scene.noise_tilt], [1.0, -scene.noise_tilt], white).astype(np.float32)
        rms_x = float(np.sqrt(np.mean(x**2))) + 1e-12
        rms_n = float(np.sqrt(np.mean(noise**2))) + 1e-12
        x = x + noise * (rms_x / rms_n) * 10.0 ** (-scene.noise_snr_db / 20.0)
        out.append((x * gain).astype(np.float32))
    return out
