"""The analytic responses against the real plugins, and the EQ-match fit against settings the real plugin applied."""

import numpy as np
import pytest

from host.evaluation.dsp_fit import fit_eq_match, target_curve_db
from host.plugins.filters import analytic_response_db, octaves_to_q
from host.errors import AudioInputError
from host.evaluation.metrics import mel_stft_nepers
from model.profiles import load_profile
from tests.conftest import PROFILES, require_host

# Measured max |analytic - plugin| between 30 Hz and 16 kHz over random settings: faust-peq 0.00 dB,
# lsp-para-eq 0.02 dB, zameq2 0.00 dB (with its own FILTER_DESIGNS entry; plain RBJ was off by up to 10 dB).
TOLERANCE_DB = {"faust-peq": 0.1, "lsp-para-eq": 0.1, "lsp-para-eq-8": 0.1, "zameq2": 0.1}


def test_every_shipped_profile_has_a_tolerance():
    assert PROFILES and set(PROFILES) == set(TOLERANCE_DB)


@pytest.mark.parametrize("sample_rate", (44100, 48000))
def test_analytic_response_matches_the_plugin(profile_name, sample_rate):
    host = require_host(profile_name, sample_rate)
    profile = host.profile
    rng = np.random.default_rng(7)
    for _ in range(4):
        values = profile.from_bins(profile.sample_bins(rng))
        freqs, measured = host.magnitude_response_db(values, n_fft=32768)
        band = (freqs >= 30.0) & (freqs <= 16000.0)
        analytic = analytic_response_db(profile, values, freqs[band], sample_rate)
        assert np.max(np.abs(analytic - measured[band])) < TOLERANCE_DB[profile_name], profile.values_dict(values)


def test_one_octave_is_q_1_41():
    assert octaves_to_q(1.0) == pytest.approx(np.sqrt(2.0))


def test_the_fit_recovers_settings_the_plugin_applied_to_noise():
    host = require_host("faust-peq", 44100)
    profile = host.profile
    rng = np.random.default_rng(3)
    track = (0.1 * rng.standard_normal(4 * 44100)).astype(np.float32)
    other = (0.1 * rng.standard_normal(4 * 44100)).astype(np.float32)
    true = profile.values_from_dict({"low_gain_db": 6.0, "low_freq_hz": 100.0, "peak1_gain_db": -6.0,
                                     "peak1_freq_hz": 700.0, "peak1_q": 1.5, "peak2_gain_db": 4.0,
                                     "peak2_freq_hz": 4000.0, "peak2_q": 1.0, "high_gain_db": -6.0,
                                     "high_freq_hz": 9000.0})
    fitted = fit_eq_match(track, host.render(other, true), 44100, profile)
    gains = [profile.parameter_names.index(n) for n in ("low_gain_db", "peak1_gain_db", "peak2_gain_db",
                                                         "high_gain_db")]
    assert np.abs(fitted[gains] - true[gains]) == pytest.approx(0.0, abs=1.5), profile.values_dict(fitted)
    target = host.render(track, true)
    assert mel_stft_nepers(host.render(track, fitted), target, 44100) < 0.5 * mel_stft_nepers(track, target, 44100)


def test_target_curve_is_flat_for_equal_spectra_and_refuses_bad_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(44100)
    _, curve, weights = target_curve_db(x, 2.0 * rng.standard_normal(44100), 44100)
    assert np.all(weights == 1.0)
    assert np.median(curve) == pytest.approx(20 * np.log10(2.0), abs=0.5)
    with pytest.raises(AudioInputError, match="mono"):
        fit_eq_match(np.stack([x, x]), x, 44100, load_profile("faust-peq"))
    with pytest.raises(AudioInputError, match="silent"):
        fit_eq_match(np.zeros(44100), x, 44100, load_profile("faust-peq"))
