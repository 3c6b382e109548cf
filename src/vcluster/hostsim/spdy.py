"""SPDY/3.1 framing and a small server session: what `kubectl port-forward` speaks inside its
WebSocket (subprotocol `SPDY/3.1+portforward.k8s.io`, client-go `tunneling_connection.go`).

Frames are those of the SPDY/3 draft as moby/spdystream (client-go's SPDY library) reads and
writes them: a control frame is `1 | version(15) | type(16) | flags(8) | length(24) | payload`, a
data frame `0 | stream id(31) | flags(8) | length(24) | data`. SYN_STREAM, SYN_REPLY and HEADERS
carry a name/value block (`uint32` count, then `uint32` length + bytes of each name and value,
several values of one name joined by NUL) compressed with zlib and the SPDY/3 dictionary; each
direction of a session is one compression context, flushed (Z_SYNC_FLUSH) after every block, so
every header block must be decompressed, in order, even that of a stream that is then refused.

The WebSocket is only a byte pipe: client-go writes one frame as several binary messages (the
fields, then the payload) and a message may hold several frames, so `FrameReader.feed` parses a
byte stream.

Flow control: every stream (and, in SPDY/3.1, the session) starts with a 64 KiB window per
direction. This side acknowledges what it consumes with WINDOW_UPDATE, so a peer that honours its
windows never stalls. It honours the peer's windows once the peer shows it keeps them (a
WINDOW_UPDATE or a SETTINGS_INITIAL_WINDOW_SIZE): spdystream, the only client here, implements no
flow control at all — it never sends WINDOW_UPDATE, ignores the ones it gets, and the real
kubelet (spdystream as well) writes without windows — so waiting on an untouched 64 KiB window
would stall every transfer larger than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("vcluster.hostsim.spdy")

VERSION = 3

# control frame types
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_SETTINGS_CLEAR = 0x01

# RST_STREAM status codes
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, UNSUPPORTED_VERSION, CANCEL = 1, 2, 3, 4, 5
INTERNAL_ERROR, FLOW_CONTROL_ERROR, STREAM_IN_USE, STREAM_ALREADY_CLOSED = 6, 7, 8, 9

# GOAWAY status codes
GOAWAY_OK, GOAWAY_PROTOCOL_ERROR, GOAWAY_INTERNAL_ERROR = 0, 1, 2

SETTINGS_INITIAL_WINDOW_SIZE = 7

DEFAULT_WINDOW = 64 * 1024
MAX_WINDOW = 2**31 - 1
MAX_FRAME_LENGTH = 2**24 - 1
MAX_HEADER_BLOCK = 256 * 1024  # decompressed; larger is a protocol error (no zip bombs)
DATA_CHUNK = 32 * 1024  # the largest DATA frame this side sends


def _dictionary() -> bytes:
    """The SPDY/3 header compression dictionary (draft 3, section 2.6.10.1): length-prefixed
    header names and values, then a run of status codes, dates and media types."""
    names = (
        "options head post put delete trace accept accept-charset accept-encoding accept-language "
        "accept-ranges age allow authorization cache-control connection content-base content-encoding "
        "content-language content-length content-location content-md5 content-range content-type date "
        "etag expect expires from host if-match if-modified-since if-none-match if-range "
        "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
        "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
        "user-agent vary via warning www-authenticate method get status"
    )
    words = [*names.split(), "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie"]
    words += ["keep-alive", "origin"]
    tail = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
        "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
        "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
        "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
        "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
        "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    )
    return b"".join(struct.pack(">I", len(w)) + w.encode() for w in words) + tail.encode()


DICTIONARY = _dictionary()


class SpdyError(Exception):
    """A session-level protocol error: the peer is told with GOAWAY and the session ends."""


# ---------------------------------------------------------------------------------------------- frames
Headers = dict[str, list[str]]


@dataclass
class SynStream:
    stream_id: int
    headers: Headers
    flags: int = 0
    associated_id: int = 0
    priority: int = 0  # 0 (highest) .. 7
    slot: int = 0


@dataclass
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    flags: int = 0


@dataclass
class RstStream:
    stream_id: int
    status: int


@dataclass
class Settings:
    entries: list[tuple[int, int, int]]  # (flags, id, value)
    flags: int = 0


@dataclass
class Ping:
    ping_id: int


@dataclass
class GoAway:
    last_good_stream_id: int
    status: int = GOAWAY_OK


@dataclass
class HeadersFrame:
    stream_id: int
    headers: Headers
    flags: int = 0


@dataclass
class WindowUpdate:
    stream_id: int  # 0: the session window (SPDY/3.1)
    delta: int


@dataclass
class Data:
    stream_id: int
    data: bytes
    flags: int = 0


@dataclass
class UnknownControl:
    """A control frame of a type this codec does not know (the spec says: ignore it)."""

    frame_type: int
    flags: int
    payload: bytes


Frame = (
    SynStream
    | SynReply
    | RstStream
    | Settings
    | Ping
    | GoAway
    | HeadersFrame
    | WindowUpdate
    | Data
    | UnknownControl
)


# ---------------------------------------------------------------------------------------------- header blocks
def encode_header_block(headers: Mapping[str, str | Sequence[str]]) -> bytes:
    """The uncompressed name/value block: names lower-cased, several values joined by NUL."""
    out = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        n = name.lower().encode()
        v = (value if isinstance(value, str) else "\x00".join(value)).encode()
        out += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    """The inverse of `encode_header_block` (names lower-cased, repeated names merged)."""
    view = memoryview(block)
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(view):
            raise SpdyError("truncated header block")
        chunk = bytes(view[pos : pos + n])
        pos += n
        return chunk

    (count,) = struct.unpack(">I", take(4))
    headers: Headers = {}
    for _ in range(count):
        (n,) = struct.unpack(">I", take(4))
        name = take(n).decode("utf-8", "replace").lower()
        (n,) = struct.unpack(">I", take(4))
        values = take(n).decode("utf-8", "replace").split("\x00")
        headers.setdefault(name, []).extend(values)
    if pos != len(view):
        raise SpdyError("trailing bytes after the header block")
    return headers


class HeaderCompressor:
    """One direction's compression context."""

    def __init__(self, level: int = zlib.Z_DEFAULT_COMPRESSION) -> None:
        self._z = zlib.compressobj(level, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    def compress(self, headers: Mapping[str, str | Sequence[str]]) -> bytes:
        return self._z.compress(encode_header_block(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """The other direction's context: every block must come through here, in order."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        try:
            block = self._z.decompress(data, MAX_HEADER_BLOCK + 1)
        except zlib.error as e:
            raise SpdyError(f"header block: {e}") from None
        if self._z.unconsumed_tail or len(block) > MAX_HEADER_BLOCK:
            raise SpdyError("header block too large")
        return decode_header_block(block)


# ---------------------------------------------------------------------------------------------- codec
def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_FRAME_LENGTH:
        raise ValueError("control frame too large")
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


def _sid(stream_id: int) -> bytes:
    if not 0 <= stream_id <= 0x7FFFFFFF:
        raise ValueError(f"stream id {stream_id} out of range")
    return struct.pack(">I", stream_id)


class FrameWriter:
    """Serializes frames; header blocks go through this side's compression context, so frames
    must be sent in the order they are encoded."""

    def __init__(self) -> None:
        self._headers = HeaderCompressor()

    def encode(self, frame: Frame) -> bytes:
        match frame:
            case Data(stream_id, data, flags):
                if not 0 < stream_id <= 0x7FFFFFFF or len(data) > MAX_FRAME_LENGTH:
                    raise ValueError("invalid data frame")
                return struct.pack(">II", stream_id, (flags << 24) | len(data)) + data
            case SynStream(sid, headers, flags, assoc, priority, slot):
                head = _sid(sid) + _sid(assoc) + bytes(((priority & 7) << 5, slot))
                return _control(SYN_STREAM, flags, head + self._headers.compress(headers))
            case SynReply(sid, headers, flags):
                return _control(SYN_REPLY, flags, _sid(sid) + self._headers.compress(headers))
            case HeadersFrame(sid, headers, flags):
                return _control(HEADERS, flags, _sid(sid) + self._headers.compress(headers))
            case RstStream(sid, status):
                return _control(RST_STREAM, 0, _sid(sid) + struct.pack(">I", status))
            case Settings(entries, flags):
                body = b"".join(struct.pack(">II", (f << 24) | (i & 0xFFFFFF), v) for f, i, v in entries)
                return _control(SETTINGS, flags, struct.pack(">I", len(entries)) + body)
            case Ping(ping_id):
                return _control(PING, 0, struct.pack(">I", ping_id))
            case GoAway(last, status):
                return _control(GOAWAY, 0, _sid(last) + struct.pack(">I", status))
            case WindowUpdate(sid, delta):
                if not 0 < delta <= MAX_WINDOW:
                    raise ValueError(f"window delta {delta} out of range")
                return _control(WINDOW_UPDATE, 0, _sid(sid) + struct.pack(">I", delta))
            case UnknownControl(frame_type, flags, payload):
                return _control(frame_type, flags, payload)
        raise TypeError(f"not a frame: {frame!r}")


class FrameReader:
    """Parses a byte stream into frames (`feed` keeps what is not yet a whole frame)."""

    def __init__(self) -> None:
        self._headers = HeaderDecompressor()
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, flags_len = struct.unpack_from(">II", self._buf)
            length = flags_len & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8 : 8 + length])
            del self._buf[: 8 + length]
            flags = flags_len >> 24
            if first & 0x80000000:
                frames.append(self._control((first >> 16) & 0x7FFF, first & 0xFFFF, flags, payload))
            else:
                if first == 0:
                    raise SpdyError("data frame on stream 0")
                frames.append(Data(first, payload, flags))
        return frames

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame waiting for more input."""
        return len(self._buf)

    def _control(self, version: int, frame_type: int, flags: int, p: bytes) -> Frame:
        if version != VERSION:
            raise SpdyError(f"unsupported SPDY version {version}")

        def need(ok: bool) -> None:
            if not ok:
                raise SpdyError(f"invalid control frame (type {frame_type}, length {len(p)})")

        def u32(at: int) -> int:
            return int(struct.unpack_from(">I", p, at)[0])

        match frame_type:
            case 1:  # SYN_STREAM
                need(len(p) >= 10)
                headers = self._headers.decompress(p[10:])
                sid = u32(0) & 0x7FFFFFFF
                need(sid != 0)
                return SynStream(sid, headers, flags, u32(4) & 0x7FFFFFFF, p[8] >> 5, p[9])
            case 2 | 8:  # SYN_REPLY, HEADERS
                need(len(p) >= 4)
                headers = self._headers.decompress(p[4:])
                sid = u32(0) & 0x7FFFFFFF
                need(sid != 0)
                cls = SynReply if frame_type == SYN_REPLY else HeadersFrame
                return cls(sid, headers, flags)
            case 3:  # RST_STREAM
                need(len(p) == 8 and u32(0) & 0x7FFFFFFF != 0 and u32(4) != 0)
                return RstStream(u32(0) & 0x7FFFFFFF, u32(4))
            case 4:  # SETTINGS
                need(len(p) >= 4 and len(p) == 4 + 8 * u32(0))
                entries = [
                    (u32(4 + 8 * i) >> 24, u32(4 + 8 * i) & 0xFFFFFF, u32(8 + 8 * i)) for i in range(u32(0))
                ]
                return Settings(entries, flags)
            case 6:  # PING
                need(len(p) == 4)
                return Ping(u32(0))
            case 7:  # GOAWAY
                need(len(p) == 8)
                return GoAway(u32(0) & 0x7FFFFFFF, u32(4))
            case 9:  # WINDOW_UPDATE
                need(len(p) == 8)
                return WindowUpdate(u32(0) & 0x7FFFFFFF, u32(4) & 0x7FFFFFFF)
        return UnknownControl(frame_type, flags, p)


# ---------------------------------------------------------------------------------------------- session
class StreamClosed(Exception):
    """Write on a stream this side finished, the peer reset, or whose session ended."""


class Stream:
    """One peer-initiated stream: headers, inbound data (`read`) and outbound data (`write`)."""

    def __init__(self, session: ServerSession, stream_id: int, headers: Headers, *, fin: bool) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._inbound: asyncio.Queue[bytes] = asyncio.Queue()
        self.remote_closed = False  # the peer sent FIN (or reset)
        self.local_closed = False  # this side sent FIN (or reset)
        self.reset_by_peer = False
        self.send_window = session.initial_send_window
        self._unacked = 0  # bytes read and not yet given back with WINDOW_UPDATE
        if fin:
            self._remote_fin()

    def header(self, name: str) -> str:
        """The first value of a header ("" if absent), as Go's http.Header.Get."""
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    # inbound
    def _remote_fin(self) -> None:
        if not self.remote_closed:
            self.remote_closed = True
            self._inbound.put_nowait(b"")

    def _received(self, data: bytes) -> None:
        if data and not self.remote_closed:
            self._inbound.put_nowait(data)

    async def read(self) -> bytes:
        """The next chunk the peer sent; b"" once it finished or reset the stream."""
        data = await self._inbound.get()
        if not data:
            self._inbound.put_nowait(b"")  # stays at end of stream
            return b""
        self._unacked += len(data)
        if self._unacked >= DEFAULT_WINDOW // 2 and not self.remote_closed:
            delta, self._unacked = self._unacked, 0
            await self.session._send_window_update(self.id, delta)
        await self.session._consumed(len(data))
        return data

    # outbound
    async def write(self, data: bytes) -> None:
        if data:
            await self.session._send_data(self, data, fin=False)

    async def close(self) -> None:
        """Half-close: an empty DATA frame with FIN (what spdystream's Stream.Close sends)."""
        if not self.local_closed:
            with contextlib.suppress(StreamClosed, ConnectionError):
                await self.session._send_data(self, b"", fin=True)

    async def reset(self, status: int = CANCEL) -> None:
        """Abort the stream both ways (RST_STREAM)."""
        if not (self.local_closed and self.remote_closed):
            self._terminate()
            await self.session._send_reset(self.id, status)

    def _on_reset(self) -> None:
        self.reset_by_peer = True
        self._terminate()

    def _terminate(self) -> None:
        self.local_closed = True
        self._remote_fin()
        self.session._streams.pop(self.id, None)
        self.session._wake_writers()


StreamCheck = Callable[[Stream], str | None]
StreamOpened = Callable[[Stream], None]


class ServerSession:
    """The server side of one SPDY connection: accepts the peer's streams, answers pings and
    keeps the windows. `feed` takes the bytes the peer sent; frames go out through `send`.

    For each SYN_STREAM, `check(stream)` returns None to accept it (a SYN_REPLY is sent, then
    `opened(stream)` is called) or the reason to refuse it (RST_STREAM CANCEL, as httpstream's
    server does)."""

    def __init__(
        self, send: Callable[[bytes], Awaitable[None]], check: StreamCheck, opened: StreamOpened
    ) -> None:
        self._send = send
        self._check = check
        self._opened = opened
        self._reader = FrameReader()
        self._writer = FrameWriter()
        self._lock = asyncio.Lock()
        self._streams: dict[int, Stream] = {}
        self._last_stream_id = 0
        self._windows_changed = asyncio.Event()  # set whenever a window grows or a stream ends
        self.initial_send_window = DEFAULT_WINDOW
        self.session_send_window = DEFAULT_WINDOW
        self.peer_keeps_stream_windows = False  # see the module doc
        self.peer_keeps_session_window = False
        self._session_unacked = 0
        self.gone_away = False  # the peer sent GOAWAY: no new streams
        self.closed = False

    @property
    def streams(self) -> Iterable[Stream]:
        return list(self._streams.values())

    # ------------------------------------------------------------------ input
    async def feed(self, data: bytes) -> None:
        """Handle the frames completed by `data`; SpdyError ends the session (GOAWAY first)."""
        try:
            frames = self._reader.feed(data)
        except SpdyError:
            with contextlib.suppress(ConnectionError, StreamClosed):
                await self._send_frame(GoAway(self._last_stream_id, GOAWAY_PROTOCOL_ERROR))
            raise
        for frame in frames:
            await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        match frame:
            case Data(sid, data, flags):
                stream = self._streams.get(sid)
                if stream is None:
                    return  # reset or unknown: the peer may still have had data on the way
                stream._received(data)
                if flags & FLAG_FIN:
                    self._remote_fin(stream)
            case SynStream():
                await self._syn_stream(frame)
            case RstStream(sid, _):
                stream = self._streams.get(sid)
                if stream is not None:
                    stream._on_reset()
            case HeadersFrame(sid, _, flags):
                stream = self._streams.get(sid)
                if stream is not None and flags & FLAG_FIN:
                    self._remote_fin(stream)
            case Ping(ping_id):
                if ping_id & 1:  # the client's (odd) pings are echoed; ours would be even
                    await self._send_frame(frame)
            case Settings(entries, _):
                for _flags, sid, value in entries:
                    if sid == SETTINGS_INITIAL_WINDOW_SIZE and 0 < value <= MAX_WINDOW:
                        delta = value - self.initial_send_window
                        self.initial_send_window = value
                        for s in self._streams.values():
                            s.send_window += delta
                        self.peer_keeps_stream_windows = True
                self._wake_writers()
            case WindowUpdate(sid, delta):
                if sid == 0:
                    self.session_send_window = min(self.session_send_window + delta, MAX_WINDOW)
                    self.peer_keeps_session_window = True
                else:
                    stream = self._streams.get(sid)
                    if stream is not None:
                        stream.send_window = min(stream.send_window + delta, MAX_WINDOW)
                    self.peer_keeps_stream_windows = True
                self._wake_writers()
            case GoAway():
                self.gone_away = True
            case _:
                pass  # SYN_REPLY (this side opens no streams) and unknown control frames

    async def _syn_stream(self, frame: SynStream) -> None:
        sid = frame.stream_id
        if sid % 2 == 0 or sid <= self._last_stream_id:
            await self._send_reset(sid, PROTOCOL_ERROR)
            return
        self._last_stream_id = sid
        if self.gone_away or self.closed:
            await self._send_reset(sid, REFUSED_STREAM)
            return
        stream = Stream(self, sid, frame.headers, fin=bool(frame.flags & FLAG_FIN))
        if frame.flags & FLAG_UNIDIRECTIONAL:
            stream.local_closed = True  # this side may not send on it
        reason = self._check(stream)
        if reason is not None:
            log.info("stream %d rejected: %s", sid, reason)
            await self._send_reset(sid, CANCEL)
            return
        self._streams[sid] = stream
        await self._send_frame(SynReply(sid))
        self._opened(stream)

    def _remote_fin(self, stream: Stream) -> None:
        stream._remote_fin()
        if stream.local_closed:
            self._streams.pop(stream.id, None)  # closed both ways

    def close(self) -> None:
        """The connection is gone: every stream ends (reads see EOF, writes fail)."""
        self.closed = True
        for stream in list(self._streams.values()):
            stream._on_reset()
        self._wake_writers()

    # ------------------------------------------------------------------ output
    async def _send_frame(self, frame: Frame) -> None:
        if self.closed:
            raise StreamClosed("the session is closed")
        async with self._lock:  # header compression: encode and send in one order
            await self._send(self._writer.encode(frame))

    async def _send_reset(self, sid: int, status: int) -> None:
        with contextlib.suppress(StreamClosed, ConnectionError):
            await self._send_frame(RstStream(sid, status))

    async def _send_window_update(self, sid: int, delta: int) -> None:
        with contextlib.suppress(StreamClosed, ConnectionError):
            await self._send_frame(WindowUpdate(sid, delta))

    async def _consumed(self, n: int) -> None:
        self._session_unacked += n
        if self._session_unacked >= DEFAULT_WINDOW // 2:
            delta, self._session_unacked = self._session_unacked, 0
            await self._send_window_update(0, delta)

    def _wake_writers(self) -> None:
        self._windows_changed.set()

    def _window(self, stream: Stream) -> int:
        """What may be sent on `stream` now (unbounded while the peer keeps no windows)."""
        limit = DATA_CHUNK
        if self.peer_keeps_stream_windows:
            limit = min(limit, stream.send_window)
        if self.peer_keeps_session_window:
            limit = min(limit, self.session_send_window)
        return limit

    async def _send_data(self, stream: Stream, data: bytes, *, fin: bool) -> None:
        view = memoryview(data)
        while True:
            if stream.local_closed or self.closed:
                raise StreamClosed(f"stream {stream.id} is closed")
            n = min(len(view), self._window(stream))
            if n <= 0 and view:
                self._windows_changed.clear()
                await self._windows_changed.wait()
                continue
            n = max(n, 0)  # an empty FIN frame goes out whatever the window
            last = n == len(view)
            flags = FLAG_FIN if fin and last else 0
            await self._send_frame(Data(stream.id, bytes(view[:n]), flags))
            stream.send_window -= n
            self.session_send_window -= n
            view = view[n:]
            if last:
                break
        if fin:
            stream.local_closed = True
            if stream.remote_closed:
                self._streams.pop(stream.id, None)
