"""The OSC address map without sockets: handlers driven through the dispatcher with a reply list."""

from __future__ import annotations

import os
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from host.matching.automation import AutomationLane
from host.errors import OscRequestError
from host.matching.pipeline import estimate
from host.osc.addresses import AUTOMATION, CLIP_MISSING, DONE, NORMALIZED, PONG, SETTINGS
from host.osc.handlers import build_dispatcher
from host.osc.protocol import automation_message, check_args, pack_bundles
from host.osc.server import ClipLimits
from model.profiles import CURVE_CHECKPOINT
from tests.host.osc_harness import CLIENT, Harness


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    d = tmp_path / "bounces"
    d.mkdir()
    (d / "track.wav").write_bytes(b"not audio, but a file")
    (d / "ref.wav").write_bytes(b"x")
    return d


def test_check_args_accepts_required_and_optional_and_names_what_came() -> None:
    assert check_args("/a", [1, "x", "y"], "iss", "f") == (1, "x", "y")
    assert check_args("/a", [1, "x", "y", 2], "iss", "f") == (1, "x", "y", 2.0)  # an int is a fine float
    with pytest.raises(OscRequestError, match=r"takes ,iss\[f\].*got ,isi") as info:
        check_args("/a", [7, "x", 3], "iss", "f")
    assert info.value.request_id == 7
    with pytest.raises(OscRequestError) as info:
        check_args("/a", ["x", "y", "z"], "iss")
    assert info.value.request_id == -1
    with pytest.raises(OscRequestError):
        check_args("/a", [1, "x", "y", 1.0, 2.0], "iss", "f")
    with pytest.raises(OscRequestError):
        check_args("/a", [True, "x", "y"], "iss")


def test_ping_pong_and_unknown_address(allowed: Path) -> None:
    h = Harness(allowed)
    h.send("/eqbridge/ping")
    h.send("/eqbridge/nope", 5)
    h.send("/other")
    msgs = h.messages()
    assert msgs[0].address == PONG
    assert h.errors()[0][0] == 5 and "unknown address '/eqbridge/nope'" in h.errors()[0][1]
    assert h.errors()[1][0] == -1


def test_garbage_and_patterns_answer_errors(allowed: Path) -> None:
    h = Harness(allowed)
    h.send_raw(b"\x00\x01garbage")
    h.send_raw(b"/eqbridge/ping\x00\x00,\xff\xfe\x00")  # bad type tag
    h.send("/eqbridge/*", 1)  # a pattern fanning out to every handler is refused
    assert len(h.errors()) == 3
    assert [e[0] for e in h.errors()] == [-1, -1, 1]
    assert not h.jobs


def test_match_validates_types_paths_and_files(allowed: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"x")
    os.symlink(outside, allowed / "link.wav")
    h = Harness(allowed)
    track, ref = str(allowed / "track.wav"), str(allowed / "ref.wav")
    h.send("/eqbridge/match", 1, track)                               # too few
    h.send("/eqbridge/match", 2, track, 3)                            # wrong type
    h.send("/eqbridge/match", 3, str(outside), ref)                   # outside
    h.send("/eqbridge/match", 4, str(allowed / ".." / "secret.wav"), ref)  # '..' escape
    h.send("/eqbridge/match", 5, str(allowed / "link.wav"), ref)      # symlink escape
    h.send("/eqbridge/match", 6, str(allowed / "missing.wav"), ref)   # missing
    h.send("/eqbridge/match", 7, "track.wav", ref)                    # relative
    h.send("/eqbridge/match", 8, track, ref, "fast")                  # bad refine type
    h.send("/eqbridge/match", 9, track, ref, -1.0)                    # bad refine value
    errors = dict(h.errors())
    assert sorted(errors) == list(range(1, 10)) and len(h.errors()) == 9
    assert "outside the allowed" in errors[3] and "outside the allowed" in errors[4]
    assert "outside the allowed" in errors[5] and "does not exist" in errors[6] and "absolute" in errors[7]
    assert not h.jobs
    h.send("/eqbridge/match", 10, track, ref, 2.5)
    assert [rid for rid, _ in h.jobs] == [10]


def _send_clip(h: Harness, rid: int, role: str, audio: np.ndarray, chunk_frames: int = 1000,
               skip: tuple[int, ...] = (), repeat: tuple[int, ...] = ()) -> int:
    data = audio.astype("<f4").tobytes()
    step = chunk_frames * 4
    chunks = [data[i:i + step] for i in range(0, len(data), step)]
    h.send("/eqbridge/clip/begin", rid, role, 44100, 1, len(audio))
    for seq, blob in enumerate(chunks):
        if seq not in skip:
            h.send("/eqbridge/clip/chunk", rid, seq, blob)
        if seq in repeat:
            h.send("/eqbridge/clip/chunk", rid, seq, blob)
    h.send("/eqbridge/clip/end", rid, len(chunks))
    return len(chunks)


def test_clip_transfer_reassembles_exactly(allowed: Path) -> None:
    h = Harness(allowed)
    rng = np.random.default_rng(0)
    track, ref = rng.standard_normal(5500).astype(np.float32), rng.standard_normal(3000).astype(np.float32)
    _send_clip(h, 3, "track", track)
    _send_clip(h, 3, "reference", ref)
    assert h.errors() == []
    got_track, (got_ref,) = h.clips.take_clips(CLIENT, 3, lambda t, r: None)
    assert got_track.sample_rate == got_ref.sample_rate == 44100
    assert np.array_equal(got_track.data, track[None]) and np.array_equal(got_ref.data, ref[None])
    with pytest.raises(OscRequestError, match="no clip transfer open"):
        h.clips.take_clips(CLIENT, 3, lambda t, r: None)


def test_missing_chunk_is_reported_and_can_be_resent(allowed: Path) -> None:
    h = Harness(allowed)
    audio = np.arange(5000, dtype=np.float32)
    n = _send_clip(h, 4, "track", audio, skip=(2,))
    missing = [m for m in h.messages() if m.address == CLIP_MISSING]
    assert [tuple(m.params) for m in missing] == [(4, "track", 2)]
    assert h.errors()[0][0] == 4 and "1 of 5 chunks missing (2)" in h.errors()[0][1]
    h.send("/eqbridge/clip/chunk", 4, 2, audio[2000:3000].astype("<f4").tobytes())
    h.send("/eqbridge/clip/end", 4, n)
    assert len(h.errors()) == 1
    h.send("/eqbridge/match_clips", 4)  # the reference never came
    assert "not complete" in h.errors()[-1][1]


def test_duplicate_chunk_rejects_the_request(allowed: Path) -> None:
    h = Harness(allowed)
    _send_clip(h, 5, "track", np.ones(5000, np.float32), repeat=(1,))
    errors = h.errors()
    assert errors[0] == (5, "clip 'track': duplicated chunk 1; the request is rejected, start it again")
    assert all(e[0] == 5 and "rejected earlier" in e[1] for e in errors[1:])
    h.send("/eqbridge/match_clips", 5)
    assert "rejected earlier" in h.errors()[-1][1] and not h.jobs


def test_clip_limits(allowed: Path) -> None:
    now = [0.0]
    h = Harness(allowed, ClipLimits(max_clip_s=2.0, max_requests=2, max_bytes=4 * 44100 * 3, ttl_s=10.0),
                clock=lambda: now[0])
    h.send("/eqbridge/clip/begin", 1, "track", 44100, 1, 44100 * 3)     # too long
    h.send("/eqbridge/clip/begin", 2, "drums", 44100, 1, 100)           # bad role
    h.send("/eqbridge/clip/begin", 3, "track", 1000, 1, 100)            # bad rate
    h.send("/eqbridge/clip/begin", 4, "track", 44100, 9, 100)           # bad channels
    h.send("/eqbridge/clip/chunk", 99, 0, b"\x00" * 8)                  # never begun
    assert [e[0] for e in h.errors()] == [1, 2, 3, 4, 99]
    assert "longer than the 2 s limit" in h.errors()[0][1]
    other = ("127.0.0.1", 50001)  # one client holds at most half the slots (one of two here)
    h.send("/eqbridge/clip/begin", 10, "track", 44100, 1, 44100 * 2)
    h.send("/eqbridge/clip/begin", 11, "track", 44100, 1, 44100 // 2, client=other)
    h.send("/eqbridge/clip/begin", 11, "reference", 44100, 1, 44100 // 2, client=other)  # memory: 3 s of 3 s
    h.send("/eqbridge/clip/begin", 12, "track", 44100, 1, 100, client=("127.0.0.1", 50002))  # a third request
    assert h.errors()[-1][0] == 12 and "server busy" in h.errors()[-1][1]
    h.send("/eqbridge/clip/begin", 10, "reference", 44100, 1, 100)      # over the byte budget
    assert h.errors()[-1][0] == 10 and "memory limit" in h.errors()[-1][1]
    h.send("/eqbridge/clip/chunk", 11, 0, b"\x00" * 6, client=other)     # not float32-sized
    assert h.errors()[-1][0] == 11 and "bytes of float32" in h.errors()[-1][1]
    now[0] = 11.0
    assert h.clips.expire() == 2 and h.clips.open_requests() == 0 and h.clips.held_bytes() == 0


def test_one_client_holds_at_most_half_the_clip_slots(allowed: Path) -> None:
    h = Harness(allowed, ClipLimits(max_requests=4))
    for rid in (1, 2, 3):
        h.send("/eqbridge/clip/begin", rid, "track", 44100, 1, 4410)
    assert h.errors() == [(3, h.errors()[0][1])] and "for this client" in h.errors()[0][1]
    h.send("/eqbridge/clip/begin", 1, "reference", 44100, 1, 4410)  # its own open request: not a new slot
    h.send("/eqbridge/clip/begin", 4, "track", 44100, 1, 4410, client=("127.0.0.1", 50001))
    assert len(h.errors()) == 1 and h.clips.open_requests() == 3


@pytest.mark.skipif(not CURVE_CHECKPOINT.is_file(), reason=f"no curve model at {CURVE_CHECKPOINT}")
def test_several_reference_clips_are_numbered_counted_and_kept_until_a_match_is_queued(allowed: Path) -> None:
    clip_bytes = 5000 * 4
    h = Harness(allowed, ClipLimits(max_bytes=4 * clip_bytes))
    audio = np.ones(5000, np.float32)
    for role in ("track", "reference1", "reference3"):
        _send_clip(h, 7, role, audio)
    h.send("/eqbridge/match_clips_multi", 7, "link", 0.0, 0.0, 0.0)
    assert "['reference2'] missing" in h.errors()[-1][1]
    _send_clip(h, 7, "reference2", audio)
    assert h.clips.held_bytes() == 4 * clip_bytes  # every reference counts toward the memory bound
    h.send("/eqbridge/clip/begin", 7, "reference4", 44100, 1, 5000)
    assert "memory limit" in h.errors()[-1][1]
    refusals = [("/eqbridge/match_clips", 7), ("/eqbridge/match_clips_multi", 7, "link", 0.0, 0.0, 0.0, 1.0, 2.0),
                ("/eqbridge/match_clips_multi", 7, "mid-side", 0.0, 0.0, 0.0)]
    for message in refusals:
        h.send(*message)
    assert [e[1] for e in h.errors()[-3:]] == [
        "request 7 holds 3 reference clips; /eqbridge/match_clips matches one: send /eqbridge/match_clips_multi "
        "to combine them",
        "/eqbridge/match_clips_multi gives 2 weights for the 3 reference clips sent for request 7: give one weight "
        "per reference clip, or none for equal weights",
        "--stereo mid-side needs two-channel audio; the reference 1 has 1 channel: use --stereo link"]
    assert not h.jobs and h.clips.held_bytes() == 4 * clip_bytes  # refused: the clips are kept
    h.send("/eqbridge/match_clips_multi", 7, "link", 0.0, 0.0, 0.0, 1.0, 2.0, 1.0)
    assert [rid for rid, _ in h.jobs] == [7] and h.clips.open_requests() == 0 and len(h.errors()) == 5


def test_malformed_bundles_are_answered_with_request_id_minus_one(allowed: Path) -> None:
    h = Harness(allowed)
    head = b"#bundle\x00" + b"\x00" * 7 + b"\x01"
    ping = build_msg("/eqbridge/ping", []).dgram
    cases = {"no time tag": b"#bundle\x00\x00", "no element": head, "zero-length element": head + struct.pack(">i", 0),
             "garbage element": head + struct.pack(">i", 8) + b"garbage!",
             "element past the end": head + struct.pack(">i", 64) + ping,
             "negative size": head + struct.pack(">i", -4) + ping,
             "stray bytes": head + struct.pack(">i", len(ping)) + ping + b"\x01\x02",
             "nested without message": head + struct.pack(">i", 16) + head,
             "nested too deep": _nested(ping, 12)}
    for name, data in cases.items():
        before = len(h.errors())
        h.send_raw(data)
        assert len(h.errors()) == before + 1 and h.errors()[-1][0] == -1, name
    h.send_raw(_nested(ping, 3))  # a well-formed nested bundle still runs its message
    assert [m.address for m in h.messages()][-1] == "/eqbridge/pong"


def _nested(message: bytes, depth: int) -> bytes:
    data = message
    for _ in range(depth):
        data = b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", len(data)) + data
    return data


def test_a_broken_address_pattern_is_answered(allowed: Path) -> None:
    h = Harness(allowed)
    h.send("/[", 9)
    h.send("/eqbridge/[", "x")
    assert [e[0] for e in h.errors()] == [9, -1] and "not valid" in h.errors()[0][1]


def test_a_path_too_long_is_refused_before_any_work(allowed: Path) -> None:
    h = Harness(allowed)
    h.send("/eqbridge/match", 7, "/" + "a" * 5000, str(allowed / "r.wav"))
    h.send("/eqbridge/match", 8, str(allowed / ("b" * 300)), str(allowed / "r.wav"))
    assert [e[0] for e in h.errors()] == [7, 8] and all("path too long" in e[1] for e in h.errors())
    assert not h.jobs


def test_a_match_answers_settings_then_automation_then_done(tmp_path: Path) -> None:
    """The worker side of /eqbridge/match, run for real: the pipeline's settings first, one automation
    message per parameter, then done; the settings equal what the model predicts for the same files."""
    from model import predict

    audio = Path(__file__).resolve().parents[2] / "examples" / "audio"
    bounces = tmp_path / "bounces"
    bounces.mkdir()
    for name in ("track.flac", "reference.flac"):
        (bounces / name).write_bytes((audio / name).read_bytes())
    h = Harness(bounces)
    h.send("/eqbridge/match", 12, str(bounces / "track.flac"), str(bounces / "reference.flac"))
    [(rid, work)] = h.jobs
    work()
    packets = [p for _, p in h.sent]
    assert rid == 12 and isinstance(packets[0], OscBundle) and isinstance(packets[-1], OscMessage)
    settings, normalized = list(packets[0])
    profile = h.config.profile
    assert [settings.address, normalized.address] == [SETTINGS, NORMALIZED]
    assert settings.params[0] == 12 and settings.params[1::2] == list(profile.parameter_names)
    track, ref = (sf.read(bounces / name, dtype="float32", always_2d=True)[0].mean(axis=1)
                  for name in ("track.flac", "reference.flac"))
    expected = estimate(track, ref, 44100, h.config.options()).values  # the one pipeline (the curve model here)
    assert settings.params[2::2] == pytest.approx(list(expected), rel=1e-6)
    assert normalized.params[3::3] == pytest.approx(list(profile.to_norm(settings.params[2::2])), rel=1e-5)
    automation = [m for p in packets[1:-1] for m in p]
    assert [m.params[1] for m in automation] == list(profile.parameter_names)
    assert all(m.address == AUTOMATION and m.params[0] == 12 for m in automation)
    assert packets[-1].address == DONE and packets[-1].params == [12]


def test_pack_bundles_respects_the_size_limit() -> None:
    lane = AutomationLane("x", 0, tuple(float(t) for t in range(200)), tuple(0.5 for _ in range(200)))
    msgs = [automation_message(1, lane) for _ in range(10)]  # ~1.6 KB each
    packets = pack_bundles(msgs, max_bytes=4096)
    assert sum(len(list(p)) for p in packets) == 10
    assert all(len(p.dgram) <= 4096 for p in packets)


def test_an_int64_request_id_is_refused_before_any_work(allowed: Path) -> None:
    """A request id outside int32 cannot be echoed in a reply: it is an error now, answered with id -1."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    from host.osc.handlers import dispatch_datagram

    h = Harness(allowed)
    builder = OscMessageBuilder("/eqbridge/match")
    builder.add_arg(2 ** 40, "h")
    builder.add_arg(str(allowed / "track.wav"))
    builder.add_arg(str(allowed / "ref.wav"))
    dispatch_datagram(h.dispatcher, h.ctx, builder.build().dgram, CLIENT)
    assert not h.jobs
    [(rid, message)] = h.errors()
    assert rid == -1 and "int64" in message


def test_match_region_is_refused_without_a_daw_and_with_a_bad_region(allowed: Path) -> None:
    h = Harness(allowed)
    track, ref = str(allowed / "track.wav"), str(allowed / "ref.wav")
    h.send("/eqbridge/match_region", 3, track, 0.0, 0.0, ref, 1, 1)
    assert h.errors() == [(3, "this server pushes into no DAW: start it with --daw ardour[:HOST:PORT]")]
    h.ctx = replace(h.ctx, config=replace(h.ctx.config, daw=("127.0.0.1", 3819)))  # checks only: nothing runs
    h.dispatcher = build_dispatcher(h.ctx)
    h.send("/eqbridge/match_region", 4, track, -1.0, 2.0, ref, 1, 1)
    h.send("/eqbridge/match_region", 5, track, 0.0, 2.0, ref, 0, 1)
    h.send("/eqbridge/match_region", 6, track, 0.0, 2.0, ref, 1, 1)
    assert [e[0] for e in h.errors()[1:]] == [4, 5]
    assert "must be >= 0" in h.errors()[1][1] and "count from 1" in h.errors()[2][1]
    assert [rid for rid, _ in h.jobs] == [6]  # the good request is queued, the bad ones never are
