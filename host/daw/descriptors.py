"""What every DAW push shares: the settings a match wrote, the DAW map, and our parameters -> the DAW's.

A push never assumes a parameter's position: each profile parameter is found on the DAW's plugin by the
plugin's own parameter name (``ParameterSpec.plugin_name``, or a rename in ``presets/daw_plugins.json``).
Everything here is checked before the first value is sent, so a bad input sets nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from host.errors import DawError, DawPluginMismatchError, OptionError, ProfileError
from model.profiles import PRESETS_DIR, FixedParameter, PluginProfile, load_profile

DAW_MAP_PATH = PRESETS_DIR / "daw_plugins.json"
MAX_TIMEOUT_S = 60.0  # the longest --timeout-seconds a push accepts


@dataclass(frozen=True)
class PushSettings:
    """The settings a match wrote (``match --settings-out``): a profile and its physical values."""

    source: str               # where the settings came from (a file, or a bridge request), for messages
    profile: PluginProfile
    values: dict[str, float]  # profile parameter name -> physical value, every parameter present


@dataclass(frozen=True)
class DawParameter:
    """One parameter as the DAW describes it (Ardour: /strip/plugin/descriptor)."""

    index: int        # the DAW's own index (Ardour: 1-based)
    name: str
    lower: float
    upper: float
    value: float      # its current value, in the plugin's physical unit


@dataclass(frozen=True)
class ParameterWrite:
    """One value a push sets: ours (``name``, a profile parameter or a fixed one) onto the DAW's."""

    name: str
    daw_name: str
    daw_index: int
    requested: float          # what the settings ask for (physical, or normalized for REAPER)
    sent: float               # after clipping to the DAW's range
    fixed: bool = False       # one of the profile's fixed parameters (band type, output gain...)

    @property
    def clipped(self) -> bool:
        return self.sent != self.requested


@dataclass(frozen=True)
class PushResult:
    """What a push set, and what the DAW reported back (None where it cannot be asked)."""

    daw: str
    target: str                               # e.g. "strip 1 plugin 1 (ZamEQ2)"
    writes: tuple[ParameterWrite, ...]
    read_back: dict[str, float] | None        # name -> the DAW's value after the push (None: not asked)

    @property
    def clipped(self) -> tuple[ParameterWrite, ...]:
        return tuple(w for w in self.writes if w.clipped)

    def lines(self) -> list[str]:
        """A human summary: one line per value, then one per clipped value."""
        out = []
        for w in self.writes:
            back = "" if self.read_back is None else (f"  read back {self.read_back[w.name]:.6g}"
                                                      if w.name in self.read_back else "  not read back")
            out.append(f"{w.name:<16} -> {w.daw_name!r} #{w.daw_index}: {w.sent:.6g}{back}"
                       f"{'  (fixed)' if w.fixed else ''}")
        out += [f"clipped: {w.name} {w.requested:.6g} -> {w.sent:.6g} (the {self.daw} plugin's range)"
                for w in self.clipped]
        return out


def read_settings(path: Path | str) -> PushSettings:
    """The settings JSON a match wrote, checked against its profile.

    Raises:
        OptionError: the file cannot be read or is not a settings JSON (no ``plugin``/``values``).
        ProfileError: an unknown profile, or values that are not exactly the profile's parameters (settings
            written for another profile), or a value that is not a finite number.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OptionError(f"cannot read settings {path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("plugin"), str) or not isinstance(raw.get("values"), dict):
        raise OptionError(f"{path} is not a settings JSON of `eqbridge match --settings-out` "
                          f"(it needs 'plugin' and 'values')")
    profile = load_profile(raw["plugin"])
    values = raw["values"]
    unknown = sorted(set(values) - set(profile.parameter_names))
    missing = [n for n in profile.parameter_names if n not in values]
    if unknown or missing:
        raise ProfileError(f"{path}: its values do not fit profile {profile.name!r} (settings of another "
                           f"profile?): unknown {unknown}, missing {missing}")
    bad = [n for n, v in values.items() if isinstance(v, bool) or not isinstance(v, (int, float))
           or not math.isfinite(v)]
    if bad:
        raise ProfileError(f"{path}: values {bad} are not finite numbers")
    return PushSettings(str(path), profile, {n: float(values[n]) for n in profile.parameter_names})


def _daw_map(path: Path = DAW_MAP_PATH) -> dict:
    try:
        return json.loads(Path(path).read_text())["profiles"]
    except (OSError, KeyError, json.JSONDecodeError) as exc:
        raise ProfileError(f"cannot read the DAW map {path}: {exc!r}") from exc


def ardour_entry(profile: PluginProfile) -> dict:
    """The profile's Ardour entry of ``presets/daw_plugins.json`` (ProfileError when it has none)."""
    profiles = _daw_map()
    entry = profiles.get(profile.name, {}).get("ardour")
    if entry is None:
        mapped = sorted(n for n, e in profiles.items() if "ardour" in e)
        raise ProfileError(f"profile {profile.name!r} has no Ardour mapping in {DAW_MAP_PATH.name} "
                           f"(mapped: {', '.join(mapped)})")
    return entry


def daw_plugin_names(profile: PluginProfile) -> tuple[str, ...]:
    """The plugin's names in Ardour, () where the profile has no Ardour entry."""
    return tuple(_daw_map().get(profile.name, {}).get("ardour", {}).get("plugin_names", ()))


def check_ardour_plugin(profile: PluginProfile, plugin_name: str, where: str) -> None:
    """Refuse a DAW plugin that is not the profile's, naming both (and the profile it does belong to)."""
    if plugin_name in ardour_entry(profile)["plugin_names"]:
        return
    owners = [name for name, e in _daw_map().items() if plugin_name in e.get("ardour", {}).get("plugin_names", [])]
    belongs = f" (the plugin of profile {owners[0]!r})" if owners else ""
    raise DawPluginMismatchError(f"{where} is {plugin_name!r}{belongs}, but the settings are for profile "
                                 f"{profile.name!r}, {profile.display_name}: expected a plugin named "
                                 f"{' or '.join(map(repr, ardour_entry(profile)['plugin_names']))}")


def _fixed_value(fixed: FixedParameter, param: DawParameter) -> float:
    """A fixed parameter's physical value: the number its 'text' shows, else value_norm across the range."""
    if fixed.text is not None:
        try:
            return float(fixed.text)
        except ValueError:
            pass  # a label such as "IIR" or "Bell": the normalized value across the range
    return param.lower + fixed.value_norm * (param.upper - param.lower)


def plan_writes(settings: PushSettings, params: Sequence[DawParameter], where: str,
                renames: Mapping[str, str] | None = None) -> tuple[ParameterWrite, ...]:
    """Our values (and the profile's fixed ones) onto the DAW's parameters by name, clipped to their ranges.

    Raises:
        DawError: a parameter the profile needs is not on the DAW's plugin (renamed or missing).
    """
    renames = dict(renames or {})
    by_name = {p.name: p for p in params}
    wanted = [(spec.name, renames.get(spec.plugin_name, spec.plugin_name), settings.values[spec.name], None)
              for spec in settings.profile.parameters]
    wanted += [(f.plugin_name, renames.get(f.plugin_name, f.plugin_name), None, f) for f in settings.profile.fixed]
    missing = [daw_name for _, daw_name, _, _ in wanted if daw_name not in by_name]
    if missing:
        raise DawError(f"{where} has no parameter(s) {missing} that profile {settings.profile.name!r} sets "
                       f"(renamed in this build of the plugin?); it has {[p.name for p in params]}")
    writes = []
    for name, daw_name, value, fixed in wanted:
        param = by_name[daw_name]
        requested = _fixed_value(fixed, param) if fixed is not None else value
        sent = min(max(requested, param.lower), param.upper)
        writes.append(ParameterWrite(name, daw_name, param.index, requested, sent, fixed is not None))
    return tuple(writes)


def check_timeout(timeout_s: float) -> float:
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise OptionError(f"--timeout-seconds {timeout_s} is not in (0, {MAX_TIMEOUT_S:g}]")
    return timeout_s


def read_back_mismatches(writes: Sequence[ParameterWrite], read_back: Mapping[str, float]) -> list[str]:
    """Values the DAW did not take (float32 on the wire: 1e-5 relative, 1e-6 absolute)."""
    return [f"{w.name} sent {w.sent:.6g}, reads {read_back[w.name]:.6g}" for w in writes
            if not math.isclose(read_back[w.name], w.sent, rel_tol=1e-5, abs_tol=1e-6)]
