"""Physical truths about the profiles added for the controller split: LSP Para EQ (8 bands) and ZamComp."""

import re

import numpy as np
import pytest

from model.profiles import available_profiles, load_profile
from tests.conftest import require_host
from tests.plugins import with_values

NEW_PROFILES = ("lsp-para-eq-8", "zamcomp")


def test_new_profiles_ship_and_only_eqs_are_listed_by_default() -> None:
    assert set(NEW_PROFILES) <= set(available_profiles(effect=None))
    assert "lsp-para-eq-8" in available_profiles() and "zamcomp" not in available_profiles()
    comp = load_profile("zamcomp")
    assert comp.effect == "dynamics" and not comp.is_eq and comp.bands == ()
    assert load_profile("lsp-para-eq-8").is_eq and len(load_profile("lsp-para-eq-8").bands) == 8


def _sine(level_dbfs: float, freq_hz: float, sample_rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (10 ** (level_dbfs / 20) * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def _gain_db(host, values: np.ndarray, x: np.ndarray) -> float:
    """RMS gain of the settled second half of a render."""
    y = host.render(x, values)
    half = len(x) // 2
    return float(20 * np.log10(np.sqrt(np.mean(y[half:] ** 2)) / np.sqrt(np.mean(x[half:] ** 2))))


@pytest.mark.parametrize("name", NEW_PROFILES)
def test_parameter_text_matches_the_physical_value(name: str) -> None:
    host = require_host(name)
    profile = host.profile
    rng = np.random.default_rng(5)
    for _ in range(6):
        values = profile.from_bins(profile.sample_bins(rng))
        host.render(np.zeros(64, np.float32), values)
        for spec, index, value in zip(profile.parameters, host.parameter_indices, values):
            shown = float(re.match(r"\s*(-?[0-9.]+)", host.parameter_text(index)).group(1))
            assert shown == pytest.approx(value, rel=6e-3, abs=0.011), (spec.name, value, shown)
    for fixed, index in zip(profile.fixed, host._fixed_indices):
        shown = host.parameter_text(index).strip()
        if re.match(r"-?[0-9.]+$", fixed.text):
            assert float(shown) == pytest.approx(float(fixed.text), abs=0.011), (fixed, shown)
        else:
            assert shown.startswith(fixed.text), (fixed, shown)


@pytest.mark.parametrize("band", [f"peak{i}" for i in range(1, 7)])
def test_lsp_eq8_each_bell_measures_its_gain_at_its_centre(band: str) -> None:
    host = require_host("lsp-para-eq-8")
    spec = host.profile.parameter(f"{band}_freq_hz")
    centre_hz = float(np.sqrt(spec.min * spec.max))
    for gain_db in (-6.0, 6.0):
        values = with_values(host.profile, **{f"{band}_gain_db": gain_db, f"{band}_freq_hz": centre_hz})
        assert _gain_db(host, values, _sine(-20.0, centre_hz, host.sample_rate, 0.5)) == pytest.approx(gain_db, abs=0.1)


def test_lsp_eq8_shelves_and_flat_settings() -> None:
    host = require_host("lsp-para-eq-8")
    values = with_values(host.profile, low_gain_db=-9.0, low_freq_hz=200.0, high_gain_db=9.0, high_freq_hz=3000.0)
    assert _gain_db(host, values, _sine(-20.0, 30.0, host.sample_rate)) == pytest.approx(-9.0, abs=0.3)
    assert _gain_db(host, values, _sine(-20.0, 16000.0, host.sample_rate, 0.5)) == pytest.approx(9.0, abs=0.3)
    x = (0.1 * np.random.default_rng(1).standard_normal(8192)).astype(np.float32)
    assert np.max(np.abs(host.render(x, host.profile.default_values()) - x)) < 1e-4


def test_zamcomp_leaves_quiet_signals_alone_and_adds_its_makeup() -> None:
    host = require_host("zamcomp")
    x = _sine(-50.0, 1000.0, host.sample_rate)
    for makeup_db in (0.0, 6.0, 12.0):
        values = with_values(host.profile, threshold_db=-30.0, ratio=4.0, makeup_db=makeup_db)
        assert _gain_db(host, values, x) == pytest.approx(makeup_db, abs=0.05)


@pytest.mark.parametrize("ratio", (2.0, 4.0, 10.0))
def test_zamcomp_slope_above_threshold_is_one_over_ratio(ratio: float) -> None:
    """10 dB more input above the threshold gives 10/ratio dB more output (the static curve's slope);
    20 dB above the threshold the gain reduction is 20 (1 - 1/ratio) dB, within the detector's 0.7 dB."""
    host = require_host("zamcomp")
    values = with_values(host.profile, threshold_db=-30.0, ratio=ratio, attack_ms=1.0, release_ms=50.0)
    g_low = _gain_db(host, values, _sine(-20.0, 1000.0, host.sample_rate))
    g_high = _gain_db(host, values, _sine(-10.0, 1000.0, host.sample_rate))
    assert (g_high + 10.0) - g_low == pytest.approx(10.0 / ratio, abs=0.1)
    assert -g_high == pytest.approx(20.0 * (1 - 1 / ratio), abs=0.7)


def test_zamcomp_longer_release_recovers_more_slowly() -> None:
    host = require_host("zamcomp")
    sr = host.sample_rate
    burst = np.concatenate([_sine(-6.0, 1000.0, sr, 0.3), _sine(-40.0, 1000.0, sr, 0.3)])
    after = slice(int(0.32 * sr), int(0.36 * sr))  # just after the burst ends

    def recovered_gain_db(release_ms: float) -> float:
        values = with_values(host.profile, threshold_db=-30.0, ratio=10.0, attack_ms=1.0, release_ms=release_ms)
        y = host.render(burst, values)
        return float(20 * np.log10(np.sqrt(np.mean(y[after] ** 2)) / np.sqrt(np.mean(burst[after] ** 2))))

    fast, slow = recovered_gain_db(20.0), recovered_gain_db(400.0)
    assert slow < fast - 3.0, (fast, slow)
