"""Benchmarks you can rerun: each reports ratios measured in one run, never absolute promises."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from host.bench.report import BenchReport
from host.data.dataset import DatasetConfig, render_dataset
from model.profiles import load_profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderBench:
    profile: str
    segment_s: float
    sample_rate: int
    raw_rows_per_s: float           # bare DawDreamer: set parameters, set data, render; 2 renders per row
    dataset_rows_per_s: dict[int, float]  # workers -> rows/s of render-dataset (augmentation, I/O included)

    def per_worker_ratio(self, workers: int) -> float:
        return self.dataset_rows_per_s[workers] / (workers * self.raw_rows_per_s)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["per_worker_ratio"] = {w: self.per_worker_ratio(w) for w in self.dataset_rows_per_s}
        return d


def raw_render_rows_per_s(profile_name: str, segment_s: float, sample_rate: int, rows: int) -> float:
    """Rows/s of DawDreamer alone on the same plugin and segment length (two renders per row)."""
    import dawdreamer

    from host.plugins.render import PluginHost

    host = PluginHost(profile_name, sample_rate)  # only to find the plugin and its parameter indices
    engine = dawdreamer.RenderEngine(sample_rate, 512)
    n = int(round(segment_s * sample_rate))
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((1, n))).astype(np.float32)
    playback = engine.make_playback_processor("input", audio)
    if host.profile.backend == "faust":
        plugin = engine.make_faust_processor("eq")
        plugin.set_dsp_string(host.profile.dsp_source())
        plugin.compile()
    else:
        plugin = engine.make_plugin_processor("eq", host.identity.plugin_file)
    engine.load_graph([(playback, []), (plugin, ["input"])])
    indices = host.parameter_indices
    start = time.perf_counter()
    for _ in range(rows):
        norms = rng.random(len(indices))
        for index, value in zip(indices, norms):
            plugin.set_parameter(index, float(value))
        for _ in range(2):
            playback.set_data(audio)
            engine.render(segment_s)
            engine.get_audio()
    return rows / (time.perf_counter() - start)


def bench_render(profile_name: str, audio_dir: Path, segment_s: float = 2.0, sample_rate: int = 44100,
                 iterations: int = 16, segments: int = 8, workers: tuple[int, ...] = (1, 2)) -> RenderBench:
    """Dataset rows/s with each worker count, next to raw DawDreamer rows/s, in one run."""
    load_profile(profile_name)
    raw = raw_render_rows_per_s(profile_name, segment_s, sample_rate, rows=iterations * segments)
    dataset: dict[int, float] = {}
    for w in workers:
        with tempfile.TemporaryDirectory(prefix="eqbridge-bench-") as tmp:
            config = DatasetConfig(profile=profile_name, iterations=iterations, segments=segments,
                                   segment_s=segment_s, sample_rate=sample_rate, seed=0)
            summary = render_dataset(config, audio_dir, Path(tmp) / "ds", workers=w, progress=False)
            dataset[w] = summary.rows_per_s
    return RenderBench(profile_name, segment_s, sample_rate, raw, dataset)


def render_report(result: RenderBench) -> BenchReport:
    rows = [("raw DawDreamer, 1 process", result.raw_rows_per_s, 1.0)]
    rows += [(f"render-dataset, {w} worker(s)", rate, result.per_worker_ratio(w))
             for w, rate in result.dataset_rows_per_s.items()]
    return BenchReport(f"bench render: {result.profile}, {result.segment_s:g} s segments at {result.sample_rate} Hz",
                       ("what", "rows/s", "per worker / raw"), tuple(rows), result.as_dict())
