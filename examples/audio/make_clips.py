"""Re-create examples/audio/track.flac and reference.flac from eqbridge's own MIDI renders.

Run from the repository root: ``python examples/audio/make_clips.py`` (needs the Debian packages
fluidsynth and fluid-soundfont-gm). See README.md in this folder for the EQ applied.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from host.data import midi_music
from host.plugins.filters import BandSetting, band_sos

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
CLIP_START_S = 2.0
CLIP_DURATION_S = 8.0
PEAK = 0.89  # -1 dBFS
HERE = Path(__file__).resolve().parent

# The reference EQ (RBJ Audio EQ Cookbook biquads, host/plugins/filters.py): brighter and leaner than the track.
# The shelves have slope S = 1 (Q 0.7071); the committed clip was made with Q 0.707 written out, so a
# regenerated reference.flac differs from it by a few hundredths of a dB at most.
REFERENCE_EQ: tuple[BandSetting, ...] = (
    BandSetting("low_shelf", 150.0, -4.0),
    BandSetting("peak", 3000.0, 3.0, width=1.0, width_unit="Q"),
    BandSetting("high_shelf", 6000.0, 6.0),
)


def render_excerpt(spec: midi_music.PieceSpec) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        midi_path = midi_music.write_midi(spec, Path(tmp) / "piece.mid")
        audio, rate = midi_music.render_midi(midi_path, Path(tmp) / "piece.wav", SAMPLE_RATE)
    start = int(CLIP_START_S * rate)
    mono = audio.mean(axis=1)[start: start + int(CLIP_DURATION_S * rate)]  # (samples,)
    fade = np.linspace(0.0, 1.0, int(0.02 * rate))
    mono[: fade.size] *= fade
    mono[-fade.size:] *= fade[::-1]
    return mono


def write_clip(path: Path, mono: np.ndarray) -> None:
    sf.write(path, mono * (PEAK / np.max(np.abs(mono))), SAMPLE_RATE, subtype="PCM_16")
    log.info("wrote %s (%.1f s, %d bytes)", path, mono.size / SAMPLE_RATE, path.stat().st_size)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    track = replace(midi_music.random_piece(1, seed=2024), tempo_bpm=112.0, drum_style="rock",
                    bass_program=33, keys_program=0, strings_program=48, keys_arpeggio=False)
    reference = replace(midi_music.random_piece(2, seed=2024), tempo_bpm=96.0,
                        drum_style="halftime", bass_program=38, keys_program=4,
                        strings_program=89, keys_arpeggio=True)
    write_clip(HERE / "track.flac", render_excerpt(track))
    sos = np.stack([band_sos(band, SAMPLE_RATE) for band in REFERENCE_EQ])
    write_clip(HERE / "reference.flac", signal.sosfilt(sos, render_excerpt(reference)))


if __name__ == "__main__":
    main()
