"""Render dataset shards on a Ray cluster (the optional ``eqbridge[cluster]`` extra).

Each Ray worker holds one :class:`ShardActor`: one DawDreamer engine with the plugin loaded, reused for
every shard it is sent. A shard is a pure function of (config, plan) and is written atomically to the
shared output folder, so a task that Ray retries after its actor died writes the same bytes, and a rerun
skips the shards already there. Ray is imported only here, and only when the ray executor is chosen.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Iterable, Sequence

from host.data.shards import DatasetConfig, ShardPlan, ShardRenderer, save_npz_atomic
from host.errors import ClusterError, EqbridgeError

log = logging.getLogger(__name__)

ACTOR_MAX_RESTARTS = 8       # Ray restarts a dead actor this many times per actor ...
ACTOR_MAX_TASK_RETRIES = 8   # ... and resends its unfinished shards this many times each
TASKS_PER_ACTOR = 2          # shards in flight per actor: one rendering, one queued behind it


def import_ray() -> ModuleType:
    """The ``ray`` module, or a :class:`ClusterError` naming the extra that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise ClusterError("--executor ray needs Ray: install the cluster extra, "
                           "pip install 'eqbridge[cluster]' (or pip install 'ray==2.60.0')") from exc
    return ray


class ShardActor:
    """One Ray worker process: one plugin host, many shards."""

    def __init__(self, config: DatasetConfig) -> None:
        self.renderer = ShardRenderer(config)

    def render(self, plan: ShardPlan, out_dir: str) -> int:
        """Render one shard into out_dir atomically; returns its row count."""
        save_npz_atomic(Path(out_dir) / plan.path, self.renderer.render_shard(plan))
        return self.renderer.config.segments

    def pid(self) -> int:
        return os.getpid()


def _absolute(plan: ShardPlan) -> ShardPlan:
    """Workers do not share the driver's working directory: send absolute recording paths."""
    return dataclasses.replace(plan, files=tuple(os.path.abspath(f) for f in plan.files))


def _connect(ray: ModuleType, workers: int, address: str | None) -> bool:
    """Start a local Ray instance (no address) or join a cluster; True when this call did either."""
    if ray.is_initialized():
        return False
    try:
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False)
        else:
            ray.init(address=address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise ClusterError(f"cannot start or reach {where}: {exc}") from exc
    return True


def _actor_count(ray: ModuleType, workers: int) -> int:
    """Actors to start: --workers, capped by the cluster's CPUs (an actor that cannot be placed never runs)."""
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if cpus < 1:
        raise ClusterError("the Ray cluster has no CPU to run a render worker on")
    if workers > cpus:
        log.warning("--workers %d but the Ray cluster has %d CPUs: starting %d render workers", workers, cpus, cpus)
    return min(workers, cpus)


def _unwrap(ray: ModuleType, exc: Exception) -> Exception:
    """A user-facing error for a failed shard: the worker's own EqbridgeError where it raised one."""
    if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(exc.cause, EqbridgeError):
        return exc.cause
    if isinstance(exc, ray.exceptions.RayActorError):
        return ClusterError(f"a render worker died {ACTOR_MAX_RESTARTS + 1} times ({exc}); "
                            f"rerun the same command to resume")
    return ClusterError(f"a shard failed on the Ray cluster: {exc}")


def run_ray(todo: Sequence[ShardPlan], config: DatasetConfig, out_dir: Path, workers: int,
            address: str | None = None) -> Iterable[int]:
    """Render ``todo`` on Ray with ``workers`` actors; yields each finished shard's row count.

    Args:
        todo: shards still to render (their files absent under out_dir).
        config: the dataset config; every actor builds its ShardRenderer from it.
        out_dir: the dataset folder; it must be on a filesystem every node mounts at the same path.
        workers: render workers (actors, one CPU each); capped by the cluster's CPUs.
        address: a running cluster's address (``ray start --head`` prints it, e.g. ``10.0.0.1:6379``);
            None starts a local Ray instance with ``workers`` CPUs and stops it at the end.

    Raises:
        ClusterError: Ray missing or unreachable, or a shard failed after every restart and retry.
        EqbridgeError: what a worker raised for bad input (e.g. AudioInputError).
    """
    if not todo:
        return
    ray = import_ray()
    started = _connect(ray, max(1, workers), address)
    try:
        actor_cls = ray.remote(num_cpus=1, max_restarts=ACTOR_MAX_RESTARTS,
                               max_task_retries=ACTOR_MAX_TASK_RETRIES)(ShardActor)
        # config by value, not an object-store ref: a restarted actor must still find it.
        actors = [actor_cls.remote(config) for _ in range(_actor_count(ray, max(1, workers)))]
        out = str(Path(out_dir).resolve())
        pending = [_absolute(p) for p in reversed(todo)]  # popped from the end: shard order
        in_flight: dict = {}  # ObjectRef -> actor that renders it
        for actor in actors:
            for _ in range(TASKS_PER_ACTOR):
                if pending:
                    in_flight[actor.render.remote(pending.pop(), out)] = actor
        while in_flight:
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            actor = in_flight.pop(ref)
            try:
                rows = ray.get(ref)
            except (ray.exceptions.RayTaskError, ray.exceptions.RayActorError) as exc:
                raise _unwrap(ray, exc) from exc
            if pending:
                in_flight[actor.render.remote(pending.pop(), out)] = actor
            yield rows
    finally:
        if started:
            ray.shutdown()
