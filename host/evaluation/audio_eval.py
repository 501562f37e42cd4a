"""Audio-domain evaluation: render each method's predicted settings through the real plugin and compare
the result with the target ``y`` (framewise mel STFT distance in nepers, MR-STFT distance, LUFS error).

Methods: "no-op" (the input unchanged), each given set of predicted settings (method name -> (rows, P)
physical values, in the split's manifest order), "dsp-eq-match" (:mod:`host.evaluation.dsp_fit`, fitted here from
(x, ref)) and "matchering" (:mod:`host.evaluation.matchering`; its output audio is compared directly).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
from tqdm import tqdm

from model.manifest import SPLITS, read_manifest
from model.atomic import write_json_atomic, write_text_atomic
from host.evaluation.dsp_fit import fit_eq_match
from host.errors import DatasetError, ProfileError
from host.evaluation.metrics import lufs_error_db, mel_stft_nepers, mel_stft_nepers_level_invariant, mrstft_distance
from model.profiles import PluginProfile, load_profile

log = logging.getLogger(__name__)

NO_OP = "no-op"
DSP_EQ_MATCH = "dsp-eq-match"
MATCHERING = "matchering"
METRICS = ("mel_stft_nepers", "mel_level_invariant_nepers", "mrstft_distance", "lufs_error_db")
# (x, ref, sample rate) -> (P,) physical settings: a method evaluated per row (a model through the pipeline)
Estimator = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
REPORT_MD = "audio_report.md"
REPORT_JSON = "audio_report.json"


@dataclass(frozen=True)
class SplitData:
    """The rows of one split, in manifest order."""

    x: np.ndarray       # (rows, samples) float32 input
    ref: np.ndarray     # (rows, samples) float32 reference (other material through the EQ)
    y: np.ndarray       # (rows, samples) float32 target (x through the EQ)
    params: np.ndarray  # (rows, P) float64 true physical settings

    @property
    def n_rows(self) -> int:
        return int(self.x.shape[0])


def load_split(data_dir: str | Path, split: str = "test", max_rows: int | None = None) -> SplitData:
    """x, ref, y and params of a split's first ``max_rows`` rows (all if None), in manifest order.

    Raises:
        DatasetError: no manifest, unknown split, no shard of that split, or an unreadable shard.
    """
    if split not in SPLITS:
        raise DatasetError(f"split {split!r} is not one of {SPLITS}")
    if max_rows is not None and max_rows < 1:
        raise DatasetError(f"max_rows must be at least 1, got {max_rows}")
    manifest = read_manifest(data_dir)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "ref", "y", "params")}
    n = 0
    for path in manifest.shard_paths(split):
        if max_rows is not None and n >= max_rows:
            break
        try:
            with np.load(path) as arrays:
                for key in parts:
                    parts[key].append(arrays[key])
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetError(f"cannot read shard {path}: {exc!r}") from exc
        n += parts["x"][-1].shape[0]
    if not parts["x"]:
        raise DatasetError(f"dataset {root} has no {split!r} shards")
    cut = {k: np.concatenate(v)[:max_rows] for k, v in parts.items()}
    return SplitData(cut["x"].astype(np.float32, copy=False), cut["ref"].astype(np.float32, copy=False),
                     cut["y"].astype(np.float32, copy=False), cut["params"].astype(np.float64, copy=False))


def row_metrics(prediction: np.ndarray, target: np.ndarray, sample_rate: int) -> dict[str, float]:
    """The three distances of one rendered prediction from its target (see :mod:`host.evaluation.metrics`)."""
    return {"mel_stft_nepers": mel_stft_nepers(prediction, target, sample_rate),
            "mel_level_invariant_nepers": mel_stft_nepers_level_invariant(prediction, target, sample_rate),
            "mrstft_distance": mrstft_distance(prediction, target),
            "lufs_error_db": lufs_error_db(prediction, target, sample_rate)}


def _checked_predictions(predictions: Mapping[str, np.ndarray], profile: PluginProfile,
                         n_rows: int) -> dict[str, np.ndarray]:
    out = {}
    for name, values in predictions.items():
        if name in (NO_OP, DSP_EQ_MATCH, MATCHERING):
            raise ProfileError(f"method name {name!r} is reserved for a built-in baseline; rename it")
        v = np.asarray(values, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != profile.n_params or v.shape[0] < n_rows:
            raise ProfileError(f"predictions {name!r} must be (rows >= {n_rows}, {profile.n_params}) physical values "
                               f"of profile {profile.name!r}, got shape {v.shape}")
        clipped = profile.clip(v[:n_rows])
        if not np.allclose(clipped, v[:n_rows]):
            log.warning("predictions %r: %d values outside the profile's ranges were clipped", name,
                        int(np.sum(~np.isclose(clipped, v[:n_rows]))))
        out[name] = clipped
    return out


def _summary(rows: list[dict[str, float]], no_op: list[dict[str, float]]) -> dict:
    """Mean, std, median, 90th percentile of each metric, and the share of rows worse than leaving the input
    alone (by more than 1e-6, so no-op itself scores 0)."""
    table = np.array([[r[m] for m in METRICS] for r in rows], dtype=np.float64)  # (rows, metrics)
    base = np.array([[r[m] for m in METRICS] for r in no_op], dtype=np.float64)
    finite = np.isfinite(table)
    if not finite.all():
        log.warning("%d non-finite metric values left out of the means", int((~finite).sum()))
    masked = np.where(finite, table, np.nan)
    with np.errstate(invalid="ignore"):
        stats = {"mean": np.nanmean(masked, axis=0), "std": np.nanstd(masked, axis=0),
                 "median": np.nanmedian(masked, axis=0), "p90": np.nanpercentile(masked, 90, axis=0),
                 "worse_than_no_op": np.nanmean(np.where(finite, masked > base + 1e-6, np.nan), axis=0)}
    return {"rows": len(rows), **{k: dict(zip(METRICS, v.tolist())) for k, v in stats.items()}}


_LABELS = {"mel_stft_nepers": "mel distance (Np)", "mel_level_invariant_nepers": "level-invariant mel (Np)",
           "mrstft_distance": "MR-STFT", "lufs_error_db": "LUFS error (dB)"}


def _markdown(report: dict) -> str:
    lines = [f"# Audio-domain evaluation: {report['data_dir']} ({report['split']}, {report['rows']} rows, "
             f"profile {report['profile']}, {report['sample_rate']} Hz)", "",
             "Each method's output compared with the target y (lower is better): mel distance = mean |Δ ln mel| "
             "(128 mels, framewise, nepers; x 8.69 for dB); level-invariant = the same with the mean ln-mel offset "
             "removed; MR-STFT = spectral convergence + log magnitude (FFT 512/1024/2048); LUFS error = |Δ "
             "integrated loudness| in dB. Each cell: mean / median / 90th percentile; 'worse' = share of rows "
             "where the method is further from the target than leaving the input alone (mel distance, "
             "level-invariant).", "",
             "| method | rows | " + " | ".join(_LABELS[m] for m in METRICS) + " | worse (mel) | worse (level-inv.) |",
             "| --- | ---: | " + " | ".join("---:" for _ in METRICS) + " | ---: | ---: |"]
    for name, s in report["methods"].items():
        cells = [f"{s['mean'][m]:.3f} / {s['median'][m]:.3f} / {s['p90'][m]:.3f}" for m in METRICS]
        worse = [f"{100 * s['worse_than_no_op'][m]:.0f}%" for m in ("mel_stft_nepers", "mel_level_invariant_nepers")]
        lines.append(f"| {name} | {s['rows']} | " + " | ".join(cells) + " | " + " | ".join(worse) + " |")
    return "\n".join(lines) + "\n"


def evaluate_audio(data_dir: str | Path, predictions: Mapping[str, np.ndarray] | None = None, split: str = "test",
                   max_rows: int | None = None, out_dir: str | Path | None = None, dsp_eq_match: bool = True,
                   matchering: bool = True, progress: bool = True,
                   estimators: Mapping[str, Estimator] | None = None) -> dict:
    """Render and score every method on a split; returns the report (and writes it when ``out_dir`` is set).

    Args:
        data_dir: a dataset folder (manifest.json + shards).
        predictions: method name -> (rows, P) physical settings for the split's rows in manifest order
            (at least ``max_rows`` rows; values outside the profile's ranges are clipped with a warning).
        split: "train", "val" or "test".
        max_rows: evaluate only the first rows.
        out_dir: where to write audio_report.md and audio_report.json (atomically).
        dsp_eq_match: include the DSP EQ-match baseline (fitted per row from x and ref).
        matchering: include the Matchering baseline (needs ``pip install matchering``).
        estimators: method name -> a function of (x, ref, sample rate) giving the row's settings (P,).

    Returns:
        {"data_dir", "split", "rows", "profile", "sample_rate", "methods": {name: {"rows", "mean", "std",
        "median", "p90", "worse_than_no_op"}}, "rows_detail": {name: [per-row metrics]}} over METRICS.

    Raises:
        DatasetError, ProfileError, PluginNotFoundError, MatcheringError (see the modules named above).
    """
    from host.plugins.render import PluginHost  # deferred: DawDreamer loads only when rendering

    manifest = read_manifest(data_dir)
    profile = load_profile(manifest.profile_name)
    sample_rate = manifest.sample_rate
    data = load_split(data_dir, split, max_rows)
    given = _checked_predictions(predictions or {}, profile, data.n_rows)
    host = PluginHost(profile, sample_rate)

    methods: dict[str, Callable[[int], np.ndarray]] = {NO_OP: lambda i: data.x[i]}
    for name, values in given.items():
        methods[name] = lambda i, v=values: host.render(data.x[i], v[i])
    for name, estimator in (estimators or {}).items():
        if name in methods or name in (DSP_EQ_MATCH, MATCHERING):
            raise ProfileError(f"method name {name!r} is used twice; rename it")
        methods[name] = lambda i, e=estimator: host.render(data.x[i], e(data.x[i], data.ref[i], sample_rate))
    if dsp_eq_match:
        methods[DSP_EQ_MATCH] = lambda i: host.render(data.x[i], fit_eq_match(data.x[i], data.ref[i], sample_rate,
                                                                              profile))
    if matchering:
        from host.evaluation.matchering import matchering_match

        methods[MATCHERING] = lambda i: matchering_match(data.x[i], data.ref[i], sample_rate)

    rows: dict[str, list[dict[str, float]]] = {name: [] for name in methods}
    for i in tqdm(range(data.n_rows), desc=f"evaluate-audio {split}", unit="row", disable=not progress):
        for name, run in methods.items():
            rows[name].append(row_metrics(run(i), data.y[i], sample_rate))
    report = {"data_dir": str(data_dir), "split": split, "rows": data.n_rows, "profile": profile.name,
              "sample_rate": sample_rate, "metrics": list(METRICS),
              "methods": {name: _summary(r, rows[NO_OP]) for name, r in rows.items()},
              "rows_detail": {name: r for name, r in rows.items()}}
    if out_dir is not None:
        out = Path(out_dir)
        write_json_atomic(out / REPORT_JSON, report)
        write_text_atomic(out / REPORT_MD, _markdown(report))
        log.info("wrote %s and %s", out / REPORT_MD, out / REPORT_JSON)
    return report


def format_table(report: dict) -> str:
    """The report's markdown table (what audio_report.md holds)."""
    return _markdown(report)


