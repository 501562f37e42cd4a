"""eqbridge model side: features, network, training, evaluation and inference (never imports DawDreamer).

``from model import predict`` is the one door from host/ into the model; it is resolved lazily so that
importing a light submodule (``model.config``) does not load PyTorch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.inference import Prediction, SegmentPredictions, predict, predict_segments
    from model.latent import LatentVariants, explore_latent

_EXPORTS = {"Prediction": "inference", "SegmentPredictions": "inference", "predict": "inference",
            "predict_segments": "inference", "explore_latent": "latent", "LatentVariants": "latent"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"model.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'model' has no attribute {name!r}")
