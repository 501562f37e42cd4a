"""The OSC handlers: argument checks and replies around the one matching pipeline, and the dispatcher.

Routing is separate from the network (python-osc's pattern): :func:`build_dispatcher` maps each address
to a plain handler bound to a :class:`HandlerContext`; :mod:`host.osc.server` hands the dispatcher to a
UDP server. Handlers never touch a socket: they answer through ``context.send`` and run slow work
through ``context.submit``, so tests can drive them with a list and a synchronous ``submit``.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_packet import OscPacket, ParseError

from host.audio import AudioClip, read_audio
from host.daw.ardour import ArdourTarget, push_to_ardour
from host.daw.descriptors import PushSettings
from host.errors import AudioInputError, EqbridgeError, OscRequestError
from host.matching.automation import AutomationLane, CcMap, automation_lanes, automation_record, write_midi_file
from host.matching.pipeline import (EXPLORE_MAX_RADIUS, EXPLORE_MAX_VARIANTS, MAX_REFERENCES, MatchOptions,
                                    channel_segment_values, check_clips, match_audio, match_channels, read_pair,
                                    segment_values)
from host.matching.refine import RefineProcess
from host.osc.addresses import (CLIP_BEGIN, CLIP_CHUNK, CLIP_END, EXPLORE, MATCH, MATCH_CLIPS, MATCH_CLIPS_MULTI,
                                MATCH_MULTI, MATCH_REGION, PING)
from host.osc.protocol import (NO_REQUEST_ID, ClientAddress, Packet, automation_message, channel_normalized_message,
                               channel_settings_message, check_repeated,
                               bundle, check_args, check_bundle, clip_missing_message, done_message, error_message,
                               normalized_message, pack_bundles, pong_message, pushed_message, request_id_of,
                               settings_message,
                               variant_message)
from model.atomic import write_json_atomic
from model.curve.restraint import DEFAULT_RESTRAINT
from model.profiles import PluginProfile

log = logging.getLogger(__name__)

# Linux's PATH_MAX (with its NUL) and NAME_MAX: longer paths fail in the OS with errno 36, so they are refused first.
MAX_PATH_BYTES, MAX_NAME_BYTES = 4095, 255


@dataclass(frozen=True)
class ServeConfig:
    """What the handlers need to know; built once by the server.

    ``checkpoint`` None means the model's default for the profile.
    """

    profile: PluginProfile
    allowed_dirs: tuple[Path, ...]       # resolved, absolute
    plugin_indices: tuple[int, ...]      # (P,) the plugin's parameter indices, -1 where unknown
    checkpoint: Path | None = None
    model: str = "auto"                   # host.matching.pipeline.MODELS
    restraint: float = DEFAULT_RESTRAINT  # curve model: shrink unsure bands toward flat
    automation_hop_s: float = 2.0        # spacing of the per-segment predictions behind automation
    max_automation_segments: int = 256   # the hop grows on long tracks so a match stays bounded
    midi_dir: Path | None = None         # write <midi_dir>/eqbridge-<request_id>.mid per match
    daw: tuple[str, int] | None = None   # Ardour's OSC (host, port): /eqbridge/match_region pushes there
    automation_dir: Path | None = None   # write <automation_dir>/eqbridge-<request_id>.automation.json per match
    daw_plugin_names: tuple[str, ...] = ()  # the plugin's names in Ardour, written into the automation JSON
    cc_map: CcMap | None = None          # needed with midi_dir or a live MIDI output
    explore_checkpoint: Path | None = None  # bottlenecked controller for /explore; None: presets/controllers/<profile>.pt

    def options(self, refine_s: float = 0.0, **curve: Any) -> MatchOptions:
        """The pipeline's options for one request (OptionError for a bad budget, stereo mode, link, range or
        weights: ``curve`` takes MatchOptions' stereo, link_percent, range_hz, weights)."""
        return MatchOptions(self.profile, self.checkpoint, model=self.model, refine_s=refine_s,
                            restraint=self.restraint, **curve)


@dataclass(frozen=True)
class MatchReply:
    """Everything one match answers: physical values, normalized values (of the first stereo channel in
    mid-side or left-right), automation lanes (of every channel, each naming its own)."""

    request_id: int
    values: dict[str, float]          # name -> physical value, in profile order
    norms: tuple[float, ...]          # (P,) plugin-normalized
    lanes: tuple[AutomationLane, ...]


def resolve_allowed_path(request_id: int, raw: str, allowed_dirs: Sequence[Path], what: str) -> Path:
    """The real path of an audio file a request names, if it lies inside an allowed directory.

    Symlinks and ``..`` are resolved before the check. Raises OscRequestError: relative or too long path,
    path outside every allowed directory, or not an existing file.
    """
    if not raw or "\x00" in raw:
        raise OscRequestError(request_id, f"{what} path is empty or holds a NUL byte")
    longest = max(len(part.encode("utf-8", "surrogateescape")) for part in raw.split("/"))
    if len(raw.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES or longest > MAX_NAME_BYTES:
        raise OscRequestError(request_id, f"{what} path too long ({len(raw)} characters; at most {MAX_PATH_BYTES} "
                                          f"bytes in all and {MAX_NAME_BYTES} per name): {raw[:60]!r}...")
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


def load_pair(track_path: Path, reference_path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Track and reference as float32 mono, the reference resampled to the track's rate (AudioInputError)."""
    track, reference = read_pair(track_path, reference_path)
    return track.mono(), reference.mono_at(track.sample_rate), track.sample_rate


def predict_automation(config: ServeConfig, track: np.ndarray, reference: np.ndarray,
                       sample_rate: int) -> tuple[AutomationLane, ...]:
    """Automation lanes over the whole track from per-segment predictions (raises as the pipeline)."""
    duration_s = int(track.shape[0]) / sample_rate
    hop_s = max(config.automation_hop_s, duration_s / config.max_automation_segments)
    times_s, values, segment_s = segment_values(track, reference, sample_rate, config.options(), hop_s)
    return automation_lanes(times_s, values, segment_s, duration_s, config.profile, config.plugin_indices)


def load_region(track_path: Path, start_s: float, length_s: float,
                reference_path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`load_pair` with the track cut to [start_s, start_s + length_s) (length 0: to its end)."""
    track, reference, sample_rate = load_pair(track_path, reference_path)
    start = int(round(start_s * sample_rate))
    if start >= track.shape[0]:
        raise AudioInputError(f"region start {start_s:g} s lies past the end of {track_path.name} "
                              f"({track.shape[0] / sample_rate:g} s)")
    stop = track.shape[0] if length_s == 0 else start + int(round(length_s * sample_rate))
    return track[start:stop], reference, sample_rate


def push_into_daw(config: ServeConfig, request_id: int, values: dict[str, float], strip: int,
                  plugin: int) -> tuple[int, int]:
    """Push a match's values onto Ardour's strip/plugin, read back; (values set, values clipped).
    Raises DawError / DawNotAnsweringError / DawPluginMismatchError as ``push_to_ardour``."""
    assert config.daw is not None
    settings = PushSettings(f"request {request_id}", config.profile, dict(values))
    result = push_to_ardour(settings, ArdourTarget(config.daw[0], config.daw[1], strip, plugin))
    log.info("request %d: pushed into %s", request_id, result.target)
    return len(result.writes), len(result.clipped)


_REFINER: RefineProcess | None = None
_REFINER_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set by a killing shutdown: no new refinement process after it


def _refiner() -> RefineProcess:
    """The server's one refinement process (engines never run on the server's threads)."""
    global _REFINER
    with _REFINER_LOCK:
        if _STOPPING.is_set():
            raise EqbridgeError("the server is stopping; refinement is no longer available")
        if _REFINER is None:
            _REFINER = RefineProcess()
        return _REFINER


def shutdown_refiner(kill: bool = False) -> None:
    """Stop the refinement process (the server calls this on exit, so no worker outlives it); ``kill``
    stops a search in progress at once instead of letting it run out its budget."""
    global _REFINER
    with _REFINER_LOCK:
        if kill:
            _STOPPING.set()
        if _REFINER is not None:
            _REFINER.close(kill=kill)
            _REFINER = None


def warm_up_refiner(config: ServeConfig, sample_rate: int = 44100) -> None:
    _refiner().warm_up(config.profile.name, sample_rate)


def match_settings(config: ServeConfig, track: np.ndarray, reference: np.ndarray, sample_rate: int,
                   refine_s: float = 0.0) -> tuple[dict[str, float], tuple[float, ...]]:
    """One match through the pipeline: (name -> physical value in profile order, (P,) plugin-normalized).

    ``track`` and ``reference`` are mono float32 at ``sample_rate``. Raises AudioInputError (silent, too
    short, NaN...), OptionError (budget) and ProfileError / CheckpointError from the model.
    """
    options = config.options(refine_s)
    outcome = match_audio(track, reference, sample_rate, options,
                          _refiner().refiner(config.profile.name) if refine_s > 0 else None)
    return outcome.values_dict(), outcome.normalized()


def settings_replies(config: ServeConfig, request_id: int, values: dict[str, float],
                     norms: Sequence[float]) -> Packet:
    """One bundle: ``/eqbridge/settings`` and ``/eqbridge/normalized``."""
    return bundle([settings_message(request_id, values),
                   normalized_message(request_id, config.profile.parameter_names, config.plugin_indices, norms)])


def automation_replies(request_id: int, lanes: Sequence[AutomationLane]) -> list[Packet]:
    """Bundle(s) of ``/eqbridge/automation`` messages, one message per parameter."""
    return pack_bundles([automation_message(request_id, lane) for lane in lanes])


# ----------------------------------------------------------------------------- handlers


class ClipStore(Protocol):
    """Reassembles clips sent in chunks (implemented by :class:`host.osc.server.ClipAssembler`).

    Each method raises OscRequestError for a bad request.
    """

    def begin(self, client: ClientAddress, request_id: int, role: str, sample_rate: int, channels: int,
              frames: int) -> None: ...

    def chunk(self, client: ClientAddress, request_id: int, seq: int, blob: bytes) -> None: ...

    def end(self, client: ClientAddress, request_id: int, n_chunks: int) -> tuple[str, list[int]]:
        """(role, missing sequence numbers); an empty list means the clip is complete."""
        ...

    def take_clips(self, client: ClientAddress, request_id: int,
                   start: Callable[[AudioClip, list[AudioClip]], None]) -> tuple[AudioClip, list[AudioClip]]:
        """(track, references in their numbers' order) of a request whose clips are all complete, as
        (channels, frames) clips; calls ``start`` with them and forgets the request only once it returns."""
        ...


@dataclass(frozen=True)
class HandlerContext:
    """What handlers use instead of sockets and threads."""

    config: ServeConfig
    clips: ClipStore
    send: Callable[[ClientAddress, Packet], None]        # reply to a client
    submit: Callable[[ClientAddress, int, Callable[[], None]], None]  # run a client's slow work (may raise
    #                                                                       OscRequestError: busy)
    on_match: Callable[[MatchReply], None] | None = None  # e.g. a live MIDI output
    files_written: set[Path] = field(default_factory=set)  # MIDI and automation JSON files this server wrote


def midi_path(ctx: HandlerContext, request_id: int) -> Path:
    """``<midi_dir>/eqbridge-<id>.mid``, or, where a file of that name exists that this server did not write
    (an earlier session's, or a user's), the first free ``eqbridge-<id>-<k>.mid``: nothing is replaced that the
    server does not own."""
    assert ctx.config.midi_dir is not None
    return owned_path(ctx, ctx.config.midi_dir, request_id, ".mid")


def owned_path(ctx: HandlerContext, folder: Path, request_id: int, suffix: str) -> Path:
    """``folder/eqbridge-<id><suffix>``, or the first free ``eqbridge-<id>-<k><suffix>`` where a file of that
    name exists that this server did not write."""
    path = folder / f"eqbridge-{request_id}{suffix}"
    k = 2
    while path.exists() and path not in ctx.files_written:
        path = folder / f"eqbridge-{request_id}-{k}{suffix}"
        k += 1
    return path


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


def answering(kind: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Wrap a worker-side body ``(ctx, client, request_id, ...)`` so that it answers every request: an
    EqbridgeError becomes an ``/eqbridge/error`` reply, and so does a bug (logged with its traceback)."""

    def wrap(body: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(body)
        def run(ctx: HandlerContext, client: ClientAddress, request_id: int, *args: Any) -> None:
            try:
                body(ctx, client, request_id, *args)
            except EqbridgeError as exc:
                _reply_error(ctx, client, request_id, str(exc))
            except Exception as exc:  # the worker must answer every request, even on a bug
                log.exception("%s %d failed", kind, request_id)
                _reply_error(ctx, client, request_id, f"internal error: {exc!r}")

        return run

    return wrap


@answering("match")
def run_match(ctx: HandlerContext, client: ClientAddress, request_id: int,
              load: Callable[[], tuple[np.ndarray, np.ndarray, int]], refine_s: float = 0.0,
              push_to: tuple[int, int] | None = None) -> None:
    """Worker-side body of a match: load audio, run the pipeline, write MIDI, reply; errors become replies.

    The settings are sent before the automation is computed (it is the slower part). With ``push_to``
    (strip, plugin) they are pushed into the DAW first and ``/eqbridge/pushed`` says so once read back."""
    from model import reusing_clips  # the settings' analysis of both clips serves the automation too

    track, reference, sample_rate = load()
    with reusing_clips():
        values, norms = match_settings(ctx.config, track, reference, sample_rate, refine_s)
        ctx.send(client, settings_replies(ctx.config, request_id, values, norms))
        if push_to is not None:
            ctx.send(client, pushed_message(request_id, *push_to,
                                            *push_into_daw(ctx.config, request_id, values, *push_to)))
        lanes = predict_automation(ctx.config, track, reference, sample_rate)
    for packet in automation_replies(request_id, lanes):
        ctx.send(client, packet)
    _finish_match(ctx, client, MatchReply(request_id, values, norms, lanes))


def load_clips(track_path: Path, reference_paths: Sequence[Path]) -> tuple[AudioClip, list[AudioClip]]:
    """Track and references as read (channels kept) for /eqbridge/match_multi (AudioInputError)."""
    return read_audio(track_path), [read_audio(p) for p in reference_paths]


@answering("match")
def run_match_multi(ctx: HandlerContext, client: ClientAddress, request_id: int,
                    load: Callable[[], tuple[AudioClip, list[AudioClip]]], options: MatchOptions) -> None:
    """Worker-side body of /eqbridge/match_multi and /eqbridge/match_clips_multi: the pipeline in the asked stereo
    mode with every reference; the settings of each channel (``/channel/settings`` and ``/channel/normalized``, or
    the plain ``/settings`` and ``/normalized`` in link mode), then automation lanes per channel, the MIDI file
    (one MIDI channel per stereo channel), then done."""
    track, references = load()
    matched = match_channels(track, references, options)  # checks the clips before any reply
    config = ctx.config
    if options.stereo == "link":
        outcome = matched.outcomes[0]
        ctx.send(client, settings_replies(config, request_id, outcome.values_dict(), outcome.normalized()))
    else:
        messages = []
        for name, outcome in matched.by_channel().items():
            messages += [channel_settings_message(request_id, name, outcome.values_dict()),
                         channel_normalized_message(request_id, name, config.profile.parameter_names,
                                                    config.plugin_indices, outcome.normalized())]
        ctx.send(client, bundle(messages))
    duration_s = track.frames / track.sample_rate
    hop_s = max(config.automation_hop_s, duration_s / config.max_automation_segments)
    lanes: list[AutomationLane] = []
    for k, (name, (times_s, values, segment_s)) in enumerate(
            zip(matched.channels, channel_segment_values(track, references, options, hop_s))):
        lanes += automation_lanes(times_s, values, segment_s, duration_s, config.profile, config.plugin_indices,
                                  channel=name, channel_index=k)
    for packet in automation_replies(request_id, lanes):
        ctx.send(client, packet)
    first = matched.outcomes[0]
    _finish_match(ctx, client, MatchReply(request_id, first.values_dict(), first.normalized(), tuple(lanes)))


def _finish_match(ctx: HandlerContext, client: ClientAddress, result: MatchReply) -> None:
    """The MIDI file (with --midi-dir), /done, and the live MIDI output's turn."""
    if ctx.config.midi_dir is not None and ctx.config.cc_map is not None:
        path = midi_path(ctx, result.request_id)
        ctx.files_written.add(path)
        write_midi_file(result.lanes, ctx.config.cc_map, path, track_name=f"eqbridge {result.request_id}")
        log.info("request %d: wrote %s", result.request_id, path)
    if ctx.config.automation_dir is not None:
        path = owned_path(ctx, ctx.config.automation_dir, result.request_id, ".automation.json")
        ctx.files_written.add(path)
        write_json_atomic(path, automation_record(result.lanes, ctx.config.profile, ctx.config.daw_plugin_names))
        log.info("request %d: wrote %s", result.request_id, path)
    ctx.send(client, done_message(result.request_id))
    if ctx.on_match is not None:
        ctx.on_match(result)


@reporting
def handle_match_multi(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    """``/eqbridge/match_multi ,isfffs(sf)+ request_id stereo link_percent low_hz high_hz track (reference
    weight)+``: link_percent is ignored with stereo ``link``; low_hz = high_hz = 0 means the whole spectrum."""
    request_id, stereo, link, low, high, track_raw, *pairs = check_repeated(address, args, "isfffs", "sf",
                                                                             MAX_REFERENCES)
    references = pairs[0::2]
    options = multi_options(ctx, request_id, stereo, link, low, high, tuple(pairs[1::2]))
    dirs = ctx.config.allowed_dirs
    track_path = resolve_allowed_path(request_id, track_raw, dirs, "track")
    reference_paths = [resolve_allowed_path(request_id, r, dirs, f"reference {k + 1}")
                       for k, r in enumerate(references)]
    ctx.submit(client, request_id, functools.partial(run_match_multi, ctx, client, request_id,
                                                     functools.partial(load_clips, track_path, reference_paths),
                                                     options))


def multi_options(ctx: HandlerContext, request_id: int, stereo: str, link: float, low: float, high: float,
                  weights: tuple[float, ...]) -> MatchOptions:
    """The options of a /eqbridge/match_multi or /eqbridge/match_clips_multi: link_percent is ignored with stereo
    ``link``, low_hz = high_hz = 0 is the whole spectrum, no weights are equal weights (OscRequestError)."""
    whole = low == 0.0 and high == 0.0
    try:
        return ctx.config.options(stereo=stereo, link_percent=None if stereo == "link" else link,
                                  range_hz=None if whole else (low, high), weights=weights or None)
    except EqbridgeError as exc:
        raise OscRequestError(request_id, str(exc)) from exc


@reporting
def handle_match_clips_multi(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    """``/eqbridge/match_clips_multi ,isfff(f)* request_id stereo link_percent low_hz high_hz weight*``:
    /eqbridge/match_multi on the clips sent for the request (track, reference1..N), with one weight per reference
    clip or none (equal). The weight count and the clips' channels are checked before the clips are taken, so a
    refused request keeps them: ask again with other options."""
    request_id, stereo, link, low, high, *weights = check_repeated(address, args, "isfff", "f", MAX_REFERENCES,
                                                                   min_repeats=0)
    options = multi_options(ctx, request_id, stereo, link, low, high, tuple(weights))

    def start(track: AudioClip, references: list[AudioClip]) -> None:
        n, m = len(weights), len(references)
        if n and n != m:
            raise OscRequestError(request_id, f"{address} gives {n} weight{'s' if n != 1 else ''} for the {m} "
                                              f"reference clip{'s' if m != 1 else ''} sent for request {request_id}: "
                                              "give one weight per reference clip, or none for equal weights")
        check_clips(track, references, options)  # match_channels checks again; here the clips are still kept
        ctx.submit(client, request_id, functools.partial(run_match_multi, ctx, client, request_id,
                                                         lambda: (track, references), options))

    ctx.clips.take_clips(client, request_id, start)


@reporting
def handle_ping(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    ctx.send(client, pong_message())


@reporting
def handle_match(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    request_id, track_raw, reference_raw, *refine = check_args(address, args, "iss", "f")
    refine_s = float(refine[0]) if refine else 0.0
    ctx.config.options(refine_s)  # OptionError before queuing
    dirs = ctx.config.allowed_dirs
    track_path = resolve_allowed_path(request_id, track_raw, dirs, "track")
    reference_path = resolve_allowed_path(request_id, reference_raw, dirs, "reference")
    ctx.submit(client, request_id, functools.partial(run_match, ctx, client, request_id,
                                             functools.partial(load_pair, track_path, reference_path),
                                             refine_s))


@reporting
def handle_match_region(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    """``/eqbridge/match_region ,isffsii[f] request_id track start_s length_s reference strip plugin [refine_s]``:
    match a region of a track file (length 0: to its end) and push the settings into the DAW's strip/plugin."""
    request_id, track_raw, start_s, length_s, reference_raw, strip, plugin, *refine = check_args(
        address, args, "isffsii", "f")
    if ctx.config.daw is None:
        raise OscRequestError(request_id, "this server pushes into no DAW: start it with --daw ardour[:HOST:PORT]")
    if not (np.isfinite(start_s) and np.isfinite(length_s) and start_s >= 0 and length_s >= 0):
        raise OscRequestError(request_id, f"region start {start_s} s and length {length_s} s must be >= 0 "
                                          f"(length 0: to the end of the file)")
    if strip < 1 or plugin < 1:
        raise OscRequestError(request_id, f"strip {strip} and plugin {plugin} count from 1, as Ardour does")
    refine_s = float(refine[0]) if refine else 0.0
    ctx.config.options(refine_s)  # OptionError before queuing
    dirs = ctx.config.allowed_dirs
    track_path = resolve_allowed_path(request_id, track_raw, dirs, "track")
    reference_path = resolve_allowed_path(request_id, reference_raw, dirs, "reference")
    ctx.submit(client, request_id, functools.partial(
        run_match, ctx, client, request_id,
        functools.partial(load_region, track_path, float(start_s), float(length_s), reference_path),
        refine_s, (int(strip), int(plugin))))


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
    """``/eqbridge/match_clips ,i request_id``: match the track and the one reference clip sent for the request."""
    (request_id,) = check_args(address, args, "i")

    def start(track: AudioClip, references: list[AudioClip]) -> None:
        if len(references) > 1:
            raise OscRequestError(request_id, f"request {request_id} holds {len(references)} reference clips; "
                                              f"{MATCH_CLIPS} matches one: send {MATCH_CLIPS_MULTI} to combine them")
        loaded = (_samples(track), _samples(references[0]), track.sample_rate)
        ctx.submit(client, request_id, functools.partial(run_match, ctx, client, request_id, lambda: loaded))

    ctx.clips.take_clips(client, request_id, start)


def _samples(clip: AudioClip) -> np.ndarray:
    """A sent clip as run_match takes it: (frames,) mono or (frames, channels) float32."""
    return clip.data[0] if clip.channels == 1 else np.ascontiguousarray(clip.data.T)


@answering("explore")
def run_explore(ctx: HandlerContext, client: ClientAddress, request_id: int,
                load: Callable[[], tuple[np.ndarray, np.ndarray, int]], n: int, radius: float) -> None:
    """Worker-side body of an explore: n settings near the match, one ``/eqbridge/variant`` each, then done."""
    from model import explore_latent

    track, reference, sample_rate = load()
    variants = explore_latent(track, reference, sample_rate, ctx.config.profile, n=n, radius=radius,
                              checkpoint=ctx.config.explore_checkpoint)
    profile = ctx.config.profile
    for k, (values, dist) in enumerate(zip(variants.values, variants.radii)):
        ctx.send(client, variant_message(request_id, k, float(dist), profile.values_dict(profile.clip(values))))
    ctx.send(client, done_message(request_id))


@reporting
def handle_explore(ctx: HandlerContext, client: ClientAddress, address: str, *args: Any) -> None:
    """``/eqbridge/explore ,issif request_id track reference n radius``."""
    request_id, track_raw, reference_raw, n, radius = check_args(address, args, "issif")
    if not 1 <= n <= EXPLORE_MAX_VARIANTS:
        raise OscRequestError(request_id, f"n must lie in 1..{EXPLORE_MAX_VARIANTS}, got {n}")
    if not (np.isfinite(radius) and 0 < radius <= EXPLORE_MAX_RADIUS):
        raise OscRequestError(request_id, f"radius must be a latent distance in (0, {EXPLORE_MAX_RADIUS:g}], got {radius}")
    dirs = ctx.config.allowed_dirs
    track_path = resolve_allowed_path(request_id, track_raw, dirs, "track")
    reference_path = resolve_allowed_path(request_id, reference_raw, dirs, "reference")
    ctx.submit(client, request_id, functools.partial(run_explore, ctx, client, request_id,
                                             functools.partial(load_pair, track_path, reference_path), n, radius))


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
    MATCH_CLIPS_MULTI: handle_match_clips_multi,
    MATCH_REGION: handle_match_region,
    MATCH_MULTI: handle_match_multi,
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
        if OscBundle.dgram_is_bundle(data):
            check_bundle(data)
        packet = OscPacket(data)
    except OscRequestError as exc:
        _reply_error(ctx, client, NO_REQUEST_ID, str(exc))
        return
    except (ParseError, UnicodeDecodeError) as exc:
        _reply_error(ctx, client, NO_REQUEST_ID, f"malformed OSC datagram ({len(data)} bytes): {exc}")
        return
    for timed in packet.messages:
        message = timed.message
        handlers = list(dispatcher.handlers_for_address(message.address))
        if not handlers:  # python-osc matches nothing, not even the default handler, for a broken pattern
            _reply_error(ctx, client, request_id_of(list(message)),
                         f"address pattern {message.address!r} is not valid (an unclosed [ or {{?); send one address")
            continue
        if len(handlers) > 1:  # an address pattern such as /eqbridge/* must not fan out to every handler
            _reply_error(ctx, client, request_id_of(list(message)),
                         f"address pattern {message.address!r} matches several addresses; send one address")
            continue
        for handler in handlers:
            handler.invoke(client, message)
