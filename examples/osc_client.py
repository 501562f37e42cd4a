"""A DAW-side client for `eqbridge serve`: send two bounced files (or two clips), print the reply.

Needs python-osc, numpy and soundfile (the client is ``host/osc/client.py``), so a DAW script can
call it with any Python 3.10+ from a checkout:

    python examples/osc_client.py files /abs/bounces/track.wav /abs/bounces/reference.wav
    python examples/osc_client.py clips track.wav reference.wav --start 12.5 --length 10
    python examples/osc_client.py files ... --reply-port 9001 --json result.json
    python examples/osc_client.py clips t.wav r.wav --lines out.txt   # for examples/reaper_eqbridge.lua
    python examples/osc_client.py multi /abs/track.wav /abs/ref1.wav /abs/ref2.wav --weights 2 1 \
        --stereo mid-side --link 20 --range 80 12000          # /eqbridge/match_multi
    python examples/osc_client.py multi track.wav ref1.wav ref2.wav --stereo mid-side --send-clips
                                                              # /eqbridge/match_clips_multi

``files`` sends paths (they must lie in a folder the server was started with ``--allow-dir``);
``clips`` sends the audio itself in float32 chunks (for a DAW that cannot share files), and so does
``multi --send-clips`` (the track and every reference, then ``/eqbridge/match_clips_multi``). With
``--reply-port 0`` (the default here) the client listens on the port it sends from, which suits a
server started with ``--reply-port 0``; otherwise it listens on the given port (the server's
``--reply-port``, 9001 by default).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing
from host.osc.client import EqbridgeClient  # noqa: E402  the package's one OSC client

log = logging.getLogger("eqbridge-client")


def read_excerpt(path: Path, start_s: float, length_s: float | None) -> tuple[np.ndarray, int]:
    info = sf.info(str(path))
    start = int(round(start_s * info.samplerate))
    frames = -1 if length_s is None else int(round(length_s * info.samplerate))
    audio, rate = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    return audio[:, :2], rate


def print_result(result: dict) -> None:
    if "error" in result:
        log.error("request %d: %s", result["request_id"], result["error"])
        return
    for channel, replies in result.get("channels", {}).items():  # mid-side / left-right
        log.info("%s:", channel)
        print_result({"request_id": result["request_id"], **replies})
    for name, value in result["settings"].items():
        norm = result["normalized"].get(name, {})
        log.info("%-16s %10.3f   plugin param %3s = %.4f   automation points: %d", name, value,
                 norm.get("index"), norm.get("value", float("nan")), len(result["automation"].get(name, [])))


def write_lines(result: dict, path: Path) -> None:
    """A line format a DAW script parses without JSON: ``param <index> <normalized>`` per parameter, or
    ``error -1 <message>``. The automation goes to DAW scripts as the server's automation JSON
    (``serve --automation-dir``), the one format examples/reaper_eqbridge.lua and the Ardour script read."""
    if "error" in result:
        lines = [f"error -1 {result['error']}"]
    else:
        lines = [f"param {n['index']} {n['value']:.6f}" for n in result["normalized"].values()]
    Path(path).write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("files", "clips", "multi", "ping"))
    parser.add_argument("track", nargs="?")
    parser.add_argument("reference", nargs="*", help="one reference (files, clips) or several (multi)")
    parser.add_argument("--weights", type=float, nargs="+", help="multi: one weight per reference")
    parser.add_argument("--stereo", default="link", help="multi: link, mid-side or left-right")
    parser.add_argument("--link", type=float, default=0.0, help="multi: link percent (mid-side, left-right)")
    parser.add_argument("--range", type=float, nargs=2, metavar=("LOW_HZ", "HIGH_HZ"), help="multi: frequency range")
    parser.add_argument("--send-clips", action="store_true",
                        help="multi: send the audio itself (/eqbridge/match_clips_multi), not the paths")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--reply-port", type=int, default=0, help="0: listen on the sending port")
    parser.add_argument("--request-id", type=int, default=1)
    parser.add_argument("--start", type=float, default=0.0, help="clips, --send-clips: seconds into the track file")
    parser.add_argument("--length", type=float, help="clips, --send-clips: seconds of the track file to send")
    parser.add_argument("--reference-start", type=float, default=0.0)
    parser.add_argument("--reference-length", type=float)
    parser.add_argument("--json", help="also write the result to this JSON file")
    parser.add_argument("--lines", help="also write 'param' lines for a DAW script (reaper_eqbridge.lua)")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    client = EqbridgeClient(args.host, args.port, args.reply_port, args.timeout)
    if args.mode == "ping":
        log.info("pong after %.1f ms", 1000 * client.ping())
        return 0
    if not (args.track and args.reference):
        parser.error("files, clips and multi need TRACK and REFERENCE")
    if args.mode != "multi" and len(args.reference) != 1:
        parser.error("files and clips take one REFERENCE; multi takes several")
    if args.send_clips and args.mode != "multi":
        parser.error("--send-clips is for multi (clips always sends the audio)")
    start = time.perf_counter()
    range_hz = tuple(args.range) if args.range else None
    if args.mode == "files":
        result = client.match_files(args.request_id, Path(args.track), Path(args.reference[0]))
    elif args.mode == "multi" and not args.send_clips:
        result = client.match_multi(args.request_id, Path(args.track), [Path(r) for r in args.reference],
                                    args.weights, args.stereo, args.link, range_hz)
    else:
        track, rate = read_excerpt(Path(args.track), args.start, args.length)
        references = []
        for path in args.reference:
            reference, ref_rate = read_excerpt(Path(path), args.reference_start, args.reference_length)
            if ref_rate != rate:
                parser.error(f"track ({rate} Hz) and reference {path} ({ref_rate} Hz) must share a sample rate "
                             "for clips")
            references.append(reference)
        if args.mode == "multi":
            result = client.match_clips_multi(args.request_id, track, references, rate, args.weights, args.stereo,
                                              args.link, range_hz)
        else:
            result = client.match_clips(args.request_id, track, references[0], rate)
    result.pop("settings_at", None)
    result["round_trip_s"] = time.perf_counter() - start
    print_result(result)
    log.info("round trip %.1f ms", 1000 * result["round_trip_s"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if args.lines:
        write_lines(result, Path(args.lines))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
