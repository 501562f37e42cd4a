"""Stereo modes: which signals a match hears and renders, per channel.

``link`` (the default) hears the channel average and runs the one setting on every channel. ``mid-side``
and ``left-right`` hear, and equalize, two signals apart: mid M = (L + R) / 2 and side S = (L - R) / 2
(decoded as L = M + S, R = M - S), or left and right. The plugin is mono, so the two settings are two
renders of the real plugin (one engine, its parameters set per render, each render preceded by the
profile's pre-roll), then the matrix puts the channels back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from host.errors import OptionError

if TYPE_CHECKING:
    from host.audio import AudioClip
    from host.plugins.render import PluginHost

STEREO_MODES = ("link", "mid-side", "left-right")
CHANNELS = {"link": ("all",), "mid-side": ("mid", "side"), "left-right": ("left", "right")}


def check_mode(mode: str) -> None:
    """Raises OptionError for a mode that is not one of STEREO_MODES."""
    if mode not in STEREO_MODES:
        raise OptionError(f"--stereo must be one of {', '.join(STEREO_MODES)}, got {mode!r}")


def check_stereo_clip(clip: "AudioClip", mode: str, what: str) -> None:
    """Raises OptionError when ``mode`` needs two channels and ``clip`` has another count."""
    if mode != "link" and clip.channels != 2:
        name = f" {clip.path}" if clip.path is not None else ""
        raise OptionError(f"--stereo {mode} needs two-channel audio; the {what}{name} has {clip.channels} "
                          f"channel{'s' if clip.channels != 1 else ''}: use --stereo link")


def encode(data: np.ndarray, mode: str) -> np.ndarray:
    """(2, samples) left/right -> (2, samples) the mode's two signals (mid/side or left/right), float32."""
    x = np.asarray(data, dtype=np.float32)
    if mode == "mid-side":
        return np.stack([(x[0] + x[1]) * 0.5, (x[0] - x[1]) * 0.5])
    return x.copy()


def decode(signals: np.ndarray, mode: str) -> np.ndarray:
    """The inverse of :func:`encode`: (2, samples) -> left/right, float32."""
    y = np.asarray(signals, dtype=np.float32)
    if mode == "mid-side":
        return np.stack([y[0] + y[1], y[0] - y[1]])
    return y.copy()


def render_channels(host: "PluginHost", data: np.ndarray, mode: str, values: Sequence[np.ndarray]) -> np.ndarray:
    """Render (channels, samples) through the plugin: ``link`` one setting on every channel; otherwise the
    first setting on the mode's first signal and the second on its second, inside the mode's matrix."""
    check_mode(mode)
    if mode == "link":
        return host.render(data, values[0])
    if len(values) != 2 or data.shape[0] != 2:
        raise OptionError(f"--stereo {mode} renders two channels with two settings; got {data.shape[0]} channels "
                          f"and {len(values)} settings")
    a, b = encode(data, mode)
    return decode(np.stack([host.render(a, values[0]), host.render(b, values[1])]), mode)
