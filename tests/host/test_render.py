"""Physical truths about the real plugins, measured on rendered sines, at 44.1 and 48 kHz."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from host.errors import PluginNotFoundError, ProfileError
from model.profiles import load_profile
from host.plugins.render import PluginHost
from tests.conftest import require_host
from tests.plugins import with_values

SAMPLE_RATES = (44100, 48000)


def sine_gain_db(host: PluginHost, values: np.ndarray, freq_hz: float) -> float:
    """Gain in dB of a sine at freq_hz through the plugin, from the RMS of the settled second half."""
    sr = host.sample_rate
    t = np.arange(int(0.5 * sr)) / sr
    x = (0.25 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    y = host.render(x, values)
    half = len(x) // 2
    return 20 * np.log10(np.sqrt(np.mean(y[half:] ** 2)) / np.sqrt(np.mean(x[half:] ** 2)))


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
@pytest.mark.parametrize("gain_db", (-6.0, 6.0))
@pytest.mark.parametrize("band", ("peak1", "peak2"))
def test_peak_measures_its_gain_at_its_centre(profile_name, sample_rate, gain_db, band):
    host = require_host(profile_name, sample_rate)
    centre = 1000.0 if band == "peak1" else 3000.0
    values = with_values(host.profile, **{f"{band}_gain_db": gain_db, f"{band}_freq_hz": centre})
    assert sine_gain_db(host, values, centre) == pytest.approx(gain_db, abs=0.1)
    # Four octaves away the bell has (almost) let go.
    assert abs(sine_gain_db(host, values, centre * 16 if band == "peak1" else centre / 16)) < 0.6


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_shelves_reach_their_gain_well_past_the_corner(profile_name, sample_rate):
    host = require_host(profile_name, sample_rate)
    values = with_values(host.profile, low_gain_db=-9.0, low_freq_hz=200.0, high_gain_db=9.0, high_freq_hz=3000.0)
    assert sine_gain_db(host, values, 30.0) == pytest.approx(-9.0, abs=0.3)     # 2.7 octaves below
    assert sine_gain_db(host, values, 16000.0) == pytest.approx(9.0, abs=0.3)   # 2.4 octaves above
    assert abs(sine_gain_db(host, values, 900.0)) < 1.0                         # between: near flat


def test_flat_settings_are_transparent(profile_name):
    host = require_host(profile_name)
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(8192)).astype(np.float32)
    y = host.render(x, with_values(host.profile, low_gain_db=0.0, peak1_gain_db=0.0, peak2_gain_db=0.0,
                                    high_gain_db=0.0))
    assert np.max(np.abs(y - x)) < 1e-4


def _display_number(text: str) -> float:
    return float(re.match(r"\s*(-?[0-9.]+)", text).group(1))


def test_parameter_text_matches_the_physical_value(profile_name):
    host = require_host(profile_name)
    profile = host.profile
    if profile.backend != "vst":
        pytest.skip("Faust processors have no text display; covered by the physical tests")
    rng = np.random.default_rng(3)
    for _ in range(10):
        values = profile.from_bins(profile.sample_bins(rng))
        host.render(np.zeros(64, np.float32), values)
        for spec, index, value in zip(profile.parameters, host.parameter_indices, values):
            shown = _display_number(host.parameter_text(index))
            assert shown == pytest.approx(value, rel=6e-3, abs=0.011), (spec.name, value, shown)
    for fixed in profile.fixed:
        index = host._fixed_indices[profile.fixed.index(fixed)]
        shown = host.parameter_text(index).strip()
        if re.match(r"-?[0-9.]+$", fixed.text):
            assert _display_number(shown) == pytest.approx(float(fixed.text), abs=0.011), (fixed, shown)
        else:
            assert shown.startswith(fixed.text), (fixed, shown)


def test_render_is_bit_identical_after_other_renders(profile_name):
    host = require_host(profile_name)
    rng = np.random.default_rng(2)
    x = (0.1 * rng.standard_normal(44100)).astype(np.float32)
    settings = host.profile.from_bins(host.profile.sample_bins(rng))
    first = host.render(x, settings)
    host.render(rng.standard_normal(30000).astype(np.float32), host.profile.from_bins(host.profile.sample_bins(rng)))
    assert np.array_equal(first, host.render(x, settings))


def test_stereo_runs_the_mono_plugin_per_channel(profile_name):
    host = require_host(profile_name)
    rng = np.random.default_rng(4)
    stereo = (0.1 * rng.standard_normal((2, 20000))).astype(np.float32)
    values = host.profile.from_bins(host.profile.sample_bins(rng))
    out = host.render(stereo, values)
    assert out.shape == stereo.shape
    assert np.array_equal(out[1], host.render(stereo[1], values))


def test_missing_plugin_names_the_debian_package(tmp_path: Path):
    from model.profiles import PROFILES_DIR

    raw = json.loads((PROFILES_DIR / "zameq2.json").read_text())
    raw["plugin_paths"] = [str(tmp_path / "nowhere" / "ZamEQ2-vst.so")]
    path = tmp_path / "zam-missing.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(PluginNotFoundError, match="apt-get install zam-plugins"):
        PluginHost(load_profile(path), 44100)


def test_renamed_plugin_parameter_is_a_clear_error(tmp_path: Path):
    from model.profiles import PROFILES_DIR

    raw = json.loads((PROFILES_DIR / "faust-peq.json").read_text())
    raw["parameters"][0]["plugin_name"] = "/dawdreamer/renamed_gain"
    (tmp_path / raw["dsp_file"]).write_text((PROFILES_DIR / raw["dsp_file"]).read_text())
    path = tmp_path / "faust-renamed.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ProfileError, match="renamed_gain"):
        PluginHost(load_profile(path), 44100)


def test_out_of_range_normalized_values_are_rejected():
    host = require_host("faust-peq")
    with pytest.raises(ProfileError, match=r"\[0, 1\]"):
        host.render(np.zeros(100, np.float32), normalized=np.full(host.profile.n_params, 1.5))
