"""The eqbridge OSC protocol: addresses, argument checks, reply builders and the dispatcher of plain handlers.

Routing is separate from the network (python-osc's pattern): :func:`build_dispatcher` maps each address
to a plain handler bound to a :class:`HandlerContext`; :mod:`host.osc_server` hands the dispatcher to a
UDP server. Handlers never touch a socket: they answer through ``context.send`` and run slow work
through ``context.submit``, so tests can drive them with a list and a synchronous ``submit``.

Every bad request is answered with ``/eqbridge/error ,is request_id message`` (request_id -1 when
none could be parsed) and the server keeps serving.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, Union

import numpy as np
import soundfile as sf
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

from host.automation import AutomationLane, CcMap, automation_lanes, write_midi_file
from host.errors import EqbridgeError, OscRequestError
from host.profiles import PluginProfile

log = logging.getLogger(__name__)

PREFIX = "/eqbridge"
PING = f"{PREFIX}/ping"
PONG = f"{PREFIX}/pong"
MATCH = f"{PREFIX}/match"
MATCH_CLIPS = f"{PREFIX}/match_clips"
CLIP_BEGIN = f"{PREFIX}/clip/begin"
CLIP_CHUNK = f"{PREFIX}/clip/chunk"
CLIP_END = f"{PREFIX}/clip/end"
CLIP_MISSING = f"{PREFIX}/clip/missing"
SETTINGS = f"{PREFIX}/settings"
NORMALIZED = f"{PREFIX}/normalized"
AUTOMATION = f"{PREFIX}/automation"
DONE = f"{PREFIX}/done"
EXPLORE = f"{PREFIX}/explore"
VARIANT = f"{PREFIX}/variant"
ERROR = f"{PREFIX}/error"

CLIP_ROLES = ("track", "reference")
NO_REQUEST_ID = -1
MAX_ERROR_CHARS = 900          # an error message is cut to this length so the reply stays one small datagram
MAX_REPLY_BUNDLE_BYTES = 8192  # automation messages are packed into bundles of at most this size
MAX_MISSING_LISTED = 256       # /clip/missing lists at most this many sequence numbers
MAX_EXPLORE_VARIANTS = 64      # /eqbridge/explore answers at most this many variants

ClientAddress = tuple[str, int]
Packet = Union[OscMessage, OscBundle]

_OSC_TYPE_NAMES = {"i": "int32", "f": "float32", "s": "string", "b": "blob"}


# ----------------------------------------------------------------------------- argument checks


def _type_tag(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "T" if value is True else ("F" if value is False else "N")
    if isinstance(value, int):
        return "i"
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
        raise OscRequestError(request_id_of(args), f"{address} takes ,{expected} ({names}); got ,{got}")
    return tuple(float(a) if want == "f" else a for a, want in zip(args, required + optional))


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


def variant_message(request_id: int, index: int, latent_distance: float, values: dict[str, float]) -> OscMessage:
    """``/eqbridge/variant ,iif (s f)*``: variant index, its latent distance from the match, physical values."""
    args: list[tuple[str, Any]] = [("i", int(request_id)), ("i", int(index)), ("f", float(latent_distance))]
    for name, value in values.items():
        args += [("s", name), ("f", float(value))]
    return build_message(VARIANT, args)


def automation_message(request_id: int, lane: AutomationLane) -> OscMessage:
    """``/eqbridge/automation ,is (f f)*``: time in seconds and normalized value per point."""
    args: list[tuple[str, Any]] = [("i", int(request_id)), ("s", lane.name)]
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


# ----------------------------------------------------------------------------- configuration and matching


@dataclass(frozen=True)
class ServeConfig:
    """What the handlers need to know; built once by the server.

    ``checkpoint`` None means the model's default for the profile.
    """

    profile: PluginProfile
    allowed_dirs: tuple[Path, ...]       # resolved, absolute
    plugin_indices: tuple[int, ...]      # (P,) the plugin's parameter indices, -1 where unknown
    checkpoint: Path | None = None
    automation_hop_s: float = 2.0        # spacing of the per-segment predictions behind automation
    max_automation_segments: int = 256   # the hop grows on long tracks so a match stays bounded
    midi_dir: Path | None = None         # write <midi_dir>/eqbridge-<request_id>.mid per match
    cc_map: CcMap | None = None          # needed with midi_dir or a live MIDI output
    explore_checkpoint: Path | None = None  # bottlenecked controller for /explore; None: presets/controllers/<profile>.pt


@dataclass(frozen=True)
class MatchResult:
    """Everything one match answers: physical values, normalized values, automation lanes."""

    request_id: int
    values: dict[str, float]          # name -> physical value, in profile order
    norms: tuple[float, ...]          # (P,) plugin-normalized
    lanes: tuple[AutomationLane, ...]


def resolve_allowed_path(request_id: int, raw: str, allowed_dirs: Sequence[Path], what: str) -> Path:
    """The real path of an audio file a request names, if it lies inside an allowed directory.

    Symlinks and ``..`` are resolved before the check. Raises OscRequestError: relative path, path
    outside every allowed directory, or not an existing file.
    """
    if not raw or "\x00" in raw:
        raise OscRequestError(request_id, f"{what} path is empty or holds a NUL byte")
    path = Path(raw)
    if not path.is_absolute():
        raise OscRequestError(request_id, f"{what} path {raw!r} must be absolute")
    try:
        real = path.resolve(strict=False)
    except (OSError, RuntimeError) as exc:
        raise OscRequestError(request_id, f"{what} path {raw!r} cannot be resolved: {exc}") from exc
    if not any(real.is_relative_to(d) for d in allowed_dirs):
        raise OscRequestError(request_id, f"{what} path {raw!r} (resolves to {real}) is outside the allowed "
                                          f"directories {[str(d) for d in allowed_dirs]}")
    if not real.is_file():
        raise OscRequestError(request_id, f"{what} file {raw!r} does not exist")
    return real


def load_audio_file(path: Path) -> tuple[np.ndarray, int]:
    """A file's audio at its own rate, float32 mono (samples,), and that rate.

    Raises:
        AudioInputError: unreadable, empty, or NaN/inf samples.
    """
    from host.corpus import load_audio

    try:
        rate = int(sf.info(str(path)).samplerate)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        from host.errors import AudioInputError

        raise AudioInputError(f"cannot read audio file {path.name}: {exc}") from exc
    return load_audio(path, rate), rate


def _frames(audio: np.ndarray) -> int:
    return int(audio.shape[0])


def predict_settings(config: ServeConfig, request_id: int, track: np.ndarray, reference: np.ndarray,
                     sample_rate: int) -> tuple[dict[str, float], tuple[float, ...]]:
    """Whole-track settings: (name -> physical value in profile order, (P,) plugin-normalized values).

    ``track`` and ``reference`` are (samples,) or (samples, channels) float arrays at ``sample_rate``.
    Raises AudioInputError (silent, too short, NaN...) and ProfileError from the model.
    """
    from model import predict

    prediction = predict(track, reference, sample_rate, config.profile, config.checkpoint)
    values = {name: float(prediction.values[name]) for name in config.profile.parameter_names}
    norms = config.profile.to_norm([values[n] for n in config.profile.parameter_names])  # (P,)
    return values, tuple(float(n) for n in norms)


def predict_automation(config: ServeConfig, track: np.ndarray, reference: np.ndarray,
                       sample_rate: int) -> tuple[AutomationLane, ...]:
    """Automation lanes over the whole track from per-segment predictions (raises as predict_settings)."""
    from model import predict_segments

    duration_s = _frames(track) / sample_rate
    hop_s = max(config.automation_hop_s, duration_s / config.max_automation_segments)
    segments = predict_segments(track, reference, sample_rate, config.profile, config.checkpoint, hop_s=hop_s)
    return automation_lanes(segments.times_s, segments.values, segments.segment_s, duration_s,
                            config.profile, config.plugin_indices)


_REFINER = None
_REFINER_LOCK = threading.Lock()


def _refiner():
    """The server's one refinement process (engines never run on the server's threads)."""
    global _REFINER
    with _REFINER_LOCK:
        if _REFINER is None:
            from host.refine import RefineProcess

            _REFINER = RefineProcess()
        return _REFINER


def shutdown_refiner() -> None:
    """Stop the refinement process (the server calls this on exit, so no worker outlives it)."""
    global _REFINER
    with _REFINER_LOCK:
        if _REFINER is not None:
            _REFINER.close()
            _REFINER = None


def warm_up_refiner(config: ServeConfig, sample_rate: int = 44100) -> None:
    _refiner().warm_up(config.profile.name, sample_rate)


def refine_settings(config: ServeConfig, values: dict[str, float], track: np.ndarray, reference: np.ndarray,
                    sample_rate: int, budget_s: float) -> tuple[dict[str, float], tuple[float, ...]]:
    """Refine predicted settings through the real plugin for ``budget_s`` seconds (host/refine.py)."""
    profile = config.profile
    start = profile.values_from_dict(values)
    result = _refiner().refine(profile.name, sample_rate, _squeeze_mono(track), _squeeze_mono(reference), budget_s,
                               start=start)
    refined = profile.values_dict(result.values)
    return refined, tuple(float(n) for n in profile.to_norm(result.values))


def _squeeze_mono(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    return a.mean(axis=1) if a.ndim == 2 else a


def match_audio(config: ServeConfig, request_id: int, track: np.ndarray, reference: np.ndarray,
                sample_rate: int) -> MatchResult:
    """Settings and automation of one match (see :func:`predict_settings`, :func:`predict_automation`)."""
    values, norms = predict_settings(config, request_id, track, reference, sample_rate)
    return MatchResult(request_id, values, norms, predict_automation(config, track, reference, sample_rate))


def settings_replies(config: ServeConfig, request_id: int, values: dict[str, float],
                     norms: Sequence[float]) -> Packet:
    """One bundle: ``/eqbridge/settings`` and ``/eqbridge/normalized``."""
    return bundle([settings_message(request_id, values),
                   normalized_message(request_id, config.profile.parameter_names, config.plugin_indices, norms)])


def automation_replies(request_id: int, lanes: Sequence[AutomationLane]) -> list[Packet]:
    """Bundle(s) of ``/eqbridge/automation`` messages, one message per parameter."""
    return pack_bundles([automation_message(request_id, lane) for lane in lanes])


def match_replies(config: ServeConfig, result: MatchResult) -> list[Packet]:
    """The replies of a successful match, in order: a bundle of settings + normalized, bundle(s) of
    automation (one message per parameter), then done."""
    return ([settings_replies(config, result.request_id, result.values, result.norms)]
            + automation_replies(result.request_id, result.lanes) + [done_message(result.request_id)])


# ----------------------------------------------------------------------------- handlers


class ClipStore(Protocol):
    """Reassembles clips sent in chunks (implemented by :class:`host.osc_server.ClipAssembler`).

    Each method raises OscRequestError for a bad request.
    """

    def begin(self, client: ClientAddress, request_id: int, role: str, sample_rate: int, channels: int,
              frames: int) -> None: ...

    def chunk(self, client: ClientAddress, request_id: int, seq: int, blob: bytes) -> None: ...

    def end(self, client: ClientAddress, request_id: int, n_chunks: int) -> tuple[str, list[int]]:
        """(role, missing sequence numbers); an empty list means the clip is complete."""
        ...

    def take(self, client: ClientAddress, request_id: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(track, reference, sample_rate) of a request whose two clips are complete; forgets the request."""
        ...


@dataclass(frozen=True)
class HandlerContext:
    """What handlers use instead of sockets and threads."""

    config: ServeConfig
    clips: ClipStore
    send: Callable[[ClientAddress, Packet], None]        # reply to a client
    submit: Callable[[int, Callable[[], None]], None]    # run slow work (may raise OscRequestError: busy)
    on_match: Callable[[MatchResult], None] | None = None  # e.g. a live MIDI output


def _reply_error(ctx: HandlerContext, client: ClientAddress, request_id: int, message: str) -> None:
    log.warning("request %d from %s:%d: %s", request_id, client[0], client[1], message)
    ctx.send(client, error_message(request_id, message))


def reporting(handler: Callable[..., None]) -> Callable[..., None]:
    """Wrap a handler ``(ctx, client, address, *args)`` so that any EqbridgeError it raises becomes an
    ``/eqbridge/error`` reply; an unexpected exception is logged with its traceback and reported too."""

    @functools.wraps(handler)
    def wrapped(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
        try:
            handler(ctx, client, address, *args)
        except OscRequestError as exc:
            _reply_error(ctx, client, exc.request_id, str(exc))
        except EqbridgeError as exc:
            _reply_error(ctx, client, request_id_of(args), str(exc))
        except Exception as exc:  # a handler bug must not stop the server; report it and go on
            log.exception("handler for %s failed", address)
            _reply_error(ctx, client, request_id_of(args), f"internal error in {address}: {exc!r}")

    return wrapped


def run_match(ctx: HandlerContext, client: ClientAddress, request_id: int,
              load: Callable[[], tuple[np.ndarray, np.ndarray, int]], refine_s: float = 0.0) -> None:
    """Worker-side body of a match: load audio, predict (and refine), write MIDI, reply; errors become replies."""
    try:
        track, reference, sample_rate = load()
        values, norms = predict_settings(ctx.config, request_id, track, reference, sample_rate)
        if refine_s > 0:
            values, norms = refine_settings(ctx.config, values, track, reference, sample_rate, refine_s)
        ctx.send(client, settings_replies(ctx.config, request_id, values, norms))  # before the slower automation
        lanes = predict_automation(ctx.config, track, reference, sample_rate)
        for packet in automation_replies(request_id, lanes):
            ctx.send(client, packet)
        result = MatchResult(request_id, values, norms, lanes)
        if ctx.config.midi_dir is not None and ctx.config.cc_map is not None:
            path = ctx.config.midi_dir / f"eqbridge-{request_id}.mid"
            write_midi_file(result.lanes, ctx.config.cc_map, path, track_name=f"eqbridge {request_id}")
            log.info("request %d: wrote %s", request_id, path)
        ctx.send(client, done_message(request_id))
        if ctx.on_match is not None:
            ctx.on_match(result)
    except EqbridgeError as exc:
        _reply_error(ctx, client, request_id, str(exc))
    except Exception as exc:  # the worker must answer every request, even on a bug
        log.exception("match %d failed", request_id)
        _reply_error(ctx, client, request_id, f"internal error: {exc!r}")


@reporting
def handle_ping(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    ctx.send(client, pong_message())


@reporting
def handle_match(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    request_id, track_raw, reference_raw, *refine = check_args(address, args, "iss", "f")
    if refine and not (math.isfinite(refine[0]) and refine[0] >= 0):
        raise OscRequestError(request_id, f"refine budget must be a finite number of seconds >= 0, got {refine[0]}")
    dirs = ctx.config.allowed_dirs
    track_path = resolve_allowed_path(request_id, track_raw, dirs, "track")
    reference_path = resolve_allowed_path(request_id, reference_raw, dirs, "reference")
    ctx.submit(request_id, functools.partial(run_match, ctx, client, request_id,
                                             functools.partial(_load_pair, track_path, reference_path),
                                             float(refine[0]) if refine else 0.0))


@reporting
def handle_clip_begin(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    request_id, role, sample_rate, channels, frames = check_args(address, args, "isiii")
    ctx.clips.begin(client, request_id, role, sample_rate, channels, frames)


@reporting
def handle_clip_chunk(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    request_id, seq, blob = check_args(address, args, "iib")
    ctx.clips.chunk(client, request_id, seq, bytes(blob))


@reporting
def handle_clip_end(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    request_id, n_chunks = check_args(address, args, "ii")
    role, missing = ctx.clips.end(client, request_id, n_chunks)
    if missing:
        ctx.send(client, clip_missing_message(request_id, role, missing))
        shown = ", ".join(str(s) for s in missing[:20]) + (" ..." if len(missing) > 20 else "")
        raise OscRequestError(request_id, f"clip {role!r}: {len(missing)} of {n_chunks} chunks missing ({shown}); "
                                          f"send them again, then {CLIP_END} again")


@reporting
def handle_match_clips(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    (request_id,) = check_args(address, args, "i")
    track, reference, sample_rate = ctx.clips.take(client, request_id)
    ctx.submit(request_id, functools.partial(run_match, ctx, client, request_id,
                                             lambda: (track, reference, sample_rate)))


def run_explore(ctx: HandlerContext, client: ClientAddress, request_id: int,
                load: Callable[[], tuple[np.ndarray, np.ndarray, int]], n: int, radius: float) -> None:
    """Worker-side body of an explore: n settings near the match, one ``/eqbridge/variant`` each, then done."""
    try:
        from model import explore_latent

        track, reference, sample_rate = load()
        variants = explore_latent(track, reference, sample_rate, ctx.config.profile, n=n, radius=radius,
                                  checkpoint=ctx.config.explore_checkpoint)
        profile = ctx.config.profile
        for k, (values, dist) in enumerate(zip(variants.values, variants.radii)):
            ctx.send(client, variant_message(request_id, k, float(dist), profile.values_dict(profile.clip(values))))
        ctx.send(client, done_message(request_id))
    except EqbridgeError as exc:
        _reply_error(ctx, client, request_id, str(exc))
    except Exception as exc:  # the worker must answer every request, even on a bug
        log.exception("explore %d failed", request_id)
        _reply_error(ctx, client, request_id, f"internal error: {exc!r}")


@reporting
def handle_explore(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    """``/eqbridge/explore ,issif request_id track reference n radius``."""
    request_id, track_raw, reference_raw, n, radius = check_args(address, args, "issif")
    if not 1 <= n <= MAX_EXPLORE_VARIANTS:
        raise OscRequestError(request_id, f"n must lie in 1..{MAX_EXPLORE_VARIANTS}, got {n}")
    if not (math.isfinite(radius) and radius > 0):
        raise OscRequestError(request_id, f"radius must be a finite latent distance > 0, got {radius}")
    dirs = ctx.config.allowed_dirs
    track_path = resolve_allowed_path(request_id, track_raw, dirs, "track")
    reference_path = resolve_allowed_path(request_id, reference_raw, dirs, "reference")
    ctx.submit(request_id, functools.partial(run_explore, ctx, client, request_id,
                                             functools.partial(_load_pair, track_path, reference_path), n, radius))


def _load_pair(track_path: Path, reference_path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Track and reference as float32 mono, the reference resampled to the track's rate."""
    from host.audio import resample

    track, rate = load_audio_file(track_path)
    reference, ref_rate = load_audio_file(reference_path)
    return track, resample(reference, ref_rate, rate), rate


@reporting
def handle_unknown(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    known = ", ".join(sorted(HANDLERS))
    raise OscRequestError(request_id_of(args), f"unknown address {address!r}; known: {known}")


HANDLERS: dict[str, Callable[..., None]] = {
    PING: handle_ping,
    MATCH: handle_match,
    CLIP_BEGIN: handle_clip_begin,
    CLIP_CHUNK: handle_clip_chunk,
    CLIP_END: handle_clip_end,
    MATCH_CLIPS: handle_match_clips,
    EXPLORE: handle_explore,
}


def build_dispatcher(ctx: HandlerContext) -> Dispatcher:
    """The address map: every handler bound to ``ctx``; unknown addresses answer an error.

    ``strict_timing=False``: a bundle's time tag never makes the receive thread sleep.
    """
    dispatcher = Dispatcher(strict_timing=False)
    for address, handler in HANDLERS.items():
        dispatcher.map(address, functools.partial(handler, ctx), needs_reply_address=True)
    dispatcher.set_default_handler(functools.partial(handle_unknown, ctx), needs_reply_address=True)
    return dispatcher


def dispatch_datagram(dispatcher: Dispatcher, ctx: HandlerContext, data: bytes, client: ClientAddress) -> None:
    """Parse one datagram and run the handlers of each message in it; a datagram that is not OSC is
    answered with an error (request_id -1) instead of being dropped silently."""
    if not (OscMessage.dgram_is_message(data) or OscBundle.dgram_is_bundle(data)):
        _reply_error(ctx, client, NO_REQUEST_ID, f"not an OSC message or bundle ({len(data)} bytes)")
        return
    try:
        packet = OscPacket(data)
    except (ParseError, UnicodeDecodeError) as exc:
        _reply_error(ctx, client, NO_REQUEST_ID, f"malformed OSC datagram ({len(data)} bytes): {exc}")
        return
    for timed in packet.messages:
        message = timed.message
        handlers = list(dispatcher.handlers_for_address(message.address))
        if len(handlers) > 1:  # an address pattern such as /eqbridge/* must not fan out to every handler
            _reply_error(ctx, client, request_id_of(list(message)),
                         f"address pattern {message.address!r} matches several addresses; send one address")
            continue
        for handler in handlers:
            handler.invoke(client, message)
