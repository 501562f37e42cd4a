"""Stereo modes and several references on held-out music (issue 18): sets built here, measured through the one
pipeline (host.matching.pipeline.match_channels) and the real plugin.

    PYTHONPATH=. .venv/bin/python examples/stereo_report.py --corpus data/corpus-all --out data/stereo-report \
        [--plugin zameq2] [--seconds 5] [--limit N]

Held-out music only: the corpus sources ``wesnoth-music`` and ``musescore-midi``, which the curve model never
trained on. Three sets, each row one piece, every EQ random (uniform on the profile's grid, as render-dataset
draws) and applied through the real plugin:

- ``mid-side``: a stereo piece (wesnoth: the soundtrack's own stereo file, the corpus entry's ``origin``, whose side
  is 1 to 4 dB below its mid; musescore: its stems panned at random with a constant-power law; a mono file with no
  stereo origin: the track as mid and another part of it at half level as side). The
  track is one part, the reference another part with one EQ on mid and another on side; the target is the track
  through the same two EQs.
- ``left-right``: the same pieces, one EQ on left and another on right.
- ``multi``: mono; the track is one part of a piece, the references three other parts with one EQ; the target
  the track through that EQ. Combinations compared: the first reference alone, the weighted mean of the three
  references' predicted curves (what the pipeline does), the mean of their band statistics (one prediction),
  and the three references joined into one clip; and the combined scale (the model's uncertainty, which sets the
  restraint) as the pipeline takes it (independent errors) against the mean of the scales, and no restraint.

Error: the tonal distance to the target (host.spectrum: RMS dB over 64 mel bands of the mean-removed average
spectra, level-invariant), per channel (left, right; mid and side), against leaving the track alone. The sets are
written under ``--out`` (track, reference(s), target as FLAC, ``rows.json``) so any row can be rerun with
``eqbridge match``; ``report.md`` and ``report.json`` hold the figures.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from host.audio import AudioClip, resample
from host.matching.curve_fit import fit_profile
from host.matching.pipeline import MatchOptions, finish, match_channels, Estimate
from host.matching.stereo import decode, encode, render_channels
from host.plugins.render import PluginHost
from host.spectrum import log_mel_spectrum_db, tonal_rms_db
from model.curve.inference import MIN_DURATION_S, load_curve_model
from model.audio_input import prepare_audio
from model.curve.restraint import restrain
from model.errors import AudioInputError
from model.profiles import load_profile

HELD_OUT = ("wesnoth-music", "musescore-midi")
RATE = 44100


def _read(path: Path, start_s: float, seconds: float) -> np.ndarray:
    with sf.SoundFile(str(path)) as fh:
        fh.seek(int(start_s * fh.samplerate))
        return fh.read(int(seconds * fh.samplerate), dtype="float32", always_2d=True).mean(axis=1)


def _pieces(corpus: Path, sources: tuple[str, ...] = HELD_OUT) -> list[dict]:
    """Pieces of ``sources``: musescore (mix + stems by group) and whole tracks of the others, in manifest order."""
    files = json.loads((corpus / "manifest.json").read_text())["files"]
    pieces: dict[str, dict] = {}
    for f in files:
        if f["source"] not in sources or f["kind"] != "music":
            continue
        piece = pieces.setdefault(f["group"], {"group": f["group"], "source": f["source"], "mix": None, "stems": [],
                                               "stereo": None})
        if f["source"] != "musescore-midi" or f["path"].endswith("_mix.flac"):
            piece["mix"] = (corpus / f["path"], float(f["duration_s"]))
            origin = Path(str(f.get("origin", "")))
            if f.get("source_channels") == 2 and origin.is_absolute() and origin.is_file():
                piece["stereo"] = origin  # the soundtrack's own stereo file
        else:
            piece["stems"].append((corpus / f["path"], float(f["duration_s"])))
    return [p for p in pieces.values() if p["mix"] is not None]


def _starts(duration_s: float, seconds: float, n: int) -> list[float]:
    """n non-overlapping starts spread over the piece (skipping its first and last second)."""
    usable = duration_s - 2.0 - seconds
    if usable < (n - 1) * seconds:
        return []
    return [1.0 + usable * k / max(n - 1, 1) for k in range(n)]


def _stereo_part(piece: dict, start_s: float, seconds: float, rng: np.random.Generator,
                 pans: np.ndarray | None, side_offset_s: float) -> np.ndarray:
    """(2, samples) left/right of one part of a piece (see the module docstring)."""
    if piece["stereo"] is not None:
        with sf.SoundFile(str(piece["stereo"])) as fh:
            fh.seek(int(start_s * fh.samplerate))
            x = fh.read(int(seconds * fh.samplerate), dtype="float32", always_2d=True)[:, :2].T
            out = resample(np.ascontiguousarray(x.T), fh.samplerate, RATE).T if fh.samplerate != RATE else x
    elif piece["stems"]:
        out = np.zeros((2, int(seconds * RATE)), np.float32)
        for (path, _), pan in zip(piece["stems"], pans):
            x = _read(path, start_s, seconds)
            theta = (pan + 1.0) * np.pi / 4.0
            out[0, :len(x)] += np.cos(theta) * x
            out[1, :len(x)] += np.sin(theta) * x
    else:
        path, duration = piece["mix"]
        mid = _read(path, start_s, seconds)
        side_start = (start_s + side_offset_s) % max(duration - seconds - 1.0, 1.0)
        side = 0.5 * _read(path, side_start, seconds)
        n = min(len(mid), len(side))
        out = decode(np.stack([mid[:n], side[:n]]), "mid-side")
    peak = float(np.max(np.abs(out))) or 1.0
    return (0.5 * out / peak).astype(np.float32)


def _random_eq(profile, rng: np.random.Generator) -> np.ndarray:
    return profile.from_bins(profile.sample_bins(rng))


def _clip(data: np.ndarray) -> AudioClip:
    return AudioClip(np.atleast_2d(data).astype(np.float32), RATE, "FLOAT", "WAV", None)


def _spectra(stereo: np.ndarray) -> dict[str, np.ndarray]:
    mid, side = encode(stereo, "mid-side")
    return {name: log_mel_spectrum_db(x, RATE) for name, x in
            (("left", stereo[0]), ("right", stereo[1]), ("mid", mid), ("side", side))}


def _errors(output: np.ndarray, target_spectra: dict[str, np.ndarray]) -> dict[str, float]:
    out = _spectra(output)
    e = {k: tonal_rms_db(out[k], target_spectra[k]) for k in target_spectra}
    e["lr"] = 0.5 * (e["left"] + e["right"])
    return e


def _write_row(folder: Path, clips: dict[str, np.ndarray]) -> dict[str, str]:
    """24-bit FLAC files of one row, all scaled by one gain so none clips (the measures are level-invariant,
    and the figures are computed on the arrays, not on these files)."""
    folder.mkdir(parents=True, exist_ok=True)
    gain = 0.99 / max(0.99, max(float(np.max(np.abs(x))) for x in clips.values()))
    for name, x in clips.items():
        sf.write(str(folder / f"{name}.flac"), (gain * np.atleast_2d(x)).T, RATE, subtype="PCM_24")
    return {name: str(folder / f"{name}.flac") for name in clips}


def stereo_set(pieces: list[dict], eq_on: str, profile, host: PluginHost, out: Path, seconds: float,
               seed: int) -> list[dict]:
    """Rows of the mid-side or left-right set, each measured with every stereo mode."""
    methods = {"link (today)": {}, "mid-side": {"stereo": "mid-side"}, "left-right": {"stereo": "left-right"},
               "mid-side --link 50": {"stereo": "mid-side", "link_percent": 50.0}}
    rows = []
    for k, piece in enumerate(tqdm(pieces, desc=f"set {eq_on}", unit="piece")):
        try:
            rng = np.random.default_rng([seed, k])
            starts = _starts(piece["mix"][1], seconds, 2)
            if not starts:
                continue
            pans = rng.uniform(-0.9, 0.9, size=len(piece["stems"])) if piece["stems"] else None
            offset = float(rng.uniform(3.0, 9.0))
            track = _stereo_part(piece, starts[0], seconds, rng, pans, offset)
            ref_dry = _stereo_part(piece, starts[1], seconds, rng, pans, offset)
            eqs = [_random_eq(profile, rng), _random_eq(profile, rng)]
            reference = render_channels(host, ref_dry, eq_on, eqs)
            target = render_channels(host, track, eq_on, eqs)
            target_spectra = _spectra(target)
            row = {"piece": piece["group"], "set": eq_on,
                   "files": _write_row(out / eq_on / f"{k:03d}", {"track": track, "reference": reference, "target": target}),
                   "eq": [profile.values_dict(e) for e in eqs], "errors": {"no-op": _errors(track, target_spectra)}}
            for name, kwargs in methods.items():
                options = MatchOptions(profile, **kwargs)
                matched = match_channels(_clip(track), [_clip(reference)], options)
                row["errors"][name] = _errors(render_channels(host, track, options.stereo, matched.values), target_spectra)
        except AudioInputError as exc:  # a part the model refuses (steady noise, silence)
            tqdm.write(f"skipped {piece['group']}: {exc}")
            continue
        rows.append(row)
    return rows


def _stats_mean_values(track: np.ndarray, references: list[np.ndarray], profile, restraint: float) -> np.ndarray:
    """The alternative combination: one prediction from the mean of the references' band statistics."""
    model = load_curve_model()
    rate = model.features.sample_rate
    t = model.clip_stats(prepare_audio(track, RATE, rate, MIN_DURATION_S, "track"), "track")
    r = np.mean([model.clip_stats(prepare_audio(x, RATE, rate, MIN_DURATION_S, "reference"), "reference")
                 for x in references], axis=0)
    median, scale = model.curves(t[None], r[None])
    return fit_profile(profile, restrain(median[0], scale[0], restraint), scale[0])


def _curve_mean_values(track: np.ndarray, references: list[np.ndarray], profile, restraint: float,
                       scale_rule: str) -> np.ndarray:
    """The mean of the references' curves with the combined scale taken as the mean of their scales ("mean": the
    references' errors fully shared) or as that over sqrt(n) ("independent"; the pipeline's rule is
    sqrt(sum w^2 b^2), equal to it when the scales are equal)."""
    from model import predict_curve

    preds = [predict_curve(track, r, RATE, restraint=0.0) for r in references]
    median = np.mean([p.median_db for p in preds], axis=0)
    scale = np.mean([p.scale_db for p in preds], axis=0)
    if scale_rule == "independent":
        scale = scale / np.sqrt(len(preds))
    return fit_profile(profile, restrain(median, scale, restraint), scale)


def _precision_mean_values(track: np.ndarray, references: list[np.ndarray], profile, restraint: float) -> np.ndarray:
    """Each band's curves weighted by the inverse of their Laplace scale squared (a reference the model is surer
    of counts more there), the combined scale that of independent estimates, 1 / sqrt(sum 1 / b^2)."""
    from model import predict_curve

    preds = [predict_curve(track, r, RATE, restraint=0.0) for r in references]
    precision = np.array([1.0 / p.scale_db ** 2 for p in preds])                    # (n, M)
    median = (precision * np.array([p.median_db for p in preds])).sum(axis=0) / precision.sum(axis=0)
    scale = 1.0 / np.sqrt(precision.sum(axis=0))
    return fit_profile(profile, restrain(median, scale, restraint), scale)


def multi_set(pieces: list[dict], profile, host: PluginHost, out: Path, seconds: float, seed: int) -> list[dict]:
    rows = []
    for k, piece in enumerate(tqdm(pieces, desc="set multi", unit="piece")):
        try:
            rng = np.random.default_rng([seed, 1000 + k])
            starts = _starts(piece["mix"][1], seconds, 4)
            if not starts:
                continue
            parts = [_read(piece["mix"][0], s, seconds) for s in starts]
            eq = _random_eq(profile, rng)
            track, refs = parts[0], [host.render(p, eq) for p in parts[1:]]
            target_db = log_mel_spectrum_db(host.render(track, eq), RATE)
            base = MatchOptions(profile)

            def err(values: np.ndarray) -> float:
                return tonal_rms_db(log_mel_spectrum_db(host.render(track, values), RATE), target_db)

            def pipeline(references: list[np.ndarray], options: MatchOptions = base) -> np.ndarray:
                return match_channels(_clip(track), [_clip(r) for r in references], options).values[0]

            d = out / "multi" / f"{k:03d}"
            row = {"piece": piece["group"], "set": "multi", "eq": profile.values_dict(eq),
                   "files": _write_row(d, {"track": track, "target": host.render(track, eq),
                                           **{f"reference{i + 1}": r for i, r in enumerate(refs)}}),
                   "errors": {"no-op": tonal_rms_db(log_mel_spectrum_db(track, RATE), target_db),
                              "one reference": err(pipeline(refs[:1])),
                              "three: mean of curves (pipeline)": err(pipeline(refs)),
                              "three: mean of statistics": err(_stats_mean_values(track, refs, profile, base.restraint)),
                              "three: mean of curves, mean of scales":
                                  err(_curve_mean_values(track, refs, profile, base.restraint, "mean")),
                              "three: mean of curves, restraint 0":
                                  err(_curve_mean_values(track, refs, profile, 0.0, "mean")),
                              "three: precision-weighted curves":
                                  err(_precision_mean_values(track, refs, profile, base.restraint)),
                              "three: joined into one clip": err(pipeline([np.concatenate(refs)])),
                              "three, weights 2 1 1": err(pipeline(refs, replace(base, weights=(2.0, 1.0, 1.0))))}}
        except AudioInputError as exc:  # a part the model refuses (steady noise, silence)
            tqdm.write(f"skipped {piece['group']}: {exc}")
            continue
        rows.append(row)
    return rows


def _summary(rows: list[dict], channel: str | None) -> dict[str, dict[str, float]]:
    methods = list(rows[0]["errors"])
    get = (lambda r, m: r["errors"][m]) if channel is None else (lambda r, m: r["errors"][m][channel])
    noop = np.array([get(r, "no-op") for r in rows])
    out = {}
    for m in methods:
        e = np.array([get(r, m) for r in rows])
        out[m] = {"mean": float(e.mean()), "median": float(np.median(e)), "p90": float(np.percentile(e, 90)),
                  "ratio_to_noop": float(e.mean() / noop.mean()), "worse_than_noop": float(np.mean(e > noop))}
    return out


def _table(title: str, summary: dict[str, dict[str, float]]) -> list[str]:
    lines = [f"**{title}**", "", "| method | mean (dB) | median | 90th pct | mean / no-op | worse than no-op |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for m, s in summary.items():
        lines.append(f"| {m} | {s['mean']:.2f} | {s['median']:.2f} | {s['p90']:.2f} | {s['ratio_to_noop']:.2f} "
                     f"| {s['worse_than_noop']:.0%} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="data/corpus-all")
    parser.add_argument("--out", default="data/stereo-report")
    parser.add_argument("--plugin", default="zameq2")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each part")
    parser.add_argument("--limit", type=int, default=0, help="at most this many pieces per source (0: all)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--sets", nargs="+", default=["mid-side", "left-right", "multi"])
    parser.add_argument("--sources", default=",".join(HELD_OUT),
                        help="corpus sources to build the sets from (default: the held-out ones; others were trained "
                             "on, and serve to choose among combinations without looking at the held-out music)")
    args = parser.parse_args()
    profile = load_profile(args.plugin)
    host = PluginHost(profile, RATE)
    sources = tuple(args.sources.split(","))
    pieces = _pieces(Path(args.corpus), sources)
    if args.limit:
        pieces = [p for s in sources for p in [q for q in pieces if q["source"] == s][:args.limit]]
    out = Path(args.out)
    rows: dict[str, list[dict]] = {}
    for name in args.sets:
        rows[name] = (multi_set(pieces, profile, host, out, args.seconds, args.seed) if name == "multi"
                      else stereo_set(pieces, name, profile, host, out, args.seconds, args.seed))
    lines = [f"# Stereo modes and several references (`{profile.name}`, held-out music)", "",
             f"Command: `PYTHONPATH=. .venv/bin/python examples/stereo_report.py --corpus {args.corpus} --out "
             f"{args.out} --plugin {args.plugin} --seconds {args.seconds:g} --sources {args.sources}"
             + (f" --limit {args.limit}" if args.limit else "") + "`. Tonal distance to the target (dB RMS over 64 "
             "mel bands, level-invariant), lower is better.", ""]
    report = {}
    for name, rs in rows.items():
        if not rs:
            continue
        if name == "multi":
            report[name] = {"all": _summary(rs, None)}
            lines += _table(f"multi: a track and three references of the same sound ({len(rs)} pieces)",
                            report[name]["all"])
            continue
        report[name] = {ch: _summary(rs, ch) for ch in ("lr", "left", "right", "mid", "side")}
        for ch, label in (("lr", "L/R mean"), ("side", "side"), ("mid", "mid")):
            lines += _table(f"{name} EQ on the reference ({len(rs)} pieces): {label}", report[name][ch])
    out.mkdir(parents=True, exist_ok=True)
    (out / "rows.json").write_text(json.dumps(rows, indent=1))
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "report.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
