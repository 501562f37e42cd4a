"""How much of the raw curve error a level-invariant match must keep, even with a perfect view of the shape.

    .venv/bin/python examples/curve_level_bound.py [--per-profile 3000] [--steps 3000]

A level-invariant model sees the reference-minus-track difference only up to a constant: it sees the EQ
curve's *shape* (here: the curve minus its mean over the mel bands, no passage noise at all) and must guess
the overall level the setting adds. A tilt, for example, is a low boost or a high cut. This trains a small
MLP from shape to curve on random settings of the four EQ profiles (the curve model's training bank) and
reports, on held-out settings, the curve error (mean |dB| over the 128 mel bands) against leaving the track
alone, raw and with the mean offset removed, with the share of settings where it is worse than flat.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from host.plugins.curves import curve_bank
from model.profiles import load_profile

PROFILES = ("faust-peq", "zameq2", "lsp-para-eq", "lsp-para-eq-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-profile", type=int, default=3000, help="random settings per profile")
    parser.add_argument("--steps", type=int, default=3000, help="optimizer steps of 256 curves")
    args = parser.parse_args()
    torch.manual_seed(0)
    curves, owner = curve_bank([load_profile(n) for n in PROFILES], args.per_profile, seed=123)
    shape = curves - curves.mean(axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(curves))
    train, test = order[: len(order) * 5 // 6], order[len(order) * 5 // 6:]
    x, y = torch.tensor(shape, dtype=torch.float32), torch.tensor(curves, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(128, 512), torch.nn.GELU(), torch.nn.Linear(512, 512),
                              torch.nn.GELU(), torch.nn.Linear(512, 128))
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(args.steps):
        batch = torch.as_tensor(rng.choice(train, 256))
        loss = (net(x[batch]) - y[batch]).abs().mean()  # L1: the median, as the curve model predicts
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        pred = net(x[test]).numpy()
    truth = curves[test]
    error, flat = np.abs(pred - truth).mean(axis=1), np.abs(truth).mean(axis=1)
    diff = pred - truth
    error_li = np.abs(diff - diff.mean(axis=1, keepdims=True)).mean(axis=1)
    flat_li = np.abs(truth - truth.mean(axis=1, keepdims=True)).mean(axis=1)
    print("| profile | settings | flat (dB) | shape -> curve (dB) | ratio | worse than flat | level-invariant ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for i, name in [(None, "all")] + list(enumerate(PROFILES)):
        m = np.ones(len(test), bool) if i is None else owner[test] == i
        print(f"| {name} | {m.sum()} | {flat[m].mean():.2f} | {error[m].mean():.2f} | {error[m].mean() / flat[m].mean():.2f}"
              f" | {np.mean(error[m] > flat[m]):.0%} | {error_li[m].mean() / flat_li[m].mean():.2f} |")


if __name__ == "__main__":
    main()
