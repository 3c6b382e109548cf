"""The SPDY/3.1 codec and server session behind `kubectl port-forward` (hostsim/spdy.py), and the
port-forward stream checks (hostsim/portforward.py).

Known-good vectors are Chromium's SpdyFramerTest frames (SPDY/3): the compressed ones come from a
different zlib (window 2^11) than ours, so they are decoded, not compared with our output; the
uncompressed header blocks and the fixed-size control frames are compared byte for byte."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from vcluster.hostsim import spdy
from vcluster.hostsim.portforward import _go_dial_error, check_stream, netns_path, sandbox_id

BAR_FOO = {"bar": ["foo"], "foo": ["bar"]}

# Chromium CreateSynStreamCompressed (stream 1, priority 4, bar: foo, foo: bar), two zlib builds
SYN_STREAM_COMPRESSED = bytes.fromhex(
    "80030001000000370000000100000000800038eae3c6a7c202e50e50c24b4a04e50b6680004acbcf07082010"
    "95969f0fa200022829b108208000000000ffff"
)
SYN_STREAM_COMPRESSED_SIMD = bytes.fromhex(
    "80030001000000320000000100000000800038eae3c6a7c202e50e50c24b4a04e50b6680004acbcf0708"
    "20240a208092128b0002080000" + "00ffff"
)
# Chromium CreateSynReplyCompressed / CreateHeadersCompressed (stream 1, bar: foo, foo: bar)
SYN_REPLY_COMPRESSED = bytes.fromhex(
    "800300020000003100000001" + "38eae3c6a7c202e50e50c24b4a04e50b6680004acbcf0708201095969f0fa200022829b1"
    "08208000000000ffff"
)
HEADERS_COMPRESSED_SIMD = bytes.fromhex(
    "80030008" + "0000002c00000001" + "38eae3c6a7c202e50e50c24b4a04e50b6680004acbcf070820240a208092128b"
    "00020800" + "0000ffff"
)
# Chromium CreateSynReplyUncompressed: the name/value block after the stream id
BLOCK_BAR_FOO = (
    b"\x00\x00\x00\x02\x00\x00\x00\x03bar\x00\x00\x00\x03foo\x00\x00\x00\x03foo\x00\x00\x00\x03bar"
)
BLOCK_EMPTY_NAME = (
    b"\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x03foo\x00\x00\x00\x03foo\x00\x00\x00\x03bar"
)
BLOCK_EMPTY_VALUE = (
    b"\x00\x00\x00\x02\x00\x00\x00\x03bar\x00\x00\x00\x03foo\x00\x00\x00\x03foo\x00\x00\x00\x00"
)


# ---------------------------------------------------------------------------------------------- dictionary
def test_the_header_dictionary_is_the_spdy3_one() -> None:
    """1423 bytes whose Adler-32 is the DICTID every SPDY/3 header stream starts with."""
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2
    assert SYN_STREAM_COMPRESSED[20:24] == bytes.fromhex("e3c6a7c2")
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


# ---------------------------------------------------------------------------------------------- vectors
@pytest.mark.parametrize("vector", [SYN_STREAM_COMPRESSED, SYN_STREAM_COMPRESSED_SIMD])
def test_known_good_compressed_syn_stream_decodes(vector: bytes) -> None:
    assert spdy.FrameReader().feed(vector) == [spdy.SynStream(1, BAR_FOO, priority=4)]


def test_known_good_compressed_reply_and_headers_decode() -> None:
    assert spdy.FrameReader().feed(SYN_REPLY_COMPRESSED) == [spdy.SynReply(1, BAR_FOO)]
    assert spdy.FrameReader().feed(HEADERS_COMPRESSED_SIMD) == [spdy.HeadersFrame(1, BAR_FOO)]


def test_known_good_header_blocks() -> None:
    assert spdy.encode_header_block({"bar": "foo", "foo": "bar"}) == BLOCK_BAR_FOO
    assert spdy.encode_header_block({"": "foo", "foo": "bar"}) == BLOCK_EMPTY_NAME
    assert spdy.encode_header_block({"Bar": ["foo"], "foo": [""]}) == BLOCK_EMPTY_VALUE
    assert spdy.decode_header_block(BLOCK_BAR_FOO) == BAR_FOO
    assert spdy.decode_header_block(BLOCK_EMPTY_VALUE) == {"bar": ["foo"], "foo": [""]}
    # several values of one name travel NUL-separated in one value
    block = spdy.encode_header_block({"Port": ["8080", "9090"]})
    assert block == b"\x00\x00\x00\x01\x00\x00\x00\x04port\x00\x00\x00\x098080\x009090"
    assert spdy.decode_header_block(block) == {"port": ["8080", "9090"]}


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (spdy.RstStream(1, spdy.PROTOCOL_ERROR), "80030003000000080000000100000001"),
        (spdy.RstStream(0x7FFFFFFF, spdy.INTERNAL_ERROR), "80030003000000087fffffff00000006"),
        (
            spdy.Settings([(1, spdy.SETTINGS_INITIAL_WINDOW_SIZE, 0x0A0B0C0D)]),
            "800300040000000c00000001010000070a0b0c0d",
        ),
        (
            spdy.Settings([(0, 1, 5), (0, 2, 6), (0, 3, 7), (0, 4, 8)]),
            "8003000400000024000000040000000100000005000000020000000600000003000000070000000400000008",
        ),
        (spdy.Settings([]), "800300040000000400000000"),
        (spdy.Ping(0x12345678), "800300060000000412345678"),
        (spdy.GoAway(0), "80030007000000080000000000000000"),
        (spdy.GoAway(0x7FFFFFFF, spdy.GOAWAY_PROTOCOL_ERROR), "80030007000000087fffffff00000001"),
        (spdy.WindowUpdate(1, 1), "80030009000000080000000100000001"),
        (spdy.WindowUpdate(0x7FFFFFFF, 1), "80030009000000087fffffff00000001"),
        (spdy.WindowUpdate(1, 0x12345678), "80030009000000080000000112345678"),
        (spdy.Data(1, b"hello"), "0000000100000005" + b"hello".hex()),
        (spdy.Data(1, b"\xff"), "0000000100000001ff"),
        (spdy.Data(3, b"", spdy.FLAG_FIN), "0000000301000000"),
    ],
)
def test_known_good_fixed_frames(frame: spdy.Frame, wire: str) -> None:
    """Byte for byte as Chromium serializes them, and parsed back to the same frame."""
    raw = bytes.fromhex(wire)
    assert spdy.FrameWriter().encode(frame) == raw
    assert spdy.FrameReader().feed(raw) == [frame]


# ---------------------------------------------------------------------------------------------- round trips
def test_header_frames_share_one_compression_context_per_direction() -> None:
    """Each block is sync-flushed: decodable at once, and later blocks reuse the context."""
    writer, reader = spdy.FrameWriter(), spdy.FrameReader()
    headers = {"streamtype": ["error"], "port": ["8080"], "requestid": ["0"]}
    frames = [
        spdy.SynStream(1, headers),
        spdy.SynStream(3, {**headers, "streamtype": ["data"]}, flags=spdy.FLAG_FIN, priority=7, slot=2),
        spdy.SynReply(3, {}),
        spdy.HeadersFrame(5, {"x-many": ["a", "b"]}, flags=spdy.FLAG_FIN),
    ]
    wires = [writer.encode(f) for f in frames]
    assert len(wires[1]) < len(wires[0])  # the second block refers back to the first
    for f, w in zip(frames, wires, strict=True):
        assert reader.feed(w) == [f]
    # a fresh reader cannot decode the second block alone: the contexts are per session
    with pytest.raises(spdy.SpdyError):
        spdy.FrameReader().feed(wires[1])


def test_frames_split_and_joined_arbitrarily() -> None:
    """client-go writes one frame as several WebSocket messages; one message may hold several."""
    writer = spdy.FrameWriter()
    frames: list[spdy.Frame] = [
        spdy.SynStream(1, {"port": ["80"], "streamtype": ["error"]}),
        spdy.Data(1, b"", spdy.FLAG_FIN),
        spdy.SynStream(3, {"port": ["80"], "streamtype": ["data"]}),
        spdy.Data(3, bytes(range(256)) * 300),
        spdy.Ping(1),
        spdy.UnknownControl(10, 0, b"credential"),  # unknown types are kept and ignored
    ]
    stream = b"".join(writer.encode(f) for f in frames)
    reader = spdy.FrameReader()
    got: list[spdy.Frame] = []
    for i in range(0, len(stream), 7):  # 7-byte pieces
        got += reader.feed(stream[i : i + 7])
    assert got == frames and reader.buffered == 0
    reader = spdy.FrameReader()
    assert reader.feed(stream[:-1]) == frames[:-1] and reader.buffered > 0


def test_protocol_errors() -> None:
    with pytest.raises(spdy.SpdyError, match="unsupported SPDY version 2"):
        spdy.FrameReader().feed(bytes.fromhex("800200060000000400000001"))
    with pytest.raises(spdy.SpdyError, match="invalid control frame"):
        spdy.FrameReader().feed(bytes.fromhex("8003000600000003000000"))  # PING of 3 bytes
    with pytest.raises(spdy.SpdyError, match="data frame on stream 0"):
        spdy.FrameReader().feed(bytes.fromhex("0000000000000000"))
    with pytest.raises(spdy.SpdyError, match="header block"):  # not zlib
        spdy.FrameReader().feed(spdy._control(spdy.SYN_REPLY, 0, b"\x00\x00\x00\x01garbage!"))
    with pytest.raises(spdy.SpdyError, match="truncated"):
        spdy.decode_header_block(BLOCK_BAR_FOO[:-1])
    with pytest.raises(spdy.SpdyError, match="trailing"):
        spdy.decode_header_block(BLOCK_BAR_FOO + b"\x00")
    # a compressed block that inflates beyond the limit (zip bomb)
    bomb = spdy.HeaderCompressor().compress({"x": "a" * (spdy.MAX_HEADER_BLOCK + 10)})
    with pytest.raises(spdy.SpdyError, match="too large"):
        spdy.HeaderDecompressor().decompress(bomb)


# ---------------------------------------------------------------------------------------------- session
class _Peer:
    """The client side of a session under test: encodes what it sends, decodes what it gets."""

    def __init__(self, check: spdy.StreamCheck | None = None) -> None:
        self.writer = spdy.FrameWriter()
        self.reader = spdy.FrameReader()
        self.received: list[spdy.Frame] = []
        self.opened: list[spdy.Stream] = []
        self.session = spdy.ServerSession(self._receive, check or (lambda s: None), self.opened.append)

    async def _receive(self, data: bytes) -> None:
        self.received += self.reader.feed(data)

    async def send(self, *frames: spdy.Frame) -> None:
        await self.session.feed(b"".join(self.writer.encode(f) for f in frames))

    def take(self) -> list[spdy.Frame]:
        got, self.received = self.received, []
        return got


def test_session_accepts_refuses_pings_and_carries_data() -> None:
    async def run() -> None:
        peer = _Peer(check=lambda s: None if s.header("port") != "0" else "port must be > 0")
        await peer.send(spdy.SynStream(1, {"port": ["80"], "streamtype": ["error"]}))
        await peer.send(spdy.SynStream(3, {"port": ["0"]}))
        await peer.send(spdy.SynStream(3, {"port": ["80"]}))  # an id that is not increasing
        await peer.send(spdy.Ping(1), spdy.Ping(2))  # the client's odd ping is echoed, not an even one
        assert peer.take() == [
            spdy.SynReply(1),
            spdy.RstStream(3, spdy.CANCEL),
            spdy.RstStream(3, spdy.PROTOCOL_ERROR),
            spdy.Ping(1),
        ]
        (stream,) = peer.opened
        assert stream.header("Port") == "80" and stream.header("missing") == ""
        await peer.send(spdy.Data(1, b"up"), spdy.Data(1, b"stream", spdy.FLAG_FIN))
        assert [await stream.read(), await stream.read(), await stream.read(), await stream.read()] == [
            b"up",
            b"stream",
            b"",
            b"",
        ]
        await stream.write(b"down")
        await stream.close()
        await stream.close()  # once only
        assert peer.take() == [spdy.Data(1, b"down"), spdy.Data(1, b"", spdy.FLAG_FIN)]
        with pytest.raises(spdy.StreamClosed):
            await stream.write(b"after FIN")
        # the peer resets a stream: reads end, writes fail, its late data is dropped
        await peer.send(spdy.SynStream(5, {"port": ["80"]}))
        s5 = peer.opened[-1]
        await peer.send(spdy.RstStream(5, spdy.CANCEL), spdy.Data(5, b"late"))
        assert await s5.read() == b"" and s5.reset_by_peer
        with pytest.raises(spdy.StreamClosed):
            await s5.write(b"x")
        # GOAWAY: no new streams, the open ones go on
        await peer.send(spdy.SynStream(7, {"port": ["80"]}))
        s7 = peer.opened[-1]
        await peer.send(spdy.GoAway(5), spdy.SynStream(9, {"port": ["80"]}))
        assert peer.take()[-1] == spdy.RstStream(9, spdy.REFUSED_STREAM)
        await s7.write(b"still open")
        # the connection ends: every stream ends
        peer.session.close()
        assert await s7.read() == b""
        with pytest.raises(spdy.StreamClosed):
            await s7.write(b"x")

    asyncio.run(run())


def test_session_acknowledges_what_it_reads() -> None:
    """WINDOW_UPDATE for the stream and the session once half a window has been consumed."""

    async def run() -> None:
        peer = _Peer()
        await peer.send(spdy.SynStream(1, {"port": ["80"]}))
        (stream,) = peer.opened
        peer.take()
        chunk = b"x" * 16384
        await peer.send(*[spdy.Data(1, chunk)] * 4)
        for _ in range(2):
            await stream.read()
        assert peer.take() == [spdy.WindowUpdate(1, 32768), spdy.WindowUpdate(0, 32768)]
        await stream.read()
        assert peer.take() == []

    asyncio.run(run())


def test_session_flow_control_on_send() -> None:
    """A peer that keeps no windows (spdystream) gets everything at once, in ≤32 KiB frames; once
    the peer shows it keeps windows, writes wait for WINDOW_UPDATE."""

    async def run() -> None:
        peer = _Peer()
        await peer.send(spdy.SynStream(1, {"port": ["80"]}))
        (stream,) = peer.opened
        peer.take()
        await stream.write(b"a" * 200_000)  # > 64 KiB, no window update ever received
        sizes = [len(f.data) for f in peer.take() if isinstance(f, spdy.Data)]
        assert sum(sizes) == 200_000 and max(sizes) == spdy.DATA_CHUNK
        # now the peer grants windows: the stream's window is still exhausted
        await peer.send(spdy.WindowUpdate(1, 10))
        assert peer.session.peer_keeps_stream_windows and stream.send_window == spdy.DEFAULT_WINDOW - 199_990
        writer = asyncio.create_task(stream.write(b"b" * 1000))
        await asyncio.sleep(0.05)
        assert not writer.done() and peer.take() == []
        await peer.send(spdy.WindowUpdate(1, 199_990 - spdy.DEFAULT_WINDOW + 600))  # window: 600
        await asyncio.sleep(0.05)
        assert not writer.done() and [f.data for f in peer.take()] == [b"b" * 600]
        await peer.send(spdy.WindowUpdate(1, 400))
        await asyncio.wait_for(writer, 5)
        assert [f.data for f in peer.take()] == [b"b" * 400] and stream.send_window == 0
        # SETTINGS_INITIAL_WINDOW_SIZE moves every stream's window by the difference
        await peer.send(spdy.Settings([(0, spdy.SETTINGS_INITIAL_WINDOW_SIZE, spdy.DEFAULT_WINDOW + 100)]))
        assert stream.send_window == 100
        # the session window counts once the peer sends a session-level update
        await peer.send(spdy.WindowUpdate(0, 200_000))
        assert peer.session.peer_keeps_session_window
        assert peer.session.session_send_window == spdy.DEFAULT_WINDOW - 201_000 + 200_000
        # a writer blocked on the window ends when the session does
        await stream.write(b"c" * 100)
        blocked = asyncio.create_task(stream.write(b"d"))
        await asyncio.sleep(0.05)
        peer.session.close()
        with pytest.raises(spdy.StreamClosed):
            await asyncio.wait_for(blocked, 5)
        assert await stream.read() == b""

    asyncio.run(run())


def test_a_protocol_error_sends_goaway() -> None:
    async def run() -> None:
        peer = _Peer()
        await peer.send(spdy.SynStream(1, {"port": ["80"]}))
        peer.take()
        with pytest.raises(spdy.SpdyError):
            await peer.session.feed(struct.pack(">HHI", 0x8000 | 2, 6, 4) + b"\x00\x00\x00\x01")
        assert peer.take() == [spdy.GoAway(1, spdy.GOAWAY_PROTOCOL_ERROR)]

    asyncio.run(run())


# ---------------------------------------------------------------------------------------------- port-forward
def _stream(headers: dict[str, list[str]]) -> spdy.Stream:
    async def noop(_: bytes) -> None:
        pass

    async def make() -> spdy.Stream:
        session = spdy.ServerSession(noop, lambda s: None, lambda s: None)
        return spdy.Stream(session, 1, headers, fin=False)

    return asyncio.run(make())


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"port": ["8080"], "streamtype": ["data"]}, None),
        ({"port": ["1"], "streamtype": ["error"], "requestid": ["7"]}, None),
        ({"streamtype": ["data"]}, '"port" header is required'),
        (
            {"port": ["http"], "streamtype": ["data"]},
            'unable to parse "http" as a port: strconv.ParseUint: parsing "http": invalid syntax',
        ),
        (
            {"port": ["70000"], "streamtype": ["data"]},
            'unable to parse "70000" as a port: strconv.ParseUint: parsing "70000": value out of range',
        ),
        ({"port": ["0"], "streamtype": ["data"]}, 'port "0" must be > 0'),
        ({"port": ["80"]}, '"streamType" header is required'),
        ({"port": ["80"], "streamtype": ["stdin"]}, 'invalid stream type "stdin"'),
    ],
)
def test_port_forward_streams_are_checked_as_the_kubelet_does(
    headers: dict[str, list[str]], reason: str | None
) -> None:
    assert check_stream(_stream(headers)) == reason


def test_sandbox_names_and_dial_errors() -> None:
    sid = sandbox_id("0f1e2d3c-uid")
    assert len(sid) == 64 and sid == sandbox_id("0f1e2d3c-uid") != sandbox_id("other")
    assert netns_path("0f1e2d3c-uid").startswith("/var/run/netns/cni-")
    assert _go_dial_error("tcp4", "127.0.0.1:80", ConnectionRefusedError(111, "Connection refused")) == (
        "dial tcp4 127.0.0.1:80: connect: connection refused"
    )
    assert _go_dial_error("tcp6", "[::1]:80", OSError(99, "Cannot assign requested address")) == (
        "dial tcp6 [::1]:80: connect: cannot assign requested address"
    )
    assert _go_dial_error("tcp4", "127.0.0.1:80", TimeoutError()) == "dial tcp4 127.0.0.1:80: i/o timeout"
