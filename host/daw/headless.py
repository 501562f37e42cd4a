"""A real Ardour without a screen, for the DAW tests and `eqbridge bench daw`.

``ardour7-lua`` (Debian's ``ardour``) runs ``ardour_session.lua`` beside this file with the dummy audio
backend: it builds a session (one mono track "track" holding LV2 plugins), runs it with the OSC surface
on (turned on in the session file, replies to the sender's port), or runs an editor action script on it.
Ardour's OSC port is not configurable: it takes 3819 or the next free one, read here from the process's
own sockets. Every process started here is stopped by its PID.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from host.errors import DawError

ARDOUR_LUA = "ardour7-lua"
SESSION_SCRIPT = Path(__file__).with_name("ardour_session.lua")
SESSION_NAME = "eqbridge"
ZAMEQ2_THEN_ZAMCOMP = ("urn:zamaudio:ZamEQ2", "urn:zamaudio:ZamComp")
OSC_PROTOCOL = "Open Sound Control (OSC)"
OSC_PORTS = range(3819, 3839)  # Ardour tries 3819 and the next 19 ports
START_TIMEOUT_S = 60.0
SAMPLE_RATE = 48000


def ardour_lua() -> str:
    """The ardour7-lua command (DawError naming the Debian package when it is missing)."""
    path = shutil.which(ARDOUR_LUA)
    if path is None:
        raise DawError(f"{ARDOUR_LUA} not found: apt-get install ardour")
    return path


def lua_env(folder: Path) -> dict[str, str]:
    """Ardour keeps its configuration in ``folder``, not in the user's home."""
    return {**os.environ, "XDG_CONFIG_HOME": str(folder / "config"), "HOME": str(folder)}


def build_session(folder: Path, plugins: tuple[str, ...] = ZAMEQ2_THEN_ZAMCOMP) -> Path:
    """A session in ``folder/session`` (48 kHz) with its OSC surface on; returns the session folder."""
    session = folder / "session"
    result = subprocess.run([ardour_lua(), str(SESSION_SCRIPT), "build", str(session), SESSION_NAME, *plugins],
                            capture_output=True, text=True, timeout=START_TIMEOUT_S, env=lua_env(folder))
    file = session / f"{SESSION_NAME}.ardour"
    if result.returncode != 0 or not file.exists():
        raise DawError(f"building an Ardour session failed (exit {result.returncode}):\n{result.stdout[-2000:]}")
    tree = ET.parse(file)
    protocol = tree.getroot().find(f"./ControlProtocols/Protocol[@name='{OSC_PROTOCOL}']")
    if protocol is None:
        raise DawError(f"{file} has no {OSC_PROTOCOL} control protocol")
    protocol.set("active", "1")
    protocol.set("address-only", "0")   # replies go to the port a message came from
    protocol.set("feedback", "0")        # answers only, no unasked feedback
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


def stop_process(proc: subprocess.Popen) -> None:
    """Close stdin (the session closes and Ardour exits), then terminate, then kill, by its PID."""
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


@dataclass
class RunningArdour:
    """A running session; ``port`` is its OSC surface's UDP port on 127.0.0.1."""

    proc: subprocess.Popen
    port: int
    session: Path
    lines: queue.Queue  # what Ardour prints, line by line (read by a thread, so it never blocks on its pipe)

    def stop(self) -> None:
        stop_process(self.proc)

    def run_lua(self, code: str, timeout_s: float = START_TIMEOUT_S) -> list[str]:
        """Run Lua code in the running session (``Session`` is the session); returns what it printed.

        Raises:
            DawError: the code raised (the message is Lua's), or it did not finish within ``timeout_s``.
        """
        with tempfile.NamedTemporaryFile("w", suffix=".lua", dir=self.session, delete=False) as f:
            f.write(code)
        try:
            self.proc.stdin.write(f.name + "\n")
            self.proc.stdin.flush()
            printed: list[str] = []
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01)).rstrip("\n")
                except queue.Empty:
                    raise DawError(f"Ardour did not finish the Lua code within {timeout_s:g} s") from None
                if line == "eqbridge-session done":
                    break
                printed.append(line)
        finally:
            os.unlink(f.name)
        errors = [line for line in printed if line.startswith("eqbridge-session error: ")]
        if errors:
            raise DawError(errors[0].removeprefix("eqbridge-session error: "))
        return printed

    def __enter__(self) -> RunningArdour:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_ardour(session: Path) -> RunningArdour:
    """Run a session built by :func:`build_session`; returns once its OSC surface listens.

    Raises:
        DawError: Ardour exited or its OSC surface did not start within START_TIMEOUT_S (the process is stopped).
    """
    proc = subprocess.Popen([ardour_lua(), str(SESSION_SCRIPT), "run", str(session), SESSION_NAME],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=lua_env(session.parent))
    try:
        lines: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and not any("eqbridge-session ready" in line for line in lines[-1:]):
            line = proc.stdout.readline()
            if not line:
                raise DawError("Ardour exited:\n" + "".join(lines[-20:]))
            lines.append(line)
        while time.monotonic() < deadline:
            ports = sorted(p for p in _udp_ports(proc.pid) if p in OSC_PORTS)
            if ports:
                printed: queue.Queue = queue.Queue()
                threading.Thread(target=lambda: [printed.put(line) for line in proc.stdout], daemon=True).start()
                return RunningArdour(proc, ports[0], session, printed)
            time.sleep(0.05)
        raise DawError("Ardour's OSC surface did not start:\n" + "".join(lines[-20:]))
    except BaseException:
        stop_process(proc)
        raise


def run_action_script(session: Path, script: Path, params: dict[str, str], plugin: int = 1,
                      route: str = "track") -> tuple[dict[str, list[tuple[int, float]]], list[str]]:
    """Run an editor action script (e.g. examples/ardour_eqbridge_automation.lua) on ``session`` with
    ``params`` and save the session; returns every point of the lanes of plugin ``plugin`` on ``route``
    as Ardour holds them (parameter name -> [(sample, value)]) and the errors the script raised.
    The timeout kills the process by its PID if it hangs."""
    flat = [item for kv in params.items() for item in kv]
    result = subprocess.run([ardour_lua(), str(SESSION_SCRIPT), "action", str(session), SESSION_NAME, str(script),
                             route, str(plugin), *flat],
                            capture_output=True, text=True, timeout=START_TIMEOUT_S, env=lua_env(session.parent))
    points: dict[str, list[tuple[int, float]]] = {}
    errors = []
    for line in result.stdout.splitlines():
        if line.startswith("eqbridge-session point\t"):
            _, name, sample, value = line.split("\t")
            points.setdefault(name, []).append((int(sample), float(value)))
        elif line.startswith("eqbridge-session error: "):
            errors.append(line.removeprefix("eqbridge-session error: "))
    if result.returncode != 0:
        raise DawError(f"ardour7-lua exited {result.returncode}:\n{result.stdout[-3000:]}")
    return points, errors
