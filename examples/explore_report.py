"""Measurements behind the controller split and `eqbridge explore` (run as a module; writes JSON + Markdown).

* ``efficiency``: validation MAE (normalized) and wall time against training rows, for a controller on
  the frozen encoder and for the whole network trained from scratch (``model.train.train``).
* ``audio``: match quality of the bottlenecked controller against the plain one, by rendering their
  predictions through the plugin on test rows (mel distance to the target y, host/evaluation/metrics.py).
* ``smoothness``: Spearman rank correlation between latent distance and the mel distance of the renders.

Usage: ``python examples/explore_report.py efficiency --data data/ds-zamcomp-speech --out out/explore``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)


def _embedded(data_dir: Path, split: str, cache_dir: Path, encoder_path: Path):
    from model.controller_train import EmbeddedSplit, embed_split
    from model.encoder_store import load_encoder

    cache = cache_dir / f"emb-{data_dir.name}-{split}.pt"
    if cache.exists():
        raw = torch.load(cache, weights_only=True)
        return EmbeddedSplit(raw["track"], raw["reference"], raw["bins"]), float(raw["seconds"])
    started = time.perf_counter()
    emb = embed_split(data_dir, split, load_encoder(encoder_path))
    seconds = time.perf_counter() - started
    cache.parent.mkdir(parents=True, exist_ok=True)
    save_atomic({"track": emb.track, "reference": emb.reference, "bins": emb.bins, "seconds": seconds}, cache)
    return emb, seconds


def efficiency(data_dir: Path, out_dir: Path, rows: list[int], full_rows: list[int], full_epochs: int,
               encoder_path: Path, latent_dims: list[int]) -> list[dict]:
    """Rows of {system, train_rows, val_mae_unit, wall_s} for controllers and from-scratch training.

    A controller's wall time counts embedding its training rows (measured once, charged per row) plus
    fitting; the from-scratch time counts its mel front end and all epochs.
    """
    import dataclasses

    from model.payload import read_payload
    from model.config import TrainConfig
    from model.controller import Controller
    from model.controller_train import ControllerTrainConfig, EmbeddedSplit, fit_controller
    from model.encoder_store import load_encoder
    from model.train import train

    torch.set_num_threads(1)
    train_emb, train_s = _embedded(data_dir, "train", out_dir, encoder_path)
    val_emb, _ = _embedded(data_dir, "val", out_dir, encoder_path)
    per_row_s = train_s / len(train_emb.bins)
    encoder = load_encoder(encoder_path)
    n_params = train_emb.bins.shape[1]
    results = []
    for latent_dim in latent_dims:
        for r in rows:
            sub = EmbeddedSplit(train_emb.track[:r], train_emb.reference[:r], train_emb.bins[:r])
            cfg = ControllerTrainConfig(latent_dim=latent_dim)
            net_cfg = dataclasses.replace(encoder.network_config, arch="controller", n_params=n_params,
                                          latent_dim=latent_dim)
            torch.manual_seed(0)
            started = time.perf_counter()
            _, history = fit_controller(sub, val_emb, Controller(net_cfg), cfg)
            fit_s = time.perf_counter() - started
            results.append({"system": f"frozen encoder + controller (latent {latent_dim})",
                            "train_rows": len(sub.bins), "val_mae_unit": min(h["val_mae_unit"] for h in history),
                            "wall_s": fit_s + per_row_s * len(sub.bins), "fit_s": fit_s, "epochs": len(history)})
            log.info("%s", results[-1])
    for r in full_rows:
        out = out_dir / f"full-{data_dir.name}-{r}.pt"
        for stale in (out, out.with_name(out.stem + ".last.pt")):
            stale.unlink(missing_ok=True)
        started = time.perf_counter()
        train(data_dir, out, TrainConfig(epochs=full_epochs, patience=15, loss="ce-smooth", max_train_rows=r))
        wall = time.perf_counter() - started
        payload = read_payload(out)
        results.append({"system": "whole network from scratch", "train_rows": min(r, len(train_emb.bins)),
                        "val_mae_unit": float(payload["val_mae_unit"]), "wall_s": wall,
                        "epochs": len(read_payload(out.with_name(out.stem + ".last.pt"))["history"])})
        log.info("%s", results[-1])
    return results


def audio_quality(data_dir: Path, checkpoints: dict[str, Path], n_rows: int) -> dict[str, dict]:
    """Mean mel distance (nepers) between x rendered with each system's prediction (median decoding) and the
    target y, on ``n_rows`` test rows spread over the split; plus the mean-training-setting floor."""
    from host.evaluation.metrics import mel_stft_nepers
    from model.profiles import load_profile
    from host.plugins.render import PluginHost
    from model.checkpoint import load_checkpoint
    from model.data import SegmentDataset
    from model.decode import decode_bins
    from model.evaluate import mean_setting

    data = SegmentDataset(data_dir, "test")
    profile = load_profile(data.manifest.profile_name)
    host = PluginHost(profile, data.manifest.sample_rate)
    take = np.linspace(0, len(data) - 1, min(n_rows, len(data))).astype(int)
    y = np.stack([host.render(data.tracks[i].numpy(), data.params[i]) for i in take])
    predictions = {}
    for name, ckpt in checkpoints.items():
        model = load_checkpoint(ckpt, profile)
        logits = torch.cat([model.logits(data.tracks[take[s:s + 32]], data.references[take[s:s + 32]])
                            for s in range(0, len(take), 32)])  # (n, P, D)
        predictions[name] = profile.from_bins(decode_bins(logits, "median").numpy())  # (n, P)
    floor, label = mean_setting(data_dir, profile)
    predictions[label] = np.broadcast_to(floor, (len(take), profile.n_params))
    out = {}
    for name, pred in predictions.items():
        d = np.array([mel_stft_nepers(host.render(data.tracks[i].numpy(), profile.clip(p)), y[k],
                                   data.manifest.sample_rate) for k, (i, p) in enumerate(zip(take, pred))])
        out[name] = {"mel_distance_mean": float(d.mean()), "mel_distance_median": float(np.median(d)),
                     "rows": len(take)}
        log.info("%s: %s", name, out[name])
    return out


def smoothness(data_dir: Path, checkpoint: Path, n_rows: int, per_row: int, max_radius: float,
               seed: int = 0) -> dict[str, float]:
    """Spearman rho between latent distance from the match and mel distance between the renders."""
    from scipy.stats import spearmanr

    from host.evaluation.metrics import mel_stft_nepers
    from model.profiles import load_profile
    from host.plugins.render import PluginHost
    from model.data import SegmentDataset
    from model.latent import decode_points, latent_model, match_latent

    data = SegmentDataset(data_dir, "test")
    profile, model = latent_model(load_profile(data.manifest.profile_name), checkpoint)
    host = PluginHost(profile, data.manifest.sample_rate)
    rng = np.random.default_rng(seed)
    take = np.linspace(0, len(data) - 1, min(n_rows, len(data))).astype(int)
    latent_d, mel_d, per_row_rho = [], [], []
    for i in take:
        center = match_latent(model, data.tracks[i:i + 1], data.references[i:i + 1])[0]  # (Z,)
        dirs = rng.standard_normal((per_row, center.shape[0]))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        radii = rng.uniform(0.05, max_radius, per_row)
        values = decode_points(model, profile, np.vstack([center, center + radii[:, None] * dirs]))
        x = data.tracks[i].numpy()
        base = host.render(x, profile.clip(values[0]))
        d = [mel_stft_nepers(host.render(x, profile.clip(v)), base, data.manifest.sample_rate) for v in values[1:]]
        latent_d += radii.tolist()
        mel_d += d
        per_row_rho.append(spearmanr(radii, d).statistic)
    pooled = spearmanr(latent_d, mel_d)
    return {"spearman_pooled": float(pooled.statistic), "p_value": float(pooled.pvalue),
            "spearman_per_row_mean": float(np.nanmean(per_row_rho)), "rows": len(take), "points_per_row": per_row,
            "max_radius": max_radius}


def markdown(out_dir: Path) -> str:
    """The measurements in ``out_dir`` (efficiency-, audio-, smoothness-*.json) as Markdown tables."""
    lines = ["# Controllers on a frozen encoder: measurements", ""]
    for path in sorted(out_dir.glob("efficiency-*.json")):
        lines += [f"## Data and time: {path.stem.removeprefix('efficiency-')}", "",
                  "| system | train rows | val MAE (normalized) | wall s | epochs |", "|---|---|---|---|---|"]
        for r in json.loads(path.read_text()):
            lines.append(f"| {r['system']} | {r['train_rows']} | {r['val_mae_unit']:.4f} | {r['wall_s']:.1f} | "
                         f"{r['epochs']} |")
        lines.append("")
    for path in sorted(out_dir.glob("audio-*.json")):
        lines += [f"## Match quality through the plugin: {path.stem.removeprefix('audio-')}", "",
                  "| system | mel distance mean | median | rows |", "|---|---|---|---|"]
        for name, r in json.loads(path.read_text()).items():
            lines.append(f"| {name} | {r['mel_distance_mean']:.4f} | {r['mel_distance_median']:.4f} | {r['rows']} |")
        lines.append("")
    lines += ["## Latent distance vs sound distance (Spearman)", "",
              "| dataset | pooled rho | p | mean per-row rho | rows x points | max radius |", "|---|---|---|---|---|---|"]
    for path in sorted(out_dir.glob("smoothness-*.json")):
        r = json.loads(path.read_text())
        lines.append(f"| {path.stem.removeprefix('smoothness-')} | {r['spearman_pooled']:.3f} | {r['p_value']:.1e} | "
                     f"{r['spearman_per_row_mean']:.3f} | {r['rows']} x {r['points_per_row']} | {r['max_radius']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python examples/explore_report.py", description=__doc__)
    parser.add_argument("part", choices=("efficiency", "audio", "smoothness", "markdown"))
    parser.add_argument("--data", type=Path, help="dataset folder (every part but markdown)")
    parser.add_argument("--out", type=Path, default=Path("out/explore"))
    parser.add_argument("--encoder", type=Path, default=Path("presets/encoder.pt"))
    parser.add_argument("--rows", default="75,150,300,100000", help="efficiency: controller training rows")
    parser.add_argument("--full-rows", default="75,150,300,100000", help="efficiency: from-scratch training rows")
    parser.add_argument("--full-epochs", type=int, default=60)
    parser.add_argument("--latent-dims", default="0,8", help="efficiency: controller bottleneck sizes")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                        help="audio: systems to compare; smoothness: the bottlenecked controller")
    parser.add_argument("--n-rows", type=int, default=100)
    parser.add_argument("--per-row", type=int, default=6)
    parser.add_argument("--max-radius", type=float, default=2.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.part == "markdown":
        print(markdown(args.out), end="")
        return 0
    if args.data is None:
        parser.error(f"{args.part} needs --data")
    if args.part == "efficiency":
        result = efficiency(args.data, args.out, [int(r) for r in args.rows.split(",")],
                            [int(r) for r in args.full_rows.split(",") if r], args.full_epochs, args.encoder,
                            [int(z) for z in args.latent_dims.split(",")])
    else:
        systems = {k: Path(v) for k, v in (c.split("=", 1) for c in args.checkpoint)}
        if args.part == "audio":
            result = audio_quality(args.data, systems, args.n_rows)
        else:
            result = smoothness(args.data, next(iter(systems.values())), args.n_rows, args.per_row, args.max_radius)
    path = args.out / f"{args.part}-{args.data.name}.json"
    write_json_atomic(path, result)
    log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
