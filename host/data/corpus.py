"""An offline audio corpus built from Debian packages, and the loader every other module uses.

``build_corpus`` writes ``DIR/<source>/<id>.flac`` (mono PCM_16 FLAC at 44.1 kHz) from:

- ``speech``  ktuberling-data: spoken words of one language concatenated into 20-30 s clips,
- ``loops``   sonic-pi-samples: the ``loop_*`` samples repeated to at least 15 s,
- ``midi``    seeded MIDI pieces rendered by fluidsynth with FluidR3_GM, one file per stem + mix,
- ``wesnoth`` wesnoth-1.16-music: full game soundtrack mixes (optional, a 150 MB package),
- ``ufoai``   ufoai-music: the UFO: Alien Invasion soundtrack (Ogg files inside a .pk3 zip archive),
- ``singularity`` singularity-music: the Endgame: Singularity soundtrack,
- ``blupi``   planetblupi-music-ogg: the Planet Blupi soundtrack, each track cut where it starts over,
- ``musescore-midi`` seeded pieces in nine styles (rock, jazz, ballad, electronic, orchestral, folk,
  piano, latin, funk) rendered by fluidsynth with MuseScore_General, one file per stem + mix,

and ``DIR/manifest.json`` recording source, kind, split group, license, package, duration_s,
sample_rate and channels per file. ``list_audio_files`` reads such a corpus, or any folder of
WAV/FLAC/OGG files, and ``load_audio`` reads one file as float32 mono at a chosen rate.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import io
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from host.data import midi_music
from host.audio import load_mono, resample, write_audio_atomic
from host.errors import AudioInputError, CorpusError, SourcePackageMissingError
from host.paths import check_output_folder
from model.atomic import write_json_atomic

log = logging.getLogger(__name__)

CORPUS_SAMPLE_RATE = 44100
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT_VERSION = 1
AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg")
OUTPUT_SUBTYPE = "PCM_16"
PEAK_CEILING = 0.98            # output is scaled down when its peak would exceed this
SILENCE_PEAK = 1e-4            # a clip whose peak stays below this is dropped as silent

# Debian install locations (the only absolute paths in eqbridge).
KTUBERLING_SOUNDS_DIR = Path("/usr/share/ktuberling/sounds")
KTUBERLING_COPYRIGHT = Path("/usr/share/doc/ktuberling-data/copyright")
SONIC_PI_SAMPLES_DIR = Path("/usr/share/sonic-pi/samples")
SONIC_PI_COPYRIGHT = Path("/usr/share/doc/sonic-pi-samples/copyright")
WESNOTH_MUSIC_DIR = Path("/usr/share/games/wesnoth/1.16/data/core/music")
WESNOTH_COPYRIGHT = Path("/usr/share/doc/wesnoth-1.16-music/copyright")
UFOAI_MUSIC_ARCHIVE = Path("/usr/share/games/ufoai/base/0music.pk3")
UFOAI_COPYRIGHT = Path("/usr/share/doc/ufoai-music/copyright")
SINGULARITY_MUSIC_DIR = Path("/usr/share/games/singularity/music")
SINGULARITY_COPYRIGHT = Path("/usr/share/doc/singularity-music/copyright")
BLUPI_MUSIC_DIR = Path("/usr/share/planetblupi/music")
BLUPI_COPYRIGHT = Path("/usr/share/doc/planetblupi-music-ogg/copyright")
FLUID_SOUNDFONT_COPYRIGHT = Path("/usr/share/doc/fluid-soundfont-gm/copyright")
MUSESCORE_SOUNDFONT_COPYRIGHT = Path("/usr/share/doc/musescore-general-soundfont/copyright")
# What the sources read: a corpus folder must not be one of these or lie inside one.
SOURCE_INPUTS: tuple[Path, ...] = (KTUBERLING_SOUNDS_DIR, SONIC_PI_SAMPLES_DIR, WESNOTH_MUSIC_DIR, UFOAI_MUSIC_ARCHIVE,
                                   SINGULARITY_MUSIC_DIR, BLUPI_MUSIC_DIR, midi_music.FLUIDR3_SOUNDFONT,
                                   midi_music.MUSESCORE_GENERAL.path)

# Speech clips: words of one language, trimmed, peak-normalized and joined by short gaps.
SPEECH_MIN_NATIVE_RATE = 44100   # 8 and 22.05 kHz words lack the top octaves an EQ acts on
SPEECH_TARGET_CLIP_S = 25.0
SPEECH_MIN_CLIP_S = 8.0
SPEECH_GAP_RANGE_S = (0.25, 0.6)
SPEECH_WORD_PEAK = 0.5
SPEECH_TRIM_DB = -40.0           # word edges quieter than this (relative to its peak) are cut
LOOP_MIN_DURATION_S = 15.0
SOUNDTRACK_MIN_DURATION_S = 15.0  # shorter game music files are jingles or silence
MIDI_PIECE_COUNT = 8
MIDI_PIECE_DURATION_S = 28.0
MIDI_RENDER_GAIN = 0.5
# musescore-midi: 54 pieces of 21-38 s, six per style; with their stems about 2.4 hours.
MUSESCORE_PIECE_COUNT = 54
MUSESCORE_DURATION_RANGE_S = (22.0, 36.0)
MUSESCORE_RENDER_GAIN = 1.0  # mixes peak near -5 dBFS at 0.5; louder stems keep more of the 16 bits
# Finding where a looping track starts over (Planet Blupi's files repeat a 2-3 minute piece for up to
# half an hour): a 10 s probe of the loudness envelope is matched against the rest of the track, and a
# match is confirmed on the waveform itself.
REPEAT_HOP_S = 0.01                # envelope resolution
REPEAT_PROBE_AT_S = 10.0           # the probe starts after a possible intro
REPEAT_PROBE_S = 10.0
REPEAT_MIN_PERIOD_S = 30.0
REPEAT_ENVELOPE_MATCH = 0.97       # normalized correlation of envelopes that makes a candidate
REPEAT_WAVEFORM_MATCH = 0.95       # correlation of waveforms that confirms one
REPEAT_CHECK_S = 5.0               # waveform stretch compared
REPEAT_MAX_CANDIDATES = 50


@dataclass(frozen=True)
class ManifestEntry:
    """One corpus file as recorded in manifest.json."""

    path: str                # relative to the corpus folder, POSIX separators
    source: str              # e.g. "ktuberling-speech"
    kind: str                # "speech" or "music"
    group: str               # recording group: files sharing it must land in the same split
    license: str             # SPDX-like name from the package's copyright file
    copyright: str           # holder line(s) from that file, or "" when it names none
    package: str             # Debian package the material comes from
    duration_s: float
    sample_rate: int
    channels: int            # channels written (always 1)
    source_channels: int     # channels of the material before the mono downmix
    origin: str              # what the clip was made from


@dataclass(frozen=True)
class AudioFile:
    """One audio file found by :func:`list_audio_files`."""

    path: Path               # absolute
    group: str               # split group (corpus group, or parent folder / stem for user folders)
    source: str              # corpus source, or "user"
    kind: str                # "speech", "music" or "unknown"
    duration_s: float
    sample_rate: int
    channels: int
    license: str | None      # None for user folders


@dataclass(frozen=True)
class RawClip:
    """Audio as a source produced it, before the mono downmix and the 44.1 kHz resample."""

    audio: np.ndarray        # (samples, channels) float32
    sample_rate: int
    source_channels: int     # channels of the original material


@dataclass(frozen=True)
class ClipPlan:
    """A file to write: its metadata, and a function producing its audio."""

    rel_path: str
    group: str
    license: str
    copyright: str
    package: str
    origin: str
    render: Callable[[], RawClip] = field(compare=False, repr=False)


@dataclass(frozen=True)
class CorpusSource:
    """A registered source: where it comes from and how it plans its clips."""

    name: str                          # CLI name: speech, loops, midi, wesnoth
    source_id: str                     # manifest "source" and output sub-folder
    kind: str                          # "speech" or "music"
    packages: tuple[str, ...]          # Debian packages it needs
    missing_packages: Callable[[], list[str]]
    plan: Callable[[int], list[ClipPlan]]


@dataclass(frozen=True)
class CorpusBuildReport:
    """What :func:`build_corpus` did."""

    manifest_path: Path
    written: int                     # files rendered this run
    skipped_existing: int            # files already present from an earlier run
    skipped_sources: tuple[str, ...]  # requested sources that were unavailable
    total_duration_s: float           # over every file in the manifest


# ----------------------------------------------------------------------------- licenses


@dataclass(frozen=True)
class LicenseInfo:
    license: str
    copyright: str


def _dep5_paragraphs(text: str) -> list[dict[str, str]]:
    paragraphs: list[dict[str, str]] = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip()
                fields[key] = value.strip()
        if "Files" in fields:
            paragraphs.append(fields)
    return paragraphs


def _pattern_matches(pattern: str, file_name: str) -> bool:
    if fnmatch.fnmatchcase(file_name, pattern):
        return True
    tail = pattern.rsplit("/", 1)[-1]
    return not any(c in tail for c in "*?[") and tail == file_name


def package_license(copyright_path: Path, file_name: str, fallback: LicenseInfo) -> LicenseInfo:
    """License of ``file_name`` per a machine-readable (DEP-5) Debian copyright file.

    The last ``Files:`` paragraph whose pattern matches the file's name wins, as DEP-5 says.
    A file that is missing or not machine-readable gives ``fallback``.
    """
    try:
        text = copyright_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        log.warning("cannot read %s; recording license %s", copyright_path, fallback.license)
        return fallback
    found = fallback
    for paragraph in _dep5_paragraphs(text):
        patterns = paragraph["Files"].split()
        if any(_pattern_matches(p, file_name) for p in patterns) and paragraph.get("License"):
            holder = " ".join(paragraph.get("Copyright", "").split())
            found = LicenseInfo(paragraph["License"].splitlines()[0].strip(), holder)
    return found


# ----------------------------------------------------------------------------- audio helpers


def _downmix(audio: np.ndarray) -> np.ndarray:
    return audio.mean(axis=1, dtype=np.float32) if audio.ndim == 2 else audio.astype(np.float32)


def _trim(audio: np.ndarray, sample_rate: int, threshold_db: float, pad_s: float = 0.02) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0.0:
        return audio[:0]
    loud = np.flatnonzero(np.abs(audio) >= peak * 10 ** (threshold_db / 20))
    pad = int(pad_s * sample_rate)
    return audio[max(0, loud[0] - pad): loud[-1] + pad + 1]


def _stable_seed(*parts: object) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode("utf-8"))


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def _read_native(path: Path) -> tuple[np.ndarray, int]:
    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioInputError(f"cannot read audio file {path}: {exc}") from exc
    return audio, int(rate)


# ----------------------------------------------------------------------------- speech


@dataclass(frozen=True)
class SpeechWord:
    path: Path
    duration_s: float
    channels: int


def _speech_words(language_dir: Path, seen: set[str]) -> list[SpeechWord]:
    words = []
    for path in sorted(p for p in language_dir.iterdir() if p.is_file()):
        try:
            info = sf.info(path)
        except (sf.LibsndfileError, RuntimeError) as exc:
            log.debug("skipping unreadable word %s: %s", path, exc)
            continue
        if info.samplerate < SPEECH_MIN_NATIVE_RATE or info.frames == 0:
            continue
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if digest in seen:  # e.g. the sr@latin folders repeat the sr recordings
            continue
        seen.add(digest)
        words.append(SpeechWord(path, info.frames / info.samplerate, info.channels))
    return words


def _pack_words(words: list[SpeechWord], rng: np.random.Generator) -> list[list[SpeechWord]]:
    order = [words[i] for i in rng.permutation(len(words))]
    mean_gap_s = sum(SPEECH_GAP_RANGE_S) / 2
    chunks: list[list[SpeechWord]] = [[]]
    length_s = 0.0
    for word in order:
        if length_s >= SPEECH_TARGET_CLIP_S:
            chunks.append([])
            length_s = 0.0
        chunks[-1].append(word)
        length_s += word.duration_s + mean_gap_s
    if len(chunks) > 1 and length_s < SPEECH_MIN_CLIP_S:
        chunks[-2].extend(chunks.pop())
    if sum(w.duration_s + mean_gap_s for w in chunks[-1]) < SPEECH_MIN_CLIP_S:
        chunks.pop()
    return chunks


def _render_speech(words: tuple[SpeechWord, ...], gaps_s: tuple[float, ...]) -> RawClip:
    pieces: list[np.ndarray] = []
    for word, gap_s in zip(words, gaps_s):
        audio, rate = _read_native(word.path)
        mono = resample(_downmix(audio), rate, CORPUS_SAMPLE_RATE)
        mono = _trim(mono, CORPUS_SAMPLE_RATE, SPEECH_TRIM_DB)
        if mono.size == 0:
            continue
        pieces.append(mono * (SPEECH_WORD_PEAK / float(np.max(np.abs(mono)))))
        pieces.append(np.zeros(int(gap_s * CORPUS_SAMPLE_RATE), dtype=np.float32))
    return RawClip(np.concatenate(pieces)[:, None], CORPUS_SAMPLE_RATE,
                   max(w.channels for w in words))


def _plan_speech(seed: int) -> list[ClipPlan]:
    info = package_license(KTUBERLING_COPYRIGHT, "sounds/x.ogg", LicenseInfo("GPL-2+", ""))
    seen: set[str] = set()
    plans = []
    for language_dir in sorted(p for p in KTUBERLING_SOUNDS_DIR.iterdir() if p.is_dir()):
        language = language_dir.name
        words = _speech_words(language_dir, seen)
        if not words:
            continue
        rng = np.random.default_rng(_stable_seed(seed, "speech", language))
        for index, chunk in enumerate(_pack_words(words, rng)):
            gaps_s = tuple(float(g) for g in rng.uniform(*SPEECH_GAP_RANGE_S, size=len(chunk)))
            plans.append(ClipPlan(
                rel_path=f"ktuberling-speech/{_safe_id(language)}_{index:03d}.flac",
                group=f"ktuberling-speech:{language}",
                license=info.license, copyright=info.copyright, package="ktuberling-data",
                origin=f"{len(chunk)} words from {language_dir}",
                render=lambda c=tuple(chunk), g=gaps_s: _render_speech(c, g)))
    return plans


# ----------------------------------------------------------------------------- loops and mixes


def _render_looped(path: Path, min_duration_s: float) -> RawClip:
    audio, rate = _read_native(path)
    repeats = max(1, int(np.ceil(min_duration_s * rate / audio.shape[0])))
    return RawClip(np.tile(audio, (repeats, 1)), rate, audio.shape[1])


def _plan_loops(seed: int) -> list[ClipPlan]:
    del seed  # every loop is used, in name order
    plans = []
    for path in sorted(SONIC_PI_SAMPLES_DIR.glob("loop_*.flac")):
        info = package_license(SONIC_PI_COPYRIGHT, path.name, LicenseInfo("MIT", ""))
        plans.append(ClipPlan(
            rel_path=f"sonic-pi-loops/{_safe_id(path.stem)}.flac",
            group=f"sonic-pi-loops:{path.stem}",
            license=info.license, copyright=info.copyright, package="sonic-pi-samples",
            origin=f"{path} repeated to at least {LOOP_MIN_DURATION_S:g} s",
            render=lambda p=path: _render_looped(p, LOOP_MIN_DURATION_S)))
    return plans


@dataclass(frozen=True)
class SoundtrackTrack:
    """One finished piece of game music."""

    stem: str                # its id within the source: path below the music folder, no suffix
    origin: str              # the file, or archive:member
    license_name: str        # its path as the package's copyright file names it
    duration_s: float
    read: Callable[[], tuple[np.ndarray, int]] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Soundtrack:
    """A Debian package of game music: every track of at least 15 s becomes one corpus file."""

    source_id: str
    package: str
    copyright_path: Path
    fallback: LicenseInfo            # when the copyright file is not machine-readable
    tracks: Callable[[], list[SoundtrackTrack]]
    trim_repeats: bool = False       # cut each track where it starts over (see find_repeat_start)


def _folder_tracks(folder: Path, license_prefix: str, recursive: bool = True) -> list[SoundtrackTrack]:
    tracks = []
    for path in sorted(folder.rglob("*.ogg") if recursive else folder.glob("*.ogg")):
        try:
            duration_s = sf.info(path).duration
        except (sf.LibsndfileError, RuntimeError) as exc:
            log.warning("skipping unreadable %s: %s", path, exc)
            continue
        rel = path.relative_to(folder).with_suffix("").as_posix()
        tracks.append(SoundtrackTrack(rel, str(path), license_prefix + path.relative_to(folder).as_posix(),
                                      duration_s, read=lambda p=path: _read_native(p)))
    return tracks


def _read_archive_member(archive: Path, member: str) -> tuple[np.ndarray, int]:
    try:
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(member)
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (OSError, KeyError, zipfile.BadZipFile, sf.LibsndfileError, RuntimeError) as exc:
        raise AudioInputError(f"cannot read {member} from {archive}: {exc}") from exc
    return audio, int(rate)


def _archive_tracks(archive: Path, member_dir: str, license_prefix: str) -> list[SoundtrackTrack]:
    """The .ogg members of a zip archive (a game's .pk3) below ``member_dir``."""
    tracks = []
    try:
        with zipfile.ZipFile(archive) as zf:
            members = sorted(n for n in zf.namelist() if n.startswith(member_dir) and n.endswith(".ogg"))
            for member in members:
                try:
                    duration_s = sf.info(io.BytesIO(zf.read(member))).duration
                except (sf.LibsndfileError, RuntimeError) as exc:
                    log.warning("skipping unreadable %s in %s: %s", member, archive, exc)
                    continue
                tracks.append(SoundtrackTrack(
                    member[len(member_dir):-len(".ogg")], f"{archive}:{member}", license_prefix + member,
                    duration_s, read=lambda m=member: _read_archive_member(archive, m)))
    except (OSError, zipfile.BadZipFile) as exc:
        raise CorpusError(f"cannot open the music archive {archive}: {exc}; reinstall its Debian package") from exc
    return tracks


def _normalized_match(signal: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Pearson correlation of ``probe`` with every window of ``signal`` of its length."""
    probe = probe - probe.mean()
    probe_norm = float(np.linalg.norm(probe))
    n = probe.size
    if probe_norm == 0.0 or signal.size < n:
        return np.zeros(max(0, signal.size - n + 1))
    from scipy.signal import fftconvolve  # a second to import: only when a soundtrack's repeats are looked for

    dots = fftconvolve(signal, probe[::-1], mode="valid")  # zero-mean probe: the window mean drops out
    sums = np.concatenate(([0.0], np.cumsum(signal)))
    squares = np.concatenate(([0.0], np.cumsum(signal * signal)))
    window_sum = sums[n:] - sums[:-n]
    spread = (squares[n:] - squares[:-n]) - window_sum * window_sum / n
    with np.errstate(divide="ignore", invalid="ignore"):
        match = dots / (probe_norm * np.sqrt(spread))
    return np.where(spread > 1e-9 * n, match, 0.0)


def _waveform_match(mono: np.ndarray, start: int, lag: int, slack: int, length: int) -> tuple[float, int]:
    """Best correlation of mono[start:start + length] with itself ``lag`` +- ``slack`` samples later,
    and that lag."""
    probe = mono[start:start + length].astype(np.float64)
    window = mono[start + lag - slack:start + lag + slack + length].astype(np.float64)
    if probe.size < length or window.size < length:
        return 0.0, lag
    match = _normalized_match(window, probe)
    best = int(np.argmax(match))
    return float(match[best]), lag - slack + best


def find_repeat_start(mono: np.ndarray, rate: int) -> int | None:
    """The sample where a looping track starts over (None: it does not within its length).

    The first stretch whose loudness envelope matches the probe's, and whose waveform then
    correlates above REPEAT_WAVEFORM_MATCH, marks the period. The cut keeps the intro and one pass.
    """
    hop, check = int(rate * REPEAT_HOP_S), int(rate * REPEAT_CHECK_S)
    frames = mono.size // hop
    probe_at, probe_len = round(REPEAT_PROBE_AT_S / REPEAT_HOP_S), round(REPEAT_PROBE_S / REPEAT_HOP_S)
    min_lag = round(REPEAT_MIN_PERIOD_S / REPEAT_HOP_S)
    if frames < probe_at + min_lag + probe_len:
        return None
    blocks = mono[:frames * hop].reshape(frames, hop)
    envelope = np.sqrt(np.einsum("ij,ij->i", blocks, blocks, dtype=np.float64) / hop)
    match = _normalized_match(envelope[probe_at + min_lag:], envelope[probe_at:probe_at + probe_len])
    candidates = np.flatnonzero(match > REPEAT_ENVELOPE_MATCH)
    # One candidate per run of neighbouring frames: its best-matching frame.
    runs = np.split(candidates, np.flatnonzero(np.diff(candidates) > 1) + 1) if candidates.size else []
    for run in runs[:REPEAT_MAX_CANDIDATES]:
        lag_frames = min_lag + int(run[np.argmax(match[run])])
        score, lag = _waveform_match(mono, probe_at * hop, lag_frames * hop, hop, check)
        if score >= REPEAT_WAVEFORM_MATCH:
            from_start, _ = _waveform_match(mono, hop, lag, hop, check)  # does the loop start at once?
            return lag if from_start >= REPEAT_WAVEFORM_MATCH else probe_at * hop + lag
    return None


def _render_track(track: SoundtrackTrack, trim_repeats: bool) -> RawClip:
    audio, rate = track.read()
    channels = audio.shape[1]
    if not trim_repeats:
        return RawClip(audio, rate, channels)
    mono = _downmix(audio)
    del audio  # half an hour of stereo is 600 MB
    cut = find_repeat_start(mono, rate)
    if cut is not None:
        log.info("%s starts over after %.1f s of %.1f s; keeping the first pass", track.origin,
                 cut / rate, mono.size / rate)
        mono = mono[:cut]
    return RawClip(mono[:, None], rate, channels)


def _plan_soundtrack(soundtrack: Soundtrack) -> list[ClipPlan]:
    plans = []
    for track in soundtrack.tracks():
        if track.duration_s < SOUNDTRACK_MIN_DURATION_S:  # jingles and silence
            continue
        info = package_license(soundtrack.copyright_path, track.license_name, soundtrack.fallback)
        origin = track.origin + (", up to where it starts over" if soundtrack.trim_repeats else "")
        plans.append(ClipPlan(
            rel_path=f"{soundtrack.source_id}/{_safe_id(track.stem)}.flac",
            group=f"{soundtrack.source_id}:{track.stem}",
            license=info.license, copyright=info.copyright, package=soundtrack.package,
            origin=origin, render=lambda t=track: _render_track(t, soundtrack.trim_repeats)))
    return plans


# The fallbacks are what each copyright file says in prose (only ufoai's and blupi's are DEP-5).
WESNOTH = Soundtrack(
    "wesnoth-music", "wesnoth-1.16-music", WESNOTH_COPYRIGHT,
    LicenseInfo("GPL-2+", "2003-2009 David White and the Wesnoth contributors"),
    lambda: _folder_tracks(WESNOTH_MUSIC_DIR, "data/core/music/", recursive=False))
UFOAI = Soundtrack(
    "ufoai-music", "ufoai-music", UFOAI_COPYRIGHT, LicenseInfo("GPL-2+", "2002-2014, The UFO:AI Team"),
    lambda: _archive_tracks(UFOAI_MUSIC_ARCHIVE, "music/", "base/"))
SINGULARITY = Soundtrack(
    "singularity-music", "singularity-music", SINGULARITY_COPYRIGHT,
    LicenseInfo("CC-BY-SA-3.0", "2007-2008, 2012 Max McCracken"),
    lambda: _folder_tracks(SINGULARITY_MUSIC_DIR, "music/"))
BLUPI = Soundtrack(
    "planetblupi-music", "planetblupi-music-ogg", BLUPI_COPYRIGHT,
    LicenseInfo("GPL-3+", "2017,2018, Mathieu Schroeter 1997, Daniel Roux, EPSITEC SA & Denis Dumoulin"),
    lambda: _folder_tracks(BLUPI_MUSIC_DIR, "music/"), trim_repeats=True)


def _soundtrack_plan(soundtrack: Soundtrack) -> Callable[[int], list[ClipPlan]]:
    return lambda seed: _plan_soundtrack(soundtrack)  # a recording does not depend on the seed


# ----------------------------------------------------------------------------- MIDI


def _render_piece(spec: midi_music.PieceSpec, parts: tuple[str, ...]) -> RawClip:
    with tempfile.TemporaryDirectory(prefix="eqbridge-midi-") as tmp:
        midi_path = midi_music.write_midi(spec, Path(tmp) / "piece.mid", parts)
        audio, rate = midi_music.render_midi(midi_path, Path(tmp) / "piece.wav",
                                             CORPUS_SAMPLE_RATE, gain=MIDI_RENDER_GAIN)
    return RawClip(audio, rate, audio.shape[1])


def _plan_midi(seed: int) -> list[ClipPlan]:
    # fluid-soundfont-gm's copyright file is not machine-readable: it states MIT for FluidR3_GM.
    info = package_license(FLUID_SOUNDFONT_COPYRIGHT, "FluidR3_GM.sf2", LicenseInfo(
        midi_music.SOUNDFONT_LICENSE,
        "FluidR3_GM soundfont 2000-2002, 2008 Frank Wen; notes generated by eqbridge"))
    plans = []
    for index in range(MIDI_PIECE_COUNT):
        spec = midi_music.random_piece(index, seed, MIDI_PIECE_DURATION_S)
        for stem in ("mix",) + midi_music.PARTS:
            parts = midi_music.PARTS if stem == "mix" else (stem,)
            plans.append(ClipPlan(
                rel_path=f"fluidsynth-midi/{spec.name}_{stem}.flac",
                group=f"fluidsynth-midi:{spec.name}",
                license=info.license, copyright=info.copyright,
                package=midi_music.SOUNDFONT_PACKAGE,
                origin=(f"seed {seed} {spec.name}: {spec.tempo_bpm:g} bpm, "
                        f"{'minor' if spec.minor else 'major'} tonic {spec.tonic_midi}, "
                        f"{spec.drum_style} drums, programs bass {spec.bass_program} "
                        f"keys {spec.keys_program} strings {spec.strings_program}; "
                        f"parts {','.join(parts)}"),
                render=lambda s=spec, p=parts: _render_piece(s, p)))
    return plans


def _render_styled_piece(piece: midi_music.StyledPiece, parts: tuple[str, ...]) -> RawClip:
    with tempfile.TemporaryDirectory(prefix="eqbridge-midi-") as tmp:
        midi_path = midi_music.write_styled_midi(piece, Path(tmp) / "piece.mid", parts)
        audio, rate = midi_music.render_midi(midi_path, Path(tmp) / "piece.wav", CORPUS_SAMPLE_RATE,
                                             gain=MUSESCORE_RENDER_GAIN,
                                             soundfont=midi_music.MUSESCORE_GENERAL)
    return RawClip(audio, rate, audio.shape[1])


def _styled_origin(seed: int, piece: midi_music.StyledPiece, parts: tuple[str, ...]) -> str:
    instruments = ", ".join(f"{p.name} {p.role} program {p.program}" for p in piece.parts if p.name in parts)
    return (f"seed {seed} {piece.name}: {piece.style}, {piece.tempo_bpm:g} bpm, "
            f"{'minor' if piece.minor else 'major'} tonic {piece.tonic_midi}, "
            f"{'seventh chords' if piece.sevenths else 'triads'}, groove {piece.groove}; {instruments}")


def _plan_musescore_midi(seed: int) -> list[ClipPlan]:
    # The soundfont's copyright file is prose: MuseScore_General is MIT (parts public domain or CC0).
    info = package_license(MUSESCORE_SOUNDFONT_COPYRIGHT, midi_music.MUSESCORE_GENERAL.path.name, LicenseInfo(
        midi_music.MUSESCORE_GENERAL.license,
        "MuseScore_General soundfont 2018-2021 S. Christian Collins, Fluid (R3) 2000-2002, 2008 Frank Wen, "
        "mono version 2014-2017 Michael Cowgill; notes generated by eqbridge"))
    plans = []
    for index in range(MUSESCORE_PIECE_COUNT):
        piece = midi_music.random_styled_piece(index, seed, MUSESCORE_DURATION_RANGE_S)
        for stem in ("mix",) + piece.part_names:
            parts = piece.part_names if stem == "mix" else (stem,)
            plans.append(ClipPlan(
                rel_path=f"musescore-midi/{piece.name}_{stem}.flac",
                group=f"musescore-midi:{piece.name}",
                license=info.license, copyright=info.copyright,
                package=midi_music.MUSESCORE_GENERAL.package,
                origin=_styled_origin(seed, piece, parts),
                render=lambda p=piece, s=parts: _render_styled_piece(p, s)))
    return plans


def _missing_if_absent(path: Path, package: str) -> Callable[[], list[str]]:
    return lambda: [] if path.is_dir() and any(path.iterdir()) else [package]


def _missing_unless_file(path: Path, package: str) -> Callable[[], list[str]]:
    return lambda: [] if path.is_file() else [package]


SOURCES: dict[str, CorpusSource] = {
    "speech": CorpusSource("speech", "ktuberling-speech", "speech", ("ktuberling-data",),
                           _missing_if_absent(KTUBERLING_SOUNDS_DIR, "ktuberling-data"),
                           _plan_speech),
    "loops": CorpusSource("loops", "sonic-pi-loops", "music", ("sonic-pi-samples",),
                          _missing_if_absent(SONIC_PI_SAMPLES_DIR, "sonic-pi-samples"),
                          _plan_loops),
    "midi": CorpusSource("midi", "fluidsynth-midi", "music",
                         (midi_music.FLUIDSYNTH_PACKAGE, midi_music.SOUNDFONT_PACKAGE),
                         midi_music.missing_render_packages, _plan_midi),
    "wesnoth": CorpusSource("wesnoth", "wesnoth-music", "music", ("wesnoth-1.16-music",),
                            _missing_if_absent(WESNOTH_MUSIC_DIR, "wesnoth-1.16-music"),
                            _soundtrack_plan(WESNOTH)),
    "ufoai": CorpusSource("ufoai", "ufoai-music", "music", ("ufoai-music",),
                          _missing_unless_file(UFOAI_MUSIC_ARCHIVE, "ufoai-music"), _soundtrack_plan(UFOAI)),
    "singularity": CorpusSource("singularity", "singularity-music", "music", ("singularity-music",),
                                _missing_if_absent(SINGULARITY_MUSIC_DIR, "singularity-music"),
                                _soundtrack_plan(SINGULARITY)),
    "blupi": CorpusSource("blupi", "planetblupi-music", "music", ("planetblupi-music-ogg",),
                          _missing_if_absent(BLUPI_MUSIC_DIR, "planetblupi-music-ogg"), _soundtrack_plan(BLUPI)),
    "musescore-midi": CorpusSource(
        "musescore-midi", "musescore-midi", "music",
        (midi_music.FLUIDSYNTH_PACKAGE, midi_music.MUSESCORE_GENERAL.package),
        lambda: midi_music.missing_render_packages(midi_music.MUSESCORE_GENERAL), _plan_musescore_midi),
}
# The default stays the original, smaller set; `--sources all` adds the other game soundtracks and
# musescore-midi (a full build took 18 minutes on one core, 11 of them rendering musescore-midi).
DEFAULT_SOURCES: tuple[str, ...] = ("speech", "loops", "midi", "wesnoth")
ALL_SOURCES = "all"  # a --sources name standing for every registered source


def resolve_source_names(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` with ``all`` replaced by every registered source, in registry order, no repeats."""
    resolved: list[str] = []
    for name in names:
        resolved.extend(SOURCES if name == ALL_SOURCES else (name,))
    return tuple(dict.fromkeys(resolved))


# ----------------------------------------------------------------------------- build


def _finish_clip(audio: np.ndarray, rate: int) -> np.ndarray:
    mono = resample(_downmix(audio), rate, CORPUS_SAMPLE_RATE)
    loud = np.flatnonzero(np.abs(mono) >= SILENCE_PEAK)
    mono = mono[: loud[-1] + 1] if loud.size else mono[:0]  # drop a silent render tail
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if peak > PEAK_CEILING:
        mono = mono * (PEAK_CEILING / peak)
    return mono


def _load_previous(manifest_path: Path, seed: int) -> dict[str, ManifestEntry]:
    if not manifest_path.is_file():
        return {}
    try:
        payload = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = {e["path"]: ManifestEntry(**e) for e in payload["files"]}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CorpusError(f"{manifest_path} is not a corpus manifest ({exc}); "
                          "use an empty --out folder") from exc
    if payload.get("seed") != seed:
        raise CorpusError(f"the corpus in {manifest_path.parent} was built with --seed "
                          f"{payload.get('seed')}, not {seed}; rerun with that seed to resume, "
                          "or choose a new --out folder")
    return entries


def _select_sources(names: Iterable[str]) -> tuple[list[CorpusSource], list[str]]:
    names = list(resolve_source_names(names))
    unknown = [n for n in names if n not in SOURCES]
    if unknown or not names:
        raise CorpusError(f"unknown corpus source(s) {unknown or names}; allowed: "
                          f"{sorted(SOURCES)} or {ALL_SOURCES!r}")
    available, skipped, missing_all = [], [], []
    for name in names:
        missing = SOURCES[name].missing_packages()
        if missing:
            log.warning("skipping source %r: install the Debian package(s) %s "
                        "(apt-get install -y %s)", name, ", ".join(missing), " ".join(missing))
            skipped.append(name)
            missing_all.extend(missing)
        else:
            available.append(SOURCES[name])
    if not available:
        raise SourcePackageMissingError(
            f"none of the corpus sources {names} is available; install the Debian package(s): "
            f"apt-get install -y {' '.join(dict.fromkeys(missing_all))}")
    return available, skipped


def build_corpus(out_dir: Path, sources: Iterable[str] = DEFAULT_SOURCES,
                 max_files: int | None = None, seed: int = 0,
                 progress: bool = True) -> CorpusBuildReport:
    """Build (or resume) a corpus in ``out_dir``; returns what was done.

    Args:
        out_dir: corpus folder; created if needed. Files already listed in its manifest are kept.
        sources: names from :data:`SOURCES` (speech, loops, midi, wesnoth, ufoai, singularity, blupi,
            musescore-midi), or ``all``. An unavailable one is skipped with a warning naming the
            Debian package to install.
        max_files: at most this many files per source (None: all). The plan does not depend on
            it, so a later run with a larger value extends the same corpus.
        seed: seeds word order, gaps and MIDI pieces; a folder keeps the seed it was built with.
        progress: show a tqdm bar over files.

    Raises:
        SourcePackageMissingError: no requested source is available.
        CorpusError: bad arguments, a manifest from another seed, or a source that failed.
        OptionError: out_dir is a file, is or lies inside a folder the sources read, or cannot be written.
    """
    if max_files is not None and max_files < 1:
        raise CorpusError(f"--max-files must be at least 1, got {max_files}")
    out_dir = Path(out_dir)
    inputs = {f"(read by a corpus source) {p.name}": p for p in SOURCE_INPUTS}
    check_output_folder("--out", out_dir, inputs, files=(MANIFEST_NAME,), searched=tuple(inputs))
    manifest_path = out_dir / MANIFEST_NAME
    previous = _load_previous(manifest_path, seed)
    selected, skipped_sources = _select_sources(sources)
    out_dir.mkdir(parents=True, exist_ok=True)

    planned: list[tuple[CorpusSource, ClipPlan]] = []
    for source in selected:
        plans = source.plan(seed)[:max_files]
        if not plans:
            log.warning("source %r found no usable material; skipping it", source.name)
        planned.extend((source, plan) for plan in plans)

    # Keep files from other sources or earlier, larger runs, as long as they are still on disk.
    entries = {path: e for path, e in previous.items() if (out_dir / path).is_file()}
    written = reused = 0
    bar = tqdm(planned, desc="corpus", unit="file", disable=not progress)
    for source, plan in bar:
        bar.set_postfix_str(plan.rel_path, refresh=False)
        if plan.rel_path in previous and (out_dir / plan.rel_path).is_file():
            reused += 1
            continue
        raw = plan.render()
        mono = _finish_clip(raw.audio, raw.sample_rate)
        if mono.size == 0 or float(np.max(np.abs(mono))) < SILENCE_PEAK:
            log.warning("dropping %s: the rendered audio is silent", plan.rel_path)
            continue
        write_audio_atomic(out_dir / plan.rel_path, mono, CORPUS_SAMPLE_RATE, subtype=OUTPUT_SUBTYPE, format="FLAC")
        entries[plan.rel_path] = ManifestEntry(
            path=plan.rel_path, source=source.source_id, kind=source.kind, group=plan.group,
            license=plan.license, copyright=plan.copyright, package=plan.package,
            duration_s=round(mono.shape[0] / CORPUS_SAMPLE_RATE, 6),
            sample_rate=CORPUS_SAMPLE_RATE, channels=1, source_channels=raw.source_channels,
            origin=plan.origin)
        written += 1
        _write_manifest(manifest_path, entries, seed)
    _write_manifest(manifest_path, entries, seed)
    total_s = sum(e.duration_s for e in entries.values())
    log.info("corpus %s: %d files written, %d already present, %.1f min in total",
             out_dir, written, reused, total_s / 60)
    return CorpusBuildReport(manifest_path, written, reused, tuple(skipped_sources), total_s)


def _write_manifest(path: Path, entries: dict[str, ManifestEntry], seed: int) -> None:
    payload = {
        "format_version": MANIFEST_FORMAT_VERSION,
        "seed": seed,
        "sample_rate": CORPUS_SAMPLE_RATE,
        "files": [asdict(e) for e in entries.values()],
    }
    write_json_atomic(path, payload)


# ----------------------------------------------------------------------------- loading


def read_manifest(folder: Path) -> list[ManifestEntry]:
    """Entries of ``folder/manifest.json``.

    Raises:
        AudioInputError: the manifest is missing, malformed, or lists a file that is absent.
    """
    path = Path(folder) / MANIFEST_NAME
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        entries = [ManifestEntry(**e) for e in payload["files"]]
    except OSError as exc:
        raise AudioInputError(f"cannot read corpus manifest {path}: {exc}") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise AudioInputError(f"{path} is not a valid corpus manifest: {exc}") from exc
    absent = [e.path for e in entries if not (Path(folder) / e.path).is_file()]
    if absent:
        raise AudioInputError(f"corpus {folder} lists {len(absent)} missing file(s), e.g. "
                              f"{absent[0]}; rerun `eqbridge corpus build --out {folder}`")
    return entries


def _scan_user_folder(root: Path) -> list[AudioFile]:
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        try:
            info = sf.info(path)
        except (sf.LibsndfileError, RuntimeError) as exc:
            log.warning("skipping unreadable audio file %s: %s", path, exc)
            continue
        if info.frames == 0:
            log.warning("skipping empty audio file %s", path)
            continue
        parent = path.parent.relative_to(root).as_posix()
        files.append(AudioFile(
            path=path.resolve(), group=path.stem if parent == "." else parent, source="user",
            kind="unknown", duration_s=info.frames / info.samplerate,
            sample_rate=int(info.samplerate), channels=int(info.channels), license=None))
    return files


def list_audio_files(folder: Path | str) -> list[AudioFile]:
    """The audio files of a corpus folder (with manifest.json) or of any folder of WAV/FLAC/OGG.

    A plain folder is searched recursively; a file's group is its parent folder relative to
    ``folder`` (so one recording session per sub-folder stays in one split), or its stem when it
    lies directly in ``folder``.

    Raises:
        AudioInputError: the folder is missing, or holds no readable audio file.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise AudioInputError(f"audio folder {root} does not exist or is not a folder")
    if (root / MANIFEST_NAME).is_file():
        files = [AudioFile(
            path=(root / e.path).resolve(), group=e.group, source=e.source, kind=e.kind,
            duration_s=e.duration_s, sample_rate=e.sample_rate, channels=e.channels,
            license=e.license) for e in read_manifest(root)]
    else:
        files = _scan_user_folder(root)
    if not files:
        raise AudioInputError(f"no readable audio in {root}: expected a corpus manifest.json or "
                              f"{'/'.join(s[1:].upper() for s in AUDIO_SUFFIXES)} files "
                              "(searched recursively)")
    return files


def load_audio(path: Path | str, sample_rate: int) -> np.ndarray:
    """Read an audio file as float32 mono of shape (samples,) at ``sample_rate`` Hz.

    Channels are averaged; a file at another rate is resampled with soxr (HQ).

    Raises:
        AudioInputError: the file is missing, unreadable, empty, or holds NaN/inf samples.
        OptionError: ``sample_rate`` is not positive.
    """
    return load_mono(path, sample_rate)
