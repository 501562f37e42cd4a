"""The shared DAW mapping (host/daw/descriptors.py) on its own: names, ranges, fixed parameters, settings files."""

from __future__ import annotations

import json

import pytest

from host.daw.descriptors import DawParameter, plan_writes, read_settings
from host.errors import OptionError, ProfileError
from model.profiles import load_profile


def _settings(tmp_path, plugin: str, **changed: float):
    profile = load_profile(plugin)
    values = profile.values_dict(profile.default_values()) | changed
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"plugin": plugin, "values": values}))
    return read_settings(path)


def test_parameters_are_found_by_name_whatever_their_position(tmp_path) -> None:
    """LSP's parameters (profile names) listed in reverse order with made-up indices: each value goes to the
    index of its name; fixed labels ('IIR', 'Bell') take value_norm across the range, numbers their text."""
    settings = _settings(tmp_path, "lsp-para-eq", peak1_gain_db=5.0, peak1_freq_hz=700.0)
    profile = settings.profile
    names = [p.plugin_name for p in profile.parameters] + [f.plugin_name for f in profile.fixed]
    params = [DawParameter(100 - k, name, -100.0, 30000.0, 0.0) for k, name in enumerate(reversed(names))]
    index = {p.name: p.index for p in params}
    writes = {w.name: w for w in plan_writes(settings, params, "a DAW plugin")}
    assert writes["peak1_gain_db"].daw_index == index["g_1"] and writes["peak1_gain_db"].sent == 5.0
    assert writes["peak1_freq_hz"].daw_index == index["f_1"] and writes["peak1_freq_hz"].sent == 700.0
    assert writes["q_0"].sent == pytest.approx(0.707) and writes["q_0"].fixed  # its text is a number
    assert writes["ft_1"].sent == pytest.approx(-100.0 + 0.125 * 30100.0)  # 'Bell': value_norm across the range
    assert not any(w.clipped for w in writes.values())


def test_values_are_clipped_to_the_daws_range_and_say_so(tmp_path) -> None:
    settings = _settings(tmp_path, "zameq2", peak1_gain_db=-70.0)
    params = [DawParameter(k + 1, n, -50.0 if "Boost" in n else 0.0, 20000.0, 0.0)
              for k, n in enumerate([p.plugin_name for p in settings.profile.parameters] + ["Master Gain", "Peaks ON"])]
    (w,) = [w for w in plan_writes(settings, params, "x") if w.name == "peak1_gain_db"]
    assert (w.requested, w.sent, w.clipped) == (-70.0, -50.0, True)


def test_settings_files_that_are_not_a_matchs_are_refused(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(OptionError, match="cannot read settings"):
        read_settings(bad)
    bad.write_text(json.dumps({"values": {}}))
    with pytest.raises(OptionError, match="needs 'plugin' and 'values'"):
        read_settings(bad)
    profile = load_profile("zameq2")
    values = profile.values_dict(profile.default_values())
    bad.write_text(json.dumps({"plugin": "zameq2", "values": {**values, "low_gain_db": float("nan")}}))
    with pytest.raises(ProfileError, match="not finite numbers"):
        read_settings(bad)
    del values["high_freq_hz"]
    bad.write_text(json.dumps({"plugin": "zameq2", "values": values}))
    with pytest.raises(ProfileError, match=r"missing \['high_freq_hz'\]"):
        read_settings(bad)
