"""eqbridge model side: features, network, training, evaluation and inference (never imports DawDreamer).

``from model import predict`` is the one door from host/ into the model; it is resolved lazily so that
importing a light submodule (``model.config``) does not load PyTorch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.inference import Prediction, SegmentPredictions, predict, predict_segments

__all__ = ["Prediction", "SegmentPredictions", "predict", "predict_segments"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from model import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'model' has no attribute {name!r}")
