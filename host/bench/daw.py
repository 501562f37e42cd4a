"""`eqbridge bench daw`: from a match request to the values confirmed in Ardour.

A headless Ardour (``host/daw/headless.py``: ZamEQ2 on one track, OSC surface on) and ``eqbridge serve
--plugin zameq2 --daw ardour:127.0.0.1:PORT`` are started on 127.0.0.1; each ``/eqbridge/match_region``
is timed from its datagram to ``/eqbridge/settings`` (the match), ``/eqbridge/pushed`` (the values set and
read back from Ardour) and ``/eqbridge/done`` (with the automation). The baseline: ``push_to_ardour`` alone
(descriptors, set, read back) of two alternating settings, in this process.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from host.bench.osc import EXAMPLE_AUDIO, ROOT, STARTUP_TIMEOUT_S, _summary
from host.bench.report import BenchReport
from host.daw.ardour import ArdourTarget, push_to_ardour
from host.daw.descriptors import PushSettings
from host.daw.headless import build_session, start_ardour
from host.errors import EqbridgeError, OptionError
from host.osc.addresses import DONE, ERROR, PUSHED, SETTINGS
from host.osc.client import EqbridgeClient, start_server, stop_server
from model.profiles import load_profile

PROFILE = "zameq2"
MAX_ITERATIONS = 100


def _timed_match_region(client: EqbridgeClient, request_id: int, track: Path, reference: Path) -> dict[str, float]:
    """Seconds from the request to its settings, pushed and done replies."""
    start = time.perf_counter()
    client.send("/eqbridge/match_region", request_id, str(track), 0.0, 0.0, str(reference), 1, 1)
    arrived: dict[str, float] = {}
    while DONE not in arrived:
        for msg in client.receive():  # each datagram timed as it arrives
            if msg.address == ERROR and msg.params[:1] == [request_id]:
                raise EqbridgeError(f"request {request_id}: {msg.params[1]}")
            if msg.address in (SETTINGS, PUSHED, DONE) and msg.params[:1] == [request_id]:
                arrived.setdefault(msg.address, time.perf_counter() - start)
    if PUSHED not in arrived:
        raise EqbridgeError(f"request {request_id}: done without /eqbridge/pushed")
    return {"settings": arrived[SETTINGS], "pushed": arrived[PUSHED], "done": arrived[DONE]}


def bench_daw(iterations: int = 10, warmup: int = 2) -> dict:
    """Medians over ``iterations`` (after ``warmup``) of the bundled 8 s clips matched into Ardour."""
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise OptionError(f"--iterations must be in 1..{MAX_ITERATIONS}, got {iterations}")
    profile = load_profile(PROFILE)
    flat = PushSettings("bench", profile, profile.values_dict(profile.default_values()))
    boosted = PushSettings("bench", profile, {**flat.values, "peak1_gain_db": 6.0, "high_gain_db": -3.0})
    with tempfile.TemporaryDirectory(prefix="eqbridge-bench-daw-") as tmp:
        folder = Path(tmp)
        for name in ("track.flac", "reference.flac"):
            shutil.copy(EXAMPLE_AUDIO / name, folder / name)
        with start_ardour(build_session(folder)) as ardour:
            target = ArdourTarget(port=ardour.port)
            pushes = []
            for i in range(warmup + iterations):
                start = time.perf_counter()
                push_to_ardour(boosted if i % 2 else flat, target)
                if i >= warmup:
                    pushes.append(time.perf_counter() - start)
            proc, port = start_server(folder, "--plugin", PROFILE, "--daw", f"ardour:127.0.0.1:{ardour.port}",
                                      cwd=ROOT, timeout_s=STARTUP_TIMEOUT_S)
            try:
                client = EqbridgeClient(port=port)
                times = [_timed_match_region(client, i, folder / "track.flac", folder / "reference.flac")
                         for i in range(warmup + iterations)][warmup:]
                client.close()
            finally:
                stop_server(proc)
    return {"plugin": PROFILE, "iterations": iterations, "clip_s": 8.0, "push": _summary(pushes),
            **{f"to_{kind}": _summary([t[kind] for t in times]) for kind in ("settings", "pushed", "done")}}


def daw_report(result: dict) -> BenchReport:
    base = result["push"]["median_ms"]
    names = {"push": "push alone (descriptors, set, read back)", "to_settings": "match request -> settings",
             "to_pushed": "match request -> confirmed in Ardour", "to_done": "match request -> done"}
    rows = tuple((label, result[key]["median_ms"], result[key]["p90_ms"], result[key]["median_ms"] / base)
                 for key, label in names.items())
    return BenchReport(f"bench daw: {result['plugin']} in a headless Ardour, the bundled {result['clip_s']:g} s clips, "
                       f"median of {result['iterations']}", ("round trip", "median ms", "p90 ms", "median / push"),
                       rows, result)
