"""How good is training on dry statistics plus an analytic curve? The curve model never sees a rendered EQ in
training: it adds the profile's effective mel gain (analytic response through the front end's window and mel
filters, host.plugins.curves.mel_curve_db) to the dry segment's level statistics. Here, on rows rendered through
the real plugin (render-dataset), the statistics of the real render y are compared with those of its input x
plus that curve, for each of the level channels (mean level, 10/50/90th percentiles), in dB.

    .venv/bin/python examples/curve_approximation.py --data data/holdout-zameq2 [--rows 120]

Reported per row: mean and max |difference| over the bands within 60 dB of the row's loudest band (where there
is energy; bands below carry no tonal information and are floored by the features), and over all bands.
"""

from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

from host.evaluation.audio_eval import load_split
from host.plugins.curves import mel_curve_db
from model.config import FeatureConfig
from model.curve.numpy_stats import band_stats
from model.curve.stats_config import StatsConfig
from model.manifest import read_manifest
from model.mel_power import filterbank, mel_power
from model.profiles import load_profile

ENERGY_RANGE_DB = 60.0
CHANNELS = ("mean level", "10th pct", "median", "90th pct")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a render-dataset folder (rows rendered through the plugin)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--rows", type=int, default=120)
    parser.add_argument("--level-gate-db", type=float, default=StatsConfig().level_gate_db,
                        help="frames the statistics measure: within this many dB of the loud frames (default: today's)")
    args = parser.parse_args()
    profile = load_profile(read_manifest(args.data).profile_name)
    split = load_split(args.data, args.split, args.rows)
    features, config = FeatureConfig(scale="linear"), StatsConfig(level_gate_db=args.level_gate_db)
    bank = filterbank(features)
    energy_mean, energy_max, all_mean, all_max = [], [], [], []
    for i in tqdm(range(split.n_rows), desc="rows", unit="row"):
        dry = band_stats(mel_power(split.x[i], features, bank), config, features, check=False)
        real = band_stats(mel_power(split.y[i], features, bank), config, features, check=False)
        model_view = dry[: config.n_level] + mel_curve_db(profile, split.params[i])[None, :]
        diff = np.abs(real[: config.n_level] - model_view)                       # (channels, M)
        energy = dry[0] > dry[0].max() - ENERGY_RANGE_DB
        energy_mean.append(diff[:, energy].mean(axis=1))
        energy_max.append(diff[:, energy].max(axis=1))
        all_mean.append(diff.mean(axis=1))
        all_max.append(diff.max(axis=1))
    print(f"{args.data}: {split.n_rows} rows, profile {profile.name}; |real render - (dry + analytic curve)|, dB")
    print("| channel | bands with energy: mean | median row max | 90th pct row max | worst | all bands: mean | worst |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    em, ex, am, ax = (np.array(a) for a in (energy_mean, energy_max, all_mean, all_max))
    for c, name in enumerate(CHANNELS):
        print(f"| {name} | {em[:, c].mean():.3f} | {np.median(ex[:, c]):.2f} | {np.percentile(ex[:, c], 90):.2f} "
              f"| {ex[:, c].max():.2f} | {am[:, c].mean():.3f} | {ax[:, c].max():.2f} |")


if __name__ == "__main__":
    main()
