"""Dataset rendering (Mimilakis et al. 2020 data generation) through a real plugin.

Each iteration is one shard: take two different parts X and Y of a recording, apply one random scene
to both, cut each into N overlapping segments, shuffle, and render every reference Y_i and target X_i
through the plugin with the same random settings. A shard depends only on (seed, shard index), so
workers, reruns and resumes all give byte-identical shards.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from host.data.corpus import AudioFile, list_audio_files
from host.data.shards import DatasetConfig, ShardPlan, ShardRenderer, save_npz_atomic
from host.errors import AudioInputError, DatasetError
from host.paths import check_output_folder
from host.processes import end_with_parent
from model.atomic import remove_stale_temporaries
from model.manifest import MANIFEST_NAME, SPLITS, DatasetManifest, ShardEntry, read_manifest
from model.profiles import N_BINS, load_profile

if TYPE_CHECKING:
    from host.plugins.render import PluginHost

log = logging.getLogger(__name__)

MANIFEST = MANIFEST_NAME


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


def check_holdout_sources(files: Sequence[AudioFile], holdout_sources: Sequence[str]) -> None:
    """Raises DatasetError when a held-out source names no usable recording (a typo, or filtered out)."""
    present = sorted({f.source for f in files})
    unknown = [s for s in holdout_sources if s not in present]
    if unknown:
        raise DatasetError(f"--holdout {','.join(unknown)}: no usable recording has that source; the "
                           f"recordings' sources (manifest.json \"source\") are {', '.join(present)}")


def split_groups(files: Sequence[AudioFile], config: DatasetConfig) -> dict[str, str]:
    """Split of every recording group: held-out sources' groups go to test, the rest as assign_groups says.

    Without held-out sources this is assign_groups over all groups, so earlier datasets plan as before.
    """
    held = set(config.holdout_sources)
    held_groups = {f.group for f in files if f.source in held}
    split_of = assign_groups([f.group for f in files if f.group not in held_groups], config.split, config.seed)
    split_of.update({group: "test" for group in held_groups})
    return split_of


def plan_shards(files: Sequence[AudioFile], config: DatasetConfig) -> list[ShardPlan]:
    """Deterministic plan: which split each shard belongs to and which recordings it draws from.

    Raises:
        DatasetError: a held-out source has no recording among ``files``, or no split has any.
    """
    check_holdout_sources(files, config.holdout_sources)
    split_of = split_groups(files, config)
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


_WORKER: ShardRenderer | None = None


def _worker_init(config: DatasetConfig, host: "PluginHost | None" = None) -> None:
    global _WORKER
    _WORKER = ShardRenderer(config, host)


def _pool_worker_init(config: DatasetConfig) -> None:
    end_with_parent()
    _worker_init(config)


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
    if config.sources:
        present = sorted({f.source for f in files})
        unknown = [s for s in config.sources if s not in present]
        if unknown:
            raise AudioInputError(f"--sources {','.join(unknown)}: no recording in {audio_dir} has that source; "
                                  f"its sources (manifest.json \"source\") are {', '.join(present)}")
        files = [f for f in files if f.source in config.sources]
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
              files: Sequence[AudioFile], host: "PluginHost") -> DatasetManifest:
    profile = host.profile
    group_of = {str(f.path): f.group for f in files}
    return DatasetManifest(
        profile_name=profile.name, profile_sha256=profile.sha256, sample_rate=config.sample_rate,
        segment_s=config.segment_s, segment_samples=config.segment_samples,
        parameter_names=profile.parameter_names,
        shards=tuple(ShardEntry(p.path, p.split, config.segments, tuple(sorted({group_of[f] for f in p.files})))
                     for p in plans),
        parameter_units=tuple(p.unit for p in profile.parameters), parameter_indices=tuple(host.parameter_indices),
        seed=config.seed, n_bins=N_BINS,
        config={**asdict(config), "split": list(config.split), "kinds": list(config.kinds),
                "holdout_sources": list(config.holdout_sources), "sources": list(config.sources)},
        plugin_file=host.identity.plugin_file, plugin_sha256=host.identity.plugin_sha256,
        plugin_version=host.identity.plugin_version, audio_dir=str(audio_dir))


# Config keys added after datasets were first rendered, with the value an older manifest implies.
CONFIG_KEY_DEFAULTS: dict[str, object] = {"holdout_sources": [], "sources": []}


def _check_existing_manifest(out_dir: Path, manifest: DatasetManifest) -> None:
    try:
        old = read_manifest(out_dir)
    except DatasetError as exc:
        raise DatasetError(f"{exc}; remove it or choose another --out") from exc
    keys = ("config", "profile_sha256", "plugin_sha256", "shards")
    old_values = {k: getattr(old, k) for k in keys}
    old_values["config"] = {**CONFIG_KEY_DEFAULTS, **old.config}  # resumable after an upgrade
    changed = [k for k in keys if old_values[k] != getattr(manifest, k)]
    if changed:
        raise DatasetError(f"{out_dir} already holds a dataset made with different {', '.join(changed)}; "
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
        ClusterError: ray chosen but not installed or not reachable (host.data.ray_executor).
        OptionError: out_dir is the audio folder, lies inside it (its files would be read as recordings),
            is a file, or cannot be written.
    """
    _check_executor(executor, address)
    check_output_folder("--out", out_dir, {"--audio": audio_dir}, files=(MANIFEST,), searched=("--audio",))
    load_profile(config.profile)  # unknown profile: fail before touching the audio
    files = usable_files(Path(audio_dir), config)
    plans = plan_shards(files, config)
    from host.plugins.render import PluginHost

    host = PluginHost(config.profile, config.sample_rate)
    manifest = _manifest(config, plans, Path(audio_dir), files, host)
    out_dir = Path(out_dir)
    if (out_dir / MANIFEST).exists():
        _check_existing_manifest(out_dir, manifest)
    else:
        manifest.write(out_dir)
    for plan in plans:  # a killed run may have left temporaries of its shards
        remove_stale_temporaries(out_dir / plan.path)
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
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_pool_worker_init,
                             initargs=(config,)) as pool:
        futures = [pool.submit(_worker_render, plan, str(out_dir)) for plan in todo]
        for future in as_completed(futures):
            yield future.result()


def _run_ray(todo: Sequence[ShardPlan], config: DatasetConfig, out_dir: Path, workers: int,
             host: "PluginHost", address: str | None) -> Iterable[int]:
    from host.data.ray_executor import run_ray  # deferred: Ray is an optional extra

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
        from host.data.ray_executor import import_ray

        import_ray()
