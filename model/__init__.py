"""eqbridge model side: features, network, training, evaluation and inference (never imports host/ or DawDreamer).

The public API host/ uses: the names below (``from model import predict``), resolved lazily so that
importing the package or a light module does not load PyTorch; and the torch-free modules
``model.profiles`` (the parameter space the model predicts and each plugin's mapping of it),
``model.errors``, ``model.atomic``, ``model.config``, ``model.manifest`` (the dataset manifest schema),
``model.curve.response`` (how the front end sees a filter, NumPy only), ``model.mel_scale`` (the Slaney mel
filterbank, NumPy only) and ``model.digest`` (a file's SHA-256). tests/test_architecture.py checks both rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.controller_train import ControllerTrainConfig, train_controller
    from model.evaluate import evaluate as evaluate_checkpoint
    from model.evaluate import predict_split
    from model.inference import Prediction, SegmentPredictions, predict, predict_segments
    from model.curve.data import FileSegments, RenderedStats, load_curve_data, write_curve_data
    from model.curve.features import ClipStats
    from model.curve.inference import CurvePrediction, predict_curve, predict_curve_segments, reusing_clips
    from model.curve.checkpoint import write_ensemble as write_curve_ensemble
    from model.curve.train import CurveTrainConfig, train_curve
    from model.latent import LatentVariants, explore_latent
    from model.train import train as train_network

# exported name -> (module, its name there). A name must not be a submodule's: once ``model.train`` is
# imported, the package attribute ``train`` is that module and __getattr__ is never asked.
_EXPORTS = {"Prediction": ("inference", "Prediction"), "SegmentPredictions": ("inference", "SegmentPredictions"),
            "predict": ("inference", "predict"), "predict_segments": ("inference", "predict_segments"),
            "explore_latent": ("latent", "explore_latent"), "LatentVariants": ("latent", "LatentVariants"),
            "train_network": ("train", "train"), "train_resume_path": ("train", "last_path"),
            "train_controller": ("controller_train", "train_controller"),
            "ControllerTrainConfig": ("controller_train", "ControllerTrainConfig"),
            "evaluate_checkpoint": ("evaluate", "evaluate"), "predict_split": ("evaluate", "predict_split"),
            "predict_curve": ("curve.inference", "predict_curve"),
            "predict_curve_segments": ("curve.inference", "predict_curve_segments"),
            "reusing_clips": ("curve.inference", "reusing_clips"), "CurvePrediction": ("curve.inference", "CurvePrediction"),
            "train_curve": ("curve.train", "train_curve"),
            "write_curve_ensemble": ("curve.checkpoint", "write_ensemble"), "CurveTrainConfig": ("curve.train", "CurveTrainConfig"),
            "ClipStats": ("curve.features", "ClipStats"), "FileSegments": ("curve.data", "FileSegments"),
            "RenderedStats": ("curve.data", "RenderedStats"),
            "write_curve_data": ("curve.data", "write_curve_data"), "load_curve_data": ("curve.data", "load_curve_data")}
PUBLIC_MODULES = ("model", "model.profiles", "model.errors", "model.atomic", "model.config", "model.manifest",
                  "model.curve.response", "model.curve.restraint", "model.mel_scale", "model.digest")
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        module, attr = _EXPORTS[name]
        return getattr(importlib.import_module(f"model.{module}"), attr)
    raise AttributeError(f"module 'model' has no attribute {name!r}")
