"""`eqbridge push SETTINGS.json --daw ardour|reaper ...`: set a plugin in the DAW to the settings a match wrote."""

from __future__ import annotations

import argparse

from host.errors import OptionError


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1 (the DAW counts from 1)")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not in 0..65535")
    return value


def _check_options(args: argparse.Namespace) -> None:
    """Options of the other DAW are an error, not silently ignored."""
    other = {"ardour": ("track", "fx", "reply_port"), "reaper": ("strip", "plugin")}[args.daw]
    given = [f"--{name.replace('_', '-')}" for name in other if getattr(args, name) is not None]
    if given:
        raise OptionError(f"{', '.join(given)} do(es) not apply to --daw {args.daw}")


def _run(args: argparse.Namespace) -> int:
    from host.daw.descriptors import check_timeout, read_settings

    _check_options(args)
    check_timeout(args.timeout_seconds)
    settings = read_settings(args.settings)
    if args.daw == "ardour":
        from host.daw.ardour import DEFAULT_PORT, ArdourTarget, push_to_ardour

        target = ArdourTarget(args.host, args.port or DEFAULT_PORT, args.strip or 1, args.plugin or 1)
        result, unconfirmed = push_to_ardour(settings, target, args.timeout_seconds), []
    else:
        from host.daw.reaper import DEFAULT_PORT, DEFAULT_REPLY_PORT, ReaperTarget, push_to_reaper

        target = ReaperTarget(args.host, args.port or DEFAULT_PORT, args.track or 1, args.fx or 1,
                              DEFAULT_REPLY_PORT if args.reply_port is None else args.reply_port)
        result, unconfirmed = push_to_reaper(settings, target, args.timeout_seconds)
    print(f"pushed {args.settings} ({settings.profile.name}) to {result.target}: {len(result.writes)} values, "
          f"{len(result.clipped)} clipped, "
          + ("all confirmed by reading back" if not unconfirmed else f"{len(unconfirmed)} not echoed back"))
    for line in result.lines():
        print(f"  {line}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("push", help="set an EQ plugin in Ardour or REAPER to the settings a match wrote (OSC)")
    p.add_argument("settings", help="settings JSON of `eqbridge match --settings-out`")
    p.add_argument("--daw", required=True, choices=("ardour", "reaper"), help="the DAW to push into")
    p.add_argument("--host", default="127.0.0.1", help="the DAW's address (default 127.0.0.1)")
    p.add_argument("--port", type=_port, help="the DAW's OSC port (default: Ardour 3819, REAPER 8000)")
    p.add_argument("--strip", type=_positive_int, help="Ardour: the strip id, 1-based (default 1)")
    p.add_argument("--plugin", type=_positive_int, help="Ardour: the plugin on the strip, 1-based (default 1)")
    p.add_argument("--track", type=_positive_int, help="REAPER: the track, 1-based (default 1)")
    p.add_argument("--fx", type=_positive_int, help="REAPER: the FX in the track's chain, 1-based (default 1)")
    p.add_argument("--reply-port", type=_port,
                   help="REAPER: listen here for its feedback (its 'device port', default 9000; 0: any free port)")
    p.add_argument("--timeout-seconds", type=float, default=2.0,
                   help="how long to wait for the DAW's answers, at most 60 (default 2)")
    p.set_defaults(func=_run)
