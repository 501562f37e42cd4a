"""The curve model: one network that predicts the EQ curve (dB at the 128 mel bands) that makes a track's
tonal balance match a reference's, for any EQ plugin (host/ fits each plugin's settings to the curve).

- :mod:`model.curve.response`  the mel front end's view of a filter: |H|^2 on a fine grid -> dB per mel band,
- :mod:`model.curve.stats_config`, :mod:`model.curve.network_config`  the settings both twins below share (no torch),
- :mod:`model.curve.features`  loudness-normalized per-band statistics of a clip (exactly level-invariant), torch,
- :mod:`model.curve.network`   the network (an MLP by default; 1-D convolutions over the mel axis as an option), torch,
- :mod:`model.curve.data`      training pairs made on the fly from cached dry statistics and a curve bank,
- :mod:`model.curve.train`     seeded, resumable training with a Laplace likelihood on the curve (dB),
- :mod:`model.curve.ensemble`  several seeds' networks read as one (mean median; scale from their own and their
  disagreement), torch-free,
- :mod:`model.curve.checkpoint` reading a trained ``.pt`` (or an ensemble of them) with torch, writing ensembles,
- :mod:`model.curve.numpy_stats`, :mod:`model.curve.numpy_network`  the NumPy twins of features and network
  (the MLP), checked equal to them, for torch-free inference,
- :mod:`model.curve.weights`   the network's arrays beside the ``.pt`` (``curve.npz``, checked against its SHA-256),
- :mod:`model.curve.inference` the public ``predict_curve``, torch-free.
"""
