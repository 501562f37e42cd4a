"""`eqbridge explore`: render settings near a match through the real plugin, with a picture of where they sit.

The model side (``model/latent.py``) gives the match's latent point and n points within ``radius`` of
it, decoded to settings; here each variant is rendered through the plugin and written as
``DIR/variant-XX.wav`` + ``.json`` (the match itself as ``DIR/match.wav`` + ``.json``), and
``DIR/explore.png`` shows the points in latent space (a 2-D projection) beside their EQ curves
(or, for an effect without bands, their normalized settings).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from host.audio import write_audio_atomic
from host.errors import OptionError
from host.matching.pipeline import EXPLORE_MAX_RADIUS, EXPLORE_MAX_VARIANTS, read_pair, settings_from_values
from host.paths import check_outputs, outputs_together
from host.plugins.render import PluginHost
from model.atomic import atomic_path, write_json_atomic
from model.profiles import PluginProfile, load_profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExploreResult:
    """What explore wrote: one (wav, json) pair per variant, the match's pair, and the picture."""

    profile: str
    out_dir: Path
    variant_paths: tuple[Path, ...]     # DIR/variant-XX.wav, in order of distance from the match
    settings: tuple[dict[str, float], ...]  # (n,) physical settings per variant
    radii: tuple[float, ...]            # (n,) latent distance of each variant from the match
    plot_path: Path | None


def latent_projection(center: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """2-D coordinates of (center (Z,), points (n, Z)): the raw axes when Z = 2, else the points' first two
    principal directions around the center (distances from the center are kept as well as a plane can)."""
    offsets = points - center  # (n, Z)
    if center.shape[0] == 2:
        return np.zeros(2), offsets, "z1, z2 (minus the match)"
    _, _, vt = np.linalg.svd(offsets, full_matrices=False)
    basis = vt[:2].T  # (Z, 2)
    return np.zeros(2), offsets @ basis, "first two principal directions of the variants"


def plot_explore(path: Path, profile: PluginProfile, center_values: np.ndarray, values: np.ndarray,
                 center: np.ndarray, points: np.ndarray, radius: float, curves: list[tuple[np.ndarray, np.ndarray]] | None,
                 sample_rate: int, title: str) -> Path:
    """Write the PNG: latent positions (left) and EQ curves or normalized settings (right)."""
    from host.matching.plot import plt  # matplotlib with the Agg backend

    fig, (ax_latent, ax_right) = plt.subplots(1, 2, figsize=(13, 5.5), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0.0, 0.9, len(points)))
    origin, xy, label = latent_projection(center, points)
    ax_latent.add_patch(plt.Circle(origin, radius, fill=False, ls="--", color="0.5"))
    ax_latent.scatter(*origin, marker="*", s=220, color="tab:red", label="match", zorder=3)
    for k, (p, c) in enumerate(zip(xy, colors)):
        ax_latent.scatter(p[0], p[1], color=c, s=60, zorder=3)
        ax_latent.annotate(f"{k:02d} (d={np.linalg.norm(points[k] - center):.2f})", p, textcoords="offset points",
                           xytext=(4, 4), fontsize=8)
    ax_latent.set_aspect("equal")
    ax_latent.set_xlim(-1.15 * radius, 1.15 * radius)
    ax_latent.set_ylim(-1.15 * radius, 1.15 * radius)
    ax_latent.set_title(f"latent space (Z = {center.shape[0]}): {label}; d = true latent distance", fontsize=9)
    ax_latent.legend(loc="upper right")
    if curves is not None:
        freqs_hz, match_db = curves[0]
        keep = (freqs_hz >= 20) & (freqs_hz <= sample_rate / 2)
        for k, ((f, db), c) in enumerate(zip(curves[1:], colors)):
            ax_right.semilogx(f[keep], db[keep], color=c, lw=1.0, label=f"{k:02d}")
        ax_right.semilogx(freqs_hz[keep], match_db[keep], color="tab:red", lw=2.2, label="match")
        ax_right.set_xlabel("frequency (Hz)")
        ax_right.set_ylabel("gain (dB, measured through the plugin)")
    else:
        x = np.arange(profile.n_params)
        for k, (v, c) in enumerate(zip(profile.to_unit(values), colors)):
            ax_right.plot(x, v, "o-", color=c, lw=1.0, label=f"{k:02d}")
        ax_right.plot(x, profile.to_unit(center_values), "*-", color="tab:red", lw=2.2, ms=12, label="match")
        ax_right.set_xticks(x, profile.parameter_names, rotation=30, ha="right")
        ax_right.set_ylabel("setting, 0..1 across the model's range")
        ax_right.set_ylim(-0.05, 1.05)
    ax_right.grid(True, which="both", alpha=0.3)
    ax_right.legend(fontsize=7, ncol=2)
    ax_right.set_title(title, fontsize=9)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def explore(track_path: Path | str, reference_path: Path | str, out_dir: Path | str, plugin: str = "faust-peq",
            n: int = 8, radius: float = 1.0, checkpoint: Path | str | None = None, seed: int = 0,
            plot: bool = True) -> ExploreResult:
    """Render ``n`` settings within ``radius`` (latent units) of the match of a track to a reference.

    Raises:
        AudioInputError: unreadable, silent or too short clips. OptionError: n or radius out of range.
        CheckpointError: the profile has no controller with a latent bottleneck.
        PluginNotFoundError: the plugin is not installed.
    """
    from model import explore_latent  # the model's public API; torch loads only here

    if not 1 <= n <= EXPLORE_MAX_VARIANTS or not (np.isfinite(radius) and 0 < radius <= EXPLORE_MAX_RADIUS):
        raise OptionError(f"explore needs --n in 1..{EXPLORE_MAX_VARIANTS} and a --radius in (0, {EXPLORE_MAX_RADIUS:g}], got "
                          f"n={n}, radius={radius}")
    out = Path(out_dir)
    stems = ["match"] + [f"variant-{k:02d}" for k in range(n)]
    check_outputs({"TRACK": track_path, "REFERENCE": reference_path},
                  {**{str(out / f"{s}{ext}"): out / f"{s}{ext}" for s in stems for ext in (".wav", ".json")},
                   str(out / "explore.png"): out / "explore.png" if plot else None})
    profile = load_profile(plugin)
    track, reference = read_pair(track_path, reference_path)
    variants = explore_latent(track.mono(), reference.mono_at(track.sample_rate), track.sample_rate, profile,
                              n=n, radius=radius, checkpoint=checkpoint, seed=seed)
    host = PluginHost(profile, track.sample_rate)
    subtype = track.subtype if track.format.upper() == "WAV" else None
    common = {"track": str(track_path), "reference": str(reference_path), "radius": radius,
              "latent_center": variants.center.tolist()}
    jobs = [("match", variants.center_values, variants.center, 0.0)] + [
        (f"variant-{k:02d}", v, p, r) for k, (v, p, r) in enumerate(zip(variants.values, variants.points, variants.radii))]
    finals = [out / f"{stem}{ext}" for stem, *_ in jobs for ext in (".wav", ".json")]
    finals += [out / "explore.png"] if plot else []
    paths, plot_path = [], None
    with outputs_together(finals) as temporaries:  # every output, or none of them (a full disk, a kill)
        temp = dict(zip(finals, temporaries))
        for stem, values, point, dist in jobs:
            settings = settings_from_values(profile, values, host.parameter_indices, variants.checkpoint)
            rendered = host.render(track.data, profile.clip(values))
            wav = out / f"{stem}.wav"
            write_audio_atomic(temp[wav], rendered, track.sample_rate, subtype=subtype,
                               format=wav.suffix.lstrip(".").upper())
            write_json_atomic(temp[out / f"{stem}.json"], settings.to_json(
                host.identity, output=str(wav), latent=np.asarray(point).tolist(), latent_distance=float(dist),
                **common))
            paths.append(wav)
        if plot:
            curves = ([host.magnitude_response_db(v) for v in np.vstack([variants.center_values[None], variants.values])]
                      if profile.is_eq else None)
            plot_explore(temp[out / "explore.png"], profile, variants.center_values, variants.values,
                         variants.center, variants.points, radius, curves, track.sample_rate,
                         f"{profile.display_name}: {n} variants within {radius:g} of the match")
            plot_path = out / "explore.png"
    log.info("explore: wrote %d variants of %s to %s", n, profile.name, out)
    return ExploreResult(profile.name, out, tuple(paths[1:]),
                         tuple(profile.values_dict(profile.clip(v)) for v in variants.values),
                         tuple(float(r) for r in variants.radii), plot_path)
