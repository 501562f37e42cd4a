"""The eqbridge OSC protocol: argument checks and reply builders (no sockets, no handlers).

Addresses are in :mod:`host.osc.addresses`; the handlers that use these checks and builders are in
:mod:`host.osc.handlers`; the UDP server in :mod:`host.osc.server`; the client in :mod:`host.osc.client`.
Every bad request is answered with ``/eqbridge/error ,is request_id message`` (request_id -1 when
none could be parsed) and the server keeps serving.
"""

from __future__ import annotations

import struct
from typing import Any, Sequence, Union

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from host.errors import OscRequestError
from host.matching.automation import AutomationLane
from host.matching.pipeline import MAX_REFERENCES
from host.osc.addresses import (AUTOMATION, CHANNEL_AUTOMATION, CHANNEL_NORMALIZED, CHANNEL_SETTINGS, CLIP_MISSING, DONE,
                                ERROR, NORMALIZED, PONG, PUSHED, SETTINGS, VARIANT)

# A request's clips: one track and 1..MAX_REFERENCES references, numbered; "reference" is "reference1" (what
# /eqbridge/match_clips has always taken). A numbered role makes each clip its own slot: sending one again
# replaces it, and /clip/missing names it.
TRACK_ROLE = "track"
REFERENCE_ROLE = "reference"
CLIP_ROLES = (TRACK_ROLE, REFERENCE_ROLE, *(f"{REFERENCE_ROLE}{k}" for k in range(1, MAX_REFERENCES + 1)))
NO_REQUEST_ID = -1
MAX_ERROR_CHARS = 900          # an error message is cut to this length so the reply stays one small datagram
MAX_REPLY_BUNDLE_BYTES = 8192  # automation messages are packed into bundles of at most this size
MAX_MISSING_LISTED = 256       # /clip/missing lists at most this many sequence numbers

ClientAddress = tuple[str, int]
Packet = Union[OscMessage, OscBundle]

BUNDLE_PREFIX = b"#bundle\x00"
MAX_BUNDLE_DEPTH = 8           # bundles nested deeper are refused (python-osc would recurse without a bound)

_OSC_TYPE_NAMES = {"i": "int32", "f": "float32", "s": "string", "b": "blob", "h": "int64"}
INT32_MIN, INT32_MAX = -2 ** 31, 2 ** 31 - 1


# ----------------------------------------------------------------------------- argument checks


def _type_tag(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "T" if value is True else ("F" if value is False else "N")
    if isinstance(value, int):  # python-osc parses int32 (i) and int64 (h) alike: only int32 fits a reply
        return "i" if INT32_MIN <= value <= INT32_MAX else "h"
    if isinstance(value, float):
        return "f"
    if isinstance(value, str):
        return "s"
    if isinstance(value, (bytes, bytearray)):
        return "b"
    return "?"


def request_id_of(args: Sequence[Any]) -> int:
    """The request id a reply should carry: the first argument when it is an int32, else -1."""
    return args[0] if args and _type_tag(args[0]) == "i" else NO_REQUEST_ID


def check_args(address: str, args: Sequence[Any], required: str, optional: str = "") -> tuple[Any, ...]:
    """Check OSC arguments against type tags: ``required`` must all be present, ``optional`` may follow.

    An ``f`` also accepts an int (some DAW scripts cannot send floats). Returns the arguments with
    optional floats converted to float.

    Raises:
        OscRequestError: wrong count or type; the message names the address, the expected tags and what came.
    """
    got = "".join(_type_tag(a) for a in args)
    expected = required + (f"[{optional}]" if optional else "")
    ok = len(required) <= len(args) <= len(required) + len(optional)
    for arg, want in zip(args, required + optional):
        tag = _type_tag(arg)
        ok = ok and (tag == want or (want == "f" and tag == "i"))
    if not ok:
        names = ", ".join(_OSC_TYPE_NAMES.get(t, t) for t in required + optional)
        came = ", ".join(_OSC_TYPE_NAMES.get(t, t) for t in got)
        raise OscRequestError(request_id_of(args), f"{address} takes ,{expected} ({names}); got ,{got} ({came})")
    return tuple(float(a) if want == "f" else a for a, want in zip(args, required + optional))


def clip_slot(role: str) -> str:
    """The slot a clip role fills: ``reference`` and ``reference1`` are one slot (``reference1``)."""
    return f"{REFERENCE_ROLE}1" if role == REFERENCE_ROLE else role


def check_repeated(address: str, args: Sequence[Any], required: str, repeated: str, max_repeats: int,
                   min_repeats: int = 1) -> tuple[Any, ...]:
    """Check ``required`` tags, then ``min_repeats``..``max_repeats`` groups of ``repeated`` tags (an ``f`` also
    takes an int).

    Raises:
        OscRequestError: wrong count or type; the message names the address and the expected tags.
    """
    head = check_args(address, args[:len(required)], required)
    rest = list(args[len(required):])
    groups = len(rest) // len(repeated)
    if not (min_repeats <= groups <= max_repeats and len(rest) == groups * len(repeated)):
        got = "".join(_type_tag(a) for a in args)
        many = "+" if min_repeats >= 1 else "*"
        raise OscRequestError(request_id_of(args), f"{address} takes ,{required}({repeated}){many} with "
                                                   f"{min_repeats}..{max_repeats} groups of ({repeated}); got ,{got}")
    tail: list[Any] = []
    for g in range(groups):
        tail += _checked_group(address, args, rest[g * len(repeated):(g + 1) * len(repeated)], repeated)
    return (*head, *tail)


def _checked_group(address: str, args: Sequence[Any], group: Sequence[Any], tags: str) -> list[Any]:
    for value, want in zip(group, tags):
        tag = _type_tag(value)
        if not (tag == want or (want == "f" and tag == "i")):
            got = "".join(_type_tag(a) for a in args)
            came = "".join(_type_tag(v) for v in group)
            raise OscRequestError(request_id_of(args), f"{address}: a ({tags}) group holds ,{came}; the whole "
                                                       f"message ,{got}")
    return [float(v) if want == "f" else v for v, want in zip(group, tags)]


def check_bundle(data: bytes, depth: int = 0) -> int:
    """The number of messages in a ``#bundle`` datagram, after checking its whole structure.

    python-osc skips what it cannot identify (garbage elements, zero-length elements) and reads a
    truncated element as a shorter one, so a malformed bundle would run nothing and get no answer.

    Raises:
        OscRequestError: (request id -1) no time tag, an element whose size is not a positive multiple of 4
        or runs past the datagram, an element that is neither a message nor a bundle, bundles nested
        deeper than MAX_BUNDLE_DEPTH, or no message at all.
    """
    if depth > MAX_BUNDLE_DEPTH:
        raise OscRequestError(NO_REQUEST_ID, f"bundle nested deeper than {MAX_BUNDLE_DEPTH} levels")
    if len(data) < len(BUNDLE_PREFIX) + 8:
        raise OscRequestError(NO_REQUEST_ID, f"malformed bundle ({len(data)} bytes): no time tag")
    index, messages = len(BUNDLE_PREFIX) + 8, 0
    while index < len(data):
        if len(data) - index < 4:
            raise OscRequestError(NO_REQUEST_ID, f"malformed bundle: {len(data) - index} stray bytes at {index}")
        (size,) = struct.unpack(">i", data[index:index + 4])
        index += 4
        if size <= 0 or size % 4 or index + size > len(data):
            raise OscRequestError(NO_REQUEST_ID, f"malformed bundle: element of {size} bytes at byte {index - 4} "
                                                 f"(a positive multiple of 4 within the {len(data)}-byte datagram)")
        element = data[index:index + size]
        index += size
        if element.startswith(BUNDLE_PREFIX):
            messages += check_bundle(element, depth + 1)
        elif element.startswith(b"/"):
            messages += 1
        else:
            raise OscRequestError(NO_REQUEST_ID, f"malformed bundle: element at byte {index - size} is neither an "
                                                 "OSC message nor a bundle")
    if messages == 0:
        raise OscRequestError(NO_REQUEST_ID, "bundle holds no message")
    return messages


# ----------------------------------------------------------------------------- reply builders


def build_message(address: str, args: Sequence[tuple[str, Any]]) -> OscMessage:
    """An OSC message from (type tag, value) pairs; explicit tags keep floats float32 and ints int32."""
    builder = OscMessageBuilder(address)
    for tag, value in args:
        builder.add_arg(value, tag)
    return builder.build()


def pong_message() -> OscMessage:
    return build_message(PONG, [])


def error_message(request_id: int, message: str) -> OscMessage:
    text = message if len(message) <= MAX_ERROR_CHARS else message[:MAX_ERROR_CHARS - 3] + "..."
    return build_message(ERROR, [("i", int(request_id)), ("s", text)])


def done_message(request_id: int) -> OscMessage:
    return build_message(DONE, [("i", int(request_id))])


def pushed_message(request_id: int, strip: int, plugin: int, n_values: int, n_clipped: int) -> OscMessage:
    """``/eqbridge/pushed ,iiiii``: the settings are on that strip's plugin in the DAW, confirmed by reading back."""
    return build_message(PUSHED, [("i", int(request_id)), ("i", int(strip)), ("i", int(plugin)),
                                  ("i", int(n_values)), ("i", int(n_clipped))])


def settings_message(request_id: int, values: dict[str, float]) -> OscMessage:
    """``/eqbridge/settings ,i (s f)*``: physical values by parameter name."""
    args: list[tuple[str, Any]] = [("i", int(request_id))]
    for name, value in values.items():
        args += [("s", name), ("f", float(value))]
    return build_message(SETTINGS, args)


def normalized_message(request_id: int, names: Sequence[str], plugin_indices: Sequence[int],
                       norms: Sequence[float]) -> OscMessage:
    """``/eqbridge/normalized ,i (s i f)*``: name, plugin parameter index (-1 unknown), normalized 0..1 value."""
    args: list[tuple[str, Any]] = [("i", int(request_id))]
    for name, index, norm in zip(names, plugin_indices, norms):
        args += [("s", name), ("i", int(index)), ("f", float(norm))]
    return build_message(NORMALIZED, args)


def channel_settings_message(request_id: int, channel: str, values: dict[str, float]) -> OscMessage:
    """``/eqbridge/channel/settings ,is (s f)*``: one stereo channel's physical values by parameter name."""
    args: list[tuple[str, Any]] = [("i", int(request_id)), ("s", channel)]
    for name, value in values.items():
        args += [("s", name), ("f", float(value))]
    return build_message(CHANNEL_SETTINGS, args)


def channel_normalized_message(request_id: int, channel: str, names: Sequence[str], plugin_indices: Sequence[int],
                               norms: Sequence[float]) -> OscMessage:
    """``/eqbridge/channel/normalized ,is (s i f)*``: one stereo channel's plugin-normalized values."""
    args: list[tuple[str, Any]] = [("i", int(request_id)), ("s", channel)]
    for name, index, norm in zip(names, plugin_indices, norms):
        args += [("s", name), ("i", int(index)), ("f", float(norm))]
    return build_message(CHANNEL_NORMALIZED, args)


def variant_message(request_id: int, index: int, latent_distance: float, values: dict[str, float]) -> OscMessage:
    """``/eqbridge/variant ,iif (s f)*``: variant index, its latent distance from the match, physical values."""
    args: list[tuple[str, Any]] = [("i", int(request_id)), ("i", int(index)), ("f", float(latent_distance))]
    for name, value in values.items():
        args += [("s", name), ("f", float(value))]
    return build_message(VARIANT, args)


def automation_message(request_id: int, lane: AutomationLane) -> OscMessage:
    """``/eqbridge/automation ,is (f f)*``: time in seconds and normalized value per point; a lane of a stereo
    channel (mid, side, left, right) is ``/eqbridge/channel/automation ,iss (f f)*`` with the channel first."""
    if lane.channel != "all":
        args: list[tuple[str, Any]] = [("i", int(request_id)), ("s", lane.channel), ("s", lane.name)]
        for t, v in zip(lane.times_s, lane.values_norm):
            args += [("f", float(t)), ("f", float(v))]
        return build_message(CHANNEL_AUTOMATION, args)
    args = [("i", int(request_id)), ("s", lane.name)]
    for t, v in zip(lane.times_s, lane.values_norm):
        args += [("f", float(t)), ("f", float(v))]
    return build_message(AUTOMATION, args)


def clip_missing_message(request_id: int, role: str, missing: Sequence[int]) -> OscMessage:
    """``/eqbridge/clip/missing ,is i*``: the chunk numbers to send again (at most MAX_MISSING_LISTED)."""
    return build_message(CLIP_MISSING, [("i", int(request_id)), ("s", role)]
                         + [("i", int(s)) for s in list(missing)[:MAX_MISSING_LISTED]])


def bundle(messages: Sequence[OscMessage]) -> OscBundle:
    builder = OscBundleBuilder(IMMEDIATELY)
    for msg in messages:
        builder.add_content(msg)
    return builder.build()


def pack_bundles(messages: Sequence[OscMessage], max_bytes: int = MAX_REPLY_BUNDLE_BYTES) -> list[Packet]:
    """Greedy packing of messages into bundles of at most ``max_bytes`` (a larger message travels alone)."""
    packets: list[Packet] = []
    group: list[OscMessage] = []
    size = 16  # "#bundle\0" + time tag
    for msg in messages:
        need = 4 + msg.size
        if group and size + need > max_bytes:
            packets.append(bundle(group))
            group, size = [], 16
        group.append(msg)
        size += need
    if group:
        packets.append(bundle(group))
    return packets
