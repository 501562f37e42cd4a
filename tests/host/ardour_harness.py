"""A real headless Ardour for the DAW tests (a helper module, not a test module).

``ardour7-lua`` (Debian's ``ardour``) builds a session with the dummy backend in a temporary folder, one
mono track with ZamEQ2 then ZamComp (LV2), turns on the OSC surface in the session file (replies to the
sender's port), and runs it. Ardour's OSC port is not configurable: it takes 3819 or the next free one,
read here from the process's own sockets. Every process is stopped by its PID, also on failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

ARDOUR_LUA = "ardour7-lua"
SESSION_SCRIPT = Path(__file__).with_name("ardour_session.lua")
SESSION_NAME = "eqbridge"
PLUGINS = ("urn:zamaudio:ZamEQ2", "urn:zamaudio:ZamComp")   # strip 1: plugin 1 ZamEQ2, plugin 2 ZamComp
OSC_PROTOCOL = "Open Sound Control (OSC)"
START_TIMEOUT_S = 60.0


def ardour_lua() -> str:
    """The ardour7-lua command, or a skip (a failure with EQBRIDGE_REQUIRE_PLUGINS=1, as in CI)."""
    path = shutil.which(ARDOUR_LUA)
    if path is None:
        message = f"{ARDOUR_LUA} not found: apt-get install ardour"
        if os.environ.get("EQBRIDGE_REQUIRE_PLUGINS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def lua_env(folder: Path) -> dict[str, str]:
    """Ardour keeps its configuration in a folder of the test's own, not the user's."""
    return {**os.environ, "XDG_CONFIG_HOME": str(folder / "config"), "HOME": str(folder)}


def build_session(folder: Path, plugins: tuple[str, ...] = PLUGINS) -> Path:
    """A session in ``folder/session`` with its OSC surface on; returns the session folder."""
    session = folder / "session"
    subprocess.run([ardour_lua(), str(SESSION_SCRIPT), "build", str(session), SESSION_NAME, *plugins],
                   check=True, capture_output=True, timeout=START_TIMEOUT_S, env=lua_env(folder))
    file = session / f"{SESSION_NAME}.ardour"
    tree = ET.parse(file)
    protocol = tree.getroot().find(f"./ControlProtocols/Protocol[@name='{OSC_PROTOCOL}']")
    protocol.set("active", "1")
    protocol.set("address-only", "0")   # replies go to the port a message came from
    protocol.set("feedback", "0")        # only answers, no unasked feedback
    tree.write(file, encoding="UTF-8", xml_declaration=True)
    return session


def _udp_ports(pid: int) -> set[int]:
    """The UDP ports the process's sockets are bound to (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue
        if found:
            inodes.add(found.group(1))
    ports = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass
class RunningArdour:
    proc: subprocess.Popen
    port: int
    session: Path

    def stop(self) -> None:
        """Close the session (stdin closes), then terminate and kill by PID if it does not exit."""
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen) -> None:
    try:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(10)
    except (subprocess.TimeoutExpired, OSError):
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_ardour(session: Path) -> RunningArdour:
    """Run the session; returns once its OSC surface listens."""
    proc = subprocess.Popen([ardour_lua(), str(SESSION_SCRIPT), "run", str(session), SESSION_NAME],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=lua_env(session.parent))
    try:
        lines = []
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("Ardour exited:\n" + "".join(lines[-20:]))
            lines.append(line)
            if "eqbridge-test ready" in line:
                break
        while time.monotonic() < deadline:
            ports = {p for p in _udp_ports(proc.pid) if 3819 <= p < 3839}
            if ports:
                import threading

                threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
                return RunningArdour(proc, min(ports), session)
            time.sleep(0.05)
        raise RuntimeError("Ardour's OSC surface did not start:\n" + "".join(lines[-20:]))
    except BaseException:
        stop_process(proc)
        raise


AUTOMATION_SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "ardour_eqbridge_automation.lua"


def run_automation_script(session: Path, json_path: Path, route: str = "track", plugin: int = 1,
                          start_s: float = 0.0) -> tuple[dict[str, list[tuple[int, float]]], list[str]]:
    """Run examples/ardour_eqbridge_automation.lua in Ardour on ``session`` (saved afterwards); returns every
    point of that plugin's lanes as Ardour holds them (parameter name -> [(sample, value)]) and the errors the
    script raised. subprocess.run's timeout kills the process by its PID if it hangs."""
    result = subprocess.run([ardour_lua(), str(SESSION_SCRIPT), "automation", str(session), SESSION_NAME,
                             str(AUTOMATION_SCRIPT), str(json_path), route, str(plugin), repr(float(start_s))],
                            capture_output=True, text=True, timeout=START_TIMEOUT_S, env=lua_env(session.parent))
    points: dict[str, list[tuple[int, float]]] = {}
    errors = []
    for line in result.stdout.splitlines():
        if line.startswith("eqbridge-test point\t"):
            _, name, sample, value = line.split("\t")
            points.setdefault(name, []).append((int(sample), float(value)))
        elif line.startswith("eqbridge-test error: "):
            errors.append(line.removeprefix("eqbridge-test error: "))
    if result.returncode != 0:
        raise RuntimeError(f"ardour7-lua exited {result.returncode}:\n{result.stdout[-3000:]}")
    return points, errors
