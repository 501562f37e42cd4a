"""Training and network configuration: frozen dataclasses, loadable from a TOML file (no torch needed)."""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from model.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the tomli backport (pyproject: tomli; python_version < "3.11")
    import tomli as tomllib
from model.profiles import N_BINS

SCALES = ("db", "linear")  # mel front end: 10*log10(power) or power


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 44100  # Hz; audio at another rate is resampled before the front end
    window_ms: float = 20.0  # analysis window length (Hann)
    hop_ms: float = 3.0  # hop between frames
    n_mels: int = 128  # mel bands
    fmin_hz: float = 20.0  # lowest mel band edge
    fmax_hz: float | None = None  # highest mel band edge; None: Nyquist
    scale: str = "db"  # "db": 10*log10(power mel); "linear": power mel (baseline)
    amin: float = 1e-10  # power floor before the log (-100 dB)

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.window_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.hop_ms / 1000.0))

    @property
    def n_fft(self) -> int:
        return 1 << math.ceil(math.log2(self.win_length))

    def n_frames(self, n_samples: int) -> int:
        """Frames torch.stft (center=True) gives for n_samples."""
        return n_samples // self.hop_length + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "FeatureConfig":
        return cls(**raw)


LOSSES = ("ce", "ce-smooth", "ce-ev")
# Names of the networks model.architectures builds (kept here so that reading a config needs no torch).
ARCHITECTURE_NAMES = ("mimilakis", "controller", "baseline-linmel", "baseline-dbmel")


@dataclass(frozen=True)
class NetworkConfig:
    arch: str = "mimilakis"  # one of ARCHITECTURE_NAMES
    n_mels: int = 128  # input mel bands (must match the front end)
    n_params: int = 10  # P: parameters predicted
    n_bins: int = N_BINS  # D: discrete values per parameter
    conv_channels: int = 64  # encoder convolution channels
    first_kernel: int = 8  # encoder first conv kernel (frames)
    first_stride: int = 4  # encoder first conv stride (frames): 3 ms hop -> 12 ms
    n_conv: int = 3  # encoder conv layers (each after the first halves the frame rate)
    embed_dim: int = 128  # F: embedding size per clip
    compare_kernel: int = 5  # learned comparison: Conv1d(2 -> 1) kernel along F
    hidden: int = 256  # feed-forward hidden units
    dropout: float = 0.2  # dropout before the output layer
    db_scale: float = 20.0  # dB inputs are divided by this (keeps activations ~unit size)
    latent_dim: int = 0  # "controller" arch: latent bottleneck size (0: the plain head; see model/controller.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "NetworkConfig":
        return cls(**raw)




@dataclass(frozen=True)
class TrainConfig:
    """How a network is trained. The defaults are the shipped recipe (presets/checkpoints/faust-peq.toml)."""

    seed: int = 0  # seeds parameter init, shuffling and dropout; training is deterministic given it
    epochs: int = 50  # passes over the training split
    batch_size: int = 32  # examples per step
    lr: float = 1e-3  # Adam learning rate
    lr_milestones: tuple[int, ...] = (35, 45)  # epochs (counted from 0) at which the learning rate is multiplied by lr_gamma
    lr_gamma: float = 0.3  # learning-rate factor at each milestone
    weight_decay: float = 1e-5  # Adam L2 penalty
    loss: str = "ce-smooth"  # "ce" | "ce-smooth" (Gaussian-smoothed bin targets) | "ce-ev" (CE + expected-bin L1)
    label_sigma_bins: float = 1.0  # "ce-smooth": std of the Gaussian target around the true bin
    ev_weight: float = 0.1  # "ce-ev": weight of the L1 between expected and true bin, in bins
    max_train_rows: int | None = None  # use only the first N training rows (quick runs); None: all
    patience: int | None = 10  # stop after this many epochs without validation improvement
    threads: int = 2  # torch CPU threads while training (1 is faster when other work shares the cores)
    network: NetworkConfig = field(default_factory=NetworkConfig)  # the architecture and its sizes

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"loss {self.loss!r} is not one of {LOSSES}")
        if self.network.arch not in ARCHITECTURE_NAMES:
            raise ConfigError(f"network.arch {self.network.arch!r} is not one of {sorted(ARCHITECTURE_NAMES)}")
        for name in ("epochs", "batch_size", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if any(m < 1 for m in self.lr_milestones) or not 0 < self.lr_gamma <= 1:
            raise ConfigError(f"lr_milestones must be epochs >= 1 and lr_gamma in (0, 1]; got "
                              f"{list(self.lr_milestones)}, {self.lr_gamma}")
        if self.lr <= 0 or self.label_sigma_bins <= 0 or self.ev_weight < 0:
            raise ConfigError("lr and label_sigma_bins must be > 0 and ev_weight >= 0; got "
                              f"lr={self.lr}, label_sigma_bins={self.label_sigma_bins}, ev_weight={self.ev_weight}")

    def lr_at(self, epoch: int) -> float:
        """Learning rate of epoch ``epoch`` (0-based): ``lr`` times ``lr_gamma`` per milestone reached."""
        return self.lr * self.lr_gamma ** sum(epoch >= m for m in self.lr_milestones)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with top-level fields changed; ``arch=`` changes ``network.arch``."""
        if "arch" in changes:
            changes["network"] = dataclasses.replace(changes.get("network", self.network), arch=changes.pop("arch"))
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "TrainConfig":
        raw = dict(raw)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"unknown training setting(s) {sorted(unknown)}; known: {sorted(known)}")
        net_raw = dict(raw.pop("network", {}))
        net_known = {f.name for f in dataclasses.fields(NetworkConfig)}
        if set(net_raw) - net_known:
            raise ConfigError(f"unknown [network] setting(s) {sorted(set(net_raw) - net_known)}; "
                              f"known: {sorted(net_known)}")
        if "lr_milestones" in raw:
            raw["lr_milestones"] = tuple(sorted(int(m) for m in raw["lr_milestones"]))
        try:
            return cls(network=NetworkConfig(**net_raw), **raw)
        except TypeError as exc:
            raise ConfigError(f"bad training setting: {exc}") from exc

    @classmethod
    def from_toml(cls, path: str | Path) -> "TrainConfig":
        """Read top-level keys as TrainConfig fields and a ``[network]`` table as NetworkConfig.

        Raises:
            ConfigError: unreadable file, bad TOML, unknown key or out-of-range value.
        """
        try:
            raw = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read training config {path}: {exc}") from exc
        return cls.from_dict(raw)
