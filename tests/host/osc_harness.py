"""Driving the OSC address map without sockets: a dispatcher whose replies land in a list (a helper for
the OSC tests, not a test module)."""

from __future__ import annotations

from pathlib import Path

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from host.osc.addresses import ERROR
from host.osc.handlers import HandlerContext, ServeConfig, build_dispatcher, dispatch_datagram
from host.osc.server import ClipAssembler, ClipLimits
from model.profiles import load_profile

CLIENT = ("127.0.0.1", 50000)


class Harness:
    """A dispatcher bound to a context whose replies land in a list and whose work is only recorded."""

    def __init__(self, allowed: Path, limits: ClipLimits = ClipLimits(), clock=None) -> None:
        profile = load_profile("faust-peq")
        self.config = ServeConfig(profile=profile, allowed_dirs=(allowed.resolve(),),
                                  plugin_indices=tuple(range(profile.n_params)))
        self.sent: list[tuple[tuple[str, int], object]] = []
        self.jobs: list[tuple[int, object]] = []
        self.clips = ClipAssembler(limits, clock=clock) if clock else ClipAssembler(limits)
        self.ctx = HandlerContext(config=self.config, clips=self.clips,
                                  send=lambda client, packet: self.sent.append((client, packet)),
                                  submit=lambda client, rid, work: self.jobs.append((rid, work)))
        self.dispatcher = build_dispatcher(self.ctx)

    def send(self, address: str, *args, client=CLIENT) -> None:
        dispatch_datagram(self.dispatcher, self.ctx, build_msg(address, list(args)).dgram, client)

    def send_raw(self, data: bytes) -> None:
        dispatch_datagram(self.dispatcher, self.ctx, data, CLIENT)

    def messages(self) -> list[OscMessage]:
        out = []
        for _, packet in self.sent:
            out += [c for c in packet] if isinstance(packet, OscBundle) else [packet]
        return out

    def errors(self) -> list[tuple[int, str]]:
        return [tuple(m.params) for m in self.messages() if m.address == ERROR]
