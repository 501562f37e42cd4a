"""The curve model's weights as NumPy arrays beside its checkpoint (``curve.pt`` -> ``curve.npz``), so that
inference needs no torch (importing it takes seconds; the network's work takes milliseconds).

The ``.npz`` is derived, never edited: it records the SHA-256 of the ``.pt`` it was exported from, and every
load compares that digest with the ``.pt`` on disk. A missing, stale or unreadable ``.npz`` is made again from
the ``.pt`` with torch (model.curve.checkpoint) and written atomically beside it; where that folder is not
writable the arrays are used from memory and the next run exports again. A new ``curve.pt`` therefore never
runs with an old ``.npz``.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.atomic import atomic_path
from model.config import FeatureConfig
from model.curve.ensemble import check_members
from model.curve.network_config import CurveNetConfig
from model.curve.numpy_network import MlpWeights
from model.curve.stats_config import StatsConfig
from model.digest import file_sha256
from model.errors import CheckpointError

log = logging.getLogger(__name__)

ARRAYS_FORMAT = "eqbridge-curve-arrays"
ARRAYS_VERSION = 2  # 2: members (an ensemble's networks, "m<k>/" before each array's name)
META_KEY = "__meta__"


@dataclass(frozen=True)
class CurveWeights:
    """What inference needs of a curve checkpoint, as NumPy: the networks (one, or an ensemble's members) and
    their front end's settings."""

    checkpoint: Path
    features: FeatureConfig
    stats: StatsConfig
    networks: tuple[MlpWeights, ...]
    trained_on: tuple[str, ...]
    holdout_sources: tuple[str, ...]


def arrays_path(checkpoint: Path) -> Path:
    """Where the arrays of ``checkpoint`` live: beside it, ``.npz`` for ``.pt``."""
    return checkpoint.with_suffix(".npz")


def load_weights(checkpoint: Path) -> CurveWeights:
    """The weights of ``checkpoint`` (a curve ``.pt``), from its ``.npz`` when that matches the ``.pt``'s digest,
    else exported from the ``.pt`` with torch (and the ``.npz`` written for next time).

    Raises:
        CheckpointError: the ``.pt`` is unreadable or not a curve model, or its network is not the MLP.
    """
    digest = file_sha256(checkpoint)
    cached = arrays_path(checkpoint)
    weights = _read_arrays(cached, checkpoint, digest) if cached.is_file() else None
    if weights is None:
        weights = export_weights(checkpoint)
        try:
            write_arrays(cached, weights, digest)
        except OSError as exc:
            log.warning("cannot write %s (%s): the curve model is read with torch on every run", cached, exc)
    return weights


def export_weights(checkpoint: Path) -> CurveWeights:
    """Read ``checkpoint`` with torch (slow: loads torch) and return its weights as NumPy arrays."""
    from model.curve.checkpoint import load_curve_checkpoint  # torch: only to (re)make the arrays

    ckpt = load_curve_checkpoint(checkpoint)
    log.info("exporting the curve model's weights from %s (torch)", checkpoint)
    networks = tuple(MlpWeights(m.config, a) for m, a in zip(ckpt.members, ckpt.member_arrays()))
    return CurveWeights(checkpoint, ckpt.features, ckpt.stats, networks, ckpt.trained_on, ckpt.holdout_sources)


def write_arrays(path: Path, weights: CurveWeights, source_sha256: str) -> None:
    """Write ``weights`` as an uncompressed ``.npz`` (atomically), tagged with the ``.pt``'s digest."""
    meta = {"format": ARRAYS_FORMAT, "version": ARRAYS_VERSION, "source_sha256": source_sha256,
            "features": weights.features.to_dict(), "stats": weights.stats.to_dict(),
            "members": [n.config.to_dict() for n in weights.networks], "trained_on": list(weights.trained_on),
            "holdout_sources": list(weights.holdout_sources)}
    arrays = {f"m{k}/{name}": a for k, n in enumerate(weights.networks) for name, a in n.arrays.items()}
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **{META_KEY: np.array(json.dumps(meta))}, **arrays)


def _read_arrays(path: Path, checkpoint: Path, source_sha256: str) -> CurveWeights | None:
    """The weights in ``path`` if it is an arrays file of this exact checkpoint, else None (logged)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz[META_KEY]))
            if (meta.get("format"), meta.get("version"), meta.get("source_sha256")) != (
                    ARRAYS_FORMAT, ARRAYS_VERSION, source_sha256):
                log.info("%s is not the arrays of %s as it is now: exporting again", path, checkpoint)
                return None
            check_members(len(meta["members"]))
            networks = tuple(MlpWeights(CurveNetConfig.from_dict(config),
                                        {name.split("/", 1)[1]: npz[name] for name in npz.files
                                         if name.startswith(f"m{k}/")})
                             for k, config in enumerate(meta["members"]))
        return CurveWeights(checkpoint, FeatureConfig.from_dict(meta["features"]), StatsConfig.from_dict(meta["stats"]),
                            networks, tuple(meta["trained_on"]), tuple(meta["holdout_sources"]))
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, CheckpointError) as exc:
        log.warning("cannot read %s (%s): exporting the curve model's weights again", path, exc)
        return None
