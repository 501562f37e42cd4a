"""The curve network's settings and output range: one definition for the torch network (model.curve.network,
training) and its NumPy twin (model.curve.numpy_network, inference). Torch-free."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from model.errors import ConfigError

LOG_SCALE_RANGE = (-4.0, 3.0)  # ln(dB): b between 0.02 and 20 dB
ARCHS = ("mlp", "conv")


@dataclass(frozen=True)
class CurveNetConfig:
    arch: str = "mlp"
    in_channels: int = 15
    ratio_channel: int = 10                            # the input's reference-minus-track mean-level channel
    n_bands: int = 128
    width: int = 768                                   # mlp: hidden units; conv: channels
    depth: int = 3                                     # mlp: residual blocks
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 1)   # conv only
    kernel_size: int = 5                               # conv only
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"curve network arch {self.arch!r} is not one of {ARCHS}")
        if self.in_channels < 1 or self.width < 8 or not self.dilations or self.kernel_size % 2 == 0:
            raise ConfigError(f"curve network: need in_channels >= 1, width >= 4, dilations, an odd kernel; got {self}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "dilations": list(self.dilations)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "CurveNetConfig":
        return cls(**{**raw, "dilations": tuple(raw["dilations"])})
