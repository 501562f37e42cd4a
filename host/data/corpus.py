"""An offline audio corpus built from Debian packages, and the loader every other module uses.

``build_corpus`` writes ``DIR/<source>/<id>.flac`` (mono PCM_16 FLAC at 44.1 kHz) from:

- ``speech``  ktuberling-data: spoken words of one language concatenated into 20-30 s clips,
- ``loops``   sonic-pi-samples: the ``loop_*`` samples repeated to at least 15 s,
- ``midi``    seeded MIDI pieces rendered by fluidsynth with FluidR3_GM, one file per stem + mix,
- ``wesnoth`` wesnoth-1.16-music: full game soundtrack mixes (optional, a 150 MB package),

and ``DIR/manifest.json`` recording source, kind, split group, license, package, duration_s,
sample_rate and channels per file. ``list_audio_files`` reads such a corpus, or any folder of
WAV/FLAC/OGG files, and ``load_audio`` reads one file as float32 mono at a chosen rate.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import re
import tempfile
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
FLUID_SOUNDFONT_COPYRIGHT = Path("/usr/share/doc/fluid-soundfont-gm/copyright")

# Speech clips: words of one language, trimmed, peak-normalized and joined by short gaps.
SPEECH_MIN_NATIVE_RATE = 44100   # 8 and 22.05 kHz words lack the top octaves an EQ acts on
SPEECH_TARGET_CLIP_S = 25.0
SPEECH_MIN_CLIP_S = 8.0
SPEECH_GAP_RANGE_S = (0.25, 0.6)
SPEECH_WORD_PEAK = 0.5
SPEECH_TRIM_DB = -40.0           # word edges quieter than this (relative to its peak) are cut
LOOP_MIN_DURATION_S = 15.0
WESNOTH_MIN_DURATION_S = 15.0
MIDI_PIECE_COUNT = 8
MIDI_PIECE_DURATION_S = 28.0
MIDI_RENDER_GAIN = 0.5


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


def _render_file(path: Path) -> RawClip:
    audio, rate = _read_native(path)
    return RawClip(audio, rate, audio.shape[1])


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


def _plan_wesnoth(seed: int) -> list[ClipPlan]:
    del seed
    # The package's copyright file is not machine-readable; its music is GPL-2 "or any later".
    info = package_license(WESNOTH_COPYRIGHT, "data/core/music/x.ogg",
                           LicenseInfo("GPL-2+", "2003-2009 David White and the Wesnoth contributors"))
    plans = []
    for path in sorted(WESNOTH_MUSIC_DIR.glob("*.ogg")):
        try:
            duration_s = sf.info(path).duration
        except (sf.LibsndfileError, RuntimeError) as exc:
            log.warning("skipping unreadable %s: %s", path, exc)
            continue
        if duration_s < WESNOTH_MIN_DURATION_S:  # jingles and silence.ogg
            continue
        plans.append(ClipPlan(
            rel_path=f"wesnoth-music/{_safe_id(path.stem)}.flac",
            group=f"wesnoth-music:{path.stem}",
            license=info.license, copyright=info.copyright, package="wesnoth-1.16-music",
            origin=str(path), render=lambda p=path: _render_file(p)))
    return plans


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


def _missing_if_absent(path: Path, package: str) -> Callable[[], list[str]]:
    return lambda: [] if path.is_dir() and any(path.iterdir()) else [package]


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
                            _plan_wesnoth),
}
DEFAULT_SOURCES: tuple[str, ...] = ("speech", "loops", "midi", "wesnoth")


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
    names = list(names)
    unknown = [n for n in names if n not in SOURCES]
    if unknown or not names:
        raise CorpusError(f"unknown corpus source(s) {unknown or names}; allowed: {sorted(SOURCES)}")
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
        sources: names from :data:`SOURCES` (speech, loops, midi, wesnoth). An unavailable one is
            skipped with a warning naming the Debian package to install.
        max_files: at most this many files per source (None: all). The plan does not depend on
            it, so a later run with a larger value extends the same corpus.
        seed: seeds word order, gaps and MIDI pieces; a folder keeps the seed it was built with.
        progress: show a tqdm bar over files.

    Raises:
        SourcePackageMissingError: no requested source is available.
        CorpusError: bad arguments, a manifest from another seed, or a source that failed.
    """
    if max_files is not None and max_files < 1:
        raise CorpusError(f"--max-files must be at least 1, got {max_files}")
    out_dir = Path(out_dir)
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
