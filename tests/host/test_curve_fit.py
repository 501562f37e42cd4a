"""One curve, every EQ plugin: the model's view of each plugin's response, checked against the real plugin,
and the per-plugin fit that turns a curve into that plugin's settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from host.matching.curve_fit import fit_profile
from host.plugins.curves import mel_curve_db, random_settings
from model.curve.features import ClipStats
from model.curve.response import mel_center_frequencies_hz
from model.curve.stats_config import StatsConfig
from model.profiles import load_profile
from tests.conftest import PROFILES, require_host
from tests.model.test_curve import music_like
from tests.plugins import with_values

SR = 44100


def test_a_6_db_bell_at_1_khz_reads_6_db_in_the_1_khz_band() -> None:
    profile = load_profile("faust-peq")
    values = with_values(profile, peak1_gain_db=6.0, peak1_freq_hz=1000.0, peak1_q=1.0)
    curve = mel_curve_db(profile, values)
    band = int(np.argmin(np.abs(mel_center_frequencies_hz() - 1000.0)))
    assert curve[band] == pytest.approx(6.0, abs=0.15)
    assert np.allclose(mel_curve_db(profile, with_values(profile)), 0.0, atol=1e-6)


@pytest.mark.parametrize("name", PROFILES)
def test_the_model_view_of_a_plugin_matches_its_real_render(name: str) -> None:
    """Mean-level statistics of real renders against dry statistics + mel_curve_db: the approximation the
    curve model trains on (issue 14 asks for it to be reported: README 'approximation error')."""
    host = require_host(name)
    profile = host.profile
    front = ClipStats()
    x = music_like(6.0, 11) + 0.01 * np.random.default_rng(1).standard_normal(6 * SR).astype(np.float32)
    dry = front(torch.from_numpy(x))[0].numpy()
    errors = []
    for values in random_settings(profile, np.random.default_rng(2), 3):
        wet = front(torch.from_numpy(host.render(x, values)))[0].numpy()
        errors.append(np.abs(wet - (dry + mel_curve_db(profile, values))))
    assert np.mean(errors) < 0.35, np.mean(errors)


@pytest.mark.parametrize("name", PROFILES)
def test_the_fit_reaches_a_curve_the_plugin_can_make(name: str) -> None:
    profile = load_profile(name)
    errors, flat = [], []
    for values in random_settings(profile, np.random.default_rng(3), 6):
        curve = mel_curve_db(profile, values)
        errors.append(np.mean(np.abs(mel_curve_db(profile, fit_profile(profile, curve)) - curve)))
        flat.append(np.mean(np.abs(curve)))
    assert np.mean(errors) < 0.2 * np.mean(flat), (np.mean(errors), np.mean(flat))


def test_the_fit_of_a_flat_curve_is_flat() -> None:
    for name in PROFILES:
        profile = load_profile(name)
        values = fit_profile(profile, np.zeros(128))
        gains = [values[profile.parameter_names.index(b.gain)] for b in profile.bands]
        assert np.allclose(gains, 0.0, atol=0.05), (name, gains)


def test_the_statistics_of_speech_with_pauses_follow_an_eq_as_the_model_assumes() -> None:
    """Bursts with pauses in a white noise floor about 50 dB down (dialogue): an EQ that cuts the highs moves the
    pauses' frames by another amount than the bursts'. Measured over a 50 dB gate, frames near it come and go and
    the low percentile no longer moves by the curve; over the 80 dB level gate (the default) it does."""
    host = require_host("faust-peq")
    profile = host.profile
    rng = np.random.default_rng(5)
    bursts = music_like(6.0, 12) * (np.sin(2 * np.pi * 1.5 * np.arange(6 * SR) / SR) > 0)
    floor = rng.standard_normal(6 * SR).astype(np.float32)
    x = (bursts + floor * np.sqrt(np.mean(bursts**2)) * 10 ** (-50 / 20)).astype(np.float32)
    values = with_values(profile, low_gain_db=9.0, low_freq_hz=200.0, high_gain_db=-12.0, high_freq_hz=2000.0)
    wet, curve = host.render(x, values), mel_curve_db(profile, values)
    errors = {}
    for gate_db in (50.0, 80.0):
        front = ClipStats(stats=StatsConfig(level_gate_db=gate_db))
        dry_stats, wet_stats = (front(torch.from_numpy(a)).numpy() for a in (x, wet))
        errors[gate_db] = float(np.mean(np.abs(wet_stats[1] - (dry_stats[1] + curve))))  # the 10th percentile
    assert errors[80.0] < 0.15 and errors[80.0] < 0.5 * errors[50.0], errors  # measured 0.035 and 0.28
