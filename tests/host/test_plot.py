"""The pictures: host/matching/plot.py (match curve and spectra) and explore's latent/settings plot.

The PNGs are read back with matplotlib.image: a valid PNG of the figure's size, and the red curve sits
where the numbers given to the function put it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from host.matching.explore import plot_explore
from host.matching.plot import plot_eq_match
from model.profiles import N_BINS, load_profile
from tests.audio import synth_recording

SR = 44100
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TAB_RED = np.array([214, 39, 40]) / 255.0  # matplotlib's "tab:red": the EQ curve and the match


def _sine(freq_hz: float, seconds: float = 2.0, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq_hz * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def _read_png(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # written atomically: no temporary left
    return matplotlib.image.imread(path)  # (rows, cols, RGBA) floats in 0..1


def _red_rows(image: np.ndarray, cols: slice, rows: slice = slice(None)) -> np.ndarray:
    """Row indices (0 at the top) of the tab:red pixels inside a region."""
    region = image[rows, cols, :3]
    hits = np.all(np.abs(region - TAB_RED) < 0.08, axis=-1)
    return np.nonzero(hits)[0] + (rows.start or 0)


@pytest.mark.parametrize("rising", (True, False))
def test_the_match_picture_draws_the_curve_it_was_given(tmp_path: Path, rising: bool) -> None:
    freqs = np.geomspace(10.0, SR / 2, 400)
    ramp = np.linspace(-12.0, 12.0, len(freqs))
    path = plot_eq_match(tmp_path / "pictures" / "curve.png", (freqs, ramp if rising else -ramp), SR)
    image = _read_png(path)
    assert image.shape == (770, 990, 4)  # figsize 9 x 7 in at 110 dpi
    top = slice(0, image.shape[0] // 2)
    left, right = _red_rows(image, slice(100, 250), top), _red_rows(image, slice(750, 900), top)
    assert len(left) and len(right)
    # Rows count down from the top: a rising curve is higher (smaller row) on the right.
    assert (np.median(right) < np.median(left) - 100) == rising
    assert (np.median(left) < np.median(right) - 100) == (not rising)
    assert len(_red_rows(image, slice(None), slice(image.shape[0] // 2, None))) == 0  # no curve in the spectra


def test_the_match_picture_draws_one_spectrum_per_clip_given(tmp_path: Path) -> None:
    track = synth_recording(2.0, SR, seed=1)
    colors = {"tab:blue": (31, 119, 180), "tab:green": (44, 160, 44), "tab:orange": (255, 127, 14)}

    def bottom_colors(image: np.ndarray) -> set[str]:
        bottom = image[image.shape[0] // 2:, :, :3]
        return {name for name, rgb in colors.items()
                if np.all(np.abs(bottom - np.array(rgb) / 255.0) < 0.08, axis=-1).sum() > 50}

    curve = (np.geomspace(20.0, SR / 2, 50), np.zeros(50))
    only_before = _read_png(plot_eq_match(tmp_path / "a" / "p.png", curve, SR, before=track))
    every = _read_png(plot_eq_match(tmp_path / "b" / "p.png", curve, SR, before=track, after=0.5 * track,
                                    reference=_sine(500.0, 2.0, 0.3), reference_rate=SR))
    assert bottom_colors(only_before) == {"tab:blue"}
    assert bottom_colors(every) == set(colors)


@pytest.mark.parametrize("center_unit", (0.15, 0.85))
def test_the_explore_picture_of_settings_draws_the_match_where_its_values_are(tmp_path: Path,
                                                                              center_unit: float) -> None:
    """Without EQ curves (a compressor), the right panel plots settings on 0..1: the red match line sits
    low for low settings and high for high ones; the picture is 13 x 5.5 in at 110 dpi."""
    profile = load_profile("zamcomp")
    rng = np.random.default_rng(2)
    center_values = np.array([spec.from_bin(center_unit * (N_BINS - 1)) for spec in profile.parameters])
    values = np.stack([np.array([spec.from_bin(N_BINS // 2) for spec in profile.parameters])] * 3)
    center, points = np.zeros(2), rng.normal(size=(3, 2)) * 0.3
    path = plot_explore(tmp_path / "explore" / "explore.png", profile, center_values, values, center, points, 1.0,
                        None, SR, "three variants")
    image = _read_png(path)
    assert image.shape == (605, 1430, 4)
    right = _red_rows(image, slice(image.shape[1] // 2 + 100, image.shape[1] - 50), slice(50, 500))
    assert len(right) > 20
    row = np.median(right)
    assert (row > 300) if center_unit < 0.5 else (row < 250), row
    assert len(_red_rows(image, slice(50, image.shape[1] // 2 - 50))) > 0  # the match's star in latent space
