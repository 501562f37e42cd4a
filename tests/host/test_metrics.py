"""Audio distances measured on real renders: zero for identical clips, ordered by how far apart they are."""

import numpy as np
import pytest

from host.errors import AudioInputError
from host.evaluation.metrics import lufs_error_db, mel_stft_nepers, mrstft_distance
from tests.conftest import require_host

SR = 44100


def noise(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def test_identical_clips_are_at_distance_zero():
    x = noise()
    assert mel_stft_nepers(x, x, SR) == 0.0
    assert mrstft_distance(x, x) == 0.0
    assert lufs_error_db(x, x, SR) == 0.0


def test_a_broadband_gain_reads_as_its_size_in_nepers():
    x = noise()
    assert mel_stft_nepers(0.5 * x, x, SR) == pytest.approx(np.log(2.0), abs=1e-4)  # 6.02 dB = 0.693 Np


def test_a_bigger_shelf_is_further_from_the_input():
    host = require_host("faust-peq", SR)
    x = noise()
    values = host.profile.default_values()
    low_gain = host.profile.parameter_names.index("low_gain_db")
    distances = {}
    for gain_db in (2.0, 6.0):
        values[low_gain] = gain_db
        y = host.render(x, values)
        distances[gain_db] = (mel_stft_nepers(y, x, SR), mrstft_distance(y, x))
    assert distances[6.0][0] > 2.0 * distances[2.0][0] > 0.0
    assert distances[6.0][1] > distances[2.0][1] > 0.0


def test_half_amplitude_is_6_02_db_quieter():
    x = noise()
    assert lufs_error_db(0.5 * x, x, SR) == pytest.approx(20 * np.log10(2.0), abs=1e-3)


def test_clips_shorter_than_a_loudness_block_are_refused_by_name():
    x = noise(0.3)
    with pytest.raises(AudioInputError, match="400 ms"):
        lufs_error_db(x, x, SR)


def test_clips_of_different_lengths_or_channels_are_refused():
    x = noise()
    with pytest.raises(AudioInputError, match="one length"):
        mel_stft_nepers(x, x[:-1], SR)
    with pytest.raises(AudioInputError, match="mono"):
        mrstft_distance(np.stack([x, x]), np.stack([x, x]))
