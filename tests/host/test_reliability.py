"""Nothing lost, nothing left unanswered (issue 15), with real parts: the CLI in-process on real files, a real
`eqbridge serve` subprocess on 127.0.0.1 driven over UDP, real read-only folders.

- Output paths: every command that writes refuses, before any work, an output that is an input, lies
  among its inputs, collides with another output or cannot be written: one line, exit 1, nothing written.
- `apply` never replaces a file in OUTDIR it did not write, unless --overwrite.
- `match` writes all of its outputs or none.
- A property-based OSC fuzzer (hypothesis): every datagram is answered (each message that names a
  request exactly once), ping still answers, the server's memory stays bounded.
- Two clients, one flooding clip slots and the match queue, the other still served.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import build_msg

from host.cli import USER_ERROR_EXIT, main
from host.osc.addresses import (CLIP_BEGIN, CLIP_CHUNK, CLIP_END, DONE, ERROR, EXPLORE, MATCH, MATCH_CLIPS,
                                MATCH_CLIPS_MULTI, MATCH_MULTI, PING, PONG)
from host.osc.client import EqbridgeClient, start_server, stop_server
from host.paths import outputs_together
from tests.audio import synth_recording
from tests.model.conftest import write_tiny_dataset

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "examples" / "audio"
TIMEOUT_S = 30.0
RSS_GROWTH_BOUND_MB = 64.0  # the server's resident memory may grow this much over the whole fuzz


def _run(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse exits on a usage error
        code = int(exc.code)
    return code, capsys.readouterr().err


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under root (links not followed) with a file's bytes: what a refused command must leave as is."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            for p in sorted(root.rglob("*"))}


def _refused(capsys, root: Path, *argv: str, says: str) -> str:
    before = _tree(root)
    code, err = _run(capsys, *argv)
    assert code == USER_ERROR_EXIT, err
    assert err.count("\n") == 1 and says in err, err
    assert _tree(root) == before, "a refused command changed files"
    return err


# ----------------------------------------------------------------------------- output paths, every command


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """tmp_path/track.flac, reference.flac, stems/{a,b}.wav, data/ (a tiny dataset), audio/ (recordings)."""
    shutil.copy(AUDIO / "track.flac", tmp_path / "track.flac")
    shutil.copy(AUDIO / "reference.flac", tmp_path / "reference.flac")
    (tmp_path / "stems").mkdir()
    for k, name in enumerate(("a.wav", "b.wav")):
        sf.write(tmp_path / "stems" / name, synth_recording(1.0, 44100, seed=k), 44100, subtype="PCM_16")
    write_tiny_dataset(tmp_path / "data", {"train": 4, "val": 2, "test": 2})
    (tmp_path / "audio").mkdir()
    sf.write(tmp_path / "audio" / "take.wav", synth_recording(2.0, 44100, seed=9), 44100)
    return tmp_path


def test_match_and_explore_refuse_outputs_that_are_inputs(capsys, files: Path) -> None:
    t, r = files / "track.flac", files / "reference.flac"
    _refused(capsys, files, "match", t, r, "--out", files / "o.wav", "--settings-out", t, says="overwrite the input")
    _refused(capsys, files, "match", t, r, "--out", files / "o.wav", "--plot", files / "o.wav", says="same file")
    (files / "ex").mkdir()
    (files / "ex" / "match.wav").symlink_to(t)
    _refused(capsys, files, "explore", t, r, "--out", files / "ex", says="overwrite the input TRACK")


def test_apply_refuses_an_outdir_among_its_inputs(capsys, files: Path) -> None:
    stems, r = files / "stems", files / "reference.flac"
    _refused(capsys, files, "apply", "--reference", r, "--stems", stems, "--out", stems, says="is the input --stems")
    (files / "link").symlink_to(stems)
    _refused(capsys, files, "apply", "--reference", r, "--stems", stems, "--out", files / "link", says="is the input")
    (files / "out").mkdir()
    (files / "out" / "a.png").symlink_to(r)
    _refused(capsys, files, "apply", "--reference", r, "--stems", stems, "--out", files / "out",
             says="would overwrite the input --reference")


def test_train_evaluate_and_evaluate_audio_refuse_outputs_among_the_dataset(capsys, files: Path) -> None:
    data, ckpt = files / "data", ROOT / "presets" / "checkpoints" / "faust-peq.pt"
    _refused(capsys, files, "train", "--data", data, "--out", data / "manifest.json",
             says="would overwrite the input --data manifest.json")
    _refused(capsys, files, "train", "--data", data, "--out", data / "train" / "shard-00000.npz",
             says="would overwrite the input --data shard train/shard-00000.npz")
    config = files / "recipe.toml"
    config.write_text("epochs = 1\n")
    _refused(capsys, files, "train", "--data", data, "--config", config, "--out", config, says="input --config")
    _refused(capsys, files, "evaluate", "--data", data, "--checkpoint", ckpt, "--out", data, says="is the input --data")
    _refused(capsys, files, "evaluate", "--data", data, "--checkpoint", ckpt, "--out", files / "track.flac",
             says="is a file; give a folder")
    _refused(capsys, files, "evaluate-audio", "--data", data, "--out", data, says="is the input --data")


def test_render_dataset_and_corpus_refuse_an_out_among_what_they_read(capsys, files: Path) -> None:
    audio = files / "audio"
    for out in (audio, audio / "ds"):
        _refused(capsys, files, "render-dataset", "--audio", audio, "--out", out, "--iterations", "1",
                 says="--audio")
    _refused(capsys, files, "corpus", "build", "--out", files / "track.flac", says="is a file; give a folder")
    from host.data.corpus import KTUBERLING_SOUNDS_DIR

    if KTUBERLING_SOUNDS_DIR.is_dir():  # as root a write there would succeed: it must be refused first
        before = sorted(KTUBERLING_SOUNDS_DIR.iterdir())
        code, err = _run(capsys, "corpus", "build", "--out", KTUBERLING_SOUNDS_DIR / "corpus", "--sources", "speech")
        assert code == 1 and "lies inside the input folder" in err and sorted(KTUBERLING_SOUNDS_DIR.iterdir()) == before


def test_serve_refuses_a_midi_dir_among_the_bounces(capsys, files: Path) -> None:
    for midi in (files / "stems", files / "stems" / "midi"):
        _refused(capsys, files, "serve", "--allow-dir", files / "stems", "--midi-dir", midi, "--port", "0",
                 says="--allow-dir")


def test_an_output_that_cannot_be_written_is_refused_before_any_work(capsys, files: Path, read_only_dir: Path) -> None:
    t, r = files / "track.flac", files / "reference.flac"
    err = _refused(capsys, files, "match", t, r, "--out", files / "o.flac", "--settings-out", read_only_dir / "s.json",
                   says="cannot write in")
    assert str(read_only_dir) in err
    _refused(capsys, files, "match", t, r, "--out", files / "track.flac" / "sub" / "o.wav", says="is a file")
    _refused(capsys, files, "apply", "--reference", r, "--stems", files / "stems", "--out", read_only_dir / "out",
             says="cannot write in")
    _refused(capsys, files, "evaluate", "--data", files / "data", "--checkpoint", files / "c.pt",
             "--out", read_only_dir, says="cannot write in")


# ----------------------------------------------------------------------------- apply: only its own files


def test_apply_replaces_only_files_it_wrote_unless_overwrite(capsys, files: Path) -> None:
    stems, r, out = files / "stems", files / "reference.flac", files / "par"
    out.mkdir()
    (out / "b.wav").write_bytes(b"the user's own file")
    argv = ["apply", "--reference", r, "--stems", stems, "--out", out, "--no-progress"]
    err = _refused(capsys, files, *argv, says="was not written by eqbridge apply")
    assert str(out / "b.wav") in err and "--overwrite" in err
    (out / "b.wav").unlink()
    code, err = _run(capsys, *argv)
    assert code == 0, err
    first = {k: v for k, v in _tree(out).items() if k != "report.md"}  # the report says what this run did
    assert "eqbridge-apply.json" in first and "a.settings.json" in first
    assert _run(capsys, *argv)[0] == 0  # its own files: a rerun resumes and leaves them as they are
    assert {k: v for k, v in _tree(out).items() if k != "report.md"} == first
    (out / "b.png").unlink()
    (out / "b.settings.json").write_text("{}")  # no longer an apply settings file: b's outputs stay apply's
    assert _run(capsys, *argv)[0] == 0                         # (the marker lists them)
    (out / "eqbridge-apply.json").unlink()
    (out / "b.settings.json").write_text("{}")
    _refused(capsys, files, *argv, says="b.wav")  # neither the marker nor b's settings file claims b's files now
    code, err = _run(capsys, *argv, "--overwrite")
    assert code == 0, err
    assert b"settings_version" in (out / "b.settings.json").read_bytes()


# ----------------------------------------------------------------------------- match: all outputs or none


def test_outputs_are_renamed_together_or_not_at_all(tmp_path: Path, read_only_dir: Path) -> None:
    """The second rename fails (its folder turns read-only mid-commit): the first output is put back as it was."""
    first, second = tmp_path / "a" / "out.wav", read_only_dir / "s.json"
    first.parent.mkdir()
    first.write_bytes(b"old audio")
    subprocess.run(["chattr", "-i", str(read_only_dir)], check=False)
    read_only_dir.chmod(0o755)
    with pytest.raises(OSError):
        with outputs_together([first, second]) as (tmp_a, tmp_b):
            tmp_a.write_bytes(b"new audio")
            tmp_b.write_text("{}")
            if subprocess.run(["chattr", "+i", str(read_only_dir)], capture_output=True).returncode:
                read_only_dir.chmod(0o555)
    assert first.read_bytes() == b"old audio" and not second.exists()
    assert sorted(p.name for p in first.parent.iterdir()) == ["out.wav"]  # no temporary, nothing moved aside
    with outputs_together([first, tmp_path / "b.json"]) as (tmp_a, tmp_b):
        tmp_a.write_bytes(b"new audio")
        tmp_b.write_text("{}")
    assert first.read_bytes() == b"new audio" and (tmp_path / "b.json").read_text() == "{}"


# ----------------------------------------------------------------------------- OSC: a real server


@pytest.fixture(scope="module")
def bounces(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bounces")
    for name in ("track.flac", "reference.flac"):
        shutil.copy(AUDIO / name, d / name)
    return d


@pytest.fixture(scope="module")
def server(bounces: Path):
    """(process, port) of `eqbridge serve --reply-port 0` (replies to each sender's own port)."""
    proc, port = start_server(bounces, "--clip-timeout-seconds", "5", cwd=ROOT)
    try:
        yield proc, port
    finally:
        stop_server(proc)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS")


INT32 = st.integers(-2 ** 31, 2 ** 31 - 1)
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)  # an OSC string ends at its first NUL
# No subnormals: a plugin loaded earlier in the test process may set flush-to-zero, and hypothesis refuses then.
ARG = st.one_of(INT32, st.integers(2 ** 31, 2 ** 62), st.floats(width=32, allow_subnormal=False), TEXT,
                st.binary(min_size=1, max_size=64), st.booleans(), st.none())  # python-osc builds no empty blob
ADDRESSES = st.one_of(st.sampled_from([PING, MATCH, CLIP_BEGIN, CLIP_CHUNK, CLIP_END, MATCH_CLIPS, MATCH_CLIPS_MULTI,
                                       MATCH_MULTI, EXPLORE, "/eqbridge/*", "/eqbridge/nope", "/"]),
                      TEXT.map(lambda s: "/" + s))
SILENT_ON_SUCCESS = {CLIP_BEGIN, CLIP_CHUNK}  # a well-formed begin or chunk is not answered: nothing to say


@st.composite
def messages(draw) -> tuple[str, list]:
    """(address, args); most name a request: an int32 id first."""
    address = draw(ADDRESSES)
    args = draw(st.lists(ARG, max_size=6))
    if draw(st.booleans()) or draw(st.booleans()):
        args = [draw(st.integers(1, 10 ** 6))] + args
    return address, args


DATAGRAMS = st.one_of(
    st.tuples(st.just("message"), messages()),
    st.tuples(st.just("bundle"), st.lists(messages(), min_size=1, max_size=3)),
    st.tuples(st.just("bytes"), st.binary(min_size=1, max_size=200).filter(lambda b: b[:1] not in (b"/", b"#"))),
    st.tuples(st.just("bad bundle"), st.binary(max_size=64).map(lambda b: b"#bundle\x00" + b)),
)


def _dgram(kind: str, payload) -> bytes:
    if kind == "message":
        return build_msg(*payload).dgram
    if kind == "bundle":
        builder = OscBundleBuilder(IMMEDIATELY)
        for address, args in payload:
            builder.add_content(build_msg(address, args))
        return builder.build().dgram
    return payload


def _expected(address: str, args: list) -> tuple[int, int, bool]:
    """(pongs, answers, exact) for one message: ping gets a pong; any other message one /error or /done,
    except a well-formed clip begin or chunk, which may go unanswered (exact False: at most one)."""
    if address == PING:
        return 1, 0, True
    return 0, 1, address not in SILENT_ON_SUCCESS


class Tally:
    def __init__(self) -> None:
        self.datagrams = self.answered = self.requests = 0


@pytest.fixture(scope="module")
def fuzz_client(server):
    client = EqbridgeClient("127.0.0.1", server[1], timeout_s=TIMEOUT_S)
    yield client
    client.close()


SYNC_BASE = 2_000_000_000  # request ids of the sync messages; fuzzed ids stay below 10**6 or are random


def _exchange(client: EqbridgeClient, data: bytes, sync_id: int) -> list:
    """Send one datagram, then a request that surely fails (/clip/end of no transfer); every reply to the
    datagram arrives before that error, since the server handles datagrams in order."""
    client.send_raw(data)
    client.send(CLIP_END, sync_id, 1)
    got = []
    for msg in client.until(lambda m: m.address == ERROR and m.params and m.params[0] == sync_id):
        got.append(msg)
    return got[:-1]


def test_fuzzed_datagrams_are_each_answered_and_the_server_stays_small(server, fuzz_client) -> None:
    proc, _ = server
    fuzz_client.ping()
    rss_before = _rss_mb(proc.pid)
    tally = Tally()

    @settings(max_examples=int(os.environ.get("EQBRIDGE_FUZZ_EXAMPLES", "400")), deadline=None, database=None,
              derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(DATAGRAMS)
    def check(datagram) -> None:
        kind, payload = datagram
        tally.datagrams += 1
        replies = _exchange(fuzz_client, _dgram(kind, payload), SYNC_BASE + tally.datagrams)
        answers = [m for m in replies if m.address in (ERROR, DONE)]
        pongs = sum(m.address == PONG for m in replies)
        tally.answered += bool(replies)
        if kind in ("bytes", "bad bundle"):
            assert len(answers) + pongs >= 1, (kind, payload, replies)
            if kind == "bytes":  # not OSC at all: one error, no request id to name
                assert [tuple(m.params)[0] for m in answers] == [-1], replies
            return
        msgs = [payload] if kind == "message" else payload
        want_pongs = sum(_expected(a, args)[0] for a, args in msgs)
        want = [_expected(a, args) for a, args in msgs]
        tally.requests += sum(w[1] for w in want)
        assert pongs == want_pongs, (msgs, replies)
        low, high = sum(n for _, n, exact in want if exact), sum(n for _, n, _ in want)
        assert low <= len(answers) <= high, (msgs, replies)
        ids = sorted(m.params[0] for m in answers)
        named = sorted(args[0] if args and isinstance(args[0], int) and not isinstance(args[0], bool)
                       and -2 ** 31 <= args[0] < 2 ** 31 else -1 for _, args in msgs)
        assert set(ids) <= set(named), (msgs, replies)  # each answer names the request it answers

    check()
    assert fuzz_client.ping() < 5.0
    rss_after = _rss_mb(proc.pid)
    print(f"\nOSC fuzz: {tally.datagrams} datagrams ({tally.requests} messages that need an answer), "
          f"{tally.answered} answered, RSS {rss_before:.0f} -> {rss_after:.0f} MB")
    assert rss_after - rss_before < RSS_GROWTH_BOUND_MB, (rss_before, rss_after)
    assert proc.poll() is None


def test_a_flooding_client_cannot_keep_another_from_being_served(server, bounces: Path) -> None:
    _, port = server
    flood = EqbridgeClient("127.0.0.1", port, timeout_s=TIMEOUT_S)
    other = EqbridgeClient("127.0.0.1", port, timeout_s=60.0)
    try:
        # Clip slots: 8 over all clients, 4 per client.
        for rid in range(1, 9):
            flood.send(CLIP_BEGIN, rid, "track", 44100, 1, 44100)
        flood.send(PING)
        refused = [m for m in flood.until(lambda m: m.address == PONG) if m.address == ERROR]
        assert [m.params[0] for m in refused] == [5, 6, 7, 8] and "for this client" in refused[0].params[1]
        other.send(CLIP_BEGIN, 1, "track", 44100, 1, 44100)
        other.send(PING)
        assert [m.address for m in other.until(lambda m: m.address == PONG)] == [PONG]  # accepted, unanswered
        # Match queue: 8 places over all clients, 4 per client; eight matches sent at once.
        track, reference = str(bounces / "track.flac"), str(bounces / "reference.flac")
        for rid in range(100, 108):
            flood.send(MATCH, rid, track, reference)
        other.send(MATCH, 200, track, reference)
        result = other.wait_result(200)
        assert "error" not in result and result["settings"], result
        got = flood.until_all_done(set(range(100, 108)))
        busy = sorted(m.params[0] for m in got if m.address == ERROR)
        assert len(busy) == 4 and all("for this client" in m.params[1] for m in got if m.address == ERROR)
        assert sorted(m.params[0] for m in got if m.address == DONE) == sorted(set(range(100, 108)) - set(busy))
    finally:
        flood.close()
        other.close()
