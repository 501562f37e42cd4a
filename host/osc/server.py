"""The eqbridge OSC server: a UDP socket, reply sending, a match worker pool and clip reassembly state.

The server is handed the dispatcher of :mod:`host.osc.protocol`. Datagrams are handled one at a time on
the receive thread (quick: argument checks, storing chunks); each match runs on a worker thread, so a
ping is answered while a match runs. Replies go to the sender's host at ``reply_port`` (0: the
sender's own port). Memory is bounded: clip length, open requests, bytes held, queued matches, and
clip requests idle for ``clip_ttl_s`` are forgotten.
"""

from __future__ import annotations

import logging
import socket
import signal
import socketserver
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from pythonosc.dispatcher import Dispatcher

from host.audio import AudioClip
from host.matching.automation import LiveMidiOutput, load_cc_map
from host.matching.pipeline import MAX_REFERENCES
from host.errors import EqbridgeError, OptionError, OscRequestError, PluginNotFoundError, ProfileError
from host.osc.addresses import READY_LINE
from host.osc.handlers import (HandlerContext, ServeConfig, build_dispatcher, dispatch_datagram, match_settings,
                               predict_automation, shutdown_refiner, warm_up_refiner)
from host.osc.protocol import (CLIP_ROLES, NO_REQUEST_ID, REFERENCE_ROLE, TRACK_ROLE, ClientAddress, Packet,
                               clip_slot, error_message)
from host.paths import check_output_folder
from model.curve.restraint import DEFAULT_RESTRAINT
from model.profiles import PluginProfile, load_profile

log = logging.getLogger(__name__)

MAX_DATAGRAM_BYTES = 65507
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024  # asked of the kernel; it may grant less (net.core.rmem_max)
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 192000
MAX_CHANNELS = 2
MAX_CHUNK_BYTES = 16384


@dataclass(frozen=True)
class ClipLimits:
    """Bounds on clip transfer state."""

    max_clip_s: float = 120.0          # longest clip accepted, seconds
    max_requests: int = 8              # clip requests open at once, over all clients
    max_bytes: int = 256 * 1024 * 1024  # sample bytes held over all open clips
    ttl_s: float = 30.0                # a request idle this long is forgotten

    @property
    def max_requests_per_client(self) -> int:
        """One client (host:port) holds at most half the clip slots, so it cannot lock out the others."""
        return per_client_share(self.max_requests)


def per_client_share(total: int) -> int:
    """How much of a shared bound one client may hold: half of it, at least 1."""
    return max(1, total // 2)


@dataclass
class _Clip:
    role: str
    sample_rate: int
    channels: int
    frames: int
    chunks: dict[int, bytes] = field(default_factory=dict)
    received_bytes: int = 0
    complete: np.ndarray | None = None  # (channels, frames) float32 once /clip/end found every chunk

    @property
    def expected_bytes(self) -> int:
        return self.frames * self.channels * 4


@dataclass
class _ClipRequest:
    clips: dict[str, _Clip] = field(default_factory=dict)
    owner: ClientAddress = ("", 0)  # the client (host, port) that opened it: per-client limits count by it
    current: str | None = None   # the role chunks belong to (the last /clip/begin)
    failed: str | None = None    # why the request was rejected; later messages repeat it
    touched_s: float = field(default_factory=time.monotonic)


class ClipAssembler:
    """Clip reassembly for ``/eqbridge/clip/*``, keyed by (client host, request id); thread-safe.

    Chunks of a clip are numbered from 0; a request sends its clips (a track and 1..16 references) one
    after the other (begin, chunks, end). Duplicated, out-of-range or oversized chunks reject the request;
    missing chunks are reported at ``end`` and may be sent again. Nothing is ever zero-filled. Every clip of
    every open request counts toward ``max_bytes``; a request counts once toward ``max_requests``.
    """

    def __init__(self, limits: ClipLimits = ClipLimits(), clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._requests: dict[tuple[str, int], _ClipRequest] = {}
        self._lock = threading.Lock()

    def held_bytes(self) -> int:
        with self._lock:
            return self._held_bytes()

    def open_requests(self) -> int:
        with self._lock:
            return len(self._requests)

    def _held_bytes(self) -> int:
        return sum(c.expected_bytes for r in self._requests.values() for c in r.clips.values() if r.failed is None)

    def expire(self) -> int:
        """Forget requests idle for longer than ``ttl_s``; returns how many."""
        now = self._clock()
        with self._lock:
            stale = [k for k, r in self._requests.items() if now - r.touched_s > self.limits.ttl_s]
            for key in stale:
                del self._requests[key]
        for host, request_id in stale:
            log.info("clip request %d from %s expired after %.0f s idle", request_id, host, self.limits.ttl_s)
        return len(stale)

    def _get(self, client: ClientAddress, request_id: int) -> _ClipRequest:
        request = self._requests.get((client[0], request_id))
        if request is None:
            raise OscRequestError(request_id, f"no clip transfer open for request {request_id}: send "
                                              "/eqbridge/clip/begin first (or it expired)")
        if request.failed is not None:
            raise OscRequestError(request_id, f"request {request_id} was rejected earlier: {request.failed}")
        request.touched_s = self._clock()
        return request

    def _fail(self, request: _ClipRequest, request_id: int, reason: str) -> OscRequestError:
        request.failed = reason
        for clip in request.clips.values():
            clip.chunks.clear()
            clip.complete = None
        return OscRequestError(request_id, reason)

    def begin(self, client: ClientAddress, request_id: int, role: str, sample_rate: int, channels: int,
              frames: int) -> None:
        if role not in CLIP_ROLES:
            raise OscRequestError(request_id, f"clip role {role!r} is not {TRACK_ROLE}, {REFERENCE_ROLE} or "
                                              f"{REFERENCE_ROLE}1..{REFERENCE_ROLE}{MAX_REFERENCES}")
        if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
            raise OscRequestError(request_id, f"sample_rate {sample_rate} Hz is outside "
                                              f"{MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
        if not 1 <= channels <= MAX_CHANNELS:
            raise OscRequestError(request_id, f"channels {channels} is outside 1..{MAX_CHANNELS}")
        if frames < 1 or frames / sample_rate > self.limits.max_clip_s:
            raise OscRequestError(request_id, f"clip of {frames} frames at {sample_rate} Hz "
                                              f"({frames / sample_rate:.1f} s) is empty or longer than the "
                                              f"{self.limits.max_clip_s:.0f} s limit (--max-clip-seconds)")
        self.expire()
        clip = _Clip(role, sample_rate, channels, frames)
        key = (client[0], request_id)
        with self._lock:
            request = self._requests.get(key)
            if request is None or request.failed is not None:
                open_now = sum(1 for k in self._requests if k != key)
                if open_now >= self.limits.max_requests:
                    raise OscRequestError(request_id, f"server busy: {open_now} clip transfers open "
                                                      f"(limit {self.limits.max_requests}); retry later")
                mine = sum(1 for k, r in self._requests.items() if k != key and r.owner == client)
                if mine >= self.limits.max_requests_per_client:
                    raise OscRequestError(request_id, f"server busy for this client: {mine} clip transfers open "
                                                      f"from {client[0]}:{client[1]} (limit per client "
                                                      f"{self.limits.max_requests_per_client}, half of "
                                                      f"--max-requests); finish or let one expire, then retry")
                request = _ClipRequest(owner=tuple(client), touched_s=self._clock())
            slot = clip_slot(role)
            replaced = request.clips.get(slot) if request.failed is None else None
            held = self._held_bytes() - (replaced.expected_bytes if replaced and key in self._requests else 0)
            if held + clip.expected_bytes > self.limits.max_bytes:
                raise OscRequestError(request_id, f"server busy: clip of {clip.expected_bytes} bytes would exceed "
                                                  f"the {self.limits.max_bytes}-byte clip memory limit")
            request.clips[slot] = clip
            request.current = slot
            request.touched_s = self._clock()
            self._requests[key] = request

    def chunk(self, client: ClientAddress, request_id: int, seq: int, blob: bytes) -> None:
        with self._lock:
            request = self._get(client, request_id)
            clip = request.clips[request.current or ""]
            if clip.complete is not None:
                raise self._fail(request, request_id, f"clip {clip.role!r}: chunk {seq} arrived after /clip/end "
                                                      "had completed it (duplicated chunk?)")
            if len(blob) == 0 or len(blob) % 4 or len(blob) > MAX_CHUNK_BYTES:
                raise self._fail(request, request_id, f"clip {clip.role!r}: chunk {seq} holds {len(blob)} bytes; "
                                                      f"a chunk is 4..{MAX_CHUNK_BYTES} bytes of float32")
            if seq < 0:
                raise self._fail(request, request_id, f"clip {clip.role!r}: chunk number {seq} is negative")
            if seq in clip.chunks:
                raise self._fail(request, request_id, f"clip {clip.role!r}: duplicated chunk {seq}; "
                                                      "the request is rejected, start it again")
            if clip.received_bytes + len(blob) > clip.expected_bytes:
                raise self._fail(request, request_id, f"clip {clip.role!r}: chunks exceed the declared "
                                                      f"{clip.frames} frames x {clip.channels} channels")
            clip.chunks[seq] = blob
            clip.received_bytes += len(blob)

    def end(self, client: ClientAddress, request_id: int, n_chunks: int) -> tuple[str, list[int]]:
        with self._lock:
            request = self._get(client, request_id)
            clip = request.clips[request.current or ""]
            if clip.complete is not None:
                return clip.role, []
            beyond = sorted(s for s in clip.chunks if s >= n_chunks)
            if n_chunks < 1 or beyond:
                raise self._fail(request, request_id, f"clip {clip.role!r}: /clip/end says {n_chunks} chunks but "
                                                      f"chunk(s) {beyond[:10]} were received")
            missing = [s for s in range(n_chunks) if s not in clip.chunks]
            if missing:
                return clip.role, missing
            if clip.received_bytes != clip.expected_bytes:
                raise self._fail(request, request_id, f"clip {clip.role!r}: {clip.received_bytes} bytes received, "
                                                      f"{clip.expected_bytes} declared ({clip.frames} frames x "
                                                      f"{clip.channels} channels x 4)")
            data = b"".join(clip.chunks[s] for s in range(n_chunks))
            # Interleaved on the wire; kept as (channels, frames), the pipeline's AudioClip layout (no copy later).
            clip.complete = np.frombuffer(data, dtype="<f4").reshape(clip.frames, clip.channels).T.copy()
            clip.chunks.clear()
            return clip.role, []

    def take_clips(self, client: ClientAddress, request_id: int,
                   start: Callable[[AudioClip, list[AudioClip]], None]) -> tuple[AudioClip, list[AudioClip]]:
        """The track and the references (reference1, reference2, ...) of a request whose clips are all complete,
        as clips of (channels, frames); ``start`` (which checks the request's options against them and queues
        the match) runs first, and the request is forgotten only once it returns: a refused match (options
        that do not fit the clips, a busy server) keeps the clips for another try.

        Raises:
            OscRequestError: no such request, a clip not complete, a track or reference 1 missing or a gap
                in the references' numbers, clips at different sample rates (this rejects the request), and
                whatever ``start`` raises.
        """
        with self._lock:
            request = self._get(client, request_id)
            track, references = self._complete_clips(request, request_id)
            start(track, references)
            del self._requests[(client[0], request_id)]
        return track, references

    def _complete_clips(self, request: _ClipRequest, request_id: int) -> tuple[AudioClip, list[AudioClip]]:
        numbered = sorted(int(slot[len(REFERENCE_ROLE):]) for slot in request.clips if slot != TRACK_ROLE)
        incomplete = [c.role for c in request.clips.values() if c.complete is None]
        incomplete += [role for role, absent in ((TRACK_ROLE, TRACK_ROLE not in request.clips),
                                                 (REFERENCE_ROLE, not numbered)) if absent]
        if incomplete:
            raise OscRequestError(request_id, f"request {request_id}: clip(s) {incomplete} not complete; "
                                              "send begin, every chunk and end for the track and each reference "
                                              "first")
        gaps = [f"{REFERENCE_ROLE}{k}" for k in range(1, numbered[-1] + 1) if k not in numbered]
        if gaps:
            raise OscRequestError(request_id, f"request {request_id}: clip(s) {gaps} missing: number the "
                                              f"references {REFERENCE_ROLE}1..N without gaps")
        clips = [request.clips[TRACK_ROLE]] + [request.clips[f"{REFERENCE_ROLE}{k}"] for k in numbered]
        rate = clips[0].sample_rate
        for clip in clips[1:]:
            if clip.sample_rate != rate:
                raise self._fail(request, request_id, f"track ({rate} Hz) and {clip.role} ({clip.sample_rate} Hz) "
                                                      "must share one sample rate")
        track, *references = [_audio_clip(c) for c in clips]
        return track, references


def _audio_clip(clip: _Clip) -> AudioClip:
    """A complete sent clip as the pipeline's AudioClip: float32 (channels, frames), no file behind it."""
    assert clip.complete is not None
    return AudioClip(clip.complete, clip.sample_rate, "FLOAT", "RAW")


class MatchWorkers:
    """A small thread pool running matches, with a bound on queued work over all clients and per client.

    One client (host:port) holds at most half the places (at least one), so a second client is still
    served while the first floods.
    """

    def __init__(self, workers: int = 1, max_queued: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eqbridge-match")
        self._max_queued = max_queued
        self._max_per_client = per_client_share(max_queued)
        self._pending = 0
        self._per_client: dict[ClientAddress, int] = {}
        self._lock = threading.Lock()

    def submit(self, client: ClientAddress, request_id: int, work: Callable[[], None]) -> None:
        client = tuple(client)
        with self._lock:
            if self._pending >= self._max_queued:
                raise OscRequestError(request_id, f"server busy: {self._pending} matches queued "
                                                  f"(limit {self._max_queued}); retry later")
            mine = self._per_client.get(client, 0)
            if mine >= self._max_per_client:
                raise OscRequestError(request_id, f"server busy for this client: {mine} of its matches queued "
                                                  f"from {client[0]}:{client[1]} (limit per client "
                                                  f"{self._max_per_client}); wait for one to finish, then retry")
            self._pending += 1
            self._per_client[client] = mine + 1
        self._pool.submit(self._run, client, work)

    def _run(self, client: ClientAddress, work: Callable[[], None]) -> None:
        try:
            work()
        finally:
            with self._lock:
                self._pending -= 1
                left = self._per_client.pop(client) - 1
                if left:
                    self._per_client[client] = left

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _DatagramHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: EqbridgeOscServer = self.server  # type: ignore[assignment]
        server.handle_datagram(self.request[0], self.client_address)


class EqbridgeOscServer(socketserver.UDPServer):
    """A UDP server handed a dispatcher; datagrams are handled in order on the serving thread.

    Every datagram reaches the dispatcher (python-osc's server silently drops non-OSC data; this one
    answers it with an error).
    """

    allow_reuse_address = False
    max_packet_size = MAX_DATAGRAM_BYTES

    def __init__(self, address: tuple[str, int], reply_port: int) -> None:
        super().__init__(address, _DatagramHandler)
        self.reply_port = reply_port
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        except OSError as exc:
            log.warning("cannot enlarge the UDP receive buffer: %s", exc)
        self.dispatcher: Dispatcher | None = None
        self.context: HandlerContext | None = None
        self._send_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def attach(self, dispatcher: Dispatcher, context: HandlerContext) -> None:
        self.dispatcher, self.context = dispatcher, context

    def send(self, client: ClientAddress, packet: Packet) -> None:
        """Send a reply to the client's host at the reply port (its own port when reply_port is 0)."""
        target = (client[0], self.reply_port or client[1])
        try:
            with self._send_lock:
                self.socket.sendto(packet.dgram, target)
        except OSError as exc:
            log.warning("cannot send a reply to %s:%d: %s", target[0], target[1], exc)

    def handle_datagram(self, data: bytes, client: ClientAddress) -> None:
        assert self.dispatcher is not None and self.context is not None, "attach() a dispatcher first"
        try:
            dispatch_datagram(self.dispatcher, self.context, data, client)
        except Exception as exc:  # malformed input must never stop the receive loop
            log.exception("datagram from %s:%d broke the parser", client[0], client[1])
            self.send(client, error_message(NO_REQUEST_ID, f"cannot parse datagram: {exc!r}"))


@dataclass(frozen=True)
class ServeOptions:
    """Everything ``eqbridge serve`` takes."""

    host: str = "127.0.0.1"
    port: int = 9000
    reply_port: int = 9001           # 0: reply to the sender's own port
    allow_dirs: tuple[Path, ...] = ()
    plugin: str = "faust-peq"
    checkpoint: Path | None = None
    model: str = "auto"               # host.matching.pipeline.MODELS
    restraint: float = DEFAULT_RESTRAINT  # curve model: shrink unsure bands toward flat
    midi_dir: Path | None = None
    midi_port: str | None = None
    threads: int = 1                 # match worker threads
    max_queued: int = 8
    limits: ClipLimits = ClipLimits()
    automation_hop_s: float = 2.0
    daw: tuple[str, int] | None = None  # Ardour's OSC (host, port) for /eqbridge/match_region
    automation_dir: Path | None = None  # one automation JSON per match


def plugin_indices(profile: PluginProfile) -> tuple[int, ...]:
    """The plugin's parameter indices: from the profile, else resolved once by loading the plugin
    (then dropped; DawDreamer is not used afterwards); -1 each when the plugin is not installed."""
    if all(p.index is not None for p in profile.parameters):
        return tuple(int(p.index) for p in profile.parameters)  # type: ignore[arg-type]
    from host.plugins.render import PluginHost

    try:
        return tuple(PluginHost(profile, 44100).parameter_indices)
    except (PluginNotFoundError, ProfileError) as exc:
        log.warning("plugin parameter indices unknown (sent as -1): %s", exc)
        return tuple(-1 for _ in profile.parameters)


class RunningServer:
    """A started server: its socket, workers and (optional) live MIDI output; ``serve_forever`` or ``start``."""

    def __init__(self, options: ServeOptions) -> None:
        if not options.allow_dirs:
            raise OptionError("give at least one --allow-dir: the folder(s) the DAW bounces audio into")
        missing = [str(d) for d in options.allow_dirs if not Path(d).is_dir()]
        if missing:
            raise OptionError(f"--allow-dir folder(s) {missing} do not exist")
        if options.midi_dir is not None:  # MIDI files must never land among (or replace) the bounced audio
            dirs = {"--allow-dir" + (f" #{k + 1}" if len(options.allow_dirs) > 1 else ""): d
                    for k, d in enumerate(options.allow_dirs)}
            check_output_folder("--midi-dir", options.midi_dir, dirs, searched=tuple(dirs))
        if options.automation_dir is not None:  # likewise the automation JSON
            dirs = {"--allow-dir" + (f" #{k + 1}" if len(options.allow_dirs) > 1 else ""): d
                    for k, d in enumerate(options.allow_dirs)}
            check_output_folder("--automation-dir", options.automation_dir, dirs, searched=tuple(dirs))
        profile = load_profile(options.plugin)
        daw_names: tuple[str, ...] = ()
        if options.daw is not None or options.automation_dir is not None:
            from host.daw.descriptors import ardour_entry, daw_plugin_names

            if options.daw is not None:
                ardour_entry(profile)  # a profile Ardour cannot be mapped to fails here, not at the first request
            daw_names = daw_plugin_names(profile)
        cc_map = load_cc_map(profile.name) if (options.midi_dir or options.midi_port) else None
        self.midi = LiveMidiOutput(options.midi_port, cc_map) if options.midi_port and cc_map else None
        self.config = ServeConfig(profile=profile,
                                  allowed_dirs=tuple(Path(d).resolve() for d in options.allow_dirs),
                                  plugin_indices=plugin_indices(profile), checkpoint=options.checkpoint,
                                  model=options.model, restraint=options.restraint,
                                  automation_hop_s=options.automation_hop_s, midi_dir=options.midi_dir,
                                  cc_map=cc_map, daw=options.daw, automation_dir=options.automation_dir,
                                  daw_plugin_names=daw_names)
        self.config.options()  # a bad --restraint or --model fails here, before the socket opens
        self.clips = ClipAssembler(options.limits)
        self.workers = MatchWorkers(options.threads, options.max_queued)
        self.server = EqbridgeOscServer((options.host, options.port), options.reply_port)
        self.context = HandlerContext(config=self.config, clips=self.clips, send=self.server.send,
                                      submit=self.workers.submit,
                                      on_match=(lambda r: self.midi.play(r.lanes)) if self.midi else None)
        self.server.attach(build_dispatcher(self.context), self.context)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def serve_forever(self) -> None:
        log.info("eqbridge OSC server listening on %s:%d (replies to port %s), plugin %s, allowed %s",
                 self.server.server_address[0], self.port, self.server.reply_port or "of the sender",
                 self.config.profile.name, [str(d) for d in self.config.allowed_dirs])
        self.server.serve_forever(poll_interval=0.5)

    def start(self) -> "RunningServer":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="eqbridge-osc")
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown() if self._thread else None
        self.server.server_close()
        self.workers.shutdown()
        if self.midi:
            self.midi.close()


def warm_up(config: ServeConfig, seconds: float = 4.0, sample_rate: int = 44100) -> None:
    """Load the checkpoint and run one match so the first request is not slow."""
    rng = np.random.default_rng(0)
    n = int(seconds * sample_rate)
    # Noise in 4 Hz bursts: steady noise is refused as a reference by the curve model.
    bursts = 0.1 * rng.standard_normal(n) * (np.sin(2.0 * np.pi * 4.0 * np.arange(n) / sample_rate) > 0)
    clip = bursts.astype(np.float32)
    match_settings(config, clip, clip, sample_rate)
    predict_automation(config, clip, clip, sample_rate)
    # The refinement process starts in the background: serving begins without waiting for it.
    threading.Thread(target=warm_up_refiner, args=(config, sample_rate), daemon=True).start()


def serve(options: ServeOptions, ready: Callable[[int], None] | None = None) -> None:
    """Run the server until interrupted. ``ready(port)`` is called once it listens.

    Raises:
        EqbridgeError: no or missing allow-dir, unknown profile, missing checkpoint, MIDI port problems.
    """
    running = RunningServer(options)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (a DAW script or service manager stopping us) unwinds like Ctrl-C, so the finally below
        # runs and the refinement process is stopped with the server instead of being orphaned.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        warm_up(running.config)
        # One machine-readable line for scripts that start us on port 0, whatever the log level.
        print(READY_LINE % running.port, file=sys.stderr, flush=True)
        if ready is not None:
            ready(running.port)
        running.serve_forever()
    finally:
        # The refinement process first: a match waiting on a search then fails at once, so the match
        # threads (joined by close) end within a prediction's time, not a refinement budget's.
        shutdown_refiner(kill=True)
        running.close()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)
