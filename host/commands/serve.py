"""`eqbridge serve`: the OSC server a DAW (or its script) talks to. Protocol: examples/README_osc.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from host.commands import add_model_options


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


def _daw(text: str) -> tuple[str, int]:
    from host.daw.ardour import parse_target

    try:
        return parse_target(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _run(args: argparse.Namespace) -> int:
    from host.osc.server import ClipLimits, ServeOptions, serve  # every command's parser loads; only this one serves

    options = ServeOptions(
        host=args.host, port=args.port, reply_port=args.reply_port,
        allow_dirs=tuple(Path(d) for d in args.allow_dir), plugin=args.plugin,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None, model=args.model, restraint=args.restraint,
        midi_dir=Path(args.midi_dir) if args.midi_dir else None, midi_port=args.midi_port,
        threads=args.threads, automation_hop_s=args.automation_hop_seconds, daw=args.daw,
        automation_dir=Path(args.automation_dir) if args.automation_dir else None,
        limits=ClipLimits(max_clip_s=args.max_clip_seconds, max_requests=args.max_requests,
                          ttl_s=args.clip_timeout_seconds),
    )
    serve(options)
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
    add_model_options(parser)
    parser.add_argument("--midi-dir", help="also write each match's automation as DIR/eqbridge-<id>.mid (CC lanes)")
    parser.add_argument("--automation-dir", metavar="DIR",
                        help="also write each match's automation as DIR/eqbridge-<id>.automation.json (the JSON "
                             "examples/ardour_eqbridge_automation.lua writes onto Ardour's lanes and "
                             "examples/reaper_eqbridge.lua onto REAPER's envelopes)")
    parser.add_argument("--midi-port", help="also play each match's automation as CC on this MIDI output "
                                            "(needs python-rtmidi)")
    parser.add_argument("--automation-hop-seconds", type=_positive_float, default=2.0,
                        help="spacing of the per-segment predictions behind /eqbridge/automation (default 2)")
    parser.add_argument("--daw", type=_daw, metavar="ardour[:HOST:PORT]",
                        help="push the settings of /eqbridge/match_region into this Ardour's strip and plugin "
                             "through its OSC surface (default port 3819) and read them back")
    parser.add_argument("--threads", type=int, default=1, help="match worker threads (default 1; --workers elsewhere counts processes)")
    parser.add_argument("--max-clip-seconds", type=_positive_float, default=120.0,
                        help="longest clip accepted by clip transfer (default 120)")
    parser.add_argument("--max-requests", type=int, default=8, help="clip transfers open at once (default 8)")
    parser.add_argument("--clip-timeout-seconds", type=_positive_float, default=30.0,
                        help="forget a clip transfer idle this long (default 30)")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="OSC server: a DAW sends a track and a reference, gets EQ settings")
    add_arguments(parser)
    parser.set_defaults(func=_run)
