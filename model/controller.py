"""A per-effect controller on top of a shared, frozen encoder (the split of Mimilakis et al. 2020's network).

The encoder (``model.network.Encoder``) embeds a mel spectrogram to F values; it is trained once on the
EQ data and then frozen. A :class:`Controller` is trained per effect: the paper's learned 2 x F -> 1 x F
comparison, then either the plain feed-forward head (``latent_dim`` 0) or a small VAE-style bottleneck
(``latent_dim`` 2..8): the comparison maps to a Gaussian posterior (mu, log variance) over a latent z,
and a decoder maps z to P x D logits. Training adds ``kl_weight`` x KL(q(z) || N(0, I)), so nearby
latent points decode to nearby settings (Kingma & Welling 2014), which ``eqbridge explore`` walks.

``ControlledNet`` = encoder + controller; it is built by name (``arch = "controller"``) like every
network, so controller checkpoints load through ``model.checkpoint.load_checkpoint``.
"""

from __future__ import annotations

import torch
from torch import nn

from model.config import NetworkConfig
from model.errors import CheckpointError, ConfigError
from model.network import Encoder

MAX_LATENT_DIM = 8


class Controller(nn.Module):
    """(B, F) track and reference embeddings -> (B, P, D) logits, optionally through a latent bottleneck.

    In training mode with a bottleneck, z is sampled (reparameterization) and the batch-mean KL
    divergence of the posterior from N(0, I) is left in ``self.kl`` for the trainer.
    """

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        if not 0 <= cfg.latent_dim <= MAX_LATENT_DIM:
            raise ConfigError(f"latent_dim must lie in 0..{MAX_LATENT_DIM} (0: no bottleneck), got {cfg.latent_dim}")
        self.cfg = cfg
        self.compare = nn.Conv1d(2, 1, cfg.compare_kernel, padding=cfg.compare_kernel // 2)
        out = cfg.n_params * cfg.n_bins
        if cfg.latent_dim > 0:
            self.to_latent = nn.Sequential(nn.Linear(cfg.embed_dim, cfg.hidden), nn.ReLU(),
                                           nn.Linear(cfg.hidden, 2 * cfg.latent_dim))
            self.decoder = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden), nn.ReLU(),
                                         nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(),
                                         nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, out))
        else:
            self.head = nn.Sequential(nn.Linear(cfg.embed_dim, cfg.hidden), nn.ReLU(),
                                      nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, out))
        self.kl = torch.zeros(())

    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    def compared(self, track_embedding: torch.Tensor, reference_embedding: torch.Tensor) -> torch.Tensor:
        both = torch.stack([track_embedding, reference_embedding], dim=1)  # (B, 2, F)
        return torch.relu(self.compare(both)).squeeze(1)  # (B, F)

    def encode(self, track_embedding: torch.Tensor,
               reference_embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F) each -> posterior (mu (B, Z), log variance (B, Z)). Raises ValueError without a bottleneck."""
        if self.latent_dim == 0:
            raise CheckpointError("this controller has no latent bottleneck (latent_dim 0)")
        stats = self.to_latent(self.compared(track_embedding, reference_embedding))  # (B, 2Z)
        mu, logvar = stats.chunk(2, dim=-1)  # (B, Z) each
        return mu, logvar.clamp(-10.0, 10.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, Z) latent points -> (B, P, D) logits."""
        return self.decoder(z).view(-1, self.cfg.n_params, self.cfg.n_bins)

    def forward(self, track_embedding: torch.Tensor, reference_embedding: torch.Tensor) -> torch.Tensor:
        if self.latent_dim == 0:
            logits = self.head(self.compared(track_embedding, reference_embedding))  # (B, P * D)
            return logits.view(-1, self.cfg.n_params, self.cfg.n_bins)  # (B, P, D)
        mu, logvar = self.encode(track_embedding, reference_embedding)  # (B, Z) each
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu  # (B, Z)
        self.kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1).mean()
        return self.decode(z)


class ControlledNet(nn.Module):
    """A (frozen) shared encoder and a per-effect controller; the same interface as MimilakisNet.

    Shape: track_mel, reference_mel (B, n_mels, frames) in dB -> logits (B, P, D).
    """

    feature_scale = "db"

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.controller = Controller(cfg)

    def forward(self, track_mel: torch.Tensor, reference_mel: torch.Tensor) -> torch.Tensor:
        return self.controller(self.encoder(track_mel), self.encoder(reference_mel))

    def latent(self, track_mel: torch.Tensor, reference_mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_mels, frames) each -> posterior (mu (B, Z), log variance (B, Z))."""
        return self.controller.encode(self.encoder(track_mel), self.encoder(reference_mel))
