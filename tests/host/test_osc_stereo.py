"""/eqbridge/match_multi over real UDP on 127.0.0.1: stereo modes, several weighted references, a range; replies
naming the channel; MIDI CC lanes per channel (one MIDI channel each)."""

from __future__ import annotations

import socket
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from host.osc.addresses import MATCH_MULTI
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
