"""Train a network on an eqbridge dataset: Adam, per-epoch validation, resumable, deterministic.

The best epoch (lowest validation MAE in the normalized 0..1 parameter domain, median decoding) is written to
``out_path``; the latest state, with optimizer and history, to ``last_path(out_path)``
(``NAME.last.pt`` beside it), from which a rerun resumes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from model.errors import ConfigError
from model.profiles import N_BINS, load_profile
from model.checkpoint import checkpoint_payload
from model.payload import check_writable, read_payload, save_atomic
from model.config import TrainConfig
from model.data import FeatureDataset, read_manifest
from model.decode import decode_bins
from model.features import FeatureConfig, MelSpectrogram
from model.losses import make_loss
from model.architectures import FEATURE_SCALES, build_network

log = logging.getLogger(__name__)


def last_path(out_path: Path) -> Path:
    """Where the resumable latest state of a run writing ``out_path`` lives."""
    return out_path.with_name(f"{out_path.stem}.last{out_path.suffix or '.pt'}")


_RESUMABLE_CHANGES = ("epochs", "patience", "lr_milestones", "lr_gamma")


def _resume_key(config: dict[str, Any]) -> dict[str, Any]:
    """The settings a resumed run must share with the saved one (epochs and patience may grow; the
    learning-rate schedule may change for epochs not yet run, see ``_check_schedule``)."""
    return {k: v for k, v in config.items() if k not in _RESUMABLE_CHANGES}


def _check_schedule(history: list[dict[str, float]], config: TrainConfig) -> None:
    """Raises ConfigError if ``config``'s schedule would have given the epochs already run another rate,
    so a resumed run always equals one run from scratch with ``config``."""
    for h in history:
        recorded, expected = h.get("lr", config.lr), config.lr_at(int(h["epoch"]) - 1)
        if abs(recorded - expected) > 1e-12 * expected:
            raise ConfigError(f"epoch {h['epoch']} ran at learning rate {recorded:g} but this config's schedule "
                              f"gives {expected:g}; move lr_milestones past the epochs already run "
                              f"({len(history)}) or start afresh")


def feature_config_for(arch: str, sample_rate: int) -> FeatureConfig:
    return FeatureConfig(sample_rate=sample_rate, scale=FEATURE_SCALES[arch])


def _run_epoch(network: nn.Module, loader: DataLoader, loss_fn: Any,
               optimizer: torch.optim.Optimizer | None, desc: str) -> tuple[float, float]:
    """One pass; trains when ``optimizer`` is given.

    Returns (mean loss, mean |median-decoded bin - true bin| / (D-1)): the normalized MAE of what
    ``predict`` returns by default, which also selects the best epoch.
    """
    network.train(optimizer is not None)
    total_loss, total_err, n = 0.0, 0.0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for track_mel, ref_mel, bins in tqdm(loader, desc=desc, leave=False, unit="batch"):
            logits = network(track_mel, ref_mel)  # (B, P, D)
            loss = loss_fn(logits, bins)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            err = (decode_bins(logits.detach(), "median") - bins).abs().float().mean() / (N_BINS - 1)
            total_loss += float(loss.detach()) * len(bins)
            total_err += float(err) * len(bins)
            n += len(bins)
    return total_loss / n, total_err / n


def train(data_dir: str | Path, out_path: str | Path, config: TrainConfig = TrainConfig(),
          profile: str | None = None, resume: bool = True, force: bool = False) -> Path:
    """Train ``config.network.arch`` on ``data_dir`` and write the best checkpoint to ``out_path``.

    Args:
        data_dir: dataset folder (manifest.json + shards).
        out_path: checkpoint to write (e.g. presets/checkpoints/faust-peq.pt).
        config: training settings; ``config.seed`` makes the run deterministic.
        profile: if given, the dataset must have been rendered for this profile name.
        resume: continue from ``NAME.last.pt`` if it exists and matches the config (``epochs`` and
            ``patience`` may differ: resuming with more epochs trains further).
        force: replace ``out_path`` even when it is a shipped checkpoint (under presets/).

    Raises:
        DatasetError: unreadable dataset. ProfileMismatchError: dataset for another profile.
        ConfigError: the ``last`` file was written with another config or dataset.
        CheckpointError: ``out_path`` is a shipped checkpoint and ``force`` is False.
    """
    out_path = Path(out_path)
    check_writable(out_path, force)
    manifest = read_manifest(data_dir)
    prof = load_profile(profile if profile is not None else manifest.profile_name)
    manifest.check_profile(prof)
    net_cfg = config.network
    if net_cfg.n_params != prof.n_params:
        config = config.replace(network=type(net_cfg)(**{**net_cfg.to_dict(), "n_params": prof.n_params}))
        net_cfg = config.network
    feat_cfg = feature_config_for(net_cfg.arch, manifest.sample_rate)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    network = build_network(net_cfg)
    features = MelSpectrogram(feat_cfg)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    train_set = FeatureDataset(data_dir, "train", features, max_rows=config.max_train_rows)
    val_set = FeatureDataset(data_dir, "val", features)
    loss_fn = make_loss(config)
    meta = dict(profile_name=prof.name, profile_sha256=manifest.profile_sha256,
                parameter_names=prof.parameter_names, sample_rate=manifest.sample_rate,
                segment_s=manifest.segment_s, network_config=net_cfg, feature_config=feat_cfg,
                train_config=config)

    start_epoch, best_mae, stale, history = 0, float("inf"), 0, []
    last = last_path(out_path)
    if resume and last.exists():
        state = read_payload(last)
        if _resume_key(state["train_config"]) != _resume_key(config.to_dict()) or state["profile_name"] != prof.name:
            raise ConfigError(f"{last} was written by a run with another config or profile; "
                              f"delete it to start afresh or pass the same config to resume")
        _check_schedule(state["history"], config)
        network.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, best_mae, stale, history = state["epoch"], state["best_val_mae"], state["stale"], state["history"]
        log.info("resuming %s from epoch %d (best val MAE %.4f)", out_path, start_epoch, best_mae)

    n_params = sum(p.numel() for p in network.parameters())
    log.info("training %s (%d parameters) on %d rows, validating on %d, %s loss, for %d epochs",
             net_cfg.arch, n_params, len(train_set), len(val_set), config.loss, config.epochs)
    for epoch in range(start_epoch, config.epochs):
        if config.patience is not None and stale >= config.patience:
            log.info("stopping: no validation improvement in %d epochs", stale)
            break
        torch.manual_seed(config.seed * 100_003 + epoch)  # dropout; independent of resume point
        lr = config.lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = torch.Generator().manual_seed(config.seed * 100_019 + epoch)
        train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, generator=order)
        val_loader = DataLoader(val_set, batch_size=config.batch_size * 2)
        train_loss, train_mae = _run_epoch(network, train_loader, loss_fn, optimizer,
                                           f"epoch {epoch + 1}/{config.epochs} train")
        val_loss, val_mae = _run_epoch(network, val_loader, loss_fn, None, f"epoch {epoch + 1} val")
        history.append({"epoch": epoch + 1, "lr": lr, "train_loss": train_loss, "train_mae_unit": train_mae,
                        "val_loss": val_loss, "val_mae_unit": val_mae})
        improved = val_mae < best_mae
        log.info("epoch %d/%d: train loss %.4f MAE %.4f | val loss %.4f MAE %.4f%s", epoch + 1, config.epochs,
                 train_loss, train_mae, val_loss, val_mae, " (best)" if improved else "")
        if improved:
            best_mae, stale = val_mae, 0
            save_atomic(checkpoint_payload(network, **meta, epoch=epoch + 1, val_mae_unit=val_mae,
                                           history=history), out_path)
        else:
            stale += 1
        save_atomic(checkpoint_payload(network, **meta, epoch=epoch + 1, optimizer=optimizer.state_dict(),
                                       best_val_mae=best_mae, stale=stale, history=history), last)
    if not out_path.exists():
        raise ConfigError(f"no epoch was run, so {out_path} was not written (epochs={config.epochs})")
    log.info("best validation MAE %.4f (normalized); checkpoint %s", best_mae, out_path)
    return out_path


def history_table(history: list[dict[str, float]]) -> np.ndarray:
    """(epochs, 5) array of the history columns, for plotting."""
    keys = ("epoch", "train_loss", "train_mae_unit", "val_loss", "val_mae_unit")
    return np.array([[h[k] for k in keys] for h in history], dtype=np.float64)
