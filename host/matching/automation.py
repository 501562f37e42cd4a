"""Per-segment predictions -> DAW automation lanes, and those lanes as MIDI CC (a file or a live port).

A lane holds one parameter's points: times in seconds from the start of the track and the plugin's
normalized 0..1 values. Points sit at the centre of each predicted segment, with the first and last
values held out to 0 s and to the end of the track, so a lane always covers the whole track; points in
the middle of a run of equal values are dropped (the curve is unchanged under linear interpolation).

MIDI: one CC number per parameter (``presets/midi_cc_map.json``), value ``round(norm * 127)``, on the
map's channel, in a type-0 file at a fixed tempo so that ticks convert exactly to seconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import mido
import numpy as np

from host.errors import MidiPortError, ProfileError
from model.atomic import atomic_path
from model.profiles import PRESETS_DIR, PluginProfile

log = logging.getLogger(__name__)

CC_MAP_PATH = PRESETS_DIR / "midi_cc_map.json"
MIDI_TEMPO_BPM = 120.0
MIDI_TICKS_PER_BEAT = 960
CC_RESOLUTION_S = 0.05  # CC events are emitted at most this often along a ramp (only when the value changes)


@dataclass(frozen=True)
class AutomationLane:
    """One parameter's automation: strictly increasing ``times_s`` and normalized ``values_norm``."""

    name: str
    plugin_index: int  # the plugin's parameter index; -1 when unknown
    times_s: tuple[float, ...]
    values_norm: tuple[float, ...]
    channel: str = "all"    # the stereo mode's channel (host.matching.stereo.CHANNELS): all, mid, side, left, right
    channel_index: int = 0  # 0 first, 1 second: its CC events go on the CC map's MIDI channel + this


@dataclass(frozen=True)
class CcMap:
    """The MIDI CC number of each parameter of one profile, and the channel (0-15) they are sent on."""

    profile_name: str
    channel: int
    cc: dict[str, int]


def _drop_flat_interior(times_s: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(values) <= 2:
        return times_s, values
    keep = np.ones(len(values), dtype=bool)
    keep[1:-1] = ~((values[1:-1] == values[:-2]) & (values[1:-1] == values[2:]))
    return times_s[keep], values[keep]


def automation_lanes(times_s: np.ndarray, values: np.ndarray, segment_s: float, duration_s: float,
                     profile: PluginProfile, plugin_indices: Sequence[int], channel: str = "all",
                     channel_index: int = 0) -> tuple[AutomationLane, ...]:
    """Lanes from per-segment predictions.

    Args:
        times_s: (T,) segment starts in seconds, increasing.
        values: (T, P) physical values in the profile's parameter order.
        segment_s: segment length in seconds (points go to segment centres).
        duration_s: track length in seconds; lanes run from 0 to it.
        plugin_indices: (P,) the plugin's parameter indices (-1 where unknown).
        channel, channel_index: the stereo channel the lanes automate (its MIDI CC go on channel + index).
    """
    starts = np.asarray(times_s, dtype=np.float64)
    vals = np.asarray(values, dtype=np.float64)
    if starts.ndim != 1 or len(starts) == 0 or vals.shape != (len(starts), profile.n_params):
        raise ProfileError(f"segment predictions must be (T,) times and (T, {profile.n_params}) values, "
                           f"got {starts.shape} and {vals.shape}")
    norms = np.clip(profile.to_norm(vals), 0.0, 1.0)  # (T, P)
    centres = np.minimum(starts + segment_s / 2.0, duration_s)  # (T,)
    times = np.concatenate([[0.0], centres, [max(duration_s, float(centres[-1]))]])  # (T + 2,)
    norms = np.concatenate([norms[:1], norms, norms[-1:]], axis=0)  # (T + 2, P)
    strictly = np.concatenate([[True], np.diff(times) > 1e-9])
    times, norms = times[strictly], norms[strictly]
    lanes = []
    for i, name in enumerate(profile.parameter_names):
        t, v = _drop_flat_interior(times, norms[:, i])
        lanes.append(AutomationLane(name, int(plugin_indices[i]), tuple(float(x) for x in t),
                                    tuple(float(x) for x in v), channel, channel_index))
    return tuple(lanes)


AUTOMATION_FORMAT = "eqbridge-automation-1"


def automation_record(lanes: Sequence[AutomationLane], profile: PluginProfile,
                      daw_plugin_names: Sequence[str] = ()) -> dict:
    """The automation JSON (``serve --automation-dir``) that examples/ardour_eqbridge_automation.lua and
    examples/reaper_eqbridge.lua read: per lane the plugin's parameter name and index, times in seconds from the start of the
    track, normalized values (REAPER's envelopes) and physical values (Ardour's lanes hold those)."""
    by_name = {spec.name: spec for spec in profile.parameters}
    return {"format": AUTOMATION_FORMAT, "plugin": profile.name, "daw_plugin_names": list(daw_plugin_names),
            "lanes": [{"name": lane.name, "plugin_name": by_name[lane.name].plugin_name,
                       "plugin_index": lane.plugin_index, "times_s": list(lane.times_s),
                       "values_norm": list(lane.values_norm),
                       "values": [float(v) for v in by_name[lane.name].from_norm(np.asarray(lane.values_norm))]}
                      for lane in lanes]}


def load_cc_map(profile_name: str, path: Path = CC_MAP_PATH) -> CcMap:
    """The CC map of one profile from ``presets/midi_cc_map.json``.

    Raises:
        ProfileError: unreadable file, no entry for the profile, or CC numbers outside 0..119 / repeated.
    """
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ProfileError(f"cannot read MIDI CC map {path}: {exc}") from exc
    profiles = raw.get("profiles", {})
    if profile_name not in profiles:
        raise ProfileError(f"MIDI CC map {path} has no entry for profile {profile_name!r}; "
                           f"it has {sorted(profiles)}")
    entry = profiles[profile_name]
    channel = int(entry.get("channel", 1)) - 1  # the file counts channels 1-16 like DAWs do
    cc = {str(k): int(v) for k, v in entry["cc"].items()}
    if not 0 <= channel <= 15:
        raise ProfileError(f"MIDI CC map {path}: profile {profile_name!r} channel {channel + 1} is not in 1..16")
    bad = {k: v for k, v in cc.items() if not 0 <= v <= 119}
    if bad or len(set(cc.values())) != len(cc):
        raise ProfileError(f"MIDI CC map {path}: profile {profile_name!r} needs distinct CC numbers in 0..119, "
                           f"got {cc}")
    return CcMap(profile_name, channel, cc)


def cc_events(lane: AutomationLane, cc_number: int, resolution_s: float = CC_RESOLUTION_S) -> list[tuple[float, int]]:
    """(time_s, 7-bit value) CC events following a lane: sampled every ``resolution_s`` along ramps,
    kept only where the 7-bit value changes (the first point is always kept)."""
    if not 0 <= cc_number <= 119:
        raise ProfileError(f"CC number {cc_number} is not in 0..119")
    times = np.asarray(lane.times_s)
    grid = np.unique(np.concatenate([times, np.arange(0.0, times[-1], resolution_s)]))  # (N,)
    cc_values = np.rint(np.interp(grid, times, np.asarray(lane.values_norm)) * 127.0).astype(int)
    events = [(float(grid[0]), int(cc_values[0]))]
    for t, v in zip(grid[1:], cc_values[1:]):
        if v != events[-1][1]:
            events.append((float(t), int(v)))
    return events


def _timed_cc_messages(lanes: Sequence[AutomationLane], cc_map: CcMap) -> list[tuple[float, mido.Message]]:
    missing = [lane.name for lane in lanes if lane.name not in cc_map.cc]
    if missing:
        raise ProfileError(f"MIDI CC map for {cc_map.profile_name!r} has no CC for parameter(s) {missing}")
    timed = []
    for lane in lanes:
        number = cc_map.cc[lane.name]
        midi_channel = (cc_map.channel + lane.channel_index) % 16  # mid/left on the map's channel, side/right next
        timed += [(t, mido.Message("control_change", channel=midi_channel, control=number, value=v))
                  for t, v in cc_events(lane, number)]
    timed.sort(key=lambda tv: (tv[0], tv[1].channel, tv[1].control))
    return timed


def midi_file(lanes: Sequence[AutomationLane], cc_map: CcMap, track_name: str = "eqbridge") -> mido.MidiFile:
    """A type-0 MIDI file holding the lanes as CC events at 120 BPM (one beat = 0.5 s)."""
    tempo = mido.bpm2tempo(MIDI_TEMPO_BPM)
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=track_name, time=0),
                            mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    last_tick = 0
    for t, msg in _timed_cc_messages(lanes, cc_map):
        tick = int(round(mido.second2tick(t, MIDI_TICKS_PER_BEAT, tempo)))
        track.append(msg.copy(time=tick - last_tick))
        last_tick = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return mido.MidiFile(type=0, ticks_per_beat=MIDI_TICKS_PER_BEAT, tracks=[track])


def write_midi_file(lanes: Sequence[AutomationLane], cc_map: CcMap, path: Path,
                    track_name: str = "eqbridge") -> Path:
    """Write :func:`midi_file` to ``path`` atomically."""
    with atomic_path(path, suffix=".mid") as tmp:
        midi_file(lanes, cc_map, track_name).save(filename=str(tmp))
    return Path(path)


class LiveMidiOutput:
    """Plays automation lanes as CC messages on a live MIDI port, in real time, on its own thread.

    A newer match replaces the one still playing. Raises MidiPortError at construction when
    python-rtmidi is missing or no output port has the given name.
    """

    def __init__(self, port_name: str, cc_map: CcMap) -> None:
        try:
            import rtmidi  # noqa: F401  (mido's default backend)
        except ImportError as exc:
            raise MidiPortError("--midi-port needs python-rtmidi: pip install python-rtmidi") from exc
        try:
            names = mido.get_output_names()
        except (OSError, RuntimeError) as exc:
            raise MidiPortError(f"cannot list MIDI output ports: {exc}") from exc
        if port_name not in names:
            raise MidiPortError(f"MIDI output port {port_name!r} does not exist; ports: {names}")
        self._port = mido.open_output(port_name)
        self._cc_map = cc_map
        self._generation = 0
        self._lock = threading.Lock()

    def play(self, lanes: Sequence[AutomationLane]) -> None:
        timed = _timed_cc_messages(lanes, self._cc_map)
        with self._lock:
            self._generation += 1
            generation = self._generation
        threading.Thread(target=self._run, args=(timed, generation), daemon=True, name="eqbridge-midi").start()

    def _run(self, timed: list[tuple[float, mido.Message]], generation: int) -> None:
        start = time.monotonic()
        for t, msg in timed:
            delay = start + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if generation != self._generation:
                return
            self._port.send(msg)

    def close(self) -> None:
        self._port.close()
