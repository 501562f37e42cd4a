"""The real OSC server in a subprocess on 127.0.0.1, driven over UDP with python-osc.

The model checkpoint is presets/checkpoints/faust-peq.pt, or the file EQBRIDGE_TEST_CHECKPOINT names.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message import OscMessage

from host.osc.client import EqbridgeClient, serve_command, stop_server, wait_until_ready
from model.profiles import PRESETS_DIR, load_profile
from model import predict

ROOT = Path(__file__).resolve().parents[2]
AUDIO = ROOT / "examples" / "audio"
CHECKPOINT = Path(os.environ.get("EQBRIDGE_TEST_CHECKPOINT", PRESETS_DIR / "checkpoints" / "faust-peq.pt"))
PROFILE = load_profile("faust-peq")
TIMEOUT_S = 30.0

pytestmark = pytest.mark.skipif(not CHECKPOINT.exists(), reason=f"no model checkpoint at {CHECKPOINT}")


def Client(server_port: int, sock: socket.socket | None = None) -> EqbridgeClient:
    """A DAW stand-in: the package's one OSC client on 127.0.0.1."""
    return EqbridgeClient("127.0.0.1", server_port, timeout_s=TIMEOUT_S, sock=sock)


def _launch(allow_dir: Path, reply_port: int, *extra: str) -> subprocess.Popen:
    cmd = serve_command(allow_dir, "--checkpoint", str(CHECKPOINT), "--clip-timeout-seconds", "5", *extra,
                        reply_port=reply_port)
    return subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)


def _wait_ready(proc: subprocess.Popen) -> int:
    return wait_until_ready(proc, timeout_s=120)


def _stop(proc: subprocess.Popen) -> None:
    stop_server(proc)


@pytest.fixture(scope="module")
def bounce_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bounces")
    for name in ("track.flac", "reference.flac"):
        shutil.copy(AUDIO / name, d / name)
    sf.write(d / "silence.wav", np.zeros(44100 * 4, np.float32), 44100)
    (d / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    track, rate = sf.read(AUDIO / "track.flac", dtype="float32")
    sf.write(d / "track_quiet.wav", 0.3 * track[::-1], rate)  # another track for the concurrency test
    return d


@pytest.fixture(scope="module")
def servers(bounce_dir: Path, tmp_path_factory):
    """Two servers started side by side: (client of a server replying to a fixed --reply-port, its MIDI
    dir) and the port of a server started with --reply-port 0 (replies to each sender's own port)."""
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    midi_dir = tmp_path_factory.mktemp("midi")
    fixed = _launch(bounce_dir, reply.getsockname()[1], "--midi-dir", str(midi_dir))
    own = _launch(bounce_dir, 0, "--threads", "2")
    try:
        yield (Client(_wait_ready(fixed), reply), midi_dir), _wait_ready(own)
    finally:
        _stop(fixed)
        _stop(own)


@pytest.fixture(scope="module")
def server(servers):
    return servers[0]


@pytest.fixture(scope="module")
def sender_port_server(servers) -> int:
    return servers[1]


def _settings(msgs: list[OscMessage]) -> dict[str, float]:
    (msg,) = [m for m in msgs if m.address == "/eqbridge/settings"]
    return dict(zip(msg.params[1::2], msg.params[2::2]))


def test_match_files_happy_path(server, bounce_dir: Path) -> None:
    client, midi_dir = server
    client.send("/eqbridge/match", 21, str(bounce_dir / "track.flac"), str(bounce_dir / "reference.flac"), 1.5)
    msgs = client.until_done(21)
    assert msgs[-1].address == "/eqbridge/done", msgs[-1].params
    settings = _settings(msgs)
    assert tuple(settings) == PROFILE.parameter_names
    (normalized,) = [m for m in msgs if m.address == "/eqbridge/normalized"]
    names, indices, norms = normalized.params[1::3], normalized.params[2::3], normalized.params[3::3]
    assert tuple(names) == PROFILE.parameter_names
    assert sorted(indices) == list(range(PROFILE.n_params))  # the Faust plugin's own indices, resolved once
    expected = PROFILE.to_norm([settings[n] for n in PROFILE.parameter_names])
    np.testing.assert_allclose(norms, expected, rtol=1e-5, atol=1e-6)
    lanes = {m.params[1]: m.params[2:] for m in msgs if m.address == "/eqbridge/automation"}
    assert tuple(lanes) == PROFILE.parameter_names
    duration_s = sf.info(str(bounce_dir / "track.flac")).duration
    for name, points in lanes.items():
        times, values = np.array(points[0::2]), np.array(points[1::2])
        assert len(times) >= 2 and np.all(np.diff(times) > 0), name
        assert times[0] == 0.0 and times[-1] == pytest.approx(duration_s, abs=1e-3), name
        assert np.all((values >= 0) & (values <= 1)), name
    midi = mido.MidiFile(midi_dir / "eqbridge-21.mid")
    ccs = {m.control for m in midi.tracks[0] if m.type == "control_change"}
    assert ccs == set(range(20, 30))
    assert not [p for p in midi_dir.iterdir() if p.suffix != ".mid"]  # no temporary file left behind


def test_a_midi_file_the_server_did_not_write_is_never_replaced(server, bounce_dir: Path) -> None:
    client, midi_dir = server
    users = midi_dir / "eqbridge-23.mid"
    users.write_bytes(b"the user's own file")
    for _ in range(2):  # the second match of the same id replaces the server's own file, not the user's
        client.send("/eqbridge/match", 23, str(bounce_dir / "track.flac"), str(bounce_dir / "reference.flac"))
        assert client.until_done(23)[-1].address == "/eqbridge/done"
    assert users.read_bytes() == b"the user's own file"
    assert sorted(p.name for p in midi_dir.glob("eqbridge-23*")) == ["eqbridge-23-2.mid", "eqbridge-23.mid"]
    assert mido.MidiFile(midi_dir / "eqbridge-23-2.mid").tracks


def test_every_bad_request_is_answered_with_an_error(server, bounce_dir: Path, tmp_path: Path) -> None:
    client, _ = server
    outside = tmp_path / "outside.flac"
    shutil.copy(AUDIO / "track.flac", outside)
    ref = str(bounce_dir / "reference.flac")
    cases = {
        31: ("/eqbridge/match", 31, str(bounce_dir / "nope.flac"), ref),              # missing file
        32: ("/eqbridge/match", 32, str(outside), ref),                               # outside
        33: ("/eqbridge/match", 33, str(bounce_dir / ".." / outside.parent.name / outside.name), ref),
        34: ("/eqbridge/match", 34, str(bounce_dir / "broken.wav"), ref),             # unreadable audio
        35: ("/eqbridge/match", 35, str(bounce_dir / "silence.wav"), ref),            # silence
        36: ("/eqbridge/match", 36, 5, ref),                                          # wrong types
        37: ("/eqbridge/nonsense", 37),                                               # unknown address
        38: ("/eqbridge/clip/begin", 38, "track", 44100, 1, 44100 * 3600),          # oversized clip
        39: ("/eqbridge/clip/chunk", 39, 0, b"\x00\x00\x00\x00"),                    # no begin
        40: ("/eqbridge/match_clips", 40),                                            # nothing sent
    }
    for args in cases.values():
        client.send(*args)
    want = {31: "does not exist", 32: "outside the allowed", 33: "outside the allowed", 34: "cannot read",
            35: "silent", 36: "takes ,iss", 37: "unknown address", 38: "longer than", 39: "no clip transfer",
            40: "no clip transfer"}
    got = {}
    while len(got) < len(cases):
        for m in client.receive():
            assert m.address == "/eqbridge/error", m.address
            got[m.params[0]] = m.params[1]
    for rid, text in want.items():
        assert text in got[rid], (rid, got[rid])
    client.send("/eqbridge/match", "not-an-id")
    (msg,) = client.receive()
    assert msg.address == "/eqbridge/error" and msg.params[0] == -1
    client.ping()


def test_garbage_datagrams_then_ping(server) -> None:
    client, _ = server
    rng = np.random.default_rng(1)
    for i in range(1000):
        data = bytes(rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8))
        client.send_raw((b"/eqbridge/match\x00,is\x00" if i % 4 == 0 else b"") + data)
        if i % 50 == 49:
            time.sleep(0.002)  # stay under the socket buffer: this tests the parser, not packet loss
    deadline = time.monotonic() + TIMEOUT_S
    client.send("/eqbridge/ping")
    errors = 0
    while time.monotonic() < deadline:
        msgs = client.receive()
        errors += sum(m.address == "/eqbridge/error" for m in msgs)
        if any(m.address == "/eqbridge/pong" for m in msgs):
            break
    else:
        pytest.fail("no pong after garbage")
    assert errors > 900  # nearly every datagram answered (UDP may drop a few on a busy machine)


def test_clip_transfer_matches_like_the_files(server, bounce_dir: Path) -> None:
    client, _ = server
    track, rate = sf.read(bounce_dir / "track.flac", dtype="float32")
    reference, _ = sf.read(bounce_dir / "reference.flac", dtype="float32")
    client.send_clip(50, "track", track, rate)
    client.send_clip(50, "reference", reference, rate)
    client.send("/eqbridge/match_clips", 50)
    clip_msgs = client.until_done(50)
    client.send("/eqbridge/match", 51, str(bounce_dir / "track.flac"), str(bounce_dir / "reference.flac"))
    file_msgs = client.until_done(51)
    assert clip_msgs[-1].address == "/eqbridge/done", clip_msgs[-1].params
    assert _settings(clip_msgs) == _settings(file_msgs)


def test_dropped_and_duplicated_chunks_are_reported(server, bounce_dir: Path) -> None:
    client, _ = server
    track, rate = sf.read(bounce_dir / "track.flac", dtype="float32")
    n = client.send_clip(60, "track", track, rate, skip=(5,))
    msgs = client.until(lambda m: m.address == "/eqbridge/error" and m.params[0] == 60)
    missing = [m for m in msgs if m.address == "/eqbridge/clip/missing"]
    assert [m.params for m in missing] == [[60, "track", 5]]
    assert f"1 of {n} chunks missing (5)" in msgs[-1].params[1]
    client.send("/eqbridge/match_clips", 60)  # never zero-filled: the clip stays incomplete
    msg = client.until(lambda m: m.address == "/eqbridge/error" and m.params[0] == 60)[-1]
    assert "not complete" in msg.params[1]

    client.send_clip(61, "track", track, rate, repeat=(3,))
    msg = client.until(lambda m: m.address == "/eqbridge/error" and m.params[0] == 61)[-1]
    assert "duplicated chunk 3" in msg.params[1]
    client.send("/eqbridge/match_clips", 61)
    msg = client.until(lambda m: m.address == "/eqbridge/error" and m.params[0] == 61
                       and "rejected earlier" in m.params[1])[-1]
    client.ping()


def test_ping_is_answered_while_a_match_runs(server, bounce_dir: Path) -> None:
    client, _ = server
    client.send("/eqbridge/match", 70, str(bounce_dir / "track.flac"), str(bounce_dir / "reference.flac"))
    start = time.perf_counter()
    client.send("/eqbridge/ping")
    msgs = client.until(lambda m: m.address in ("/eqbridge/pong", "/eqbridge/done"))
    pong_s = time.perf_counter() - start
    assert msgs[-1].address == "/eqbridge/pong", "the match finished before the ping was answered"
    assert pong_s < 0.5
    client.until_done(70)


def test_two_clients_get_their_own_replies(sender_port_server: int, bounce_dir: Path) -> None:
    pairs = {"a": ("track.flac", 100), "b": ("track_quiet.wav", 200)}
    results: dict[str, list[OscMessage]] = {}

    def run(key: str) -> None:
        name, base = pairs[key]
        client = Client(sender_port_server)
        for rid in (base, base + 1):
            client.send("/eqbridge/match", rid, str(bounce_dir / name), str(bounce_dir / "reference.flac"))
        results[key] = client.until_all_done({base, base + 1})

    threads = [threading.Thread(target=run, args=(k,)) for k in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(2 * TIMEOUT_S)
    assert set(results) == {"a", "b"}
    for key, (name, base) in pairs.items():
        ids = {m.params[0] for m in results[key]}
        assert ids == {base, base + 1}, (key, ids)  # nothing of the other client's requests
        batches = [[m for m in results[key] if m.params[0] == rid] for rid in (base, base + 1)]
        assert [len(b) for b in batches] == [3 + PROFILE.n_params] * 2  # settings, normalized, P lanes, done
        assert all(batch[-1].address == "/eqbridge/done" for batch in batches)
        track, rate = sf.read(bounce_dir / name, dtype="float32")
        reference, _ = sf.read(bounce_dir / "reference.flac", dtype="float32")
        expected = predict(track, reference, rate, PROFILE, CHECKPOINT).values  # in this process
        for batch in batches:
            got = _settings(batch)
            np.testing.assert_allclose([got[n] for n in PROFILE.parameter_names],
                                       [expected[n] for n in PROFILE.parameter_names], rtol=1e-6)


@pytest.mark.parametrize("mode", ["files", "clips", "multi --send-clips"])
def test_example_client_gets_the_settings(sender_port_server: int, bounce_dir: Path, tmp_path: Path,
                                          mode: str) -> None:
    out, lines = tmp_path / "result.json", tmp_path / "result.txt"
    command, *options = mode.split()
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "osc_client.py"), command,
                           str(bounce_dir / "track.flac"), str(bounce_dir / "reference.flac"), *options,
                           "--port", str(sender_port_server), "--request-id", "300", "--json", str(out),
                           "--lines", str(lines)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    import json

    result = json.loads(out.read_text())
    assert tuple(result["settings"]) == PROFILE.parameter_names
    assert len([ln for ln in lines.read_text().splitlines() if ln.startswith("param ")]) == PROFILE.n_params


def test_match_with_a_refine_budget_returns_continuous_settings(server, bounce_dir: Path) -> None:
    client, _ = server
    track, reference = str(bounce_dir / "track.flac"), str(bounce_dir / "reference.flac")
    client.send("/eqbridge/match", 31, track, reference, 0.0)
    one_shot = _settings(client.until_done(31))
    client.send("/eqbridge/match", 32, track, reference, 0.5)
    refined = _settings(client.until_done(32))
    on_grid = [np.any(np.isclose(PROFILE.parameter(n).grid(), v, rtol=1e-4)) for n, v in refined.items()]
    assert not all(on_grid), "a refined setting leaves the 21-value grid"
    assert all(np.isclose(PROFILE.parameter(n).grid(), v, rtol=1e-4).any() for n, v in one_shot.items())
    for name, value in refined.items():
        spec = PROFILE.parameter(name)
        assert spec.min - 1e-6 <= value <= spec.max + 1e-6


def _child_pids(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        out |= {int(c) for c in children.read_text().split()} if children.exists() else set()
    return out


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_sigterm_during_a_refinement_stops_the_server_and_its_children(bounce_dir: Path) -> None:
    proc = _launch(bounce_dir, 0)
    try:
        client = Client(_wait_ready(proc))
        client.send("/eqbridge/match", 77, str(bounce_dir / "track.flac"), str(bounce_dir / "reference.flac"), 30.0)
        time.sleep(3.0)  # the 30 s search is under way in the refinement process
        children = _child_pids(proc.pid)
        assert children, "the server runs its refinement in a child process"
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)  # generous: these cores are shared, and speed is not what this test is about
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and any(_running(c) for c in children):
            time.sleep(0.05)
        assert not [c for c in children if _running(c)]
    finally:
        _stop(proc)
