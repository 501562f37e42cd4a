"""Dataset rendering (Mimilakis et al. 2020 data generation) through a real plugin.

Each iteration is one shard: take two different parts X and Y of a recording, apply one random scene
to both, cut each into N overlapping segments, shuffle, and render every reference Y_i and target X_i
through the plugin with the same random settings. A shard depends only on (seed, shard index), so
workers, reruns and resumes all give byte-identical shards.
"""

from __future__ import annotations

import json
import logging
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from host.atomic import atomic_open, write_json_atomic
from host.augment import Scene, apply_scene
from host.audio import read_window
from host.corpus import AudioFile, list_audio_files
from host.errors import AudioInputError, DatasetError
from host.profiles import N_BINS, load_profile

if TYPE_CHECKING:
    from host.render import PluginHost

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class DatasetConfig:
    """Everything that determines a dataset's content (two equal configs give identical shards)."""

    profile: str
    iterations: int
    segments: int                       # N segments per part and per shard
    segment_s: float = 3.0
    sample_rate: int = 44100
    seed: int = 0
    split: tuple[float, float, float] = (50.0, 10.0, 40.0)
    reference_from: str = "same-recording"  # or "other-recording": Y from another file of the same kind
    augment: bool = True
    kinds: tuple[str, ...] = ()         # keep only recordings of these kinds ("speech", "music"); () keeps all

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise DatasetError(f"--iterations must be at least 1, got {self.iterations}")
        if self.segments < 1:
            raise DatasetError(f"--segments must be at least 1, got {self.segments}")
        if not 0.1 <= self.segment_s <= 60.0:
            raise DatasetError(f"--segment-seconds must lie in [0.1, 60], got {self.segment_s}")
        if len(self.split) != 3 or min(self.split) < 0 or sum(self.split) <= 0:
            raise DatasetError(f"--split takes three non-negative shares train/val/test, got {self.split}")
        if self.reference_from not in ("same-recording", "other-recording"):
            raise DatasetError(f"--reference-from must be 'same-recording' or 'other-recording', "
                               f"got {self.reference_from!r}")

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_s * self.sample_rate))


@dataclass(frozen=True)
class ShardPlan:
    index: int
    split: str
    files: tuple[str, ...]   # candidate recordings for this shard (its split's files)
    kinds: tuple[str, ...]
    durations_s: tuple[float, ...]

    @property
    def path(self) -> str:
        return f"{self.split}/shard-{self.index:05d}.npz"


def parse_split(text: str) -> tuple[float, float, float]:
    """'50/10/40' -> (50.0, 10.0, 40.0)."""
    try:
        parts = tuple(float(p) for p in text.split("/"))
    except ValueError as exc:
        raise DatasetError(f"--split must look like 50/10/40, got {text!r}") from exc
    if len(parts) != 3:
        raise DatasetError(f"--split must have three shares train/val/test, got {text!r}")
    return parts  # type: ignore[return-value]


def assign_groups(groups: Sequence[str], shares: Sequence[float], seed: int) -> dict[str, str]:
    """Split recording groups (never segments) into train/val/test in proportion to shares."""
    unique = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(unique))
    shares_arr = np.asarray(shares, dtype=np.float64) / float(np.sum(shares))
    bounds = np.cumsum(shares_arr) * len(unique)
    out: dict[str, str] = {}
    for rank, i in enumerate(order):
        split_index = int(np.searchsorted(bounds, rank + 0.5))
        out[unique[i]] = SPLITS[min(split_index, 2)]
    return out


def plan_shards(files: Sequence[AudioFile], config: DatasetConfig) -> list[ShardPlan]:
    """Deterministic plan: which split each shard belongs to and which recordings it draws from."""
    split_of = assign_groups([f.group for f in files], config.split, config.seed)
    by_split = {s: [f for f in files if split_of[f.group] == s] for s in SPLITS}
    shares = np.asarray(config.split, dtype=np.float64)
    shares = np.where([len(by_split[s]) > 0 for s in SPLITS], shares, 0.0)
    if shares.sum() == 0:
        raise DatasetError("no split has any recording")
    counts = np.floor(shares / shares.sum() * config.iterations).astype(int)
    for i in np.argsort(-shares)[: config.iterations - counts.sum()]:
        counts[i] += 1
    plans = []
    for split, count in zip(SPLITS, counts):
        pool = by_split[split]
        for _ in range(count):
            plans.append(ShardPlan(len(plans), split, tuple(str(f.path) for f in pool), tuple(f.kind for f in pool),
                                   tuple(f.duration_s for f in pool)))
    return plans


def _segment_starts(part_len: int, seg_len: int, n: int) -> np.ndarray:
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    return np.rint(np.linspace(0, part_len - seg_len, n)).astype(np.int64)


def _cut(part: np.ndarray, seg_len: int, n: int) -> np.ndarray:
    return np.stack([part[s:s + seg_len] for s in _segment_starts(len(part), seg_len, n)])


def _two_parts(rng: np.random.Generator, total: int, seg_len: int, n: int) -> tuple[int, int, int]:
    """(start of X, start of Y, part length) in samples: two non-overlapping parts of a recording of
    ``total`` samples, each long enough for n segments (at 50% overlap when the recording allows)."""
    nominal = seg_len * (n + 1) // 2
    part_len = min(nominal, total // 2)
    first = int(rng.integers(0, total - 2 * part_len + 1))
    second = int(rng.integers(first + part_len, total - part_len + 1))
    return (first, second, part_len) if rng.random() < 0.5 else (second, first, part_len)


class ShardRenderer:
    """Renders shards in one process with one plugin host (build one per worker)."""

    def __init__(self, config: DatasetConfig, host: "PluginHost | None" = None) -> None:
        from host.render import PluginHost  # deferred: DawDreamer loads in the worker, not the parent

        self.config = config
        self.profile = load_profile(config.profile)
        self.host = host if host is not None else PluginHost(self.profile, config.sample_rate)

    def _parts(self, rng: np.random.Generator, path: str, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Two different parts of one recording, read as windows (long mixes are never decoded whole)."""
        sr, seg_len, n = self.config.sample_rate, self.config.segment_samples, self.config.segments
        total = int(duration_s * sr)
        first, second, part_len = _two_parts(rng, total, seg_len, n)
        return (read_window(Path(path), first, part_len, sr), read_window(Path(path), second, part_len, sr))

    def render_shard(self, plan: ShardPlan) -> dict[str, np.ndarray]:
        """All arrays of one shard, a pure function of (config, plan)."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, plan.index])
        seg_len, n = cfg.segment_samples, cfg.segments
        pick = int(rng.integers(len(plan.files)))
        x_part, y_part = self._parts(rng, plan.files[pick], plan.durations_s[pick])
        if cfg.reference_from == "other-recording":
            others = [i for i, k in enumerate(plan.kinds) if k == plan.kinds[pick] and i != pick]
            if others:
                other = others[int(rng.integers(len(others)))]
                _, y_part = self._parts(rng, plan.files[other], plan.durations_s[other])
                y_part = y_part[: len(x_part)] if len(y_part) >= len(x_part) else np.pad(
                    y_part, (0, len(x_part) - len(y_part)))
        if cfg.augment:
            x_part, y_part = apply_scene([x_part, y_part], Scene.random(rng), cfg.sample_rate)
        xs, ys = _cut(x_part, seg_len, n), _cut(y_part, seg_len, n)
        xs, ys = xs[rng.permutation(n)], ys[rng.permutation(n)]
        bins = np.stack([self.profile.sample_bins(rng, N_BINS) for _ in range(n)])  # (n, P)
        params = self.profile.from_bins(bins)                                      # (n, P) physical
        params_norm = self.profile.to_norm(params)
        ref, y = np.empty_like(ys), np.empty_like(xs)
        for i in range(n):
            self.host.set_normalized(params_norm[i])
            ref[i] = self.host.render(ys[i])
            y[i] = self.host.render(xs[i])
        return {"x": xs.astype(np.float32), "ref": ref, "y": y, "params_norm": params_norm,
                "params": params, "param_bins": bins.astype(np.int64)}


def _write_npz(fh, arrays: dict[str, np.ndarray]) -> None:
    """An .npz readable by np.load, byte-identical for identical arrays (np.savez stamps the time)."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz atomically: a kill never leaves half a shard under the final name."""
    with atomic_open(path, "wb") as fh:
        _write_npz(fh, arrays)


_WORKER: ShardRenderer | None = None


def _worker_init(config: DatasetConfig, host: "PluginHost | None" = None) -> None:
    global _WORKER
    _WORKER = ShardRenderer(config, host)


def _worker_render(plan: ShardPlan, out_dir: str) -> int:
    assert _WORKER is not None
    save_npz_atomic(Path(out_dir) / plan.path, _WORKER.render_shard(plan))
    return _WORKER.config.segments


def usable_files(audio_dir: Path, config: DatasetConfig) -> list[AudioFile]:
    """The folder's recordings long enough for two parts of one segment each."""
    files = list_audio_files(audio_dir)
    if config.kinds:
        files = [f for f in files if f.kind in config.kinds]
        if not files:
            raise AudioInputError(f"no recording in {audio_dir} is of kind {', '.join(config.kinds)}")
    min_s = 2.0 * config.segment_s
    usable = [f for f in files if f.duration_s >= min_s]
    if not usable:
        longest = max(f.duration_s for f in files)
        raise AudioInputError(f"no recording in {audio_dir} is long enough: each needs at least {min_s:.2f} s "
                              f"(two parts of one {config.segment_s} s segment); the longest is {longest:.2f} s")
    if len(usable) < len(files):
        log.warning("skipping %d recordings shorter than %.2f s", len(files) - len(usable), min_s)
    return usable


def _manifest(config: DatasetConfig, plans: Sequence[ShardPlan], audio_dir: Path,
              files: Sequence[AudioFile], host: "PluginHost") -> dict:
    profile = host.profile
    group_of = {str(f.path): f.group for f in files}
    return {
        "format_version": FORMAT_VERSION,
        "config": {**asdict(config), "split": list(config.split), "kinds": list(config.kinds)},
        "profile": profile.name,
        "profile_sha256": profile.sha256,
        "plugin_file": host.identity.plugin_file,
        "plugin_sha256": host.identity.plugin_sha256,
        "plugin_version": host.identity.plugin_version,
        "sample_rate": config.sample_rate,
        "segment_s": config.segment_s,
        "segment_samples": config.segment_samples,
        "seed": config.seed,
        "n_bins": N_BINS,
        "parameter_names": list(profile.parameter_names),
        "parameter_units": [p.unit for p in profile.parameters],
        "parameter_indices": list(host.parameter_indices),
        "audio_dir": str(audio_dir),
        "shards": [{"path": p.path, "split": p.split, "rows": config.segments,
                    "groups": sorted({group_of[f] for f in p.files})} for p in plans],
    }


def _check_existing_manifest(path: Path, manifest: dict) -> None:
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path} exists but cannot be read ({exc}); remove it or choose another --out") from exc
    keys = ("config", "profile_sha256", "plugin_sha256", "shards")
    changed = [k for k in keys if old.get(k) != manifest.get(k)]
    if changed:
        raise DatasetError(f"{path.parent} already holds a dataset made with different {', '.join(changed)}; "
                           f"choose another --out or remove it")


@dataclass
class RenderSummary:
    out_dir: Path
    shards_total: int
    shards_rendered: int
    rows_rendered: int
    seconds: float
    rows_per_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.rows_per_s = self.rows_rendered / self.seconds if self.seconds > 0 else 0.0


def render_dataset(config: DatasetConfig, audio_dir: Path, out_dir: Path, workers: int = 1,
                   progress: bool = True, executor: str = "local", address: str | None = None) -> RenderSummary:
    """Render (or resume) a dataset into out_dir; returns what was rendered this run.

    Args:
        workers: render processes, each with its own plugin host (local), or Ray actors (ray).
        executor: "local" (this machine's processes) or "ray" (Ray tasks on actors; needs the
            ``eqbridge[cluster]`` extra). Both give the same manifest and byte-identical shards.
        address: ray only: a running cluster's address; None starts a local Ray instance. With a
            cluster, audio_dir and out_dir must be on a filesystem every node mounts at the same path.

    Raises:
        DatasetError: an unknown executor, or an address without the ray executor.
        ClusterError: ray chosen but not installed or not reachable (host.ray_executor).
    """
    _check_executor(executor, address)
    load_profile(config.profile)  # unknown profile: fail before touching the audio
    files = usable_files(Path(audio_dir), config)
    plans = plan_shards(files, config)
    from host.render import PluginHost

    host = PluginHost(config.profile, config.sample_rate)
    manifest = _manifest(config, plans, Path(audio_dir), files, host)
    out_dir = Path(out_dir)
    manifest_path = out_dir / MANIFEST
    if manifest_path.exists():
        _check_existing_manifest(manifest_path, manifest)
    else:
        write_json_atomic(manifest_path, manifest)
    todo = [p for p in plans if not (out_dir / p.path).exists()]
    if len(todo) < len(plans):
        log.info("resuming: %d of %d shards already rendered", len(plans) - len(todo), len(plans))
    start = time.perf_counter()
    bar = tqdm(total=len(todo) * config.segments, unit="row", disable=not progress, desc="render-dataset")
    try:
        for rows in _run(todo, config, out_dir, workers, host, executor, address):
            bar.update(rows)
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    return RenderSummary(out_dir, len(plans), len(todo), len(todo) * config.segments, elapsed)


def _run(todo: Sequence[ShardPlan], config: DatasetConfig, out_dir: Path, workers: int,
         host: "PluginHost", executor: str = "local", address: str | None = None) -> Iterable[int]:
    """Render todo with the chosen executor; yields each finished shard's row count."""
    if not todo:
        return
    yield from EXECUTORS[executor](todo, config, out_dir, workers, host, address)


def _run_local(todo: Sequence[ShardPlan], config: DatasetConfig, out_dir: Path, workers: int,
               host: "PluginHost", address: str | None) -> Iterable[int]:
    if workers <= 1:
        _worker_init(config, host)
        for plan in todo:
            yield _worker_render(plan, str(out_dir))
        return
    # spawn: a forked DawDreamer engine is not safe to reuse; each worker builds its own.
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init,
                             initargs=(config,)) as pool:
        futures = [pool.submit(_worker_render, plan, str(out_dir)) for plan in todo]
        for future in as_completed(futures):
            yield future.result()


def _run_ray(todo: Sequence[ShardPlan], config: DatasetConfig, out_dir: Path, workers: int,
             host: "PluginHost", address: str | None) -> Iterable[int]:
    from host.ray_executor import run_ray  # deferred: Ray is an optional extra

    yield from run_ray(todo, config, out_dir, workers, address)


# --executor name -> function yielding row counts; each gives the same bytes for the same plan.
EXECUTORS = {"local": _run_local, "ray": _run_ray}


def _check_executor(executor: str, address: str | None) -> None:
    """Fail before any rendering: an unknown executor, a stray address, or ray not installed."""
    if executor not in EXECUTORS:
        raise DatasetError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if address is not None and executor != "ray":
        raise DatasetError(f"--address {address} needs --executor ray (the local executor has no cluster)")
    if executor == "ray":
        from host.ray_executor import import_ray

        import_ray()


def load_manifest(data_dir: Path) -> dict:
    path = Path(data_dir) / MANIFEST
    if not path.exists():
        raise DatasetError(f"{data_dir} is not a dataset: {MANIFEST} is missing (make one with eqbridge render-dataset)")
    return json.loads(path.read_text())
