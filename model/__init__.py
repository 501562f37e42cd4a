"""eqbridge model side: features, network, training, evaluation and inference (never imports DawDreamer)."""

from model.inference import Prediction, SegmentPredictions, predict, predict_segments

__all__ = ["Prediction", "SegmentPredictions", "predict", "predict_segments"]
