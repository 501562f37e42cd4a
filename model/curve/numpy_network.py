"""The NumPy twin of model.curve.network's MLP for torch-free inference: the same layers (Linear, residual
blocks of LayerNorm -> Linear -> GELU -> Linear, LayerNorm, Linear) read from the torch network's own state-dict
names, in float32 as torch runs them. tests/model/test_numpy_inference.py checks the outputs agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from model.curve.ensemble import combine
from model.curve.network_config import LOG_SCALE_RANGE, CurveNetConfig
from model.errors import CheckpointError

LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default, which CurveNet uses


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 1.2e-7 absolute (Numerical Recipes' erfc Chebyshev fit), float64: NumPy has no erf and SciPy's
    import costs a quarter of a second; float32 rounding of the activations is larger."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (
        0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
    return np.sign(x) * (1.0 - t * np.exp(poly))


def gelu(x: np.ndarray) -> np.ndarray:
    """torch.nn.functional.gelu (exact, erf form), float32 in and out."""
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1.0 + _erf(x64 / np.sqrt(2.0)))).astype(np.float32)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(B, W) float32 -> normalized over W (biased variance, as torch), scaled and shifted."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + np.float32(LAYER_NORM_EPS)) * weight + bias


@dataclass(frozen=True)
class MlpWeights:
    """The MLP curve network's parameters as float32 arrays, under the torch state-dict's names."""

    config: CurveNetConfig
    arrays: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        if self.config.arch != "mlp":
            raise CheckpointError(f"torch-free inference runs the 'mlp' curve network; this one is "
                                  f"{self.config.arch!r} (train with network.arch = 'mlp')")
        missing = sorted(set(expected_names(self.config)) - set(self.arrays))
        if missing:
            raise CheckpointError(f"curve network weights lack {', '.join(missing[:4])}"
                                  f"{' ...' if len(missing) > 4 else ''} for its config {self.config}")

    def linear(self, name: str, x: np.ndarray) -> np.ndarray:
        return x @ self.arrays[f"{name}.weight"].T + self.arrays[f"{name}.bias"]


def expected_names(config: CurveNetConfig) -> list[str]:
    """The state-dict names the MLP uses: body.1 (Linear in), body.2..depth+1 (blocks), then LayerNorm, Linear."""
    blocks = [f"body.{2 + i}.{layer}.{p}" for i in range(config.depth) for layer in ("norm", "fc1", "fc2")
              for p in ("weight", "bias")]
    last = 2 + config.depth
    return (["ratio_weight", "body.1.weight", "body.1.bias"] + blocks
            + [f"body.{last}.{p}" for p in ("weight", "bias")] + [f"body.{last + 1}.{p}" for p in ("weight", "bias")])


def forward(weights: MlpWeights, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, C, M) network input (model.curve.numpy_stats.pair_input) -> (median dB (B, M), log scale (B, M))."""
    cfg, a = weights.config, weights.arrays
    x = np.asarray(x, dtype=np.float32)
    h = weights.linear("body.1", x.reshape(len(x), -1))                                   # (B, W)
    for i in range(cfg.depth):
        block = f"body.{2 + i}"
        inner = layer_norm(h, a[f"{block}.norm.weight"], a[f"{block}.norm.bias"])
        h = h + weights.linear(f"{block}.fc2", gelu(weights.linear(f"{block}.fc1", inner)))
    last = 2 + cfg.depth
    h = layer_norm(h, a[f"body.{last}.weight"], a[f"body.{last}.bias"])
    out = weights.linear(f"body.{last + 1}", h).reshape(len(x), 2, cfg.n_bands)           # (B, 2, M)
    ratio = x[:, cfg.ratio_channel]                                                       # (B, M)
    median = a["ratio_weight"] * (ratio - ratio.mean(axis=-1, keepdims=True)) + out[:, 0]
    return median.astype(np.float32), np.clip(out[:, 1], *LOG_SCALE_RANGE).astype(np.float32)


def forward_members(members: Sequence[MlpWeights], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`forward` of one network or an ensemble's members -> (median dB (B, M), scale dB (B, M)) float64,
    the members combined by model.curve.ensemble.combine."""
    outs = [forward(m, x) for m in members]
    return combine(np.stack([m for m, _ in outs]), np.exp(np.stack([s for _, s in outs]).astype(np.float64)))
