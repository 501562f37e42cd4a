"""`eqbridge serve`: the OSC server a DAW (or its script) talks to. Protocol: host/osc_protocol.py."""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

log = logging.getLogger(__name__)
READY_LINE = "eqbridge serve ready port=%d"  # logged once listening; scripts starting on port 0 read the port


def wait_until_ready(proc: subprocess.Popen, timeout_s: float = 120.0) -> int:
    """The UDP port of a ``serve`` subprocess (started with ``stderr=PIPE, text=True``), read from its
    ready line; the rest of its log is drained in the background so the server never blocks on it.

    Raises:
        EqbridgeError: the server exited or did not get ready in time (the message ends with its log).
    """
    from host.errors import EqbridgeError

    pattern = re.compile(READY_LINE.replace("%d", r"(\d+)"))
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = pattern.search(line)
        if found:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return int(found.group(1))
    proc.kill()
    raise EqbridgeError("the OSC server did not start:\n" + "".join(lines[-20:]))


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not in 0..65535")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return value


def _run(args: argparse.Namespace) -> int:
    from host.osc_server import ClipLimits, ServeOptions, serve

    options = ServeOptions(
        host=args.host, port=args.port, reply_port=args.reply_port,
        allow_dirs=tuple(Path(d) for d in args.allow_dir), plugin=args.plugin,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        midi_dir=Path(args.midi_dir) if args.midi_dir else None, midi_port=args.midi_port,
        workers=args.workers, automation_hop_s=args.automation_hop_seconds,
        limits=ClipLimits(max_clip_s=args.max_clip_seconds, max_requests=args.max_requests,
                          ttl_s=args.clip_timeout_seconds),
    )

    def ready(port: int) -> None:
        # One machine-readable line for scripts and tests that start the server on port 0.
        log.info(READY_LINE, port)

    serve(options, ready=ready)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=9000, help="UDP port to listen on; 0 picks a free one")
    parser.add_argument("--reply-port", type=_port, default=9001,
                        help="replies go to the sender's host at this port; 0: to the sender's own port")
    parser.add_argument("--allow-dir", action="append", default=[], required=True, metavar="DIR",
                        help="folder the DAW bounces audio into; /eqbridge/match only reads files inside one "
                             "(repeatable)")
    parser.add_argument("--plugin", default="faust-peq", help="plugin profile (default faust-peq)")
    parser.add_argument("--checkpoint", help="model file (default presets/checkpoints/<plugin>.pt)")
    parser.add_argument("--midi-dir", help="also write each match's automation as DIR/eqbridge-<id>.mid (CC lanes)")
    parser.add_argument("--midi-port", help="also play each match's automation as CC on this MIDI output "
                                            "(needs python-rtmidi)")
    parser.add_argument("--automation-hop-seconds", type=_positive_float, default=2.0,
                        help="spacing of the per-segment predictions behind /eqbridge/automation (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="match worker threads (default 1)")
    parser.add_argument("--max-clip-seconds", type=_positive_float, default=120.0,
                        help="longest clip accepted by clip transfer (default 120)")
    parser.add_argument("--max-requests", type=int, default=8, help="clip transfers open at once (default 8)")
    parser.add_argument("--clip-timeout-seconds", type=_positive_float, default=30.0,
                        help="forget a clip transfer idle this long (default 30)")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="OSC server: a DAW sends a track and a reference, gets EQ settings")
    add_arguments(parser)
    parser.set_defaults(func=_run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m host.commands.serve ...``: the same as ``eqbridge serve ...``."""
    from host.errors import EqbridgeError

    parser = argparse.ArgumentParser(prog="eqbridge serve", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except EqbridgeError as exc:
        print(f"eqbridge serve: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
