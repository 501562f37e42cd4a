"""Corpus building from the real Debian packages, and the audio folder loader."""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from host.data import corpus, midi_music
from host.errors import AudioInputError, CorpusError

# Sources whose Debian packages are installed here; wesnoth (150 MB) is left out of the build test.
FAST_SOURCES = ("speech", "loops", "midi")
AVAILABLE = [n for n in FAST_SOURCES if not corpus.SOURCES[n].missing_packages()]
MISSING_REASON = {n: f"Debian package(s) {corpus.SOURCES[n].missing_packages()} not installed "
                     f"(apt-get install -y {' '.join(corpus.SOURCES[n].packages)})"
                  for n in FAST_SOURCES if n not in AVAILABLE}
AUDIO_ROOT = Path(__file__).resolve().parents[2] / "examples" / "audio"


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not AVAILABLE:
        pytest.skip("no corpus source installed: " + "; ".join(MISSING_REASON.values()))
    out = tmp_path_factory.mktemp("corpus")
    corpus.build_corpus(out, sources=AVAILABLE, max_files=2, seed=7, progress=False)
    return out


def test_manifest_durations_match_files(small_corpus: Path) -> None:
    manifest = json.loads((small_corpus / corpus.MANIFEST_NAME).read_text())
    entries = manifest["files"]
    assert len(entries) == 2 * len(AVAILABLE)
    assert {e["source"] for e in entries} == {corpus.SOURCES[n].source_id for n in AVAILABLE}
    for entry in entries:
        info = sf.info(small_corpus / entry["path"])
        assert info.samplerate == entry["sample_rate"] == corpus.CORPUS_SAMPLE_RATE
        assert info.channels == entry["channels"] == 1
        assert info.frames / info.samplerate == pytest.approx(entry["duration_s"], abs=1e-5)
        assert entry["group"].startswith(entry["source"] + ":")
        assert entry["license"] and entry["package"]
        assert entry["kind"] in ("speech", "music")
        assert entry["path"].startswith(entry["source"] + "/")


@pytest.mark.skipif("speech" not in AVAILABLE, reason=MISSING_REASON.get("speech", ""))
def test_speech_clips_are_long_recordings(small_corpus: Path) -> None:
    speech = [f for f in corpus.list_audio_files(small_corpus) if f.kind == "speech"]
    assert speech and all(f.license == "GPL-2+" for f in speech)
    assert all(corpus.SPEECH_MIN_CLIP_S - 2 <= f.duration_s <= 40 for f in speech)


@pytest.mark.skipif("loops" not in AVAILABLE, reason=MISSING_REASON.get("loops", ""))
def test_loops_reach_minimum_duration(small_corpus: Path) -> None:
    loops = [f for f in corpus.list_audio_files(small_corpus) if f.source == "sonic-pi-loops"]
    assert loops and all(f.duration_s >= corpus.LOOP_MIN_DURATION_S - 0.5 for f in loops)
    assert len({f.group for f in loops}) == len(loops)  # one group per loop file


@pytest.mark.skipif("midi" not in AVAILABLE, reason=MISSING_REASON.get("midi", ""))
def test_midi_stems_share_the_piece_group(small_corpus: Path) -> None:
    midi = [f for f in corpus.list_audio_files(small_corpus) if f.source == "fluidsynth-midi"]
    assert [f.path.name for f in midi] == ["piece000_mix.flac", "piece000_drums.flac"]
    assert len({f.group for f in midi}) == 1


def test_rerun_skips_existing_files(small_corpus: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in small_corpus.rglob("*.flac")}
    report = corpus.build_corpus(small_corpus, sources=AVAILABLE, max_files=2, seed=7,
                                 progress=False)
    assert report.written == 0 and report.skipped_existing == len(before)
    assert {p: p.stat().st_mtime_ns for p in small_corpus.rglob("*.flac")} == before


def test_rerun_with_another_seed_is_refused(small_corpus: Path) -> None:
    with pytest.raises(CorpusError, match="--seed 7"):
        corpus.build_corpus(small_corpus, sources=AVAILABLE, max_files=2, seed=8, progress=False)


def test_unknown_source_is_named() -> None:
    with pytest.raises(CorpusError, match="'podcasts'"):
        corpus.build_corpus(Path("unused"), sources=["podcasts"], progress=False)


def test_dep5_license_lookup_last_match_wins(tmp_path: Path) -> None:
    copyright_path = tmp_path / "copyright"
    copyright_path.write_text(
        "Files: *\nCopyright: 2016 A\nLicense: MIT\n\n"
        "Files:\n etc/doc/*\nCopyright: B\nLicense: CC-BY-SA-4.0\n\n"
        "Files: etc/samples/loop_amen.flac\nCopyright: 2007 Dolfeus\nLicense: CC0\n")
    fallback = corpus.LicenseInfo("unknown", "")
    assert corpus.package_license(copyright_path, "loop_amen.flac", fallback).license == "CC0"
    assert corpus.package_license(copyright_path, "loop_other.flac", fallback) == \
        corpus.LicenseInfo("MIT", "2016 A")
    assert corpus.package_license(tmp_path / "absent", "x", fallback) == fallback


def test_midi_piece_is_deterministic_and_in_key(tmp_path: Path) -> None:
    spec = midi_music.random_piece(3, seed=11)
    assert spec == midi_music.random_piece(3, seed=11)
    assert spec != midi_music.random_piece(4, seed=11)
    first = midi_music.write_midi(spec, tmp_path / "a.mid").read_bytes()
    assert first == midi_music.write_midi(spec, tmp_path / "b.mid").read_bytes()
    scale = midi_music.MINOR_SCALE if spec.minor else midi_music.MAJOR_SCALE
    allowed = {(spec.tonic_midi + step) % 12 for step in scale}
    track = midi_music.mido.MidiFile(tmp_path / "a.mid").tracks[2]  # bass, after drums
    notes = [m.note for m in track if m.type == "note_on"]
    assert notes and {n % 12 for n in notes} <= allowed


def test_missing_folder_raises() -> None:
    with pytest.raises(AudioInputError, match="does not exist"):
        corpus.list_audio_files("definitely/not/here")


def test_folder_without_audio_raises(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no audio here")
    (tmp_path / "broken.wav").write_bytes(b"not a wav file")
    with pytest.raises(AudioInputError, match="no readable audio"):
        corpus.list_audio_files(tmp_path)


def test_user_folder_of_wavs(tmp_path: Path) -> None:
    rate = 48000
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    (tmp_path / "session_a").mkdir()
    sf.write(tmp_path / "session_a" / "take1.wav", tone, rate)
    sf.write(tmp_path / "session_a" / "take2.flac", np.stack([tone, tone], axis=1), rate)
    sf.write(tmp_path / "loose.wav", tone[: rate // 2], rate)
    files = corpus.list_audio_files(tmp_path)
    by_name = {f.path.name: f for f in files}
    assert set(by_name) == {"take1.wav", "take2.flac", "loose.wav"}
    assert by_name["take1.wav"].group == by_name["take2.flac"].group == "session_a"
    assert by_name["loose.wav"].group == "loose"
    assert by_name["take2.flac"].channels == 2
    assert by_name["loose.wav"].duration_s == pytest.approx(0.5)
    assert all(f.source == "user" and f.license is None for f in files)


def test_load_audio_resamples_48k_to_44k(tmp_path: Path) -> None:
    rate_in, rate_out, seconds = 48000, 44100, 2.0
    t = np.arange(int(rate_in * seconds)) / rate_in
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t)] * 2, axis=1)
    sf.write(tmp_path / "tone.wav", stereo, rate_in, subtype="FLOAT")
    audio = corpus.load_audio(tmp_path / "tone.wav", rate_out)
    assert audio.dtype == np.float32 and audio.shape == (int(rate_out * seconds),)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    assert np.argmax(spectrum) * rate_out / audio.size == pytest.approx(1000, abs=1)
    middle = audio[rate_out // 2: -rate_out // 2]  # away from the resampler's edges
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)


def test_load_audio_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match="does not exist"):
        corpus.load_audio(tmp_path / "absent.wav", 44100)
    (tmp_path / "junk.wav").write_bytes(b"RIFF junk")
    with pytest.raises(AudioInputError, match="cannot read"):
        corpus.load_audio(tmp_path / "junk.wav", 44100)
    bad = np.zeros(1000, dtype=np.float32)
    bad[10] = np.nan
    sf.write(tmp_path / "nan.wav", bad, 44100, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="NaN"):
        corpus.load_audio(tmp_path / "nan.wav", 44100)
    with pytest.raises(ValueError, match="sample_rate"):
        corpus.load_audio(tmp_path / "nan.wav", 0)


def test_bundled_example_clips() -> None:
    for name in ("track.flac", "reference.flac"):
        info = sf.info(AUDIO_ROOT / name)
        assert info.samplerate == 44100 and info.channels == 1
        assert 6.0 <= info.duration <= 10.0
        assert (AUDIO_ROOT / name).stat().st_size < 600_000


@pytest.mark.skipif("loops" not in AVAILABLE, reason=MISSING_REASON.get("loops", ""))
def test_corpus_build_command_records_each_files_license_and_a_rerun_skips(tmp_path: Path, caplog) -> None:
    """`eqbridge corpus build` with one source: every file's manifest entry names its source, its package
    and the license the package's DEP-5 copyright file gives that very file; a rerun writes nothing."""
    from host.cli import main

    out = tmp_path / "corpus"
    argv = ["corpus", "build", "--out", str(out), "--sources", "loops", "--max-files", "2", "--seed", "3",
            "--no-progress"]
    assert main(argv) == 0
    entries = json.loads((out / corpus.MANIFEST_NAME).read_text())["files"]
    assert len(entries) == 2 and sorted(p.relative_to(out).as_posix() for p in out.rglob("*.flac")) == \
        sorted(e["path"] for e in entries)
    fallback = corpus.LicenseInfo("unknown", "")
    for entry in entries:
        assert entry["source"] == "sonic-pi-loops" and entry["package"] == "sonic-pi-samples"
        expected = corpus.package_license(corpus.SONIC_PI_COPYRIGHT, Path(entry["path"]).name, fallback)
        assert (entry["license"], entry["copyright"]) == (expected.license, expected.copyright) != ("unknown", "")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.flac")}
    with caplog.at_level(logging.INFO, logger="host.data.corpus"):
        assert main(argv) == 0
    assert "0 files written, 2 already present" in caplog.text
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.flac")} == before


# ----------------------------------------------------------------------------- music sources

SOUNDTRACK_SOURCES = ("ufoai", "singularity")  # blupi: test_blupi_keeps_one_pass_of_a_looping_track
SILENCE_RMS = 1e-3  # -60 dBFS: a file this quiet throughout counts as silent


def require_source(name: str) -> None:
    """Skip (or, with EQBRIDGE_REQUIRE_PLUGINS=1 as in CI, fail) when a source's packages are missing."""
    missing = corpus.SOURCES[name].missing_packages()
    if missing:
        message = f"source {name!r} needs the Debian package(s) {missing}: apt-get install -y {' '.join(missing)}"
        if os.environ.get("EQBRIDGE_REQUIRE_PLUGINS") == "1":
            pytest.fail(message)
        pytest.skip(message)


def check_music_entry(folder: Path, entry: dict, name: str) -> np.ndarray:
    """The manifest entry is a licensed music file of its source; returns the file's audio."""
    source = corpus.SOURCES[name]
    assert entry["source"] == source.source_id and entry["kind"] == "music"
    assert entry["path"].startswith(source.source_id + "/") and entry["group"].startswith(source.source_id + ":")
    assert entry["package"] in source.packages
    assert entry["license"] and entry["license"] != "unknown" and entry["copyright"]
    assert entry["duration_s"] >= corpus.SOUNDTRACK_MIN_DURATION_S
    info = sf.info(folder / entry["path"])
    assert (info.format, info.samplerate, info.channels) == ("FLAC", corpus.CORPUS_SAMPLE_RATE, 1)
    audio, _ = sf.read(folder / entry["path"], dtype="float32")
    assert audio.size / corpus.CORPUS_SAMPLE_RATE == pytest.approx(entry["duration_s"], abs=1e-5)
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > SILENCE_RMS
    return audio


@pytest.mark.parametrize("name", SOUNDTRACK_SOURCES)
def test_soundtrack_source_writes_a_licensed_mono_file(name: str, tmp_path: Path) -> None:
    require_source(name)
    report = corpus.build_corpus(tmp_path, sources=[name], max_files=1, progress=False)
    assert report.written == 1 and not report.skipped_sources
    [entry] = json.loads((tmp_path / corpus.MANIFEST_NAME).read_text())["files"]
    check_music_entry(tmp_path, entry, name)


def test_ufoai_licenses_come_per_file_from_the_dep5_copyright() -> None:
    require_source("ufoai")
    licenses = {Path(p.rel_path).stem: p.license for p in corpus.SOURCES["ufoai"].plan(0)}
    # Three paragraphs of /usr/share/doc/ufoai-music/copyright name these files.
    assert licenses["David01"] == "CC-BY-3.0" and licenses["Marine01"] == "CC-BY-SA-3.0"
    assert licenses["PsymongN1"] == "GPL-2"
    assert "dynamictest-normal-08-35sec" not in licenses  # 11 s: shorter than 15 s


def test_blupi_keeps_one_pass_of_a_looping_track(tmp_path: Path) -> None:
    require_source("blupi")
    corpus.build_corpus(tmp_path, sources=["blupi"], max_files=1, progress=False)
    [entry] = json.loads((tmp_path / corpus.MANIFEST_NAME).read_text())["files"]
    check_music_entry(tmp_path, entry, "blupi")
    original_s = sf.info(corpus.BLUPI_MUSIC_DIR / "music000.ogg").duration
    # music000.ogg repeats a 152 s piece eleven times; the corpus keeps the intro and one pass.
    assert original_s > 1500 and 150 <= entry["duration_s"] <= 170


def _amplitude_modulated_noise(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * corpus.CORPUS_SAMPLE_RATE)
    envelope = np.repeat(rng.uniform(0.05, 1.0, size=n // 2205 + 1), 2205)[:n]  # a new level every 50 ms
    return (0.3 * envelope * rng.standard_normal(n)).astype(np.float32)


def test_repeat_start_finds_the_loop_period() -> None:
    rate = corpus.CORPUS_SAMPLE_RATE
    loop = _amplitude_modulated_noise(40.0, seed=1)
    looped = np.tile(loop, 3)
    assert corpus.find_repeat_start(looped, rate) == loop.size
    intro = _amplitude_modulated_noise(4.0, seed=2)
    # With an intro the cut keeps the probe's 10 s past it: nothing of the music is lost.
    assert corpus.find_repeat_start(np.concatenate([intro, looped]), rate) == \
        int(corpus.REPEAT_PROBE_AT_S * rate) + loop.size
    assert corpus.find_repeat_start(_amplitude_modulated_noise(120.0, seed=3), rate) is None


# ----------------------------------------------------------------------------- musescore-midi


@pytest.fixture(scope="module")
def musescore_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_source("musescore-midi")
    out = tmp_path_factory.mktemp("musescore")
    corpus.build_corpus(out, sources=["musescore-midi"], max_files=2, seed=3, progress=False)
    return out


def test_musescore_mix_and_stem_share_the_piece_group(musescore_corpus: Path) -> None:
    entries = json.loads((musescore_corpus / corpus.MANIFEST_NAME).read_text())["files"]
    piece = midi_music.random_styled_piece(0, seed=3, duration_range_s=corpus.MUSESCORE_DURATION_RANGE_S)
    assert [e["path"] for e in entries] == [f"musescore-midi/{piece.name}_mix.flac",
                                            f"musescore-midi/{piece.name}_{piece.part_names[0]}.flac"]
    mix, stem = (check_music_entry(musescore_corpus, e, "musescore-midi") for e in entries)
    assert len({e["group"] for e in entries}) == 1
    assert entries[0]["package"] == "musescore-general-soundfont" and entries[0]["license"] == "MIT"
    assert 20.0 <= entries[0]["duration_s"] <= 42.0
    assert not np.array_equal(mix[:stem.size], stem)


def test_musescore_render_is_deterministic(musescore_corpus: Path, tmp_path: Path) -> None:
    corpus.build_corpus(tmp_path, sources=["musescore-midi"], max_files=1, seed=3, progress=False)
    [entry] = json.loads((tmp_path / corpus.MANIFEST_NAME).read_text())["files"]
    assert (tmp_path / entry["path"]).read_bytes() == (musescore_corpus / entry["path"]).read_bytes()


def test_musescore_plan_groups_each_pieces_stems() -> None:
    plans = corpus.SOURCES["musescore-midi"].plan(0)
    by_group: dict[str, list[str]] = defaultdict(list)
    for plan in plans:
        by_group[plan.group].append(Path(plan.rel_path).stem)
    assert len(by_group) == corpus.MUSESCORE_PIECE_COUNT
    for group, stems in by_group.items():
        name = group.removeprefix("musescore-midi:")
        assert stems[0] == f"{name}_mix" and len(stems) >= 3  # the mix and at least two stems
        assert all(s.startswith(name + "_") for s in stems)
    midi_names = {Path(p.rel_path).stem.split("_")[0] for p in corpus.SOURCES["midi"].plan(0)}
    assert not midi_names & {g.removeprefix("musescore-midi:") for g in by_group}


def test_styled_pieces_are_varied_deterministic_and_in_key(tmp_path: Path) -> None:
    pieces = [midi_music.random_styled_piece(i, 0) for i in range(corpus.MUSESCORE_PIECE_COUNT)]
    assert pieces == [midi_music.random_styled_piece(i, 0) for i in range(corpus.MUSESCORE_PIECE_COUNT)]
    assert pieces != [midi_music.random_styled_piece(i, 1) for i in range(corpus.MUSESCORE_PIECE_COUNT)]
    assert {p.style for p in pieces} == set(midi_music.STYLE_NAMES) and len(midi_music.STYLE_NAMES) >= 8
    tempos = [p.tempo_bpm for p in pieces]
    assert 60 <= min(tempos) <= 70 and 150 <= max(tempos) <= 180
    assert {p.minor for p in pieces} == {True, False} and {p.sevenths for p in pieces} == {True, False}
    assert {p.groove == midi_music.NO_DRUMS for p in pieces} == {True, False}
    assert len({p.program for piece in pieces for p in piece.parts if p.role != "drums"}) >= 40
    assert all(20.0 <= p.duration_s <= 40.0 for p in pieces)
    first = midi_music.write_styled_midi(pieces[1], tmp_path / "a.mid").read_bytes()
    assert first == midi_music.write_styled_midi(pieces[1], tmp_path / "b.mid").read_bytes()
    for piece in pieces:
        scale = midi_music.MINOR_SCALE if piece.minor else midi_music.MAJOR_SCALE
        allowed = {(piece.tonic_midi + step) % 12 for step in scale}
        for part in piece.parts:
            if part.role in ("drums", "walking_bass"):  # walking bass approaches chromatically
                continue
            notes = [n for _, _, n, _ in midi_music.styled_part_events(piece, part)]
            assert notes and {n % 12 for n in notes} <= allowed, (piece.name, part.name)
    with pytest.raises(CorpusError, match="unknown part"):
        midi_music.write_styled_midi(pieces[0], tmp_path / "c.mid", ("kazoo",))


def test_sources_all_selects_every_registered_source() -> None:
    assert corpus.resolve_source_names(["all"]) == tuple(corpus.SOURCES)
    assert corpus.resolve_source_names(["midi", "all"])[0] == "midi"
    assert set(corpus.DEFAULT_SOURCES) < set(corpus.SOURCES)
    from host.cli import build_parser

    args = build_parser().parse_args(["corpus", "build", "--out", "x", "--sources", "all"])
    assert args.sources == tuple(corpus.SOURCES)
