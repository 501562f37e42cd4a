"""/eqbridge/match_multi over real UDP on 127.0.0.1: stereo modes, several weighted references, a range; replies
naming the channel; MIDI CC lanes per channel (one MIDI channel each). /eqbridge/match_clips_multi: the same on clips
sent over OSC."""

from __future__ import annotations

import socket
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from host.osc.addresses import ERROR, MATCH_CLIPS, MATCH_CLIPS_MULTI, MATCH_MULTI
from host.osc.client import EqbridgeClient, start_server, stop_server
from model.profiles import CURVE_CHECKPOINT, load_profile
from tests.audio import synth_recording

SR = 44100
PROFILE = load_profile("faust-peq")

pytestmark = pytest.mark.skipif(not CURVE_CHECKPOINT.is_file(), reason=f"no curve model at {CURVE_CHECKPOINT}")


@pytest.fixture(scope="module")
def bounces(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bounces")
    for name, seed in (("track.wav", 1), ("ref1.wav", 3), ("ref2.wav", 5)):
        stereo = np.stack([synth_recording(5.0, SR, seed), synth_recording(5.0, SR, seed + 1)], axis=1)
        sf.write(d / name, stereo, SR, subtype="FLOAT")
    sf.write(d / "mono.wav", synth_recording(5.0, SR, 9), SR, subtype="FLOAT")
    for name, seed in (("short_track.wav", 21), ("short_ref1.wav", 23), ("short_ref2.wav", 25)):  # sent as clips
        stereo = np.stack([synth_recording(3.0, SR, seed), synth_recording(3.0, SR, seed + 1)], axis=1)
        sf.write(d / name, stereo, SR, subtype="FLOAT")
    return d


@pytest.fixture(scope="module")
def server(bounces: Path, tmp_path_factory):
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    midi_dir = tmp_path_factory.mktemp("midi")
    proc, port = start_server(bounces, "--midi-dir", str(midi_dir), reply_port=reply.getsockname()[1])
    try:
        yield EqbridgeClient("127.0.0.1", port, timeout_s=60.0, sock=reply), midi_dir
    finally:
        stop_server(proc)


def test_mid_side_with_two_weighted_references_names_each_channel(server, bounces: Path) -> None:
    client, midi_dir = server
    result = client.match_multi(11, bounces / "track.wav", [bounces / "ref1.wav", bounces / "ref2.wav"],
                                weights=[2.0, 1.0], stereo="mid-side", link_percent=20.0, range_hz=(60.0, 15000.0))
    assert "error" not in result, result.get("error")
    assert set(result["channels"]) == {"mid", "side"} and result["settings"] == {}
    for channel in result["channels"].values():
        assert list(channel["settings"]) == list(PROFILE.parameter_names)
        assert set(channel["normalized"]) == set(PROFILE.parameter_names)
        assert all(0.0 <= v["value"] <= 1.0 for v in channel["normalized"].values())
        assert set(channel["automation"]) == set(PROFILE.parameter_names)
        assert all(points[0][0] == 0.0 for points in channel["automation"].values())
    assert result["channels"]["mid"]["settings"] != result["channels"]["side"]["settings"]
    midi = mido.MidiFile(str(midi_dir / "eqbridge-11.mid"))
    channels = {m.channel for m in midi.tracks[0] if m.type == "control_change"}
    assert channels == {0, 1}  # mid on the CC map's channel 1, side on channel 2


def test_link_mode_answers_as_match_does(server, bounces: Path) -> None:
    client, _ = server
    result = client.match_multi(12, bounces / "track.wav", [bounces / "ref1.wav", bounces / "ref2.wav"])
    assert "error" not in result, result.get("error")
    assert list(result["settings"]) == list(PROFILE.parameter_names) and result["channels"] == {}
    assert set(result["automation"]) == set(PROFILE.parameter_names)


@pytest.mark.parametrize("args, message", [
    (("mid-side", 0.0, 0.0, 0.0, "{d}/mono.wav", "{d}/ref1.wav", 1.0), "needs two-channel audio"),
    (("mid-side", 0.0, 0.0, 0.0, "{d}/track.wav", "{d}/mono.wav", 1.0), "needs two-channel audio"),
    (("sideways", 0.0, 0.0, 0.0, "{d}/track.wav", "{d}/ref1.wav", 1.0), "--stereo must be one of"),
    (("left-right", 120.0, 0.0, 0.0, "{d}/track.wav", "{d}/ref1.wav", 1.0), "--link must lie in"),
    (("link", 0.0, 5000.0, 100.0, "{d}/track.wav", "{d}/ref1.wav", 1.0), "--range needs"),
    (("link", 0.0, 0.0, 0.0, "{d}/track.wav", "{d}/ref1.wav"), "groups of (sf)"),
    (("link", 0.0, 0.0, 0.0, "/etc/passwd", "{d}/ref1.wav", 1.0), "outside the allowed"),
])
def test_bad_requests_are_answered_with_one_error(server, bounces: Path, args, message: str) -> None:
    client, _ = server
    client.send(MATCH_MULTI, 13, *[a.format(d=bounces) if isinstance(a, str) else float(a) for a in args])
    result = client.wait_result(13)
    assert message in result.get("error", ""), result


def _clip(bounces: Path, name: str) -> np.ndarray:
    audio, rate = sf.read(bounces / name, dtype="float32")
    assert rate == SR
    return audio


def _replies(result: dict) -> dict:
    """A match's replies as float32 numbers (what travelled), without the arrival time."""
    def as_f32(value):
        if isinstance(value, dict):
            return {k: as_f32(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [as_f32(v) for v in value]
        return np.float32(value) if isinstance(value, float) else value
    return as_f32({k: v for k, v in result.items() if k not in ("settings_at", "request_id")})


def test_sent_clips_in_mid_side_answer_as_match_multi_on_the_files(server, bounces: Path) -> None:
    client, _ = server
    names = ("short_track.wav", "short_ref1.wav", "short_ref2.wav")
    options = dict(weights=[2.0, 1.0], stereo="mid-side", link_percent=20.0, range_hz=(60.0, 15000.0))
    sent = client.match_clips_multi(21, _clip(bounces, names[0]), [_clip(bounces, n) for n in names[1:]], SR,
                                    **options)
    files = client.match_multi(22, bounces / names[0], [bounces / n for n in names[1:]], **options)
    assert "error" not in sent, sent.get("error")
    assert set(sent["channels"]) == {"mid", "side"} and list(sent["channels"]["mid"]["settings"]) == list(
        PROFILE.parameter_names)
    assert _replies(sent) == _replies(files)  # settings, normalized values and automation of both channels


def test_one_sent_reference_in_link_mode_answers_as_match_clips(server, bounces: Path) -> None:
    client, _ = server
    track, reference = _clip(bounces, "short_track.wav"), _clip(bounces, "short_ref1.wav")
    plain = client.match_clips(23, track, reference, SR)
    multi = client.match_clips_multi(24, track, [reference], SR)
    assert "error" not in multi, multi.get("error")
    assert list(multi["settings"]) == list(PROFILE.parameter_names) and multi["channels"] == {}
    assert _replies(multi) == _replies(plain)


def test_weight_count_and_mono_clip_are_refused_and_the_server_goes_on(server, bounces: Path) -> None:
    client, _ = server
    stereo = _clip(bounces, "short_track.wav")
    client.send_clip_reliably(25, "track", stereo, SR)
    for k, name in enumerate(("short_ref1.wav", "short_ref2.wav"), start=1):
        client.send_clip_reliably(25, f"reference{k}", _clip(bounces, name), SR)
    client.send(MATCH_CLIPS_MULTI, 25, "mid-side", 0.0, 0.0, 0.0, 1.0, 1.0, 1.0)
    assert client.wait_result(25)["error"] == (f"{MATCH_CLIPS_MULTI} gives 3 weights for the 2 reference clips sent "
                                               "for request 25: give one weight per reference clip, or none for "
                                               "equal weights")
    client.send(MATCH_CLIPS, 25)  # plain match_clips takes one reference
    assert "holds 2 reference clips" in client.wait_result(25)["error"]

    client.send_clip_reliably(26, "track", stereo[:, 0], SR)  # one channel
    client.send_clip_reliably(26, "reference", stereo, SR)
    client.send(MATCH_CLIPS_MULTI, 26, "mid-side", 0.0, 0.0, 0.0)
    replies = client.until(lambda m: m.address == ERROR and m.params[0] == 26)
    assert len(replies) == 1, replies  # the error is the only reply
    assert replies[0].params[1] == ("--stereo mid-side needs two-channel audio; the track has 1 channel: use "
                                    "--stereo link")
    assert client.ping() > 0.0
