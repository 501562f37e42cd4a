"""Train a per-effect controller on a frozen, shared encoder.

The encoder never changes, so each row's track and reference embeddings are computed once (mel front
end + encoder, inference mode) and the controller trains on those (N, F) tensors: an epoch costs a
few small matrix products instead of the convolutions. The best epoch (lowest validation MAE,
normalized 0..1, median decoding) is saved in the checkpoint format ``model.checkpoint`` loads, with
only the controller's weights and a reference (path + sha256) to the encoder file.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from model.errors import ConfigError, DatasetError
from model.profiles import N_BINS, PRESETS_DIR, load_profile
from model.checkpoint import checkpoint_payload
from model.payload import check_writable, save_atomic
from model.config import TrainConfig
from model.controller import MAX_LATENT_DIM, Controller
from model.data import SegmentDataset, read_manifest
from model.decode import decode_bins
from model.encoder_store import DEFAULT_ENCODER, LoadedEncoder, encoder_reference, load_encoder
from model.features import MelSpectrogram
from model.losses import smoothed_cross_entropy

log = logging.getLogger(__name__)
CONTROLLERS_DIR = PRESETS_DIR / "controllers"


def default_controller(profile_name: str) -> Path:
    """Where a profile's shipped controller lives: ``presets/controllers/<profile>.pt``."""
    return CONTROLLERS_DIR / f"{profile_name}.pt"


@dataclass(frozen=True)
class ControllerTrainConfig:
    seed: int = 0  # seeds init, shuffling, dropout and the latent noise
    epochs: int = 200  # passes over the training embeddings (cheap: a few ms per epoch per 100 rows)
    batch_size: int = 64  # rows per step
    lr: float = 1e-3  # Adam learning rate
    weight_decay: float = 1e-5  # Adam L2 penalty
    label_sigma_bins: float = 1.0  # Gaussian-smoothed CE targets (as the shipped faust-peq model)
    latent_dim: int = 0  # bottleneck size, 0 (plain head) or 2..8
    kl_weight: float = 0.01  # weight of the batch-mean KL(q(z) || N(0, I)) (nats) added to the per-parameter CE
    hidden: int = 256  # controller hidden units
    dropout: float = 0.2  # before the output layer
    max_train_rows: int | None = None  # the first N training rows only (data-efficiency curves)
    patience: int | None = 30  # stop after this many epochs without validation improvement
    threads: int = 1  # torch CPU threads

    def __post_init__(self) -> None:
        if self.latent_dim == 1 or not 0 <= self.latent_dim <= MAX_LATENT_DIM:
            raise ConfigError(f"latent_dim must be 0 (no bottleneck) or 2..{MAX_LATENT_DIM}, got {self.latent_dim}")
        for name in ("epochs", "batch_size", "threads", "hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.kl_weight < 0 or self.label_sigma_bins <= 0:
            raise ConfigError(f"need lr > 0, kl_weight >= 0, label_sigma_bins > 0; got lr={self.lr}, "
                              f"kl_weight={self.kl_weight}, label_sigma_bins={self.label_sigma_bins}")

    def replace(self, **changes: Any) -> "ControllerTrainConfig":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class EmbeddedSplit:
    """One split's frozen embeddings: track (N, F), reference (N, F), bins (N, P)."""

    track: torch.Tensor
    reference: torch.Tensor
    bins: torch.Tensor


@torch.inference_mode()
def embed_split(data_dir: str | Path, split: str, encoder: LoadedEncoder, max_rows: int | None = None,
                batch_size: int = 32, reference: str = "ref") -> EmbeddedSplit:
    """Embed every (track, reference) row of a split with the frozen encoder."""
    data = SegmentDataset(data_dir, split, reference=reference, max_rows=max_rows)
    front_end = MelSpectrogram(encoder.feature_config).eval()
    tracks, refs = [], []
    for start in range(0, len(data), batch_size):
        stop = start + batch_size
        tracks.append(encoder.encoder(front_end(data.tracks[start:stop])))  # (b, F)
        refs.append(encoder.encoder(front_end(data.references[start:stop])))  # (b, F)
    return EmbeddedSplit(torch.cat(tracks).clone(), torch.cat(refs).clone(), data.bins.clone())


def _val_mae(controller: Controller, split: EmbeddedSplit) -> float:
    controller.eval()
    with torch.no_grad():
        logits = controller(split.track, split.reference)  # (N, P, D)
    return float((decode_bins(logits, "median") - split.bins).abs().float().mean()) / (N_BINS - 1)


def fit_controller(train: EmbeddedSplit, val: EmbeddedSplit, controller: Controller,
                   config: ControllerTrainConfig) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]]:
    """Adam on the embeddings; returns (best state dict by validation MAE, per-epoch history)."""
    optimizer = torch.optim.Adam(controller.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    best_state, best_mae, stale, history = None, float("inf"), 0, []
    n = len(train.bins)
    for epoch in range(config.epochs):
        if config.patience is not None and stale >= config.patience:
            log.info("stopping: no validation improvement in %d epochs", stale)
            break
        controller.train()
        torch.manual_seed(config.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed * 100_019 + epoch))
        total_ce, total_kl = 0.0, 0.0
        for start in range(0, n, config.batch_size):
            idx = order[start:start + config.batch_size]
            logits = controller(train.track[idx], train.reference[idx])  # (b, P, D)
            ce = smoothed_cross_entropy(logits, train.bins[idx], config.label_sigma_bins)
            loss = ce + config.kl_weight * controller.kl if controller.latent_dim else ce
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_ce += float(ce.detach()) * len(idx)
            total_kl += float(controller.kl.detach()) * len(idx)
        val_mae = _val_mae(controller, val)
        history.append({"epoch": epoch + 1, "train_ce": total_ce / n, "train_kl": total_kl / n,
                        "val_mae_unit": val_mae})
        if val_mae < best_mae:
            best_mae, stale = val_mae, 0
            best_state = {k: v.detach().clone() for k, v in controller.state_dict().items()}
        else:
            stale += 1
        log.debug("epoch %d: CE %.4f KL %.3f val MAE %.4f", epoch + 1, total_ce / n, total_kl / n, val_mae)
    if best_state is None:
        raise ConfigError(f"no epoch was run (epochs={config.epochs})")
    return best_state, history


def train_controller(data_dir: str | Path, out_path: str | Path | None = None,
                     config: ControllerTrainConfig = ControllerTrainConfig(),
                     encoder_path: str | Path = DEFAULT_ENCODER, profile: str | None = None,
                     force: bool = False) -> Path:
    """Train only a controller for the dataset's profile on the frozen encoder in ``encoder_path``.

    Args:
        data_dir: dataset folder rendered through the effect (``eqbridge render-dataset``).
        out_path: checkpoint to write; default ``presets/controllers/<profile>.pt``.
        config: training settings (``latent_dim`` > 0 adds the explorable bottleneck).
        encoder_path: the shared encoder (``presets/encoder.pt``); it is read, never written.
        profile: if given, the dataset must have been rendered for this profile.
        force: replace ``out_path`` even when it is a shipped controller (under presets/).

    Raises:
        DatasetError: unreadable dataset, or a sample rate other than the encoder's.
        CheckpointError: missing encoder, or a shipped ``out_path`` without ``force``.
        ProfileMismatchError: dataset for another profile.
    """
    if out_path is not None:
        check_writable(Path(out_path), force)  # before any work
    manifest = read_manifest(data_dir)
    prof = load_profile(profile if profile is not None else manifest.profile_name)
    manifest.check_profile(prof)
    out = Path(out_path) if out_path is not None else default_controller(prof.name)
    check_writable(out, force)
    encoder = load_encoder(encoder_path)
    if manifest.sample_rate != encoder.sample_rate:
        raise DatasetError(f"dataset {data_dir} is at {manifest.sample_rate} Hz; the encoder {encoder_path} was "
                           f"trained at {encoder.sample_rate} Hz")
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    train_split = embed_split(data_dir, "train", encoder, config.max_train_rows)
    val_split = embed_split(data_dir, "val", encoder)
    embed_s = time.perf_counter() - started
    net_cfg = dataclasses.replace(encoder.network_config, arch="controller", n_params=prof.n_params,
                                  latent_dim=config.latent_dim, hidden=config.hidden, dropout=config.dropout)
    torch.manual_seed(config.seed)
    controller = Controller(net_cfg)
    state, history = fit_controller(train_split, val_split, controller, config)
    wall_s = time.perf_counter() - started
    best = min(history, key=lambda h: h["val_mae_unit"])
    train_cfg = TrainConfig(seed=config.seed, epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                            weight_decay=config.weight_decay, loss="ce-smooth",
                            label_sigma_bins=config.label_sigma_bins, max_train_rows=config.max_train_rows,
                            patience=config.patience, threads=config.threads, network=net_cfg)
    payload = checkpoint_payload(nn.Module(), profile_name=prof.name, profile_sha256=manifest.profile_sha256,
                                 parameter_names=prof.parameter_names, sample_rate=manifest.sample_rate,
                                 segment_s=manifest.segment_s, network_config=net_cfg,
                                 feature_config=encoder.feature_config, train_config=train_cfg,
                                 epoch=best["epoch"], val_mae_unit=best["val_mae_unit"], history=history,
                                 controller_train=dataclasses.asdict(config), train_rows=len(train_split.bins),
                                 embed_s=embed_s, wall_s=wall_s)
    payload["state_dict"] = {f"controller.{k}": v for k, v in state.items()}
    payload["encoder"] = {"path": encoder_reference(encoder.path), "sha256": encoder.sha256}
    save_atomic(payload, out)
    log.info("controller for %s (latent %d): best val MAE %.4f at epoch %d, %d train rows, %.1f s (%.1f s embedding)"
             " -> %s", prof.name, config.latent_dim, best["val_mae_unit"], best["epoch"], len(train_split.bins),
             wall_s, embed_s, out)
    return out
