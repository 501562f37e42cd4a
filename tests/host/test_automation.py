"""Automation lanes from segment predictions, and their MIDI CC form (file and CC map)."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from host.matching.automation import (CC_MAP_PATH, AutomationLane, automation_lanes, cc_events, load_cc_map, midi_file,
                             write_midi_file, LiveMidiOutput)
from host.errors import MidiPortError, ProfileError
from model.profiles import available_profiles, load_profile

PROFILE = load_profile("faust-peq")


def _segments(rows: list[list[float]]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


def test_lanes_cover_the_track_in_increasing_time_with_the_plugin_values() -> None:
    defaults = PROFILE.default_values()
    values = np.stack([defaults] * 5)  # (T=5, P)
    values[2:, 0] = 6.0  # low_gain_db steps up from the third segment
    starts = np.arange(5) * 1.0
    lanes = automation_lanes(starts, values, segment_s=2.0, duration_s=6.5, profile=PROFILE,
                             plugin_indices=range(PROFILE.n_params))
    assert [lane.name for lane in lanes] == list(PROFILE.parameter_names)
    gain = lanes[0]
    assert gain.times_s == (0.0, 2.0, 3.0, 6.5)  # flat run 0..2 s kept at its ends, step, held to the end
    assert gain.values_norm == pytest.approx([PROFILE.parameters[0].to_norm(0.0)] * 2
                                             + [PROFILE.parameters[0].to_norm(6.0)] * 2)
    flat = lanes[1]
    assert flat.times_s == (0.0, 6.5) and flat.plugin_index == 1
    assert flat.values_norm == pytest.approx([float(PROFILE.parameters[1].to_norm(defaults[1]))] * 2)


def test_lanes_reject_mismatched_shapes() -> None:
    with pytest.raises(ProfileError, match=r"\(T, 10\)"):
        automation_lanes(np.arange(3.0), np.zeros((3, 4)), 2.0, 4.0, PROFILE, range(10))


def test_cc_map_covers_every_profile_with_distinct_undefined_controllers() -> None:
    for name in available_profiles():
        cc_map = load_cc_map(name)
        assert set(cc_map.cc) == set(load_profile(name).parameter_names), name
        assert len(set(cc_map.cc.values())) == len(cc_map.cc)
        assert all(20 <= cc <= 31 or 102 <= cc <= 119 for cc in cc_map.cc.values())  # undefined in MIDI 1.0
    with pytest.raises(ProfileError, match="no entry"):
        load_cc_map("no-such-plugin")


def test_cc_events_follow_a_ramp_and_skip_repeats() -> None:
    lane = AutomationLane("x", 0, (0.0, 1.0, 3.0), (0.0, 1.0, 1.0))
    events = cc_events(lane, 20, resolution_s=0.1)
    times, values = zip(*events)
    assert values[0] == 0 and values[-1] == 127 and times[-1] <= 1.0 + 1e-9  # nothing after the ramp ends
    assert list(values) == sorted(set(values)) and np.all(np.diff(times) > 0)
    with pytest.raises(ProfileError):
        cc_events(lane, 120)


def test_midi_file_round_trips_times_and_values(tmp_path: Path) -> None:
    cc_map = load_cc_map("faust-peq")
    lanes = (AutomationLane("low_gain_db", 0, (0.0, 2.0, 4.0), (0.25, 0.25, 0.75)),
             AutomationLane("high_freq_hz", 9, (0.0, 4.0), (0.5, 0.5)))
    path = write_midi_file(lanes, cc_map, tmp_path / "out" / "eqbridge-7.mid")
    assert [p.name for p in path.parent.iterdir()] == ["eqbridge-7.mid"]  # the temporary name is gone
    loaded = mido.MidiFile(path)
    assert loaded.type == 0
    t, events = 0.0, []
    for msg in loaded:  # iterating a MidiFile yields delta times in seconds
        t += msg.time
        if msg.type == "control_change":
            events.append((round(t, 4), msg.control, msg.value, msg.channel))
    high = [e for e in events if e[1] == cc_map.cc["high_freq_hz"]]
    assert high == [(0.0, 29, 64, 0)]
    low = [e for e in events if e[1] == cc_map.cc["low_gain_db"]]
    assert low[0] == (0.0, 20, 32, 0) and low[-1][2] == 95 and low[-1][0] <= 4.0
    assert all(a[0] <= b[0] for a, b in zip(low, low[1:]))
    with pytest.raises(ProfileError, match="no CC"):
        midi_file((AutomationLane("unknown", 0, (0.0, 1.0), (0.0, 0.0)),), cc_map)


def test_live_midi_output_fails_clearly_without_a_backend_or_port() -> None:
    with pytest.raises(MidiPortError, match="python-rtmidi|does not exist"):
        LiveMidiOutput("no such port", load_cc_map("faust-peq"))


def test_cc_map_file_is_the_shipped_one() -> None:
    assert CC_MAP_PATH.name == "midi_cc_map.json" and CC_MAP_PATH.is_file()
