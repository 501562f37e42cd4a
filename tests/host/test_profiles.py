import numpy as np
import pytest

from host.errors import ProfileError
from model.profiles import N_BINS, available_profiles, load_profile


def test_three_profiles_ship():
    assert {"zameq2", "lsp-para-eq", "faust-peq"} <= set(available_profiles())


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ProfileError, match="unknown plugin profile 'nope'.*faust-peq"):
        load_profile("nope")


def test_norm_round_trip_and_grid(profile_name):
    profile = load_profile(profile_name)
    rng = np.random.default_rng(0)
    bins = np.stack([profile.sample_bins(rng) for _ in range(50)])
    values = profile.from_bins(bins)
    assert np.all(profile.to_bins(values) == bins)
    assert np.allclose(profile.from_norm(profile.to_norm(values)), values, rtol=1e-9)
    norms = profile.to_norm(values)
    assert norms.min() >= 0.0 and norms.max() <= 1.0
    for spec in profile.parameters:
        grid = spec.grid()
        assert len(grid) == N_BINS and grid[0] == pytest.approx(spec.min) and grid[-1] == pytest.approx(spec.max)


def test_log_grid_is_geometric():
    spec = load_profile("faust-peq").parameter("peak1_freq_hz")
    grid = spec.grid()
    ratios = grid[1:] / grid[:-1]
    assert np.allclose(ratios, ratios[0])


def test_wrong_number_of_values_is_a_clear_error():
    profile = load_profile("zameq2")
    with pytest.raises(ProfileError, match="takes 10 values"):
        profile.to_norm([1.0, 2.0])


def test_unknown_parameter_name_is_rejected():
    with pytest.raises(ProfileError, match="no parameter"):
        load_profile("zameq2").values_from_dict({"bogus_db": 1.0})
