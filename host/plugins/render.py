"""Rendering audio through a real plugin with DawDreamer.

One :class:`PluginHost` owns one ``RenderEngine`` and one loaded plugin. DawDreamer engines are not
thread-safe: build one per process (or per worker process) and reuse it for every render.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from host.errors import AudioInputError, PluginNotFoundError, ProfileError
from model.digest import file_sha256
from model.profiles import PluginProfile, load_profile

log = logging.getLogger(__name__)

BLOCK_SIZE = 512


@contextlib.contextmanager
def _quiet_native_output() -> Iterator[None]:
    """Silence the plugin loader's C++ chatter on fds 1 and 2 (it would drown CLI output)."""
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        for fd, target in zip(saved, (1, 2)):
            os.dup2(fd, target)
            os.close(fd)


def find_plugin_file(profile: PluginProfile) -> Path:
    """The installed plugin binary of a VST profile.

    Raises:
        PluginNotFoundError: none of the profile's paths exists; the message names the Debian package.
    """
    env = os.environ.get(f"EQBRIDGE_PLUGIN_{profile.name.upper().replace('-', '_')}")
    candidates = ([env] if env else []) + list(profile.plugin_paths)
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    hint = (f"install it with: sudo apt-get install {profile.debian_package}"
            if profile.debian_package else "install the plugin")
    raise PluginNotFoundError(f"plugin {profile.display_name!r} (profile {profile.name!r}) is not installed: "
                              f"looked for {', '.join(candidates)}; {hint}")


@functools.lru_cache(maxsize=None)
def _file_sha256(path: str) -> str:  # a plugin binary is hashed once per process
    return file_sha256(path)


@functools.lru_cache(maxsize=None)
def _debian_version(package: str) -> str | None:
    if shutil.which("dpkg-query") is None:
        return None
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True,
                          check=False)
    return proc.stdout.strip() or None


@dataclass(frozen=True)
class PluginIdentity:
    """What exactly rendered a dataset or a file: recorded in manifests and settings files."""

    profile: str
    profile_sha256: str
    plugin_file: str
    plugin_sha256: str
    plugin_version: str | None


class PluginHost:
    """A DawDreamer engine with one profile's plugin loaded, ready to render mono or multichannel audio.

    Args:
        profile: a :class:`PluginProfile` or a profile name.
        sample_rate: the engine's sample rate in Hz; audio passed to :meth:`render` must have it.
    """

    def __init__(self, profile: PluginProfile | str, sample_rate: int, block_size: int = BLOCK_SIZE) -> None:
        import dawdreamer  # deferred: model-only users never load the native module

        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        if sample_rate <= 0:
            raise AudioInputError(f"sample rate must be positive, got {sample_rate}")
        self.sample_rate = int(sample_rate)
        self._engine = dawdreamer.RenderEngine(self.sample_rate, block_size)
        self._playback = self._engine.make_playback_processor("input", np.zeros((1, block_size), np.float32))
        self._plugin, self.identity = self._load_plugin()
        self._indices = self._resolve_indices()
        self._engine.load_graph([(self._playback, []), (self._plugin, ["input"])])
        self._preroll = int(round(self.profile.preroll_s * self.sample_rate))
        for fixed, index in zip(self.profile.fixed, self._fixed_indices):
            self._plugin.set_parameter(index, float(fixed.value_norm))
        # Let the plugin settle into its fixed configuration (band types, modes) before the first render.
        self._render_mono(np.zeros(self.sample_rate // 2, dtype=np.float32))

    def _load_plugin(self):  # -> (processor, PluginIdentity)
        if self.profile.backend == "faust":
            plugin = self._engine.make_faust_processor("eq")
            plugin.set_dsp_string(self.profile.dsp_source())
            if not plugin.compile():
                raise ProfileError(f"the Faust DSP of profile {self.profile.name!r} does not compile")
            dsp = Path(self.profile.dsp_file or "").name
            ident = PluginIdentity(self.profile.name, self.profile.sha256, f"faust:{dsp}",
                                   hashlib.sha256(self.profile.dsp_source().encode()).hexdigest(), "faust")
            return plugin, ident
        path = find_plugin_file(self.profile)
        with _quiet_native_output():
            plugin = self._engine.make_plugin_processor("eq", str(path))
        ident = PluginIdentity(self.profile.name, self.profile.sha256, str(path), _file_sha256(str(path)),
                               _debian_version(self.profile.debian_package) if self.profile.debian_package else None)
        return plugin, ident

    def _resolve_indices(self) -> tuple[int, ...]:
        """Map the profile's parameter names to plugin indices, checked against the plugin's own list."""
        described = {d["name"]: int(d["index"]) for d in self._plugin.get_parameters_description()}

        def resolve(plugin_name: str, index: int | None, what: str) -> int:
            if plugin_name not in described:
                raise ProfileError(f"profile {self.profile.name!r}: the plugin has no parameter {plugin_name!r} "
                                   f"({what}); was the plugin updated? it has {sorted(described)[:40]}")
            if index is not None and described[plugin_name] != index:
                raise ProfileError(f"profile {self.profile.name!r}: parameter {plugin_name!r} has index "
                                   f"{described[plugin_name]} in the plugin, the profile says {index}")
            return described[plugin_name]

        self._fixed_indices = tuple(resolve(f.plugin_name, f.index, "fixed") for f in self.profile.fixed)
        return tuple(resolve(p.plugin_name, p.index, p.name) for p in self.profile.parameters)

    @property
    def parameter_indices(self) -> tuple[int, ...]:
        return self._indices

    def parameter_text(self, index: int) -> str:
        """What the plugin displays for a parameter (VST only)."""
        return str(self._plugin.get_parameter_text(index))

    def set_normalized(self, norms: np.ndarray) -> None:
        """Set every controlled parameter from plugin-normalized values (P,)."""
        norms = np.asarray(norms, dtype=np.float64)
        if norms.shape != (len(self._indices),):
            raise ProfileError(f"profile {self.profile.name!r} takes {len(self._indices)} values, got {norms.shape}")
        if not np.all(np.isfinite(norms)) or norms.min() < 0.0 or norms.max() > 1.0:
            raise ProfileError(f"normalized plugin values must lie in [0, 1], got {norms.tolist()}")
        for index, value in zip(self._indices, norms):
            self._plugin.set_parameter(index, float(value))

    def get_normalized(self) -> np.ndarray:
        return np.array([self._plugin.get_parameter(i) for i in self._indices], dtype=np.float64)

    def render(self, audio: np.ndarray, values: np.ndarray | None = None, *,
               normalized: np.ndarray | None = None) -> np.ndarray:
        """Render audio (samples,) or (channels, samples) through the plugin.

        Give the settings as physical ``values`` (P,) or plugin-``normalized`` values (P,); neither keeps
        the current settings. A mono plugin runs once per channel with the same settings. A pre-roll of
        silence (the profile's ``preroll_s``) is rendered first and dropped, so parameter smoothing settles
        before the audio starts. Returns float32 of the input's shape.
        """
        if values is not None:
            normalized = self.profile.to_norm(values)
        if normalized is not None:
            self.set_normalized(normalized)
        x = np.asarray(audio, dtype=np.float32)
        if x.ndim == 1:
            return self._render_mono(x)
        if x.ndim != 2:
            raise AudioInputError(f"audio must be (samples,) or (channels, samples), got shape {x.shape}")
        return np.stack([self._render_mono(ch) for ch in x])

    def _render_mono(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        padded = np.zeros((1, self._preroll + n), dtype=np.float32)
        padded[0, self._preroll:] = x
        self._playback.set_data(padded)
        total = self._preroll + n
        # DawDreamer renders floor(seconds * rate) samples: ask for half a sample more than we need.
        self._engine.render((total + 0.5) / self.sample_rate)
        out = self._engine.get_audio()
        if out.shape[1] < total:
            raise RuntimeError(f"DawDreamer rendered {out.shape[1]} samples, expected {total}")
        return np.ascontiguousarray(out[0, self._preroll:total], dtype=np.float32)

    def save_state(self, path: Path | str) -> None:
        """Write the VST plugin's own state (DawDreamer's save_state: a preset a VST2 host can load).

        Raises:
            ProfileError: the profile is a Faust DSP (it has no binary state; save its source instead).
        """
        if self.profile.backend != "vst":
            raise ProfileError(f"profile {self.profile.name!r} is a Faust DSP: it has no plugin state to save")
        with _quiet_native_output():
            self._plugin.save_state(str(path))

    def impulse_response(self, values: np.ndarray | None = None, n_samples: int = 16384, *,
                         normalized: np.ndarray | None = None) -> np.ndarray:
        """The plugin's impulse response at the given settings (n_samples,)."""
        impulse = np.zeros(n_samples, dtype=np.float32)
        impulse[0] = 1.0
        return self.render(impulse, values, normalized=normalized)

    def magnitude_response_db(self, values: np.ndarray | None = None, n_fft: int = 16384, *,
                              normalized: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(freqs_hz, magnitude_db) measured from the rendered impulse response."""
        ir = self.impulse_response(values, n_fft, normalized=normalized)
        spectrum = np.fft.rfft(ir.astype(np.float64))
        freqs = np.fft.rfftfreq(n_fft, 1.0 / self.sample_rate)
        return freqs, 20.0 * np.log10(np.maximum(np.abs(spectrum), 1e-12))


def plugin_status(profile: PluginProfile) -> tuple[bool, str]:
    """(loads, detail): whether the profile's plugin loads here, and where from or why not."""
    try:
        host = PluginHost(profile, 44100)
    except (PluginNotFoundError, ProfileError) as exc:
        return False, str(exc)
    return True, host.identity.plugin_file
