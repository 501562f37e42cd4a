"""Seeded MIDI pieces (drums, bass, keys, strings) written with mido and rendered by fluidsynth.

A piece is data: a frozen :class:`PieceSpec` drawn from a seeded generator. ``write_midi`` turns a
spec (all parts, or a subset for one stem) into a type-1 MIDI file, and ``render_midi`` runs the
``fluidsynth`` command-line synthesizer over it with the FluidR3 General MIDI soundfont.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from host.errors import CorpusError, SourcePackageMissingError

log = logging.getLogger(__name__)

# Debian package fluid-soundfont-gm installs the soundfont here.
FLUIDR3_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SOUNDFONT_PACKAGE = "fluid-soundfont-gm"
FLUIDSYNTH_PACKAGE = "fluidsynth"
SOUNDFONT_LICENSE = "MIT"  # /usr/share/doc/fluid-soundfont-gm/copyright

PARTS: tuple[str, ...] = ("drums", "bass", "keys", "strings")
# Zero-based MIDI channels; 9 is General MIDI channel 10 (percussion).
PART_CHANNELS: dict[str, int] = {"drums": 9, "bass": 0, "keys": 1, "strings": 2}
TICKS_PER_BEAT = 480
STEPS_PER_BEAT = 4  # drum grid in sixteenth notes

MAJOR_SCALE: tuple[int, ...] = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE: tuple[int, ...] = (0, 2, 3, 5, 7, 8, 10)
# Progressions as zero-based scale degrees, one chord per bar.
MAJOR_PROGRESSIONS: tuple[tuple[int, ...], ...] = (
    (0, 4, 5, 3), (0, 5, 3, 4), (1, 4, 0, 5), (0, 3, 0, 4), (5, 3, 0, 4),
)
MINOR_PROGRESSIONS: tuple[tuple[int, ...], ...] = (
    (0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 6, 2),
)
# General MIDI programs (zero-based) per part.
BASS_PROGRAMS: tuple[int, ...] = (32, 33, 34, 35, 38, 39)
KEYS_PROGRAMS: tuple[int, ...] = (0, 1, 2, 4, 5, 16, 17, 24, 25, 26)
STRINGS_PROGRAMS: tuple[int, ...] = (48, 49, 50, 51, 52, 89, 91)

# Drum grids: instrument note -> sixteenth steps within one 4/4 bar.
KICK, SNARE, CLAP, HAT_CLOSED, HAT_OPEN, CRASH, RIDE = 36, 38, 39, 42, 46, 49, 51
DRUM_STYLES: dict[str, dict[int, tuple[int, ...]]] = {
    "rock": {KICK: (0, 8, 10), SNARE: (4, 12), HAT_CLOSED: (0, 2, 4, 6, 8, 10, 12, 14)},
    "four_on_floor": {KICK: (0, 4, 8, 12), CLAP: (4, 12), HAT_OPEN: (2, 6, 10, 14),
                      HAT_CLOSED: (0, 4, 8, 12)},
    "halftime": {KICK: (0, 3, 10), SNARE: (8,), HAT_CLOSED: tuple(range(16))},
    "ride_swing": {KICK: (0, 7, 10), SNARE: (4, 12), RIDE: (0, 4, 6, 8, 12, 14)},
}


@dataclass(frozen=True)
class PieceSpec:
    """One generated piece: harmony, tempo and instrumentation."""

    name: str                       # id used in file names and as the split group
    seed: int                       # seed of the note-level randomness (velocities, fills)
    tempo_bpm: float                # quarter notes per minute
    tonic_midi: int                 # tonic in the bass register (MIDI note 36..47)
    minor: bool                     # natural minor when true, major otherwise
    progression: tuple[int, ...]    # zero-based scale degrees, one chord per bar
    bars: int                       # length in 4/4 bars
    drum_style: str                 # key of DRUM_STYLES
    bass_program: int               # General MIDI program, zero-based
    keys_program: int
    strings_program: int
    keys_arpeggio: bool             # arpeggiated eighths when true, chord stabs otherwise

    @property
    def duration_s(self) -> float:
        return self.bars * 4 * 60.0 / self.tempo_bpm


def random_piece(index: int, seed: int, target_duration_s: float = 28.0) -> PieceSpec:
    """Draw piece number ``index`` of the set seeded by ``seed``; same arguments, same piece."""
    rng = np.random.default_rng([seed, index])
    tempo_bpm = float(rng.integers(76, 152))
    minor = bool(rng.random() < 0.4)
    progressions = MINOR_PROGRESSIONS if minor else MAJOR_PROGRESSIONS
    chords = progressions[int(rng.integers(len(progressions)))]
    bars = max(4, int(round(target_duration_s * tempo_bpm / 240.0 / 4.0)) * 4)
    return PieceSpec(
        name=f"piece{index:03d}",
        seed=int(rng.integers(2**31)),
        tempo_bpm=tempo_bpm,
        tonic_midi=36 + int(rng.integers(12)),
        minor=minor,
        progression=tuple(chords[i % len(chords)] for i in range(bars)),
        bars=bars,
        drum_style=sorted(DRUM_STYLES)[int(rng.integers(len(DRUM_STYLES)))],
        bass_program=int(rng.choice(BASS_PROGRAMS)),
        keys_program=int(rng.choice(KEYS_PROGRAMS)),
        strings_program=int(rng.choice(STRINGS_PROGRAMS)),
        keys_arpeggio=bool(rng.random() < 0.5),
    )


def _chord_notes(spec: PieceSpec, degree: int, base_midi: int, size: int = 3) -> list[int]:
    scale = MINOR_SCALE if spec.minor else MAJOR_SCALE
    notes = []
    for k in range(size):
        step = degree + 2 * k
        notes.append(base_midi + scale[step % 7] + 12 * (step // 7))
    return notes


# A note event: (start tick, length in ticks, MIDI note, velocity).
NoteEvent = tuple[int, int, int, int]


def _drum_events(spec: PieceSpec, rng: np.random.Generator) -> list[NoteEvent]:
    grid = DRUM_STYLES[spec.drum_style]
    step_ticks = TICKS_PER_BEAT // STEPS_PER_BEAT
    events: list[NoteEvent] = []
    for bar in range(spec.bars):
        bar_tick = bar * 4 * TICKS_PER_BEAT
        if bar % 8 == 0:
            events.append((bar_tick, TICKS_PER_BEAT, CRASH, 100))
        for note, steps in grid.items():
            for step in steps:
                accent = 14 if step % 4 == 0 else 0
                velocity = int(np.clip(rng.normal(82 + accent, 8), 30, 127))
                events.append((bar_tick + step * step_ticks, step_ticks, note, velocity))
        if bar % 4 == 3:  # a snare fill on the last beat of each phrase
            for step in (12, 13, 14, 15):
                events.append((bar_tick + step * step_ticks, step_ticks, SNARE,
                               int(rng.integers(70, 110))))
    return events


def _bass_events(spec: PieceSpec, rng: np.random.Generator) -> list[NoteEvent]:
    eighth = TICKS_PER_BEAT // 2
    events: list[NoteEvent] = []
    for bar, degree in enumerate(spec.progression):
        root, _, fifth = _chord_notes(spec, degree, spec.tonic_midi)
        if root > 47:
            root, fifth = root - 12, fifth - 12
        bar_tick = bar * 4 * TICKS_PER_BEAT
        pattern = (root, root, fifth, root, root, root + 12, fifth, root)
        for i, note in enumerate(pattern):
            if rng.random() < 0.15 and i > 0:
                continue
            events.append((bar_tick + i * eighth, int(eighth * 0.9), note,
                           int(rng.integers(85, 110))))
    return events


def _keys_events(spec: PieceSpec, rng: np.random.Generator) -> list[NoteEvent]:
    events: list[NoteEvent] = []
    for bar, degree in enumerate(spec.progression):
        chord = _chord_notes(spec, degree, spec.tonic_midi + 24, size=4)
        bar_tick = bar * 4 * TICKS_PER_BEAT
        if spec.keys_arpeggio:
            eighth = TICKS_PER_BEAT // 2
            order = chord + chord[1:3][::-1] + [chord[0] + 12, chord[2]]
            for i, note in enumerate(order[:8]):
                events.append((bar_tick + i * eighth, eighth, note, int(rng.integers(60, 90))))
        else:
            for beat in (0, 1.5, 2, 3.5):
                start = bar_tick + int(beat * TICKS_PER_BEAT)
                velocity = int(rng.integers(60, 95))
                events.extend((start, TICKS_PER_BEAT // 2, n, velocity) for n in chord)
    return events


def _strings_events(spec: PieceSpec, rng: np.random.Generator) -> list[NoteEvent]:
    events: list[NoteEvent] = []
    bar_ticks = 4 * TICKS_PER_BEAT
    for bar, degree in enumerate(spec.progression):
        chord = _chord_notes(spec, degree, spec.tonic_midi + 24)
        voicing = [chord[0] - 12, chord[1], chord[2], chord[0] + 12]
        velocity = int(rng.integers(50, 75))
        events.extend((bar * bar_ticks, bar_ticks - 10, n, velocity) for n in voicing)
    return events


PART_EVENTS = {"drums": _drum_events, "bass": _bass_events, "keys": _keys_events,
               "strings": _strings_events}


def _part_program(spec: PieceSpec, part: str) -> int:
    return {"drums": 0, "bass": spec.bass_program, "keys": spec.keys_program,
            "strings": spec.strings_program}[part]


def _part_track(spec: PieceSpec, part: str) -> mido.MidiTrack:
    rng = np.random.default_rng([spec.seed, PARTS.index(part)])
    channel = PART_CHANNELS[part]
    timed: list[tuple[int, int, mido.Message]] = []  # (tick, order: offs first, message)
    for start, length, note, velocity in PART_EVENTS[part](spec, rng):
        timed.append((start, 1, mido.Message("note_on", channel=channel, note=note,
                                              velocity=velocity)))
        timed.append((start + length, 0, mido.Message("note_off", channel=channel, note=note,
                                                       velocity=0)))
    timed.sort(key=lambda item: (item[0], item[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=part, time=0))
    track.append(mido.Message("program_change", channel=channel,
                              program=_part_program(spec, part), time=0))
    tick = 0
    for abs_tick, _, message in timed:
        track.append(message.copy(time=abs_tick - tick))
        tick = abs_tick
    return track


def write_midi(spec: PieceSpec, path: Path, parts: tuple[str, ...] = PARTS) -> Path:
    """Write ``spec`` as a type-1 MIDI file holding only ``parts`` (one stem, or all for the mix).

    Raises:
        CorpusError: a part name is not one of :data:`PARTS`.
    """
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise CorpusError(f"unknown part(s) {unknown}; allowed: {list(PARTS)}")
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(spec.tempo_bpm), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    midi.tracks.append(conductor)
    for part in parts:
        midi.tracks.append(_part_track(spec, part))
    midi.save(str(path))
    return path


def missing_render_packages() -> list[str]:
    """Debian packages that ``render_midi`` needs and that are not installed here."""
    missing = []
    if shutil.which("fluidsynth") is None:
        missing.append(FLUIDSYNTH_PACKAGE)
    if not FLUIDR3_SOUNDFONT.is_file():
        missing.append(SOUNDFONT_PACKAGE)
    return missing


def render_midi(midi_path: Path, wav_path: Path, sample_rate: int,
                gain: float = 0.5, timeout_s: float = 300.0) -> tuple[np.ndarray, int]:
    """Render a MIDI file with the fluidsynth CLI and FluidR3_GM; returns (audio, sample_rate).

    ``audio`` is float32 of shape (samples, 2), as fluidsynth writes it (32-bit float WAV, so
    nothing clips before the caller scales it).

    Raises:
        SourcePackageMissingError: fluidsynth or the soundfont is not installed.
        CorpusError: fluidsynth failed or wrote no audio.
    """
    missing = missing_render_packages()
    if missing:
        raise SourcePackageMissingError(
            f"rendering MIDI needs the Debian package(s) {', '.join(missing)}: "
            f"apt-get install -y {' '.join(missing)}")
    command = ["fluidsynth", "-ni", "-q", "-T", "wav", "-O", "float", "-g", f"{gain:g}",
               "-r", str(sample_rate), "-F", str(wav_path), str(FLUIDR3_SOUNDFONT), str(midi_path)]
    log.debug("running %s", " ".join(command))
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                                check=False)
    except subprocess.TimeoutExpired as exc:
        raise CorpusError(f"fluidsynth took longer than {timeout_s:g} s on {midi_path}") from exc
    if result.returncode != 0 or not wav_path.is_file():
        raise CorpusError(f"fluidsynth failed on {midi_path} (exit {result.returncode}): "
                          f"{(result.stderr or result.stdout).strip()[-300:]}")
    audio, rendered_rate = sf.read(wav_path, dtype="float32", always_2d=True)
    if audio.shape[0] == 0:
        raise CorpusError(f"fluidsynth wrote an empty file for {midi_path}")
    return audio, int(rendered_rate)
