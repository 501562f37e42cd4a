"""Parameter-domain evaluation: MAE per parameter, normalized (0..1 over the model's range) and physical.

Compared: the checkpoint; the baselines (other checkpoints trained by the same entry point with
another ``--arch``); the "predict the mean training setting" floor; and the easy "same material"
case, where the reference is the target itself (input x, reference y = x through the EQ).
Audio-domain evaluation (rendering through the plugin) is done host-side from :func:`predict_split`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from model.errors import DatasetError
from model.profiles import N_BINS, PluginProfile, load_profile
from model.atomic import write_json_atomic, write_text_atomic
from model.checkpoint import LoadedModel, load_checkpoint
from model.data import iter_shards, read_manifest
from model.decode import decode_bins

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaeRow:
    """One system's errors on one split; lists are per parameter, in the profile's order."""

    system: str
    mae_unit: list[float]  # mean |pred - true| in 0..1 across the model's range (log scale for Hz, Q)
    std_unit: list[float]  # std of |pred - true| in that domain
    mae_physical: list[float]  # mean |pred - true| in the parameter's unit (dB, Hz, Q, oct)
    std_physical: list[float]
    mean_mae_unit: float  # mae_unit averaged over parameters


def split_logits(data_dir: str | Path, model: LoadedModel, split: str = "test", reference: str = "ref",
                 batch_size: int = 32, max_rows: int | None = None) -> torch.Tensor:
    """Logits (N, P, D) for the rows of a split (the first ``max_rows``, default all), in shard order
    (see :func:`predict_split`)."""
    manifest = read_manifest(data_dir)
    profile = load_profile(manifest.profile_name)
    manifest.check_profile(profile)
    model.check_profile(profile)
    if manifest.sample_rate != model.sample_rate:
        raise DatasetError(f"dataset {data_dir} is at {manifest.sample_rate} Hz, the model at {model.sample_rate} Hz")
    logits = []
    with torch.inference_mode():
        for rows in tqdm(iter_shards(data_dir, split, reference, max_rows), total=len(manifest.shard_paths(split)),
                         desc=f"predict {split}", leave=False, unit="shard"):
            tracks, refs = torch.from_numpy(rows.tracks), torch.from_numpy(rows.references)
            for start in range(0, len(tracks), batch_size):
                logits.append(model.logits(tracks[start:start + batch_size], refs[start:start + batch_size]))
    return torch.cat(logits)  # (N, P, D)


def predict_split(data_dir: str | Path, checkpoint: str | Path | LoadedModel, split: str = "test",
                  reference: str = "ref", batch_size: int = 32, decode: str = "argmax",
                  max_rows: int | None = None) -> np.ndarray:
    """Physical predictions (N, P) for the rows of a split (the first ``max_rows``, default all), in shard
    order (for audio-domain evaluation).

    ``reference="ref"``: the dataset's reference clip; ``"y"``: the target itself (easy case).
    ``decode``: "argmax" or "median" of each parameter's bin distribution (see model.decode).
    Raises DatasetError / ProfileMismatchError if the dataset is for another profile.
    """
    model = checkpoint if isinstance(checkpoint, LoadedModel) else load_checkpoint(checkpoint)
    profile = load_profile(read_manifest(data_dir).profile_name)
    logits = split_logits(data_dir, model, split, reference, batch_size, max_rows)
    return profile.from_bins(decode_bins(logits, decode).numpy())  # (N, P) physical


def split_params(data_dir: str | Path, split: str) -> np.ndarray:
    """The true physical settings (N, P) of a split, read without loading the audio."""
    manifest = read_manifest(data_dir)
    parts = []
    for path in manifest.shard_paths(split):
        with np.load(path) as shard:
            parts.append(shard["params"])
    if not parts:
        raise DatasetError(f"dataset {data_dir} has no {split!r} shards")
    return np.concatenate(parts)


def mae_row(system: str, predicted: np.ndarray, true: np.ndarray, profile: PluginProfile) -> MaeRow:
    """Errors of (N, P) physical predictions against (N, P) physical truth."""
    err_unit = np.abs(profile.to_unit(predicted) - profile.to_unit(true))  # (N, P)
    err_phys = np.abs(predicted - true)  # (N, P)
    return MaeRow(system=system, mae_unit=err_unit.mean(0).tolist(), std_unit=err_unit.std(0).tolist(),
                  mae_physical=err_phys.mean(0).tolist(), std_physical=err_phys.std(0).tolist(),
                  mean_mae_unit=float(err_unit.mean()))


def mean_setting(data_dir: str | Path, profile: PluginProfile) -> tuple[np.ndarray, str]:
    """The floor's constant prediction (P,) in physical units and its label: the training settings'
    mean on the 0..1 scale; for a test-only dataset, the middle of each range (the mean of the
    uniform grid sampling)."""
    if read_manifest(data_dir).shard_paths("train"):
        unit_mean = profile.to_unit(split_params(data_dir, "train")).mean(axis=0)
        label = "mean training setting (floor)"
    else:
        unit_mean = np.full(profile.n_params, 0.5)
        label = "mid-range setting (floor; dataset has no train split)"
    return np.array([spec.from_bin(u * (N_BINS - 1)) for spec, u in zip(profile.parameters, unit_mean)]), label


def _markdown(rows: Sequence[MaeRow], profile: PluginProfile, split: str, n_rows: int) -> str:
    names = profile.parameter_names
    units = [p.unit for p in profile.parameters]
    lines = [f"# Parameter-domain evaluation: {profile.name}, {split} split ({n_rows} rows)", "",
             "MAE ± std of the absolute error. Normalized: 0..1 across the model's range of each parameter "
             "(log scale for frequencies and widths).", "", "## Normalized MAE", "",
             "| system | mean | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for r in rows:
        cells = [f"{m:.3f} ± {s:.3f}" for m, s in zip(r.mae_unit, r.std_unit)]
        lines.append(f"| {r.system} | {r.mean_mae_unit:.3f} | " + " | ".join(cells) + " |")
    lines += ["", "## Physical MAE", "", "| system | " + " | ".join(f"{n} ({u})" for n, u in zip(names, units)) + " |",
              "|---|" + "---|" * len(names)]
    for r in rows:
        cells = [f"{m:.3g} ± {s:.3g}" for m, s in zip(r.mae_physical, r.std_physical)]
        lines.append(f"| {r.system} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def evaluate(data_dir: str | Path, checkpoint: str | Path, out_dir: str | Path, split: str = "test",
             baselines: Sequence[str | Path] = ()) -> list[MaeRow]:
    """Evaluate a checkpoint (and baseline checkpoints) on a split; write report.md and report.json.

    Rows: the model (argmax, then median decoding); the same with the target as reference ("same
    material", easy case); each baseline (argmax, median); the mean-setting floor. Returns the
    rows in that order.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(data_dir)
    profile = load_profile(manifest.profile_name)
    true = split_params(data_dir, split)  # (N, P)
    model = load_checkpoint(checkpoint, profile)
    arch = model.network_config.arch
    name = f"{arch} ({Path(checkpoint).name})"

    def physical(logits: torch.Tensor, decode: str) -> np.ndarray:
        return profile.from_bins(decode_bins(logits, decode).numpy())  # (N, P)

    logits = split_logits(data_dir, model, split)
    easy = split_logits(data_dir, model, split, reference="y")
    rows = [mae_row(name, physical(logits, "argmax"), true, profile),
            mae_row(f"{name}, median decoding", physical(logits, "median"), true, profile),
            mae_row(f"{name}, same material (reference = target y)", physical(easy, "argmax"), true, profile),
            mae_row(f"{name}, same material, median decoding", physical(easy, "median"), true, profile)]
    for path in baselines:
        base = load_checkpoint(path, profile)
        base_logits = split_logits(data_dir, base, split)
        for decode in ("argmax", "median"):
            suffix = ", median decoding" if decode == "median" else ""
            rows.append(mae_row(f"{base.network_config.arch} ({Path(path).name}){suffix}",
                                physical(base_logits, decode), true, profile))
    floor, label = mean_setting(data_dir, profile)
    rows.append(mae_row(label, np.broadcast_to(floor, true.shape), true, profile))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "report.md", _markdown(rows, profile, split, len(true)))
    write_json_atomic(out_dir / "report.json", {
        "profile": profile.name, "split": split, "rows": len(true), "data_dir": str(data_dir),
        "parameter_names": list(profile.parameter_names), "units": [p.unit for p in profile.parameters],
        "systems": [asdict(r) for r in rows]})
    for r in rows:
        log.info("%-60s normalized MAE %.4f", r.system, r.mean_mae_unit)
    log.info("wrote %s", out_dir / "report.md")
    return rows
