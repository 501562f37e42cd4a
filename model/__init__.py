"""eqbridge model side: features, network, training, evaluation and inference (never imports DawDreamer)."""
