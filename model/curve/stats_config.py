"""What the curve model's band statistics measure: one definition for the torch front end (model.curve.features,
training) and its NumPy twin (model.curve.numpy_stats, inference). Torch-free."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from model.errors import AudioInputError, ConfigError

AMIN = 1e-10  # power floor before the log (-100 dB)
LEVEL_FLOOR_DB = -80.0  # normalized band levels are floored here (relative to the clip's total mel level)


@dataclass(frozen=True)
class StatsConfig:
    """What :func:`band_stats` measures."""

    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    gate_db: float = 50.0         # sound check: frames this far below the clip's loud frames (95th pct) are not
                                  # sound (a clip with under min_active_s of it is mostly silence)
    level_gate_db: float = 80.0   # frames the statistics measure: all but (near-)silence. An EQ moves frames
                                  # across a gate as close as 50 dB (speech pauses sit in the noise floor), so the
                                  # statistics of a real render then differ from the dry ones plus the curve
                                  # (speech 10th percentile: 0.59 dB mean error at 50 dB, 0.07 at 80;
                                  # examples/curve_approximation.py)
    min_active_s: float = 1.0     # a clip with less sound than this is refused (mostly silence)
    noise_spread_db: float = 1.0  # a clip whose broadband frame level varies less than this (std, dB) is
                                  # steady noise, refused: music and speech vary by several dB

    def __post_init__(self) -> None:
        if not self.quantiles or not all(0.0 < q < 1.0 for q in self.quantiles):
            raise ConfigError(f"quantiles must lie in (0, 1), got {self.quantiles}")
        if self.gate_db <= 0 or self.min_active_s <= 0 or self.noise_spread_db < 0:
            raise ConfigError("gate_db and min_active_s must be positive and noise_spread_db >= 0, got "
                              f"{self.gate_db}, {self.min_active_s}, {self.noise_spread_db}")

    @property
    def n_level(self) -> int:
        """Channels an EQ shifts (mean level and the percentiles)."""
        return 1 + len(self.quantiles)

    @property
    def n_stats(self) -> int:
        return self.n_level + 1

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "quantiles": list(self.quantiles)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "StatsConfig":
        # models before level_gate_db measured their statistics over the sound-check gate
        return cls(**{"level_gate_db": raw["gate_db"], **raw, "quantiles": tuple(raw["quantiles"])})


def check_sound(active_s: float, config: StatsConfig, what: str) -> None:
    """Raises AudioInputError for a clip with under ``min_active_s`` of sound (mostly silence)."""
    if active_s < config.min_active_s:
        raise AudioInputError(f"{what} has only {active_s:.2f} s of sound above its noise floor; at least "
                              f"{config.min_active_s:g} s is needed to measure its tonal balance")


def check_not_steady(frame_level_std_db: float, config: StatsConfig, what: str) -> None:
    """Raises AudioInputError for a clip whose broadband level varies less than ``noise_spread_db`` (steady noise)."""
    if frame_level_std_db < config.noise_spread_db:
        raise AudioInputError(f"{what} is steady noise: its level varies by {frame_level_std_db:.2f} dB over time "
                              f"(music and speech by several dB); give a music or speech reference")
