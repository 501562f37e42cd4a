"""`eqbridge plugins`: list the plugin profiles and whether each plugin loads here."""

from __future__ import annotations

import argparse

from model.profiles import available_profiles, load_profile


def list_plugins() -> list[tuple[str, str, bool, str]]:
    """(profile, display name, loads, plugin file or reason) for every shipped profile."""
    from host.plugins.render import plugin_status

    rows = []
    for name in available_profiles(effect=None):
        profile = load_profile(name)
        ok, detail = plugin_status(profile)
        rows.append((name, profile.display_name, ok, detail))
    return rows


def _run(args: argparse.Namespace) -> int:
    for name, display, ok, detail in list_plugins():
        print(f"{name:14s} {'ok     ' if ok else 'MISSING'} {display}\n{'':14s} {detail}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("plugins", help="list plugin profiles and whether each plugin loads here")
    parser.set_defaults(func=_run)
