"""The real headless Ardour of host/daw/headless.py for the DAW tests (a helper module, not a test module):
a skip where ``ardour7-lua`` is missing (a failure with EQBRIDGE_REQUIRE_PLUGINS=1, as in CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from host.daw import headless

AUTOMATION_SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "ardour_eqbridge_automation.lua"


def require_ardour() -> None:
    if shutil.which(headless.ARDOUR_LUA) is None:
        message = f"{headless.ARDOUR_LUA} not found: apt-get install ardour"
        if os.environ.get("EQBRIDGE_REQUIRE_PLUGINS") == "1":
            pytest.fail(message)
        pytest.skip(message)


def build_session(folder: Path) -> Path:
    require_ardour()
    return headless.build_session(folder)


def start_ardour(session: Path) -> headless.RunningArdour:
    return headless.start_ardour(session)


def run_automation_script(session: Path, json_path: Path, plugin: int = 1,
                          start_s: float = 0.0) -> tuple[dict[str, list[tuple[int, float]]], list[str]]:
    """examples/ardour_eqbridge_automation.lua on ``session``, onto plugin ``plugin`` of the track "track"."""
    return headless.run_action_script(session, AUTOMATION_SCRIPT, {"json": str(json_path), "route": "track",
                                                                   "plugin": str(plugin), "start": repr(start_s)},
                                      plugin=plugin)
