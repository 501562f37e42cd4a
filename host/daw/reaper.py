"""REAPER through its default OSC pattern (Preferences > Control/OSC/web > Add > OSC, pattern "Default").

One message per parameter, the plugin's own parameter index counted from 1 as REAPER's patterns count
(the profile's 0-based VST index + 1) and its normalized 0..1 value:

    /track/TRACK/fx/FX/fxparam/PARAM/value ,f VALUE

REAPER cannot be asked for a plugin's parameters over OSC, so a push uses the profile's indices (the
ones ``host/plugins/render.py`` checks against the same VST) and cannot check the plugin's name. REAPER
echoes a changed value as feedback to its "device port" with the same address; a push listens there
(``reply_port``, REAPER's default 9000) and reports which values came back within the timeout.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from host.daw.descriptors import ParameterWrite, PushResult, PushSettings, check_timeout
from host.errors import DawError
from host.osc.client import EqbridgeClient

DEFAULT_PORT = 8000        # REAPER's default OSC listen port
DEFAULT_REPLY_PORT = 9000  # REAPER's default device port (where its feedback goes)
DEFAULT_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class ReaperTarget:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    track: int = 1
    fx: int = 1
    reply_port: int = DEFAULT_REPLY_PORT


def param_address(track: int, fx: int, param: int) -> str:
    """REAPER's FX_PARAM_VALUE address; ``param`` 1-based."""
    return f"/track/{track}/fx/{fx}/fxparam/{param}/value"


def reaper_writes(settings: PushSettings) -> tuple[ParameterWrite, ...]:
    """Normalized values on the profile's plugin indices (clipped to 0..1), the fixed parameters too.

    Raises:
        DawError: the profile does not know a parameter's plugin index (it is resolved only when the plugin
            loads), so REAPER's message cannot be addressed.
    """
    profile = settings.profile
    unknown = [p.plugin_name for p in (*profile.parameters, *profile.fixed) if p.index is None]
    if unknown:
        raise DawError(f"profile {profile.name!r} gives no plugin index for {unknown}; REAPER's OSC needs them")
    writes = []
    for spec in profile.parameters:
        norm = float(spec.to_norm(settings.values[spec.name]))
        writes.append(ParameterWrite(spec.name, spec.plugin_name, spec.index + 1, norm, min(max(norm, 0.0), 1.0)))
    writes += [ParameterWrite(f.plugin_name, f.plugin_name, f.index + 1, f.value_norm, f.value_norm, fixed=True)
               for f in profile.fixed]
    return tuple(writes)


def push_to_reaper(settings: PushSettings, target: ReaperTarget,
                   timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[PushResult, list[str]]:
    """Send every value; returns the result (``read_back``: the values REAPER echoed) and the names of the
    values not echoed within ``timeout_s`` (REAPER sends feedback only for tracks in its current bank)."""
    check_timeout(timeout_s)
    writes = reaper_writes(settings)
    try:
        client = EqbridgeClient(target.host, target.port, reply_port=target.reply_port, timeout_s=timeout_s)
    except OSError as exc:  # REAPER's device port taken (another surface, a second push)
        raise DawError(f"cannot listen for REAPER's feedback on port {target.reply_port}: {exc}; "
                       f"give --reply-port 0 (any free port) or another port") from None
    echoed: dict[str, float] = {}
    by_address = {param_address(target.track, target.fx, w.daw_index): w for w in writes}
    try:
        try:
            for address, w in by_address.items():
                client.send(address, float(w.sent))
        except OSError as exc:
            raise DawError(f"cannot send to REAPER at {target.host}:{target.port}: {exc}") from None
        deadline = time.monotonic() + timeout_s
        while len(echoed) < len(writes) and time.monotonic() < deadline:
            client.sock.settimeout(max(deadline - time.monotonic(), 1e-3))
            try:
                messages = client.receive()
            except (socket.timeout, ConnectionRefusedError):
                break
            for m in messages:
                w = by_address.get(m.address)
                if w is not None and m.params:
                    echoed[w.name] = float(m.params[0])
    finally:
        client.close()
    where = f"REAPER track {target.track} fx {target.fx}"
    missing = [w.name for w in writes if w.name not in echoed]
    return PushResult("REAPER", where, writes, echoed), missing
