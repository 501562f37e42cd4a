"""Ardour through its own OSC control surface (Edit > Preferences > Control Surfaces > Open Sound Control).

Ardour listens on UDP 3819 and, with "reply to the sender's port" (the session's ``address-only="0"``),
answers to the port a message came from. The messages used (strips and plugins count from 1):

    /strip/list                              -> #reply (type, name, ins, outs, mute, solo, ssid, rec) ...,
                                                #reply ("end_route_list", ...)
    /strip/plugin/list SSID                  -> /strip/plugin/list SSID (PIID, name, active)...
    /strip/plugin/descriptor SSID PIID       -> /strip/plugin/descriptor SSID PIID INDEX name flags type
                                                lower upper format n_scale_points [scale points] value
                                                (one per parameter), then /strip/plugin/descriptor_end
    /strip/plugin/parameter SSID PIID INDEX VALUE   (no answer; VALUE in the plugin's own unit)

A strip or plugin that does not exist gets no answer at all, so :class:`ArdourSurface` asks for the strip
list (always answered) first and names what exists.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from pythonosc.osc_message import OscMessage

from host.daw.descriptors import (DawParameter, PushResult, PushSettings, ardour_entry, check_ardour_plugin,
                                  check_timeout, plan_writes, read_back_mismatches)
from host.errors import DawError, DawNotAnsweringError
from host.osc.client import EqbridgeClient

DEFAULT_PORT = 3819
DEFAULT_TIMEOUT_S = 2.0
STRIP_LIST = "/strip/list"
PLUGIN_LIST = "/strip/plugin/list"
DESCRIPTOR = "/strip/plugin/descriptor"
DESCRIPTOR_END = "/strip/plugin/descriptor_end"
PARAMETER = "/strip/plugin/parameter"
REPLY = "#reply"


@dataclass(frozen=True)
class ArdourTarget:
    """Where a push goes: Ardour's OSC address and a plugin on a strip (1-based, as Ardour counts)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    strip: int = 1
    plugin: int = 1

    def where(self, plugin_name: str | None = None) -> str:
        name = f" ({plugin_name})" if plugin_name else ""
        return f"Ardour strip {self.strip} plugin {self.plugin}{name}"


def parse_target(text: str) -> tuple[str, int]:
    """``ardour`` or ``ardour:HOST:PORT`` (serve --daw) -> (host, port)."""
    parts = text.split(":")
    if parts[0] != "ardour" or len(parts) not in (1, 3):
        raise ValueError(f"{text!r}: give ardour or ardour:HOST:PORT")
    if len(parts) == 1:
        return "127.0.0.1", DEFAULT_PORT
    port = int(parts[2])
    if not 0 < port <= 65535:
        raise ValueError(f"port {port} is not in 1..65535")
    return parts[1], port


class ArdourSurface:
    """One UDP socket talking to Ardour's OSC surface; every question waits at most ``timeout_s``."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.address = (host, port)
        self.timeout_s = check_timeout(timeout_s)
        try:
            self.client = EqbridgeClient(host, port, timeout_s=timeout_s)
        except OSError as exc:
            raise DawError(f"cannot open a UDP socket to talk to Ardour at {host}:{port}: {exc}") from None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ArdourSurface:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ask(self, what: str, address: str, args: list, last: str, last_params: int | None = None) -> list[OscMessage]:
        """Send one question; every reply up to the one at ``last`` (whose first param is ``last_params``)."""
        try:
            self.client.send(address, *args)
            return self.client.until(lambda m: m.address == last and (last_params is None or
                                                                      (m.params and m.params[0] == last_params)))
        except socket.timeout:
            raise DawNotAnsweringError(
                f"Ardour did not answer {what} at {self.address[0]}:{self.address[1]} within {self.timeout_s:g} s: "
                f"is it running with the OSC control surface on (Edit > Preferences > Control Surfaces), "
                f"replying to the sender's port?") from None
        except ConnectionRefusedError:
            raise DawNotAnsweringError(f"nothing listens for OSC at {self.address[0]}:{self.address[1]} "
                                       f"(Ardour not running, or its OSC surface is off)") from None
        except OSError as exc:  # an address that cannot be resolved or reached
            raise DawNotAnsweringError(f"cannot reach Ardour at {self.address[0]}:{self.address[1]}: {exc}") from None

    def strips(self) -> dict[int, str]:
        """Strip id -> name, as Ardour lists them."""
        replies = self._ask("/strip/list", STRIP_LIST, [], REPLY, "end_route_list")
        return {int(m.params[6]): str(m.params[1]) for m in replies
                if m.address == REPLY and len(m.params) >= 7 and m.params[0] != "end_route_list"}

    def plugins(self, strip: int) -> dict[int, str]:
        """Plugin id -> name on one strip (DawError when the strip does not exist)."""
        strips = self.strips()
        if strip not in strips:
            raise DawError(f"Ardour has no strip {strip}; its strips: "
                           f"{', '.join(f'{i} {n!r}' for i, n in sorted(strips.items())) or 'none'}")
        try:
            replies = self._ask(f"{PLUGIN_LIST} {strip}", PLUGIN_LIST, [strip], PLUGIN_LIST, strip)
        except DawNotAnsweringError:
            raise DawError(f"Ardour strip {strip} ({strips[strip]!r}) has no plugins") from None
        params = replies[-1].params[1:]
        return {int(params[i]): str(params[i + 1]) for i in range(0, len(params) - 2, 3)}

    def descriptors(self, strip: int, plugin: int) -> tuple[DawParameter, ...]:
        replies = self._ask(f"{DESCRIPTOR} {strip} {plugin}", DESCRIPTOR, [strip, plugin], DESCRIPTOR_END, strip)
        return tuple(DawParameter(int(p[2]), str(p[3]), float(p[6]), float(p[7]), float(p[-1]))
                     for p in (m.params for m in replies if m.address == DESCRIPTOR and m.params[:2] == [strip, plugin]))

    def set_parameter(self, strip: int, plugin: int, index: int, value: float) -> None:
        self.client.send(PARAMETER, strip, plugin, index, float(value))


def push_to_ardour(settings: PushSettings, target: ArdourTarget, timeout_s: float = DEFAULT_TIMEOUT_S) -> PushResult:
    """Set the plugin at ``target`` to ``settings``: check it is the profile's plugin, map the parameters by
    name, clip to Ardour's ranges, set the profile's fixed parameters too, and read every value back.

    Raises:
        DawNotAnsweringError: Ardour does not answer within ``timeout_s`` (nothing was set).
        DawError: no such strip or plugin, a parameter missing on the plugin, or values Ardour did not take.
        DawPluginMismatchError: the plugin is not the profile's.
        ProfileError: the profile has no Ardour mapping.
    """
    entry = ardour_entry(settings.profile)
    with ArdourSurface(target.host, target.port, timeout_s) as surface:
        plugins = surface.plugins(target.strip)
        if target.plugin not in plugins:
            raise DawError(f"Ardour strip {target.strip} has no plugin {target.plugin}; its plugins: "
                           f"{', '.join(f'{i} {n!r}' for i, n in sorted(plugins.items()))}")
        where = target.where(plugins[target.plugin])
        check_ardour_plugin(settings.profile, plugins[target.plugin], target.where())
        writes = plan_writes(settings, surface.descriptors(target.strip, target.plugin), where,
                             entry.get("parameter_names"))
        for w in writes:
            surface.set_parameter(target.strip, target.plugin, w.daw_index, w.sent)
        # Ardour handles messages in order, so the descriptors asked after the sets show the set values.
        now = {p.index: p.value for p in surface.descriptors(target.strip, target.plugin)}
    read_back = {w.name: now[w.daw_index] for w in writes}
    wrong = read_back_mismatches(writes, read_back)
    if wrong:
        raise DawError(f"{where} did not take every value: {'; '.join(wrong)}")
    return PushResult("Ardour", where, writes, read_back)
