"""Seeded MIDI pieces written with mido and rendered by fluidsynth.

A piece is data drawn from a seeded generator. Two kinds:

- :class:`PieceSpec` (``random_piece``, ``write_midi``): drums, bass, keys and strings, the ``midi``
  corpus source, rendered with the FluidR3 General MIDI soundfont;
- :class:`StyledPiece` (``random_styled_piece``, ``write_styled_midi``): nine styles (rock, jazz,
  ballad, electronic, orchestral, folk, piano, latin, funk), each with its tempo range, grooves and
  instruments, the ``musescore-midi`` source, rendered with MuseScore_General.

A writer turns a piece (all parts for the mix, or one part for a stem) into a type-1 MIDI file, and
``render_midi`` runs the ``fluidsynth`` command-line synthesizer over it with a :class:`Soundfont`.
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


@dataclass(frozen=True)
class Soundfont:
    """A General MIDI soundfont installed by a Debian package."""

    path: Path
    package: str              # Debian package that installs ``path``
    license: str              # as its /usr/share/doc/<package>/copyright states it
    dynamic_loading: bool     # load only the samples a file plays (same audio; an sf3 decodes 3x faster)


FLUIDR3 = Soundfont(FLUIDR3_SOUNDFONT, SOUNDFONT_PACKAGE, SOUNDFONT_LICENSE, dynamic_loading=False)
# The package's own file, not the /etc/alternatives link MuseScore_General.sf3 (another package may own it).
MUSESCORE_GENERAL = Soundfont(Path("/usr/share/sounds/sf3/MuseScore_General_Full.sf3"),
                              "musescore-general-soundfont", "MIT", dynamic_loading=True)

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


def _events_track(name: str, channel: int, program: int, events: list[NoteEvent],
                  controls: tuple[tuple[int, int], ...] = ()) -> mido.MidiTrack:
    """One track: its name, program, (controller, value) settings, then the notes."""
    timed: list[tuple[int, int, mido.Message]] = []  # (tick, order: offs first, message)
    for start, length, note, velocity in events:
        timed.append((start, 1, mido.Message("note_on", channel=channel, note=note,
                                              velocity=velocity)))
        timed.append((start + length, 0, mido.Message("note_off", channel=channel, note=note,
                                                       velocity=0)))
    timed.sort(key=lambda item: (item[0], item[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    for control, value in controls:
        track.append(mido.Message("control_change", channel=channel, control=control, value=value,
                                  time=0))
    tick = 0
    for abs_tick, _, message in timed:
        track.append(message.copy(time=abs_tick - tick))
        tick = abs_tick
    return track


def _part_track(spec: PieceSpec, part: str) -> mido.MidiTrack:
    rng = np.random.default_rng([spec.seed, PARTS.index(part)])
    return _events_track(part, PART_CHANNELS[part], _part_program(spec, part),
                         PART_EVENTS[part](spec, rng))


def _conductor_track(tempo_bpm: float) -> mido.MidiTrack:
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    return conductor


def write_midi(spec: PieceSpec, path: Path, parts: tuple[str, ...] = PARTS) -> Path:
    """Write ``spec`` as a type-1 MIDI file holding only ``parts`` (one stem, or all for the mix).

    Raises:
        CorpusError: a part name is not one of :data:`PARTS`.
    """
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise CorpusError(f"unknown part(s) {unknown}; allowed: {list(PARTS)}")
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(_conductor_track(spec.tempo_bpm))
    for part in parts:
        midi.tracks.append(_part_track(spec, part))
    midi.save(str(path))
    return path


def missing_render_packages(soundfont: Soundfont = FLUIDR3) -> list[str]:
    """Debian packages that ``render_midi`` with ``soundfont`` needs and that are not installed here."""
    missing = []
    if shutil.which("fluidsynth") is None:
        missing.append(FLUIDSYNTH_PACKAGE)
    if not soundfont.path.is_file():
        missing.append(soundfont.package)
    return missing


def render_midi(midi_path: Path, wav_path: Path, sample_rate: int,
                gain: float = 0.5, timeout_s: float = 300.0,
                soundfont: Soundfont = FLUIDR3) -> tuple[np.ndarray, int]:
    """Render a MIDI file with the fluidsynth CLI and ``soundfont``; returns (audio, sample_rate).

    ``audio`` is float32 of shape (samples, 2), as fluidsynth writes it (32-bit float WAV, so
    nothing clips before the caller scales it).

    Raises:
        SourcePackageMissingError: fluidsynth or the soundfont is not installed.
        CorpusError: fluidsynth failed or wrote no audio.
    """
    missing = missing_render_packages(soundfont)
    if missing:
        raise SourcePackageMissingError(
            f"rendering MIDI needs the Debian package(s) {', '.join(missing)}: "
            f"apt-get install -y {' '.join(missing)}")
    settings = ["-o", "synth.dynamic-sample-loading=1"] if soundfont.dynamic_loading else []
    command = ["fluidsynth", "-ni", "-q", *settings, "-T", "wav", "-O", "float", "-g", f"{gain:g}",
               "-r", str(sample_rate), "-F", str(wav_path), str(soundfont.path), str(midi_path)]
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


# ----------------------------------------------------------------------------- styled pieces
#
# The ``musescore-midi`` corpus source draws pieces from nine styles. A style fixes the tempo range,
# the share of minor keys and of seventh chords, swing, the drum grooves and, per instrument, a role
# (how it plays: walking bass, strummed guitar, pad, melody ...) and the General MIDI programs it may
# use. Each instrument becomes one stem; all of them together the mix.

STYLED_SEED_SALT = 0x5717ED  # keeps styled pieces apart from random_piece's for the same seed
BAR_TICKS = 4 * TICKS_PER_BEAT
SIXTEENTH_TICKS = TICKS_PER_BEAT // 4
EIGHTH_TICKS = TICKS_PER_BEAT // 2
HUMANIZE_TICKS = 5            # melodic notes start up to this early or late (a drum grid stays tight)
STRUM_SPREAD_TICKS = 7        # delay between the strings of one strum
RELEASE_GAP_TICKS = 10        # held notes end this much before the next chord
DRUM_CHANNEL = 9              # zero-based; General MIDI channel 10
NO_DRUMS = "none"             # a groove name: the piece has no drum part
LOWEST_BASS_ROOT_MIDI = 36    # bass roots lie in 36..47 (C2..B2), an octave-part higher per octave
CC_VOLUME, CC_REVERB = 7, 91

# More drum notes (General MIDI percussion key map).
SIDE_STICK, PEDAL_HAT, TAMBOURINE, COWBELL = 37, 44, 54, 56
CONGA_MUTE, CONGA_OPEN, CONGA_LOW, MARACAS, CLAVES = 62, 63, 64, 70, 75
TOM_HIGH, TOM_MID, TOM_LOW, TOM_FLOOR = 50, 48, 45, 41

# Grooves as sixteenth steps per 4/4 bar; the four DRUM_STYLES of random_piece are among them.
GROOVES: dict[str, dict[int, tuple[int, ...]]] = {
    **DRUM_STYLES,
    "backbeat": {KICK: (0, 8), SNARE: (4, 12), HAT_CLOSED: (0, 2, 4, 6, 8, 10, 12, 14)},
    "breakbeat": {KICK: (0, 10), SNARE: (4, 12), HAT_CLOSED: (0, 2, 4, 6, 8, 10, 12), HAT_OPEN: (14,)},
    "house": {KICK: (0, 4, 8, 12), CLAP: (4, 12), HAT_CLOSED: (1, 3, 5, 7, 9, 11, 13, 15),
              HAT_OPEN: (2, 6, 10, 14)},
    "funk": {KICK: (0, 3, 10), SNARE: (4, 12), HAT_CLOSED: tuple(range(16))},
    "hiphop": {KICK: (0, 7, 10), SNARE: (4, 12), HAT_CLOSED: (0, 2, 4, 6, 8, 10, 12, 14)},
    "brushes": {KICK: (0, 8), SNARE: (4, 12), PEDAL_HAT: (4, 12), RIDE: (0, 4, 6, 8, 12, 14)},
    "folk": {KICK: (0, 8), SIDE_STICK: (4, 12), TAMBOURINE: (2, 6, 10, 14)},
    "bossa": {KICK: (0, 6, 8, 14), SIDE_STICK: (0, 3, 6, 10, 13), HAT_CLOSED: (0, 2, 4, 6, 8, 10, 12, 14),
              MARACAS: tuple(range(16))},
    "salsa": {COWBELL: (0, 4, 8, 12), CLAVES: (0, 3, 6, 10, 12), CONGA_MUTE: (2, 10),
              CONGA_OPEN: (6, 7, 14, 15), CONGA_LOW: (12,), KICK: (6, 14)},
}
# Quiet extra hits (ghost notes) per groove.
GROOVE_GHOSTS: dict[str, dict[int, tuple[int, ...]]] = {
    "breakbeat": {SNARE: (7, 9, 15)},
    "funk": {SNARE: (7, 9, 14)},
    "hiphop": {SNARE: (15,)},
}
GROOVES_WITHOUT_CRASH: frozenset[str] = frozenset({"bossa", "brushes", "salsa"})
# Drum kits (bank 128 programs of MuseScore_General) that suit each groove.
GROOVE_KITS: dict[str, tuple[int, ...]] = {
    "rock": (0, 8, 16), "halftime": (0, 8, 16), "backbeat": (0, 8, 16),
    "four_on_floor": (24, 25), "house": (24, 25), "breakbeat": (0, 24, 25),
    "funk": (0, 8), "hiphop": (0, 25), "ride_swing": (32, 33), "brushes": (40, 41),
    "folk": (0, 8), "bossa": (0, 8, 32), "salsa": (0, 8),
}
DRUM_NOTE_VELOCITY: dict[int, int] = {  # base velocity per drum note, before accents
    KICK: 96, SNARE: 92, CLAP: 90, HAT_CLOSED: 70, HAT_OPEN: 72, RIDE: 76, SIDE_STICK: 74,
    PEDAL_HAT: 60, TAMBOURINE: 64, MARACAS: 50, COWBELL: 80, CLAVES: 84, CONGA_MUTE: 80,
    CONGA_OPEN: 86, CONGA_LOW: 84,
}
GHOST_VELOCITY = 40
FILL_TOMS: tuple[int, ...] = (TOM_HIGH, TOM_MID, TOM_LOW, TOM_FLOOR)

# One bar of melody rhythm: (start, length) in eighth notes.
MELODY_RHYTHMS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 2), (2, 2), (4, 2), (6, 2)),
    ((0, 3), (3, 1), (4, 4)),
    ((0, 1), (1, 1), (2, 2), (4, 1), (5, 1), (6, 2)),
    ((0, 4), (4, 2), (6, 2)),
    ((0, 2), (2, 1), (3, 1), (4, 3)),
    ((1, 1), (2, 2), (4, 2), (6, 1), (7, 1)),
    ((0, 6), (6, 2)),
    ((0, 1), (1, 1), (2, 1), (3, 1), (4, 2), (6, 2)),
)
MELODY_DEGREE_RANGE = (-2, 11)   # scale degrees above the part's base note the melody stays within
MELODY_START_DEGREE = 4
MELODY_STEPS: tuple[int, ...] = (-2, -1, -1, 0, 1, 1, 2, 3)  # scale-step moves, drawn uniformly
# Strum patterns: (eighth position, down stroke) per bar.
STRUM_PATTERNS: tuple[tuple[tuple[int, bool], ...], ...] = (
    ((0, True), (2, True), (3, False), (5, False), (6, True), (7, False)),
    ((0, True), (2, True), (4, True), (6, True)),
    ((0, True), (3, False), (5, False), (6, True)),
    ((0, True), (1, True), (2, False), (3, True), (4, False), (5, True), (6, False), (7, False)),
)
# Chord rhythms: (start, length) in beats.
STAB_RHYTHMS: tuple[tuple[tuple[float, float], ...], ...] = (
    ((0, 0.5), (1.5, 0.5), (2, 0.5), (3.5, 0.5)),
    ((0, 2), (2, 2)),
    ((0, 0.75), (0.75, 0.75), (1.5, 1), (3, 1)),
    ((0, 1), (1, 1), (2, 1), (3, 1)),
)
COMP_RHYTHMS: tuple[tuple[tuple[float, float], ...], ...] = (  # jazz comping: Charleston and friends
    ((0, 1.4), (1.5, 1.2)), ((1.5, 1.0), (3, 0.9)), ((0.5, 1.0), (2.5, 1.2)), ((1, 1.5), (3, 0.9)),
)
OFFBEAT_RHYTHM: tuple[tuple[float, float], ...] = ((0.5, 0.3), (1.5, 0.3), (2.5, 0.3), (3.5, 0.3))
# Power-chord rhythms: (start, length) in eighths; one-eighth notes are palm-muted (played short).
POWER_RHYTHMS: tuple[tuple[tuple[int, int], ...], ...] = (
    tuple((i, 1) for i in range(8)), ((0, 2), (2, 2), (4, 2), (6, 2)), ((0, 3), (3, 3), (6, 2)),
    ((0, 1), (1, 1), (2, 2), (4, 1), (5, 1), (6, 2)),
)
ARPEGGIO_SHAPES: tuple[tuple[int, ...], ...] = ((0, 1, 2, 3), (0, 1, 2, 3, 2, 1), (0, 2, 1, 3), (0, 2, 1, 2))
# Bass eighths as scale steps above the root (4: the fifth, 7: the octave).
BASS_EIGHTH_PATTERNS: tuple[tuple[int, ...], ...] = (
    (0, 0, 0, 0, 0, 0, 0, 0), (0, 0, 4, 0, 0, 7, 4, 0), (0, 0, 0, 0, 4, 4, 4, 4), (0, 7, 0, 7, 4, 7, 0, 7),
)
FUNK_BASS_STEPS: tuple[tuple[int, ...], ...] = ((0, 3, 6, 8, 10, 11, 14), (0, 2, 3, 7, 8, 10, 13, 14))
MONTUNO_PATTERNS: tuple[tuple[int, ...], ...] = ((0, 2, 1, 2, 0, 2, 1, 2), (0, 1, 2, 1, 0, 2, 1, 2))


@dataclass(frozen=True)
class PartStyle:
    """How one instrument of a style plays."""

    name: str                     # stem name, e.g. "guitar"
    role: str                     # key of ROLE_EVENTS
    programs: tuple[int, ...]     # General MIDI programs (zero-based) to draw from
    octave: int                   # the part's base note: the key's tonic in octave 2 (36..47) + 12 * octave
    level: int                    # channel volume (CC 7): balances the mix
    steps_per_beat: int = 2       # note grid of arpeggios (2: eighths, 4: sixteenths)
    program_from: str = ""        # reuse the program drawn for this earlier part (two piano hands)


@dataclass(frozen=True)
class MusicStyle:
    """Tempo, harmony, groove and instrumentation of one kind of piece."""

    name: str
    tempo_range_bpm: tuple[int, int]                  # inclusive
    minor_share: float                                # probability of a minor key
    seventh_share: float                              # probability of four-note (seventh) chords
    swing: float                                      # 0 straight; 1/3 delays off-beat eighths to triplets
    reverb: int                                       # reverb send (CC 91) of every part, 0..127
    grooves: tuple[str, ...]                          # keys of GROOVES, or NO_DRUMS, drawn uniformly
    parts: tuple[PartStyle, ...]                      # pitched parts; drums come with a drawn groove
    major_progressions: tuple[tuple[int, ...], ...] = MAJOR_PROGRESSIONS
    minor_progressions: tuple[tuple[int, ...], ...] = MINOR_PROGRESSIONS


STYLES: tuple[MusicStyle, ...] = (
    MusicStyle("rock", (96, 152), 0.45, 0.0, 0.0, 40, ("rock", "halftime", "backbeat"), (
        PartStyle("bass", "bass_eighths", (33, 34), 0, 100),
        PartStyle("guitar", "power", (29, 30), 0, 88),
        PartStyle("keys", "stabs", (0, 4, 16, 17, 18), 2, 70),
        PartStyle("lead", "melody", (29, 30, 81, 62), 2, 86)),
        major_progressions=((0, 4, 5, 3), (0, 3, 0, 4), (5, 3, 0, 4), (0, 3, 4, 3)),
        minor_progressions=((0, 6, 5, 6), (0, 3, 4, 0), (0, 5, 2, 6), (0, 5, 3, 4))),
    MusicStyle("jazz", (110, 180), 0.3, 1.0, 1 / 3, 50, ("ride_swing", "brushes"), (
        PartStyle("bass", "walking_bass", (32,), 0, 104),
        PartStyle("piano", "comp", (0, 1, 4), 1, 80),
        PartStyle("horn", "melody", (65, 66, 56, 11, 26, 73), 2, 92)),
        major_progressions=((1, 4, 0, 0), (0, 5, 1, 4), (1, 4, 0, 5), (2, 5, 1, 4)),
        minor_progressions=((1, 4, 0, 0), (0, 3, 1, 4), (0, 5, 1, 4))),
    MusicStyle("ballad", (60, 84), 0.4, 0.7, 0.0, 80, ("brushes", "halftime", NO_DRUMS, NO_DRUMS), (
        PartStyle("bass", "bass_long", (32, 33, 35), 0, 96),
        PartStyle("piano", "arpeggio", (0, 1, 4, 5), 1, 84),
        PartStyle("strings", "pad", (48, 49, 50, 89), 2, 66),
        PartStyle("melody", "melody", (73, 40, 68, 71, 65), 2, 92))),
    MusicStyle("electronic", (118, 140), 0.6, 0.2, 0.0, 45, ("four_on_floor", "house", "breakbeat"), (
        PartStyle("bass", "bass_offbeat", (38, 39, 87), 0, 100),
        PartStyle("pad", "pad", (88, 89, 90, 91, 94, 95), 2, 64),
        PartStyle("arp", "arpeggio", (80, 81, 84, 86), 2, 72, steps_per_beat=4),
        PartStyle("lead", "melody", (80, 81, 82, 85), 2, 84))),
    MusicStyle("orchestral", (60, 112), 0.5, 0.1, 0.0, 90, (NO_DRUMS,), (
        PartStyle("basses", "bass_long", (43, 42), 0, 96),
        PartStyle("strings", "pad", (48, 49, 44), 2, 80),
        PartStyle("brass", "stabs", (60, 61, 57), 1, 70),
        PartStyle("harp", "arpeggio", (46, 45), 1, 80),
        PartStyle("woodwind", "melody", (73, 68, 71, 40), 2, 92),
        PartStyle("timpani", "timpani", (47,), 0, 88)),
        major_progressions=((0, 3, 4, 0), (0, 5, 3, 4), (0, 2, 3, 4), (3, 4, 0, 5)),
        minor_progressions=((0, 3, 4, 0), (0, 5, 3, 4), (0, 6, 5, 4))),
    MusicStyle("folk", (84, 132), 0.3, 0.0, 0.0, 50, ("folk", "backbeat", NO_DRUMS), (
        PartStyle("bass", "bass_long", (32, 33), 0, 96),
        PartStyle("guitar", "strum", (25, 24), 0, 84),
        PartStyle("plucked", "arpeggio", (105, 15, 24, 46), 2, 72),
        PartStyle("melody", "melody", (40, 21, 22, 74, 75, 71), 2, 90)),
        major_progressions=((0, 3, 0, 4), (0, 4, 5, 3), (0, 0, 3, 4), (0, 3, 4, 0)),
        minor_progressions=((0, 6, 0, 6), (0, 3, 6, 0), (0, 5, 6, 4))),
    MusicStyle("piano", (60, 140), 0.45, 0.4, 0.0, 60, (NO_DRUMS,), (
        PartStyle("left_hand", "piano_left", (0, 1, 2, 4, 5, 6), 0, 92),
        PartStyle("right_hand", "piano_right", (), 2, 96, program_from="left_hand"))),
    MusicStyle("latin", (92, 140), 0.4, 0.6, 0.0, 50, ("bossa", "salsa"), (
        PartStyle("bass", "tumbao", (32, 33), 0, 100),
        PartStyle("piano", "montuno", (0, 1, 4), 1, 80),
        PartStyle("guitar", "comp", (24, 25), 1, 76),
        PartStyle("melody", "melody", (73, 65, 56, 11, 22), 2, 90)),
        major_progressions=((1, 4, 0, 0), (0, 3, 4, 0), (0, 5, 1, 4)),
        minor_progressions=((0, 3, 4, 0), (0, 5, 1, 4), (1, 4, 0, 0))),
    MusicStyle("funk", (90, 118), 0.5, 0.7, 0.0, 35, ("funk", "hiphop"), (
        PartStyle("bass", "bass_funk", (36, 37, 33, 38), 0, 104),
        PartStyle("clav", "offbeat", (7, 4, 5), 2, 76),
        PartStyle("guitar", "riff16", (28, 27), 2, 72),
        PartStyle("brass", "stabs", (61, 62, 56), 2, 80)),
        major_progressions=((0, 0, 3, 3), (0, 3, 0, 4), (1, 4, 0, 0)),
        minor_progressions=((0, 0, 3, 3), (0, 3, 0, 4), (0, 6, 5, 6))),
)
STYLE_NAMES: tuple[str, ...] = tuple(s.name for s in STYLES)


@dataclass(frozen=True)
class StyledPart:
    """One instrument of a :class:`StyledPiece`, as drawn."""

    name: str
    role: str
    program: int                  # General MIDI program (zero-based); the drum kit for the drums
    channel: int                  # zero-based MIDI channel
    octave: int
    level: int
    steps_per_beat: int
    variant: int                  # which rhythm or shape the role plays in this piece (0..3)


@dataclass(frozen=True)
class StyledPiece:
    """One generated piece of a :class:`MusicStyle`: harmony, tempo, groove and parts."""

    name: str                       # id used in file names and as the split group
    style: str                      # MusicStyle.name
    seed: int                       # seed of the note-level randomness
    tempo_bpm: float
    tonic_midi: int                 # tonic in the bass register (MIDI note 36..47)
    minor: bool
    progression: tuple[int, ...]    # zero-based scale degrees, one chord per bar
    bars: int
    sevenths: bool                  # four-note chords when true
    swing: float
    reverb: int
    groove: str                     # key of GROOVES, or NO_DRUMS
    parts: tuple[StyledPart, ...]

    @property
    def duration_s(self) -> float:
        return self.bars * 4 * 60.0 / self.tempo_bpm

    @property
    def part_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts)


def _spread_fraction(k: int, rng: np.random.Generator) -> float:
    """A fraction in [0, 1) for the k-th piece of a style: the base-2 van der Corput sequence
    (0, 1/2, 1/4, 3/4, ...) plus jitter, so any run of pieces spreads over the style's range."""
    point, denominator = 0.0, 1.0
    while k:
        denominator *= 2
        k, bit = divmod(k, 2)
        point += bit / denominator
    return (point + float(rng.uniform(0.0, 0.125))) % 1.0


def random_styled_piece(index: int, seed: int,
                        duration_range_s: tuple[float, float] = (22.0, 36.0)) -> StyledPiece:
    """Draw styled piece number ``index`` of the set seeded by ``seed``; same arguments, same piece.

    Styles take turns (index modulo the number of styles), so any nine consecutive pieces cover all;
    the tempos of a style's pieces spread over its range (:func:`_spread_fraction`).
    The length is a whole number of two-bar phrases near a duration drawn from ``duration_range_s``.
    """
    rng = np.random.default_rng([STYLED_SEED_SALT, seed, index])
    style = STYLES[index % len(STYLES)]
    low_bpm, high_bpm = style.tempo_range_bpm
    tempo_bpm = float(round(low_bpm + (high_bpm - low_bpm) * _spread_fraction(index // len(STYLES), rng)))
    minor = bool(rng.random() < style.minor_share)
    progressions = style.minor_progressions if minor else style.major_progressions
    chords = progressions[int(rng.integers(len(progressions)))]
    target_s = float(rng.uniform(*duration_range_s))
    bars = max(4, int(round(target_s * tempo_bpm / 240.0 / 2.0)) * 2)
    # The last bar returns to the tonic, so a piece ends on a cadence rather than mid-phrase.
    progression = tuple(chords[i % len(chords)] for i in range(bars - 1)) + (0,)
    groove = style.grooves[int(rng.integers(len(style.grooves)))]
    parts: list[StyledPart] = []
    if groove != NO_DRUMS:
        kit = int(rng.choice(GROOVE_KITS[groove]))
        parts.append(StyledPart("drums", "drums", kit, DRUM_CHANNEL, 0, 100, 4, int(rng.integers(4))))
    channels = iter(c for c in range(16) if c != DRUM_CHANNEL)
    for part in style.parts:
        if part.program_from:
            program = next(p.program for p in parts if p.name == part.program_from)
        else:
            program = int(rng.choice(part.programs))
        parts.append(StyledPart(part.name, part.role, program, next(channels), part.octave, part.level,
                                part.steps_per_beat, int(rng.integers(4))))
    return StyledPiece(
        name=f"{style.name}{index:03d}", style=style.name, seed=int(rng.integers(2**31)),
        tempo_bpm=tempo_bpm, tonic_midi=36 + int(rng.integers(12)), minor=minor,
        progression=progression, bars=bars, sevenths=bool(rng.random() < style.seventh_share),
        swing=style.swing, reverb=style.reverb, groove=groove, parts=tuple(parts))


# --------------------------------------------------------------- pitch helpers (a piece's key)


def _scale_note(piece: StyledPiece, degree: int, base_midi: int) -> int:
    """MIDI note of scale ``degree`` (any integer; 7 is the octave) above ``base_midi``, the tonic."""
    scale = MINOR_SCALE if piece.minor else MAJOR_SCALE
    return base_midi + scale[degree % 7] + 12 * (degree // 7)


def _interval(piece: StyledPiece, degree: int, steps: int) -> int:
    """Semitones from the chord root on ``degree`` up to the scale note ``steps`` above it."""
    return _scale_note(piece, degree + steps, 0) - _scale_note(piece, degree, 0)


def _chord_on(piece: StyledPiece, degree: int, root_midi: int) -> list[int]:
    """The chord on ``degree`` with its root at ``root_midi``: triad plus octave, or a seventh chord."""
    steps = (0, 2, 4, 6) if piece.sevenths else (0, 2, 4, 7)
    return [root_midi + _interval(piece, degree, s) for s in steps]


def _root(piece: StyledPiece, part: StyledPart, degree: int) -> int:
    """The chord root in the part's octave: 36..47 plus 12 per octave, whatever the key."""
    pitch_class = _scale_note(piece, degree, piece.tonic_midi) % 12
    lowest = LOWEST_BASS_ROOT_MIDI + 12 * part.octave
    return lowest + (pitch_class - lowest) % 12


def _velocity(rng: np.random.Generator, center: float, spread: float = 8.0) -> int:
    return int(np.clip(rng.normal(center, spread), 20, 127))


# --------------------------------------------------------------- roles: (piece, part, rng) -> notes


def _styled_drum_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    grid, ghosts = GROOVES[piece.groove], GROOVE_GHOSTS.get(piece.groove, {})
    events: list[NoteEvent] = []
    for bar in range(piece.bars):
        bar_tick = bar * BAR_TICKS
        fill = bar % 4 == 3 and part.variant != 0  # variant 0 plays no fills
        if bar % 8 == 0 and piece.groove not in GROOVES_WITHOUT_CRASH:
            events.append((bar_tick, TICKS_PER_BEAT, CRASH, 100))
        for note, steps in grid.items():
            for step in steps:
                if fill and step >= 12 and note != KICK:
                    continue
                accent = 12 if step % 4 == 0 else 0
                events.append((bar_tick + step * SIXTEENTH_TICKS, SIXTEENTH_TICKS, note,
                               _velocity(rng, DRUM_NOTE_VELOCITY.get(note, 84) + accent, 6)))
        for note, steps in ghosts.items():
            events.extend((bar_tick + s * SIXTEENTH_TICKS, SIXTEENTH_TICKS, note,
                           _velocity(rng, GHOST_VELOCITY, 5)) for s in steps)
        if fill:  # the last beat: toms down, or a snare run
            notes = FILL_TOMS if part.variant in (1, 2) else (SNARE,) * 4
            events.extend((bar_tick + (12 + i) * SIXTEENTH_TICKS, SIXTEENTH_TICKS, n, _velocity(rng, 96))
                          for i, n in enumerate(notes))
    return events


def _bass_eighths_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    pattern = BASS_EIGHTH_PATTERNS[part.variant % len(BASS_EIGHTH_PATTERNS)]
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        root = _root(piece, part, degree)
        for i, steps in enumerate(pattern):
            if i > 0 and rng.random() < 0.1:
                continue
            events.append((bar * BAR_TICKS + i * EIGHTH_TICKS, int(EIGHTH_TICKS * 0.85),
                           root + _interval(piece, degree, steps), _velocity(rng, 104 if i % 2 == 0 else 94)))
    return events


def _walking_bass_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        root = _root(piece, part, degree)
        target = _root(piece, part, piece.progression[(bar + 1) % piece.bars])
        third, fifth = root + _interval(piece, degree, 2), root + _interval(piece, degree, 4)
        walk = (root, third, fifth, target + 1) if rng.random() < 0.5 else (root, fifth, root + 12, target - 1)
        for beat, note in enumerate(walk):  # beat four: a chromatic approach to the next root
            events.append((bar * BAR_TICKS + beat * TICKS_PER_BEAT, int(TICKS_PER_BEAT * 0.92), note,
                           _velocity(rng, 98 if beat % 2 == 0 else 88)))
    return events


def _bass_long_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        root = _root(piece, part, degree)
        if part.variant % 2 == 0:  # whole notes
            events.append((bar * BAR_TICKS, BAR_TICKS - RELEASE_GAP_TICKS, root, _velocity(rng, 92)))
            continue
        fifth_below = root + _interval(piece, degree, 4) - 12  # root, then the fifth below it
        for half, note in enumerate((root, fifth_below if fifth_below >= 28 else fifth_below + 12)):
            events.append((bar * BAR_TICKS + half * 2 * TICKS_PER_BEAT, 2 * TICKS_PER_BEAT - RELEASE_GAP_TICKS,
                           note, _velocity(rng, 92 if half == 0 else 84)))
    return events


def _bass_offbeat_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    """Dance bass: the off-beat eighths, leaving the beats to the kick (variant 1 adds the downbeat)."""
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        root = _root(piece, part, degree)
        for i in range(8):
            if i % 2 == 0 and not (part.variant == 1 and i == 0):
                continue
            note = root + 12 if part.variant >= 2 and i in (3, 7) else root
            events.append((bar * BAR_TICKS + i * EIGHTH_TICKS, int(EIGHTH_TICKS * 0.8), note,
                           _velocity(rng, 100, 6)))
    return events


def _tumbao_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    """Latin bass: the 'and' of two, and beat four anticipating the next bar's root."""
    events: list[NoteEvent] = [(0, 6 * SIXTEENTH_TICKS, _root(piece, part, piece.progression[0]),
                                _velocity(rng, 100))]
    for bar, degree in enumerate(piece.progression):
        root = _root(piece, part, degree)
        bar_tick = bar * BAR_TICKS
        events.append((bar_tick + 6 * SIXTEENTH_TICKS, 6 * SIXTEENTH_TICKS - RELEASE_GAP_TICKS,
                       root + _interval(piece, degree, 4), _velocity(rng, 96)))
        last = bar + 1 == piece.bars
        next_root = root if last else _root(piece, part, piece.progression[bar + 1])
        events.append((bar_tick + 12 * SIXTEENTH_TICKS, (4 if last else 8) * SIXTEENTH_TICKS - RELEASE_GAP_TICKS,
                       next_root, _velocity(rng, 100)))
    return events


def _bass_funk_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    steps = FUNK_BASS_STEPS[part.variant % len(FUNK_BASS_STEPS)]
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        root = _root(piece, part, degree)
        for s in steps:
            if s != 0 and rng.random() < 0.12:
                continue
            note = root + 12 if s in (6, 14) else root + _interval(piece, degree, 4) if s == 10 else root
            events.append((bar * BAR_TICKS + s * SIXTEENTH_TICKS, (2 if s == 0 else 1) * SIXTEENTH_TICKS, note,
                           _velocity(rng, 108 if s in (0, 6, 14) else 90)))
    return events


def _beat_chords(piece: StyledPiece, part: StyledPart, rng: np.random.Generator,
                 rhythms: tuple[tuple[tuple[float, float], ...], ...], per_bar: bool,
                 center: float) -> list[NoteEvent]:
    """Chords on a rhythm in beats: one rhythm for the piece, or a new one each bar (comping)."""
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        chord = _chord_on(piece, degree, _root(piece, part, degree))
        rhythm = rhythms[int(rng.integers(len(rhythms)))] if per_bar else rhythms[part.variant % len(rhythms)]
        for start, length in rhythm:
            velocity = _velocity(rng, center)
            tick = bar * BAR_TICKS + int(start * TICKS_PER_BEAT)
            events.extend((tick, int(length * TICKS_PER_BEAT) - RELEASE_GAP_TICKS, n, velocity) for n in chord)
    return events


def _stab_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    return _beat_chords(piece, part, rng, STAB_RHYTHMS, per_bar=False, center=80)


def _comp_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    return _beat_chords(piece, part, rng, COMP_RHYTHMS, per_bar=True, center=72)


def _offbeat_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    return _beat_chords(piece, part, rng, (OFFBEAT_RHYTHM,), per_bar=False, center=78)


def _pad_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    """Held chords, the root dropped an octave for an open voicing (variant 3: two per bar)."""
    events: list[NoteEvent] = []
    per_bar = 2 if part.variant == 3 else 1
    length = BAR_TICKS // per_bar
    for bar, degree in enumerate(piece.progression):
        chord = _chord_on(piece, degree, _root(piece, part, degree))
        voicing = [chord[0] - 12] + chord[1:]
        for k in range(per_bar):
            velocity = _velocity(rng, 66, 6)
            events.extend((bar * BAR_TICKS + k * length, length - RELEASE_GAP_TICKS, n, velocity) for n in voicing)
    return events


def _arpeggio_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    step_ticks = TICKS_PER_BEAT // part.steps_per_beat
    shape = ARPEGGIO_SHAPES[part.variant % len(ARPEGGIO_SHAPES)]
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        chord = _chord_on(piece, degree, _root(piece, part, degree))
        for i in range(4 * part.steps_per_beat):
            accent = 10 if i % part.steps_per_beat == 0 else 0
            events.append((bar * BAR_TICKS + i * step_ticks, step_ticks - 8, chord[shape[i % len(shape)]],
                           _velocity(rng, 72 + accent, 6)))
    return events


def _strum_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    """Strummed guitar: five strings down, the top three on the up strokes."""
    pattern = STRUM_PATTERNS[part.variant % len(STRUM_PATTERNS)]
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        root = _root(piece, part, degree)
        root = root + 12 if root < 40 else root  # the guitar's lowest string is E2 (40)
        fifth, third = root + _interval(piece, degree, 4), root + _interval(piece, degree, 2)
        strings = [root, fifth, root + 12, third + 12, fifth + 12]
        for k, (position, down) in enumerate(pattern):
            end = pattern[k + 1][0] if k + 1 < len(pattern) else 8
            notes = strings if down else strings[:1:-1]
            velocity = _velocity(rng, 84 if down else 66, 6)
            start = bar * BAR_TICKS + position * EIGHTH_TICKS
            for j, note in enumerate(notes):
                offset = j * STRUM_SPREAD_TICKS
                events.append((start + offset, (end - position) * EIGHTH_TICKS - offset - 6, note, velocity))
    return events


def _power_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    rhythm = POWER_RHYTHMS[part.variant % len(POWER_RHYTHMS)]
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        root = _root(piece, part, degree)
        root = root + 12 if root < 40 else root
        chord = (root, root + 7, root + 12)  # root, perfect fifth, octave
        for start, length in rhythm:
            velocity = _velocity(rng, 92 if start % 4 == 0 else 82, 6)
            ticks = int(length * EIGHTH_TICKS * (0.5 if length == 1 else 0.95))
            events.extend((bar * BAR_TICKS + start * EIGHTH_TICKS, ticks, n, velocity) for n in chord)
    return events


def _riff16_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    """Funk guitar: short sixteenth scratches on the top of the chord, accented off the beat."""
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        chord = _chord_on(piece, degree, _root(piece, part, degree))[1:]
        for s in range(16):
            if rng.random() < 0.3:
                continue
            velocity = _velocity(rng, 90 if s % 4 == 2 else 62, 6)
            events.extend((bar * BAR_TICKS + s * SIXTEENTH_TICKS, int(SIXTEENTH_TICKS * 0.6), n, velocity)
                          for n in chord)
    return events


def _montuno_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    """Latin piano: broken chords in octaves, accented off the beat (variants 2, 3 leave gaps)."""
    pattern = MONTUNO_PATTERNS[part.variant % len(MONTUNO_PATTERNS)]
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        chord = _chord_on(piece, degree, _root(piece, part, degree) + 12)
        for i, tone in enumerate(pattern):
            if i in (2, 7) and part.variant >= 2:
                continue
            velocity = _velocity(rng, 84 if i in (1, 3, 6) else 70, 6)
            events.extend((bar * BAR_TICKS + i * EIGHTH_TICKS, EIGHTH_TICKS - 12, n, velocity)
                          for n in (chord[tone], chord[tone] + 12))
    return events


def _timpani_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        root = _root(piece, part, degree)
        bar_tick = bar * BAR_TICKS
        events.append((bar_tick, TICKS_PER_BEAT, root, _velocity(rng, 96)))
        if part.variant % 2:
            events.append((bar_tick + 2 * TICKS_PER_BEAT, TICKS_PER_BEAT, root + _interval(piece, degree, 4) - 12,
                           _velocity(rng, 84)))
        if bar % 4 == 3:  # a crescendo roll into the next phrase
            events.extend((bar_tick + (12 + i) * SIXTEENTH_TICKS, SIXTEENTH_TICKS - 4, root, 60 + 12 * i)
                          for i in range(4))
    return events


def _nearest_chord_tone(degree: int, chord_degree: int) -> int:
    candidates = (d for d in range(degree - 3, degree + 4) if (d - chord_degree) % 7 in (0, 2, 4))
    return min(candidates, key=lambda d: (abs(d - degree), d))


def _melody_line(piece: StyledPiece, part: StyledPart, rng: np.random.Generator,
                 center: float) -> list[NoteEvent]:
    """Two-bar motifs: a new one every four bars, its repeat varied at the end.

    A motif is a rhythm and scale-step moves per bar; each bar's first note snaps to a tone of
    that bar's chord, so a repeated motif follows the harmony.
    """
    low, high = MELODY_DEGREE_RANGE
    base = piece.tonic_midi + 12 * part.octave
    motif: list[tuple[tuple[tuple[int, int], ...], list[int]]] = []
    degree = MELODY_START_DEGREE
    events: list[NoteEvent] = []
    for block in range(0, piece.bars, 2):
        if block % 4 == 0:
            motif = []
            for _ in range(2):
                rhythm = MELODY_RHYTHMS[int(rng.integers(len(MELODY_RHYTHMS)))]
                motif.append((rhythm, [int(rng.choice(MELODY_STEPS)) for _ in rhythm]))
        else:
            rhythm, moves = motif[1]
            motif = [motif[0], (rhythm, moves[:-2] + [int(rng.choice(MELODY_STEPS)) for _ in moves[-2:]])]
        for offset, (rhythm, moves) in enumerate(motif):
            bar = block + offset
            if bar >= piece.bars:
                break
            for (start, length), move in zip(rhythm, moves):
                degree = _nearest_chord_tone(degree, piece.progression[bar]) if start == 0 else degree + move
                degree = 2 * high - degree if degree > high else 2 * low - degree if degree < low else degree
                accent = 8 if start % 4 == 0 else 0
                events.append((bar * BAR_TICKS + start * EIGHTH_TICKS, int(length * EIGHTH_TICKS * 0.92),
                               _scale_note(piece, degree, base), _velocity(rng, center + accent)))
    return events


def _melody_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    return _melody_line(piece, part, rng, center=88)


def _piano_left_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    """Left hand: broken chords up from the bass (variant 3: stride, bass note and chord by turns)."""
    events: list[NoteEvent] = []
    for bar, degree in enumerate(piece.progression):
        root = _root(piece, part, degree)
        bar_tick = bar * BAR_TICKS
        if part.variant == 3:
            chord = _chord_on(piece, degree, root + 12)[:3]
            for beat, notes in enumerate(([root], chord, [root + _interval(piece, degree, 4) - 12], chord)):
                velocity = _velocity(rng, 86 if beat % 2 == 0 else 70, 6)
                events.extend((bar_tick + beat * TICKS_PER_BEAT, TICKS_PER_BEAT - 30, n, velocity) for n in notes)
            continue
        tones = (root, root + _interval(piece, degree, 4), root + 12, root + 12 + _interval(piece, degree, 2))
        shape = ARPEGGIO_SHAPES[part.variant]
        for i in range(8):
            events.append((bar_tick + i * EIGHTH_TICKS, EIGHTH_TICKS - 10, tones[shape[i % len(shape)]],
                           _velocity(rng, 80 if i % 2 == 0 else 68, 6)))
    return events


def _piano_right_events(piece: StyledPiece, part: StyledPart, rng: np.random.Generator) -> list[NoteEvent]:
    """Right hand: the melody over the chord's third and fifth, held on beats one and three."""
    events = _melody_line(piece, part, rng, center=90)
    for bar, degree in enumerate(piece.progression):
        chord = _chord_on(piece, degree, _root(piece, part, degree) - 12)
        for beat in (0, 2):
            velocity = _velocity(rng, 62, 5)
            events.extend((bar * BAR_TICKS + beat * TICKS_PER_BEAT, 2 * TICKS_PER_BEAT - 30, n, velocity)
                          for n in chord[1:3])
    return events


ROLE_EVENTS = {
    "drums": _styled_drum_events, "bass_eighths": _bass_eighths_events, "walking_bass": _walking_bass_events,
    "bass_long": _bass_long_events, "bass_offbeat": _bass_offbeat_events, "tumbao": _tumbao_events,
    "bass_funk": _bass_funk_events, "stabs": _stab_events, "comp": _comp_events, "offbeat": _offbeat_events,
    "pad": _pad_events, "arpeggio": _arpeggio_events, "strum": _strum_events, "power": _power_events,
    "riff16": _riff16_events, "montuno": _montuno_events, "timpani": _timpani_events,
    "melody": _melody_events, "piano_left": _piano_left_events, "piano_right": _piano_right_events,
}


def _swung(tick: int, swing: float) -> int:
    """Move a tick within its beat so off-beat eighths fall ``swing`` of an eighth late."""
    if swing == 0.0:
        return tick
    beat, position = divmod(tick, TICKS_PER_BEAT)
    half = TICKS_PER_BEAT / 2
    late = half * (1 + swing)  # where the off-beat eighth lands
    if position < half:
        moved = position * late / half
    else:
        moved = late + (position - half) * (TICKS_PER_BEAT - late) / half
    return beat * TICKS_PER_BEAT + int(round(moved))


def _without_overlaps(events: list[NoteEvent]) -> list[NoteEvent]:
    """End a note where the same key is struck again on its channel.

    A note-off ends every sounding voice of its key, so an overlap would cut the later note short.
    """
    by_note: dict[int, list[NoteEvent]] = {}
    for event in sorted(events, key=lambda e: (e[2], e[0], -e[3])):
        same = by_note.setdefault(event[2], [])
        if same and same[-1][0] == event[0]:
            continue  # the same key twice at one tick: the louder stays
        if same and same[-1][0] + same[-1][1] > event[0]:
            start, _, note, velocity = same[-1]
            same[-1] = (start, event[0] - start, note, velocity)
        same.append(event)
    return sorted((e for notes in by_note.values() for e in notes if e[1] > 0), key=lambda e: (e[0], e[2]))


def styled_part_events(piece: StyledPiece, part: StyledPart) -> list[NoteEvent]:
    """The notes ``part`` plays in ``piece``: swung, humanized, no key struck while still sounding."""
    rng = np.random.default_rng([piece.seed, piece.part_names.index(part.name)])
    events = ROLE_EVENTS[part.role](piece, part, rng)
    humanize = 0 if part.role == "drums" else HUMANIZE_TICKS
    timed = []
    for start, length, note, velocity in events:
        shift = int(rng.integers(-humanize, humanize + 1)) if humanize else 0
        begin = max(0, _swung(start, piece.swing) + shift)
        end = max(begin + 1, _swung(start + length, piece.swing) + shift)
        timed.append((begin, end - begin, int(np.clip(note, 0, 127)), velocity))
    return _without_overlaps(timed)


def write_styled_midi(piece: StyledPiece, path: Path, parts: tuple[str, ...] | None = None) -> Path:
    """Write ``piece`` as a type-1 MIDI file holding ``parts`` (default: all of them, the mix).

    Raises:
        CorpusError: a part name is not one of the piece's parts.
    """
    names = piece.part_names if parts is None else parts
    unknown = [p for p in names if p not in piece.part_names]
    if unknown:
        raise CorpusError(f"unknown part(s) {unknown} of {piece.name}; allowed: {list(piece.part_names)}")
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(_conductor_track(piece.tempo_bpm))
    for part in piece.parts:
        if part.name in names:
            midi.tracks.append(_events_track(
                part.name, part.channel, part.program, styled_part_events(piece, part),
                controls=((CC_VOLUME, part.level), (CC_REVERB, piece.reverb))))
    midi.save(str(path))
    return path
