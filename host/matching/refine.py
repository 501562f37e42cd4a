"""Inference-time refinement: a bounded CMA-ES search through the real plugin, seeded by the model.

ST-ITO (Steinmetz et al. 2024) searches a plugin's parameters from scratch with CMA-ES; eqbridge
starts from the model's one-shot prediction, with the search spread per parameter taken from the
model's own probability spread, so a short budget goes a long way.

The objective compares tonal balance: the log-mel average spectrum of the track through the plugin
against the reference's, levels aligned. An EQ is linear and time-invariant, so the track's
average spectrum through the plugin is its power spectrum times the plugin's |H|^2; |H| is measured
by rendering an impulse through the real plugin for every candidate (one short render instead of
rendering the whole track).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Callable

import numpy as np

from host.errors import AudioInputError, ProfileError
from host.plugins.render import PluginHost
from host.processes import end_with_parent
from host.spectrum import mel_filterbank, welch_psd
from model.profiles import N_BINS, PluginProfile

log = logging.getLogger(__name__)

N_FFT = 8192
N_MELS = 128
MIN_SIGMA = 0.02    # unit-cube search spread never below 2% of a parameter's range
SCRATCH_SIGMA = 0.3  # spread of a search that starts from the default setting


@dataclass(frozen=True)
class RefineResult:
    """The best setting found and how the search went."""

    values: np.ndarray        # (P,) physical, continuous
    objective_start: float    # at the seed point
    objective: float          # at ``values`` (never above objective_start)
    evaluations: int
    elapsed_s: float


class TonalObjective:
    """Tonal mean absolute difference (dB): mean over 128 mel bands of |log-mel average spectrum of the EQ'd
    track minus the reference's|, levels aligned (host.spectrum's Welch spectra).

    Args:
        loudness_weight: adds this times the absolute difference of mean mel levels (dB), so the
            plugin's overall gain also moves the track towards the reference's level.
    """

    def __init__(self, host: PluginHost, track: np.ndarray, reference: np.ndarray, loudness_weight: float = 0.0):
        sr = host.sample_rate
        self.host = host
        self.loudness_weight = loudness_weight
        import scipy.sparse  # only when refining: a one-shot match needs no SciPy

        # (M, N_FFT/2+1); sparse float64: a dense float32 @ float64 product misses BLAS and costs 20x.
        self._fb = scipy.sparse.csr_matrix(mel_filterbank(sr, N_FFT, N_MELS, 20.0))
        self._track_psd = self._psd(track, sr, "track")
        self._ref_db = self._mel_db(self._psd(reference, sr, "reference"))
        self.evaluations = 0

    @staticmethod
    def _psd(audio: np.ndarray, sample_rate: int, what: str) -> np.ndarray:
        x = np.asarray(audio, dtype=np.float64)
        x = x.mean(axis=0) if x.ndim == 2 else x
        if len(x) < N_FFT:
            raise AudioInputError(f"{what} is {len(x)} samples long; refinement needs at least {N_FFT}")
        _, psd = welch_psd(x, sample_rate, N_FFT)
        if not np.any(psd > 0):
            raise AudioInputError(f"{what} is silent")
        return psd

    def _mel_db(self, psd: np.ndarray) -> np.ndarray:
        return 10.0 * np.log10(self._fb @ psd + 1e-12)

    def __call__(self, values: np.ndarray) -> float:
        """Objective (dB) at physical values (P,)."""
        self.evaluations += 1
        ir = self.host.impulse_response(values, N_FFT)
        gain = np.abs(np.fft.rfft(ir.astype(np.float64))) ** 2
        diff = self._mel_db(self._track_psd * gain) - self._ref_db
        offset = float(np.mean(diff))
        return float(np.mean(np.abs(diff - offset)) + self.loudness_weight * abs(offset))


def sigma_from_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Per-parameter search spread in unit-cube terms: the std of the model's softmax over the grid."""
    p = np.asarray(probabilities, dtype=np.float64)              # (P, D)
    grid = np.linspace(0.0, 1.0, p.shape[1])                      # bin positions in unit terms
    mean = p @ grid
    std = np.sqrt(np.maximum(p @ grid**2 - mean**2, 0.0))
    return np.maximum(std, MIN_SIGMA)


def refine(host: PluginHost, track: np.ndarray, reference: np.ndarray, budget_s: float,
           start: np.ndarray | None = None, probabilities: np.ndarray | None = None, seed: int = 0,
           loudness_weight: float = 0.0, objective: TonalObjective | None = None,
           max_evaluations: int | None = None, prior_weight: float = 0.0) -> RefineResult:
    """Search the plugin's settings for ``budget_s`` seconds, starting at ``start`` (physical, (P,)).

    ``start`` None starts from the profile's default setting with a wide spread (the ST-ITO way);
    ``probabilities`` (P, D) from the model set the per-parameter spread. The search stays inside the
    profile's ranges, returns continuous values, never returns a point worse than the start, and stops
    before a new generation would overrun the budget. With ``max_evaluations`` the search is
    deterministic for a seed; under a time budget alone, how many generations fit depends on the machine.

    ``prior_weight`` > 0 adds ``prior_weight * mean(((u - u_start) / sigma)^2)`` (u: unit-cube position,
    sigma: the model's spread) to the objective: a Gaussian prior centred on the prediction, so a reference
    whose content differs from the track's pulls the setting only as far as the model's confidence allows.
    """
    import cma

    t0 = time.perf_counter()
    profile: PluginProfile = host.profile
    if not profile.is_eq:
        raise ProfileError(f"refinement matches tonal balance through an EQ; profile {profile.name!r} is a "
                           f"{profile.effect} profile: use its one-shot prediction")
    obj = objective or TonalObjective(host, track, reference, loudness_weight)
    x0_values = profile.default_values() if start is None else profile.clip(start)
    x0 = np.clip(profile.to_unit(x0_values), 0.0, 1.0)
    f0 = obj(x0_values)
    best_x, best_f = x0, f0  # the prior's penalty is 0 at the start
    if probabilities is not None:
        stds = sigma_from_probabilities(probabilities)
    else:
        stds = np.full(profile.n_params, SCRATCH_SIGMA if start is None else 2.0 / (N_BINS - 1))
    sigma0 = float(np.max(stds))

    def score(unit: np.ndarray) -> float:
        u = np.clip(unit, 0.0, 1.0)
        penalty = prior_weight * float(np.mean(((u - x0) / stds) ** 2)) if prior_weight > 0 else 0.0
        return obj(profile.from_unit(u)) + penalty

    options = {"bounds": [0.0, 1.0], "CMA_stds": stds / sigma0, "seed": seed + 1, "verbose": -9,
               "maxfevals": 10**9}
    es = cma.CMAEvolutionStrategy(x0, sigma0, options)
    generation_s = 0.0
    while budget_s > 0:
        elapsed = time.perf_counter() - t0
        if elapsed + generation_s > budget_s:
            break
        if max_evaluations is not None and obj.evaluations + es.popsize > max_evaluations:
            break
        g0 = time.perf_counter()
        candidates = es.ask()
        scores = [score(c) for c in candidates]
        es.tell(candidates, scores)
        i = int(np.argmin(scores))
        if scores[i] < best_f:
            best_x, best_f = np.clip(candidates[i], 0.0, 1.0), scores[i]
        generation_s = time.perf_counter() - g0
    values = profile.from_unit(best_x)
    return RefineResult(values, f0, best_f, obj.evaluations, time.perf_counter() - t0)


def plugin_refiner(host: PluginHost) -> Callable[..., RefineResult]:
    """A refiner for the matching pipeline that renders through ``host`` in this process."""

    def run(track: np.ndarray, reference: np.ndarray, sample_rate: int, budget_s: float, start: np.ndarray,
            probabilities: np.ndarray | None) -> RefineResult:
        if sample_rate != host.sample_rate:
            raise AudioInputError(f"refinement renders at {host.sample_rate} Hz; the audio is at {sample_rate} Hz")
        return refine(host, track, reference, budget_s, start=start, probabilities=probabilities)

    return run


_PROCESS_HOSTS: dict[tuple[str, int], PluginHost] = {}


def _refine_job(profile_name: str, sample_rate: int, track: np.ndarray, reference: np.ndarray, budget_s: float,
                start: np.ndarray | None, probabilities: np.ndarray | None) -> RefineResult:
    key = (profile_name, sample_rate)
    if key not in _PROCESS_HOSTS:
        _PROCESS_HOSTS[key] = PluginHost(profile_name, sample_rate)
    return refine(_PROCESS_HOSTS[key], track, reference, budget_s, start=start, probabilities=probabilities)


class RefineProcess:
    """Refinement in a child process with its own engine, for multi-threaded callers (the OSC server).

    A DawDreamer engine made on one thread hangs when another thread makes a second one in the same
    process, so threads never render themselves: they hand the work to this one process (spawned, so it
    inherits no engine) and wait for the result.
    """

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"), initializer=end_with_parent)

    def warm_up(self, profile_name: str, sample_rate: int = 44100) -> None:
        """Start the process and load the plugin now, so the first budget is not spent on start-up."""
        noise = np.random.default_rng(0).standard_normal(N_FFT * 2).astype(np.float32)
        self._pool.submit(_refine_job, profile_name, sample_rate, noise, noise, 0.0, None, None).result()

    def refine(self, profile_name: str, sample_rate: int, track: np.ndarray, reference: np.ndarray,
               budget_s: float, start: np.ndarray | None = None,
               probabilities: np.ndarray | None = None) -> RefineResult:
        return self._pool.submit(_refine_job, profile_name, sample_rate, track, reference, budget_s, start,
                                 probabilities).result()

    def refiner(self, profile_name: str) -> Callable[..., RefineResult]:
        """A refiner for the matching pipeline that runs in this process's child."""

        def run(track: np.ndarray, reference: np.ndarray, sample_rate: int, budget_s: float, start: np.ndarray,
                probabilities: np.ndarray | None) -> RefineResult:
            return self.refine(profile_name, sample_rate, track, reference, budget_s, start, probabilities)

        return run

    def close(self, kill: bool = False) -> None:
        """Stop the process. A search in progress finishes first (it is bounded by its budget), unless ``kill``:
        then the process is killed at once and a caller waiting on it gets BrokenProcessPool."""
        if kill:
            # ProcessPoolExecutor has no public way to stop a running task before Python 3.14.
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)
