"""Train the curve network: seeded, resumable, a Laplace likelihood on the curve in dB at the mel bands.

Each step draws fresh pairs (model.curve.data.PairSampler): no two epochs see the same (pair, curve, scene).
``OUT.last.pt`` is written atomically every ``checkpoint_every`` steps and holds everything a resumed run
needs (weights, optimizer, step, history); because a batch is a pure function of (seed, step) a resumed run
continues exactly where the killed one was. The best step by validation curve error is ``OUT``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from tqdm import tqdm

from model.curve.data import PAIR_KINDS, CurveData, PairSampler, load_curve_data
from model.curve.features import n_input_channels, pair_input, ratio_channel
from model.curve.network import CurveNet, CurveNetConfig
from model.errors import CheckpointError, ConfigError
from model.payload import check_writable, save_atomic

log = logging.getLogger(__name__)

CHECKPOINT_KIND = "eqbridge-curve"
CHECKPOINT_VERSION = 1
MAX_STEPS = 1_000_000
MAX_THREADS = 64
# What a resumed run may change: more steps, and the CPU threads (how fast, not what is computed: a run that
# shares its cores with other work is many times faster on one thread than on two).
RESUMABLE_CHANGES = ("steps", "threads")


@dataclass(frozen=True)
class CurveTrainConfig:
    steps: int = 6000
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    checkpoint_every: int = 250
    val_every: int = 250
    val_batches: int = 8
    seed: int = 0
    threads: int = 2
    network: CurveNetConfig = CurveNetConfig()
    pairs: str = "analytic"   # model.curve.data.PAIR_KINDS: the bank curve on dry statistics, or real renders

    def __post_init__(self) -> None:
        if self.pairs not in PAIR_KINDS:
            raise ConfigError(f"pairs must be one of {', '.join(PAIR_KINDS)}, got {self.pairs!r}")
        if not 1 <= self.steps <= MAX_STEPS:
            raise ConfigError(f"steps must lie in [1, {MAX_STEPS}], got {self.steps}")
        if not 1 <= self.threads <= MAX_THREADS:
            raise ConfigError(f"threads must lie in [1, {MAX_THREADS}], got {self.threads}")
        if self.batch_size < 2 or self.learning_rate <= 0 or self.checkpoint_every < 1 or self.val_every < 1:
            raise ConfigError("batch_size >= 2, learning_rate > 0, checkpoint_every >= 1 and val_every >= 1 are required")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "network": self.network.to_dict()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "CurveTrainConfig":
        return cls(**{**raw, "network": CurveNetConfig.from_dict(raw["network"])})


def last_path(out: Path) -> Path:
    return out.with_name(out.stem + ".last" + out.suffix)


def laplace_nll(median_db: torch.Tensor, log_scale: torch.Tensor, target_db: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the true curve under per-band Laplace(median, exp(log_scale)) (dB)."""
    return ((target_db - median_db).abs() * torch.exp(-log_scale) + log_scale).mean()


def _lr(step: int, config: CurveTrainConfig) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _tensors(batch: tuple[np.ndarray, np.ndarray, np.ndarray], data: CurveData) -> tuple[torch.Tensor, torch.Tensor]:
    track, ref, curve = (torch.from_numpy(a) for a in batch)
    return pair_input(track, ref, data.stats_config), curve


def validate(network: CurveNet, sampler: PairSampler, data: CurveData, batches: int, size: int) -> dict[str, float]:
    """Curve MAE (dB) of the network, of doing nothing (flat) and of the mean-level ratio (a DSP fit's curve)."""
    errors = {"curve_mae_db": 0.0, "flat_mae_db": 0.0, "ratio_mae_db": 0.0, "nll": 0.0}
    network.eval()
    with torch.inference_mode():
        for b in range(batches):
            x, curve = _tensors(sampler.batch(10_000_000 + b, size), data)
            median, log_scale = network(x)
            ratio = x[:, ratio_channel(data.stats_config)]
            ratio = ratio - ratio.mean(dim=-1, keepdim=True) + curve.mean(dim=-1, keepdim=True)  # its level: free
            errors["curve_mae_db"] += float((median - curve).abs().mean()) / batches
            errors["flat_mae_db"] += float(curve.abs().mean()) / batches
            errors["ratio_mae_db"] += float((ratio - curve).abs().mean()) / batches
            errors["nll"] += float(laplace_nll(median, log_scale, curve)) / batches
    network.train()
    return errors


def payload(network: CurveNet, config: CurveTrainConfig, data: CurveData, step: int,
            history: list[dict[str, float]]) -> dict[str, Any]:
    return {"kind": CHECKPOINT_KIND, "version": CHECKPOINT_VERSION, "state_dict": network.state_dict(),
            "train_config": config.to_dict(), "features": data.features.to_dict(),
            "stats": data.stats_config.to_dict(), "step": step, "history": history,
            "trained_on": data.meta.get("train_sources", []), "holdout_sources": data.meta.get("holdout_sources", []),
            "data_digest": data.meta.get("digest", ""), "pairs": config.pairs,
            "rendered_plugin": data.rendered.plugin if config.pairs == "rendered" else None}




def train_curve(data_dir: str | Path, out_path: str | Path, config: CurveTrainConfig = CurveTrainConfig(),
                progress: bool = True, force: bool = False) -> list[dict[str, float]]:
    """Train (or resume from ``OUT.last.pt``) and write the best checkpoint to ``out_path``.

    Raises:
        DatasetError: unreadable curve data. CheckpointError: a last checkpoint from another configuration, or
        ``out_path`` is the shipped model and ``force`` is False.
    """
    out = Path(out_path)
    check_writable(out, force)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    data = load_curve_data(data_dir)
    expected = (n_input_channels(data.stats_config), ratio_channel(data.stats_config))
    if (config.network.in_channels, config.network.ratio_channel) != expected:
        raise ConfigError(f"network (in_channels, ratio_channel) {(config.network.in_channels, config.network.ratio_channel)}"
                          f" != {expected} for these statistics")
    train_sampler = PairSampler(data, "train", config.seed, config.pairs)
    val_sampler = PairSampler(data, "val", config.seed + 1, config.pairs)  # validated on the pairs it trains on
    network = CurveNet(config.network)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    step, history, best = 0, [], math.inf
    last = last_path(out)
    if last.exists():
        state = torch.load(last, map_location="cpu", weights_only=False)
        saved_config = CurveTrainConfig.from_dict(state["train_config"])  # runs before `pairs` trained analytic
        if saved_config.pairs != config.pairs:
            raise CheckpointError(f"{last} was trained on {saved_config.pairs} pairs, this run asks for "
                                  f"{config.pairs}; resume with --pairs {saved_config.pairs} or train to another --out")
        saved = {k: v for k, v in saved_config.to_dict().items() if k not in RESUMABLE_CHANGES}
        if saved != {k: v for k, v in config.to_dict().items() if k not in RESUMABLE_CHANGES}:
            raise CheckpointError(f"{last} was trained with another configuration; delete it or train to another --out")
        network.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        step, history = int(state["step"]), list(state["history"])
        best = min((h["curve_mae_db"] for h in history), default=math.inf)
        log.info("resuming %s at step %d", last, step)
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="train-curve", unit="step")
    started = time.monotonic()
    while step < config.steps:
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, config)
        torch.manual_seed(config.seed * 1_000_003 + step)  # dropout too is a function of (seed, step): resumable
        x, curve = _tensors(train_sampler.batch(step, config.batch_size), data)
        median, log_scale = network(x)
        loss = laplace_nll(median, log_scale, curve)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 5.0)
        optimizer.step()
        step += 1
        bar.update(1)
        if step % config.val_every == 0 or step == config.steps:
            row = {"step": step, "train_nll": float(loss.detach()), "seconds": time.monotonic() - started,
                   **validate(network, val_sampler, data, config.val_batches, config.batch_size)}
            history.append(row)
            bar.set_postfix(val_mae=f"{row['curve_mae_db']:.3f}", flat=f"{row['flat_mae_db']:.3f}")
            if row["curve_mae_db"] < best:
                best = row["curve_mae_db"]
                save_atomic(payload(network, config, data, step, history), out)
        if step % config.checkpoint_every == 0 or step == config.steps:
            save_atomic({**payload(network, config, data, step, history), "optimizer": optimizer.state_dict()}, last)
    bar.close()
    return history
