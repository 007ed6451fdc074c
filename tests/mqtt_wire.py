"""A loopback TCP proxy that reads the MQTT packets passing through it and records, per client
connection, the most QoS 1/2 PUBLISH packets the client had sent without a PUBACK back."""

from __future__ import annotations

import socket
import threading
from types import TracebackType

PUBLISH, PUBACK = 3, 4


def _split(buffer: bytearray) -> list[tuple[int, int, bytes]]:
    """Take every complete packet off the front of ``buffer``: (type, flags, variable part)."""
    packets: list[tuple[int, int, bytes]] = []
    while len(buffer) >= 2:
        length, multiplier, pos = 0, 1, 1
        while True:
            if pos >= len(buffer):
                return packets
            byte = buffer[pos]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            pos += 1
            if not byte & 0x80:
                break
        if len(buffer) < pos + length:
            return packets
        packets.append((buffer[0] >> 4, buffer[0] & 0x0F, bytes(buffer[pos : pos + length])))
        del buffer[: pos + length]
    return packets


def _publish_id(flags: int, body: bytes) -> int | None:
    """The packet identifier of a QoS 1/2 PUBLISH, None for QoS 0."""
    if not (flags >> 1) & 0x03:
        return None
    topic_len = int.from_bytes(body[:2], "big")
    return int.from_bytes(body[2 + topic_len : 4 + topic_len], "big")


class WireWatch:
    """Listens on a free loopback port and forwards each connection to ``upstream_port``.

    A PUBLISH counts as in flight from the moment the proxy reads it until the proxy has
    forwarded its PUBACK to the client: never longer than the client itself sees it in flight,
    so ``max_in_flight`` is what the client can be shown to have had outstanding at least.
    With ``cut_after`` the first connection to carry that many publishes is cut (both ways,
    mid-stream), as a network failure would.
    """

    def __init__(self, upstream_port: int, cut_after: int | None = None) -> None:
        self._upstream = upstream_port
        self._cut_after = cut_after
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self.max_in_flight: list[int] = []  # one figure per client connection, in order
        self.published: list[int] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> WireWatch:
        self._spawn(self._accept)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        try:  # wakes the blocking accept() (closing the socket alone does not on Linux)
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for sock in self._sockets:
            _shut(sock)
        for thread in self._threads:
            thread.join(5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream), timeout=2)
            except OSError:
                client.close()  # broker down: the client sees a refused connection
                continue
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            with self._lock:
                index = len(self.max_in_flight)
                self.max_in_flight.append(0)
                self.published.append(0)
            in_flight: set[int] = set()
            self._spawn(self._pump, client, upstream, index, in_flight, True)
            self._spawn(self._pump, upstream, client, index, in_flight, False)

    def _pump(
        self, src: socket.socket, dst: socket.socket, index: int, in_flight: set[int], up: bool
    ) -> None:
        buffer = bytearray()
        try:
            while data := src.recv(65536):
                buffer += data
                for kind, flags, body in _split(buffer):
                    header = bytes([kind << 4 | flags]) + _length(len(body))
                    if up and kind == PUBLISH and (mid := _publish_id(flags, body)) is not None:
                        with self._lock:
                            in_flight.add(mid)
                            self.published[index] += 1
                            peak = max(self.max_in_flight[index], len(in_flight))
                            self.max_in_flight[index] = peak
                            cut = self.published[index] == self._cut_after
                            if cut:
                                self._cut_after = None
                        if cut:
                            return  # finally: both sockets shut down
                    dst.sendall(header + body)
                    if not up and kind == PUBACK:
                        with self._lock:
                            in_flight.discard(int.from_bytes(body[:2], "big"))
        except OSError:
            pass
        finally:
            _shut(src)
            _shut(dst)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)
