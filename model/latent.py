"""Explore settings near a match: points around the posterior mean of a bottlenecked controller.

A controller trained with a latent bottleneck (``model/controller.py``) maps (track, reference) to a
posterior mean mu (Z,). Points within ``radius`` of mu decode to settings that sound like the match
but differ. Settings are decoded with the expected bin of each parameter's softmax (a continuous
position between grid values), so that a small step in latent space gives a small step in settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.errors import CheckpointError, OptionError
from model.profiles import PluginProfile, load_profile
from model.checkpoint import LoadedModel
from model.audio_input import prepare_audio
from model.inference import get_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatentVariants:
    """n settings around one match.

    ``center`` (Z,): the posterior mean of the match; ``points`` (n, Z): the variants' latent points;
    ``radii`` (n,): their distances from ``center``; ``center_values`` (P,) and ``values`` (n, P):
    physical settings decoded from them (expected bin); ``names`` (P,): parameter names.
    """

    profile_name: str
    checkpoint: str
    names: tuple[str, ...]
    center: np.ndarray
    center_values: np.ndarray
    points: np.ndarray
    radii: np.ndarray
    values: np.ndarray


def latent_model(profile: str | PluginProfile, checkpoint: str | Path | None = None) -> tuple[PluginProfile, LoadedModel]:
    """The profile and a model with a latent bottleneck (default: ``presets/controllers/<profile>.pt``).

    Raises:
        CheckpointError: no controller for the profile, or the checkpoint has no bottleneck.
    """
    from model.controller_train import default_controller

    prof = profile if isinstance(profile, PluginProfile) else load_profile(profile)
    path = Path(checkpoint) if checkpoint is not None else default_controller(prof.name)
    if not path.exists():
        raise CheckpointError(f"profile {prof.name!r} has no controller to explore: {path} does not exist; train one "
                           f"with `eqbridge train --plugin {prof.name} --data DATASET --encoder presets/encoder.pt "
                           f"--latent-dim 8`")
    prof, model = get_model(prof, path)
    if model.network_config.arch != "controller" or model.network_config.latent_dim < 1:
        raise CheckpointError(f"checkpoint {path} ({model.network_config.arch}, latent_dim "
                           f"{model.network_config.latent_dim}) has no latent bottleneck; train a controller with "
                           f"`eqbridge train --encoder presets/encoder.pt --latent-dim 8`")
    return prof, model


def sample_points(center: np.ndarray, n: int, radius: float, seed: int = 0) -> np.ndarray:
    """(n, Z) points around ``center`` (Z,): random directions, radii spread evenly over (0, radius].

    Point k lies at distance radius * (k + 1) / n, so the variants run from near the match to the edge.
    """
    if n < 1 or not (np.isfinite(radius) and radius > 0):
        raise OptionError(f"need n >= 1 and a finite radius > 0, got n={n}, radius={radius}")
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((n, center.shape[0]))  # (n, Z)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = radius * (np.arange(n) + 1.0) / n  # (n,)
    return center[None, :] + radii[:, None] * directions  # (n, Z)


@torch.inference_mode()
def decode_points(model: LoadedModel, profile: PluginProfile, points: np.ndarray) -> np.ndarray:
    """(n, Z) latent points -> (n, P) physical settings (expected bin of each parameter)."""
    logits = model.network.controller.decode(torch.as_tensor(points, dtype=torch.float32))  # (n, P, D)
    probs = torch.softmax(logits.double(), dim=-1)  # (n, P, D)
    expected = (probs * torch.arange(probs.shape[-1], dtype=torch.float64)).sum(-1)  # (n, P)
    return profile.from_bins(expected.numpy())


@torch.inference_mode()
def match_latent(model: LoadedModel, track: torch.Tensor, reference: torch.Tensor) -> np.ndarray:
    """(B, samples) track and reference at the model's rate -> posterior means (B, Z)."""
    mu, _ = model.network.latent(model.features(track), model.features(reference))  # (B, Z)
    return mu.numpy().astype(np.float64)


def explore_latent(track: np.ndarray, reference: np.ndarray, sample_rate: int, profile: str | PluginProfile,
                   n: int = 8, radius: float = 1.0, checkpoint: str | Path | None = None,
                   seed: int = 0) -> LatentVariants:
    """n settings near the match of ``track`` to ``reference`` (audio conventions as ``model.predict``).

    Raises:
        AudioInputError: silent, too short, NaN... CheckpointError: no bottlenecked controller for the profile.
        OptionError: n < 1 or radius not > 0.
    """
    prof, model = latent_model(profile, checkpoint)
    t = prepare_audio(track, sample_rate, model.sample_rate, model.segment_s, "track")
    r = prepare_audio(reference, sample_rate, model.sample_rate, model.segment_s, "reference")
    center = match_latent(model, torch.from_numpy(t)[None], torch.from_numpy(r)[None])[0]  # (Z,)
    points = sample_points(center, n, radius, seed)  # (n, Z)
    values = decode_points(model, prof, np.vstack([center[None], points]))  # (n + 1, P)
    return LatentVariants(profile_name=prof.name, checkpoint=str(model.path), names=prof.parameter_names,
                          center=center, center_values=values[0], points=points,
                          radii=np.linalg.norm(points - center, axis=1), values=values[1:])
