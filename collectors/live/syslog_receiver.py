"""The syslog receiver: appliances' messages from the network onto the spool.

A long-running service (``cyberwell serve`` starts it): UDP, TCP and TCP over TLS listeners on one
asyncio event loop in a thread of its own, and a writer thread that appends what they read to the
spool (``collectors.live.syslog_spool``) and fsyncs it. Syslog has no acknowledgements, so "received"
means "on disk": the counter moves only after the fsync. Parsing and storing happen later, in the
drain (``collectors.live.syslog_collector``), so a slow store never costs a datagram.

Memory stays bounded under any flood. Between the listeners and the writer is one queue, bounded
in bytes (``queue_max_bytes``). When it is full, TCP connections stop being read, so the kernel's
window closes and senders wait (back-pressure); UDP has no way to slow a sender, so datagrams are
dropped and counted (``dropped_udp``), next to the kernel's own count of datagrams it dropped
because the socket buffer was full (``kernel_drops``, from ``/proc/net/udp``). When the spool
holds ``spool_max_bytes`` not yet drained, the writer waits, the queue fills, and the same rules
apply. Each TCP connection holds at most one partial message (``max_message_bytes``) plus one read.

Connections are bounded so that no sender can lock the others out: ``max_connections`` in all,
``max_connections_per_source`` from one address, and a connection that sends nothing for
``idle_timeout_seconds`` is closed (one paused by back-pressure is waiting for us, not idle).
Each refusal and time-out is counted for ``cyberwell status``.

A TCP or TLS connection's bytes are cut into messages by ``collectors.live.syslog_stream`` (RFC 6587:
octet counting or LF, decided per message); a UDP datagram is one message. A message longer than
``max_message_bytes`` is spooled as an oversized record holding its first part, which the drain
quarantines with the reason and size, and the connection carries on. A frame over
``max_frame_bytes`` (say an octet count of 2^32) is rejected: its start is spooled as a rejected
record, counted, and the connection closed, since its framing can no longer be trusted.

The writer never dies of what it is handed: a record it cannot encode or a batch it cannot
write is counted (``unwritable``) with the error, and it goes on. ``stop`` spools everything
already read; what it truly cannot keep (a dead disk, a writer that hangs) is counted
(``lost_on_stop``) and logged as an error, so that the stop says so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import logscan
from collectors.live import syslog_spool
from collectors.live.syslog_spool import (
    MAX_RECORD_BYTES,
    MAX_SIZE_FIELD,
    MESSAGE,
    OVERSIZED,
    REJECTED,
    SpoolWriter,
    encode,
)
from collectors.live.syslog_stream import DEFAULT_MAX_FRAME_BYTES, StreamFramer

log = logging.getLogger(__name__)

#: Python's cost of holding one message beyond its bytes (object, list slot): counted against
#: the queue bound so that a flood of tiny messages is bounded too.
_PER_MESSAGE_COST = 64
_TRANSPORTS = ("tcp", "tls", "udp")
#: The counters, beside the spool, for ``cyberwell status`` in another process.
STATS_FILE = "receiver-stats.json"


@dataclass(frozen=True)
class ReceiverSettings:
    """What ``[collectors.syslog]`` may say about the receiver; ports set to None are off.

    Port 0 lets the system choose (tests). TLS listens only when a certificate is configured.
    """

    spool_dir: Path
    bind: str = "127.0.0.1"
    udp_port: int | None = 5514
    tcp_port: int | None = 5514
    tls_port: int | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    max_message_bytes: int = 64 * 1024
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    spool_max_bytes: int = 1024**3
    segment_bytes: int = syslog_spool.DEFAULT_SEGMENT_BYTES
    queue_max_bytes: int = 16 * 1024 * 1024
    max_connections: int = 256
    max_connections_per_source: int = 32
    idle_timeout_seconds: int = 300  # 0: connections are never closed for idleness
    udp_rcvbuf: int = 4 * 1024 * 1024

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> ReceiverSettings:
        """Validate a settings table; keys the drain reads (``interval_seconds``, ...) pass."""
        if not settings.get("spool_dir"):
            raise ValueError("collectors.syslog needs spool_dir: where received messages wait")
        values: dict[str, Any] = {}  # each checked against its field's kind (_FIELD_KINDS) below
        for name, kind in _FIELD_KINDS.items():
            if name not in settings:
                continue
            value = settings[name]
            if name.endswith("_port") and (value is None or value is False or value == ""):
                values[name] = None
            elif kind is int:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"collectors.syslog.{name} must be a whole number ≥ 0, not {value!r}")
                values[name] = value
            else:
                values[name] = kind(value)
        if values.get("certfile") and "tls_port" not in values:
            values["tls_port"] = 6514
        if "max_frame_bytes" not in values:  # a larger message alone raises the frame bound too
            values["max_frame_bytes"] = max(DEFAULT_MAX_FRAME_BYTES, values.get("max_message_bytes", 0))
        chosen = cls(**values)
        chosen._check()
        return chosen

    def _check(self) -> None:
        """The bounds that only make sense together, each named in its error."""
        if self.tls_port is not None and not (self.certfile and self.keyfile):
            raise ValueError("collectors.syslog.tls_port needs certfile and keyfile")
        if self.max_message_bytes < 480:  # RFC 5424 §6.1: every receiver takes 480 octets
            raise ValueError("collectors.syslog.max_message_bytes must be at least 480")
        if self.max_message_bytes > _MAX_MESSAGE_BYTES:  # the spool's reader refuses longer records
            raise ValueError(f"collectors.syslog.max_message_bytes must be at most {_MAX_MESSAGE_BYTES}")
        if not self.max_message_bytes <= self.max_frame_bytes <= MAX_SIZE_FIELD:
            raise ValueError(
                f"collectors.syslog.max_frame_bytes must be between max_message_bytes ({self.max_message_bytes})"
                f" and {MAX_SIZE_FIELD}, not {self.max_frame_bytes}"
            )
        if self.max_connections < 1 or self.max_connections_per_source < 1:
            raise ValueError("collectors.syslog.max_connections and max_connections_per_source must be at least 1")


#: A record's peer name and header fit in what is left under the spool's record bound.
_MAX_MESSAGE_BYTES = MAX_RECORD_BYTES - 1024


_FIELD_KINDS: dict[str, type[Path] | type[str] | type[int]] = {
    "spool_dir": Path,
    "bind": str,
    "udp_port": int,
    "tcp_port": int,
    "tls_port": int,
    "certfile": Path,
    "keyfile": Path,
    "max_message_bytes": int,
    "max_frame_bytes": int,
    "spool_max_bytes": int,
    "segment_bytes": int,
    "queue_max_bytes": int,
    "max_connections": int,
    "max_connections_per_source": int,
    "idle_timeout_seconds": int,
    "udp_rcvbuf": int,
}


class _Intake:
    """The bounded queue between the event loop and the writer thread.

    The byte count covers items until the writer has synced them, so what the writer holds is
    bounded too. ``paused`` is decided here, under the lock, so that a pause and the writer's
    resume can never cross and leave the connections paused for good.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.paused = False
        self._items: deque = deque()
        self._closed = False
        self._ready = threading.Condition()

    def offer(self, item: tuple, cost: int, *, drop_when_full: bool) -> tuple[bool, bool]:
        """Queue ``item``: (accepted, pause the readers now)."""
        with self._ready:
            if drop_when_full and self.bytes + cost > self.max_bytes:
                return False, False
            self._items.append(item)
            self.bytes += cost
            self._ready.notify()
            pause = not self.paused and self.bytes > self.max_bytes
            if pause:
                self.paused = True
            return True, pause

    def take(self, timeout: float) -> list | None:
        """Everything queued (maybe nothing, after ``timeout``); None once closed and empty."""
        with self._ready:
            if not self._items and not self._closed:
                self._ready.wait(timeout)
            if not self._items:
                return None if self._closed else []
            items = list(self._items)
            self._items.clear()
            return items

    def release(self, cost: int) -> bool:
        """The writer has synced items worth ``cost``: whether the readers may resume."""
        with self._ready:
            self.bytes -= cost
            resume = self.paused and self.bytes <= self.max_bytes // 2
            if resume:
                self.paused = False
            return resume

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def rest(self) -> list:
        """Whatever is still queued, taken out: what a writer that is gone left behind."""
        with self._ready:
            items = list(self._items)
            self._items.clear()
            return items


class SyslogReceiver:
    """Listens for syslog and spools it; ``start`` / ``stop`` / ``stats``.

    Built from the ``[collectors.syslog]`` settings (``ReceiverSettings``). ``start`` returns
    once the sockets are bound (so a taken port is an error there, not later in a thread).
    """

    def __init__(self, settings: Mapping | ReceiverSettings):
        self.settings = settings if isinstance(settings, ReceiverSettings) else ReceiverSettings.from_mapping(settings)
        # A segment is deleted only when drained and sealed: with segments a quarter of the
        # bound at most, a drained spool can never look full.
        segment_bytes = max(64 * 1024, min(self.settings.segment_bytes, self.settings.spool_max_bytes // 4))
        self._spool = SpoolWriter(self.settings.spool_dir, segment_bytes)
        self._intake = _Intake(self.settings.queue_max_bytes)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._writer_thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_socket: socket.socket | None = None
        self._connections: set[_StreamConnection] = set()
        self._per_source: dict[str, int] = {}  # open connections by the sender's address
        self._reaper: asyncio.Task | None = None
        self._stopping = False
        self.addresses: dict[str, tuple[str, int]] = {}
        # Counters: the loop thread writes some, the writer thread others; each has one writer.
        self._received = dict.fromkeys(_TRANSPORTS, 0)
        self._bytes = 0
        self._dropped_udp = 0
        self._kernel_drops = 0
        self._oversized = 0
        self._truncated = 0
        self._rejected_frames = 0
        self._unwritable = 0  # records the writer could not encode or write, never spooled
        self._lost_on_stop = 0  # messages read but not spooled when stop gave up on them
        self._connections_total = 0
        self._refused_max = 0  # max_connections reached
        self._refused_per_source = 0  # max_connections_per_source reached
        self._timed_out = 0  # closed after idle_timeout_seconds without a byte
        self._spool_full = False
        self._error: str | None = None
        self._published = 0.0
        self._started_at: str | None = None

    # -- service ------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the spool, bind the listeners, start the threads; raise if any of it fails.

        A receiver starts once; after ``stop`` (or a failed start) make a new one.
        """
        if self._writer_thread is not None:
            raise RuntimeError("this syslog receiver has already been started")
        self._spool.open()
        self._writer_thread = threading.Thread(target=self._write_loop, name="syslog-spool", daemon=True)
        self._loop_thread = threading.Thread(target=self._run_loop, name="syslog-listen", daemon=True)
        self._loop_thread.start()
        self._ready.wait()
        if self._start_error is not None:
            self._loop_thread.join()
            self._spool.close()
            self._loop_thread = None
            raise self._start_error
        # The writer starts once the sockets are bound, so its first publication (at once)
        # already says where the receiver listens; what arrives meanwhile waits in the queue.
        self._started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._writer_thread.start()

    def stop(self, timeout: float = 30.0) -> int:
        """Close the listeners and connections, spool everything already read, and return how
        many messages were read but could not be spooled (``serve`` then exits non-zero).

        Bytes still in the kernel's buffers of a connection paused for back-pressure were never
        read and so never received; the sender's TCP stack sees the connection reset. What was
        read and cannot be spooled is counted in ``lost_on_stop`` (0 in any ordinary stop) and
        logged as an error naming the count.
        """
        loop, loop_thread, writer_thread = self._loop, self._loop_thread, self._writer_thread
        if loop is None or loop_thread is None or writer_thread is None:
            return 0  # not running: never started, failed to start, or stopped already
        self._stopping = True
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(timeout)
        self._intake.close()
        writer_thread.join(timeout)
        self._loop_thread = None
        if writer_thread.is_alive():  # a hung disk: it still holds the spool, so leave it be
            self._lose(_records_in(self._intake.rest()), f"the spool writer did not finish within {timeout:g} s")
        else:
            self._write_rest()
            self._spool.close()
            self._publish(running=False)
        if self._lost_on_stop:
            log.error(
                "syslog receiver stopped with %d received messages not spooled: %s", self._lost_on_stop, self._error
            )
        return self._lost_on_stop

    def stats(self) -> dict:
        """Counters for ``cyberwell status``: received means synced to the spool.

        They count from ``started_at`` (the kernel's too: it counts per socket), so a restart
        sets them back to 0; ``listening`` is where each transport was bound ("host:port").
        """
        return {
            "started_at": self._started_at,
            "listening": {name: f"{host}:{port}" for name, (host, port) in self.addresses.items()},
            "received": sum(self._received.values()),
            **{f"received_{name}": count for name, count in self._received.items()},
            "bytes": self._bytes,
            "dropped_udp": self._dropped_udp,
            "kernel_drops": self._read_kernel_drops(),
            "oversized": self._oversized,
            "truncated": self._truncated,
            "rejected_frames": self._rejected_frames,
            "unwritable": self._unwritable,
            "lost_on_stop": self._lost_on_stop,
            "connections": len(self._connections),
            "connections_total": self._connections_total,
            "connections_rejected": self._refused_max + self._refused_per_source,
            "refused_max_connections": self._refused_max,
            "refused_per_source": self._refused_per_source,
            "idle_timeouts": self._timed_out,
            "queued_bytes": self._intake.bytes,
            "paused": self._intake.paused,
            "spool_full": self._spool_full,
            "spool_backlog": self._backlog(),
            "error": self._error,
        }

    # -- the event loop thread ----------------------------------------------------------------

    def _run_loop(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._listen())
        except BaseException as exc:  # handed to start(), in the caller's thread
            self._start_error = exc
            loop.run_until_complete(self._close_listeners())
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close_listeners())
            loop.close()

    async def _listen(self) -> None:
        settings, loop = self.settings, asyncio.get_running_loop()
        if settings.idle_timeout_seconds:
            self._reaper = loop.create_task(self._close_idle(settings.idle_timeout_seconds))
        if settings.tcp_port is not None:
            server = await loop.create_server(lambda: _StreamConnection(self, "tcp"), settings.bind, settings.tcp_port)
            self._servers.append(server)
            self.addresses["tcp"] = server.sockets[0].getsockname()[:2]
        if settings.tls_port is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if settings.certfile is None or settings.keyfile is None:
                raise ValueError("collectors.syslog.tls_port needs certfile and keyfile")
            context.load_cert_chain(settings.certfile, settings.keyfile)
            server = await loop.create_server(
                lambda: _StreamConnection(self, "tls"),
                settings.bind,
                settings.tls_port,
                ssl=context,
                # A handshake never finished holds a socket as an idle connection would.
                ssl_handshake_timeout=min(60, settings.idle_timeout_seconds or 60),
            )
            self._servers.append(server)
            self.addresses["tls"] = server.sockets[0].getsockname()[:2]
        if settings.udp_port is not None:
            sock = _udp_socket(settings.bind, settings.udp_port, settings.udp_rcvbuf)
            self._udp_socket = sock
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _DatagramEndpoint(self), sock=sock)
            self.addresses["udp"] = sock.getsockname()[:2]

    async def _close_idle(self, timeout: int) -> None:
        """Close connections silent for ``timeout`` seconds, looking a few times per timeout."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = loop.time()
            for connection in list(self._connections):
                if connection.idle_since(now) > timeout:
                    self._timed_out += 1
                    connection.time_out()

    def _admit(self, host: str) -> bool:
        """Whether a new connection from ``host`` may stay: within both bounds, else counted."""
        if len(self._connections) >= self.settings.max_connections:
            self._refused_max += 1
            return False
        if self._per_source.get(host, 0) >= self.settings.max_connections_per_source:
            self._refused_per_source += 1
            return False
        self._per_source[host] = self._per_source.get(host, 0) + 1
        self._connections_total += 1
        return True

    def _leave(self, host: str) -> None:
        left = self._per_source.get(host, 0) - 1
        if left > 0:
            self._per_source[host] = left
        else:
            self._per_source.pop(host, None)

    async def _close_listeners(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            # abort, not close: nothing is ever written to a sender, and a TLS close would
            # wait for the peer's close_notify.
            connection.transport.abort()
        if self._udp is not None:
            self._read_kernel_drops()  # the last count, before the socket goes
            self._udp.close()
        for _ in range(100):  # connection_lost runs on the next turns of the loop
            if not self._connections:
                break
            await asyncio.sleep(0.01)
        for server in self._servers:
            await server.wait_closed()

    def _accept(
        self,
        transport: str,
        peer: bytes,
        messages: list[bytes],
        odd: list[tuple[int, int, bytes]],
        *,
        drop_when_full: bool,
    ) -> bool:
        """Queue what a connection or datagram gave; pause all readers when the queue is full."""
        cost = sum(len(m) for m in messages) + sum(len(o[2]) for o in odd)
        cost += _PER_MESSAGE_COST * (len(messages) + len(odd))
        item = (transport, peer, time.time_ns() // 1000, messages, odd, cost)
        accepted, pause = self._intake.offer(item, cost, drop_when_full=drop_when_full)
        if accepted:
            for kind, _, _ in odd:
                if kind == OVERSIZED:
                    self._oversized += 1
                elif kind == REJECTED:
                    self._rejected_frames += 1
                else:
                    self._truncated += 1
        if pause:
            for connection in self._connections:
                connection.pause()
        return accepted

    def _resume(self) -> None:
        if not self._intake.paused:  # a pause may have come again since the writer asked
            for connection in self._connections:
                connection.resume()

    def _datagram(self, data: bytes, address) -> None:
        if data.endswith(b"\n"):
            data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
        if not data or _blank(data):
            return
        peer = f"udp:{address[0]}:{address[1]}".encode()
        if len(data) > self.settings.max_message_bytes:
            odd, messages = [(OVERSIZED, len(data), data[: self.settings.max_message_bytes])], []
        else:
            odd, messages = [], [data]
        if not self._accept("udp", peer, messages, odd, drop_when_full=True):
            self._dropped_udp += 1

    def _read_kernel_drops(self) -> int:
        """Datagrams the kernel dropped for a full socket buffer (last known after stop)."""
        try:
            drops = kernel_udp_drops(self._udp_socket) if self._udp_socket is not None else None
        except OSError:  # the socket closed under us (stop): keep the last count
            drops = None
        if drops is not None:
            self._kernel_drops = drops
        return self._kernel_drops

    # -- the writer thread --------------------------------------------------------------------

    def _write_loop(self) -> None:
        try:
            while True:
                items = self._intake.take(timeout=0.5)
                if items is None:
                    return  # closed, and everything queued is on disk
                if items:
                    self._wait_for_room()
                    self._write_safely(items)
                self._publish()
        except BaseException as exc:  # not an Exception (those are caught below): say so, then go
            self._error = f"spool writer stopped: {type(exc).__name__}: {exc}"
            raise

    def _write_safely(self, items: list) -> None:
        """Write ``items``; whatever goes wrong with them is counted, and the writer goes on."""
        try:
            self._write(items)
        except Exception as exc:  # a bug in one batch must not stop every sender's messages
            self._unwritable += _records_in(items)
            self._error = f"spool writer could not write {_records_in(items)} records: {type(exc).__name__}: {exc}"
            log.exception("syslog receiver: %s", self._error)
            self._release(sum(item[-1] for item in items))

    def _write_rest(self) -> None:
        """On stop, after the writer ended: spool what it left queued (nothing, unless it died)."""
        rest = self._intake.rest()
        if rest:
            self._write_safely(rest)

    def _lose(self, lost: int, why: str) -> None:
        if lost:
            self._lost_on_stop += lost
            self._error = f"{lost} received messages not spooled: {why}"

    def _publish(self, *, running: bool = True) -> None:
        """Write the counters beside the spool (at most once a second) for ``read_stats``:
        ``cyberwell status`` runs in another process than ``serve``."""
        now = time.monotonic()
        if running and now - self._published < 1.0:
            return
        self._published = now
        path = Path(self.settings.spool_dir) / STATS_FILE
        temporary = path.with_suffix(".tmp")
        stats = {
            **self.stats(),
            "running": running,
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            syslog_spool.write_private(temporary, json.dumps(stats).encode())
            os.replace(temporary, path)
        except OSError:
            pass  # the counters are a courtesy; the spool itself is what matters

    def _wait_for_room(self) -> None:
        """Hold the writer while the spool is over its bound; the queue then fills up and
        back-pressure (TCP) or drops (UDP) follow. On stop the queue is written regardless:
        overshooting the bound by one queue is better than losing what was read."""
        limit = self.settings.spool_max_bytes
        while not self._stopping and (self._backlog() or 0) > limit:
            self._spool_full = True
            self._publish()  # the operator must see the drops this wait causes, as they happen
            time.sleep(0.1)
        self._spool_full = False

    def _backlog(self) -> int | None:
        """Bytes not yet drained; None when the spool folder cannot be read (the writer then
        does not wait for room: its own write reports the trouble, and is retried)."""
        try:
            return syslog_spool.backlog_bytes(self.settings.spool_dir)
        except OSError:
            return None

    def _write(self, items: list) -> None:
        # ``records``: encoded records, several to a bytes object; ``written`` counts them.
        records, counts, size, cost, written = [], dict.fromkeys(_TRANSPORTS, 0), 0, 0, 0
        for transport, peer, received_us, messages, odd, item_cost in items:
            try:  # all of a read's messages at once
                records.append(logscan.write_spool(received_us, peer, MESSAGE, messages))
                counts[transport] += len(messages)
                size += sum(map(len, messages))
            except ValueError:  # one cannot be spooled: each on its own, to count and log it
                for message in messages:
                    record = self._encode(received_us, peer, MESSAGE, len(message), message)
                    if record is not None:
                        records.append(record)
                        counts[transport] += 1
                        size += len(message)
            for kind, full_size, head in odd:
                record = self._encode(received_us, peer, kind, full_size, head)
                if record is not None:
                    records.append(record)
                    written += 1
            cost += item_cost
        written += sum(counts.values())
        if self._store(records):
            for transport, count in counts.items():
                self._received[transport] += count
            self._bytes += size
        else:
            self._lose(written, f"the spool could not be written while stopping ({self._error})")
        self._release(cost)

    def _encode(self, received_us: int, peer: bytes, kind: int, size: int, data: bytes) -> bytes | None:
        """One record, or None (counted and logged) when it cannot be made: the rest go on."""
        try:
            return encode(received_us, peer, kind, size, data)
        except Exception as exc:  # struct.error and its kin: a value the header cannot hold
            self._unwritable += 1
            self._error = f"a record from {peer.decode(errors='replace')} cannot be spooled: {exc}"
            log.error("syslog receiver: %s", self._error)
            return None

    def _store(self, records: list[bytes]) -> bool:
        """Append and sync; on a disk error keep trying in a new segment, except when stopping
        (stop must not hang on a dead disk): then False, and the caller counts the loss."""
        failed = False
        while True:
            try:
                self._spool.write(records)
                self._spool.sync()
                if failed:
                    self._error = None  # the disk is back
                return True
            except OSError as exc:  # disk full, I/O error: keep the records and try again
                failed = True
                self._error = f"spool write failed: {exc}"
                self._publish()
                if self._stopping:
                    return False
                time.sleep(1.0)
                self._recover()

    def _release(self, cost: int) -> None:
        """Give the queue back its room, and wake the readers if they were paused for it."""
        if self._intake.release(cost) and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._resume)
            except RuntimeError:  # the loop has closed (stopping): nobody is left to resume
                pass

    def _recover(self) -> None:
        try:
            self._spool.recover()
        except OSError as exc:  # still failing: the next attempt tries again
            self._error = f"spool cannot start a new segment: {exc}"


class _StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection: frames its bytes and hands them to the receiver."""

    #: Set by ``connection_made``, before the receiver counts the connection or it is read.
    transport: asyncio.Transport

    def __init__(self, receiver: SyslogReceiver, transport_name: str):
        self.receiver = receiver
        self.name = transport_name
        self.framer = StreamFramer(receiver.settings.max_message_bytes, receiver.settings.max_frame_bytes)
        self.peer = b""
        self.host = ""
        self._paused = False
        self._finished = False
        self._admitted = False
        self._timed_out = False
        self._active = 0.0  # the loop's clock when the sender last gave us something to do

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        receiver = self.receiver
        # A stream server's transports (TCP, TLS) read and write: asyncio types them by the base.
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        host, port = transport.get_extra_info("peername")[:2]
        self.host = str(host)
        if not receiver._admit(self.host):
            self._finished = True
            transport.abort()
            return
        self._admitted = True
        self._active = asyncio.get_running_loop().time()
        self.peer = f"{self.name}:{host}:{port}".encode()
        receiver._connections.add(self)
        if receiver._intake.paused:
            self.pause()

    def data_received(self, data: bytes) -> None:
        self._active = asyncio.get_running_loop().time()
        messages, odd = self.framer.feed(data)
        messages = [m for m in messages if not _blank(m)]
        if messages or odd:
            self.receiver._accept(self.name, self.peer, messages, odd, drop_when_full=False)
        if self.framer.rejected:  # its framing is lost: what else it sends cannot be cut
            self._finished = True
            self.transport.abort()

    def idle_since(self, now: float) -> float:
        """Seconds without a byte from the sender; 0 while we hold it paused (it waits on us)."""
        return 0.0 if self._paused else now - self._active

    def time_out(self) -> None:
        """Close for idleness: a line begun and never ended is kept as cut short."""
        self._timed_out = True
        self.transport.abort()

    def eof_received(self) -> bool:
        self._finish(complete=True)
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(complete=exc is None and not self.receiver._stopping and not self._timed_out)
        self.receiver._connections.discard(self)
        if self._admitted:
            self._admitted = False
            self.receiver._leave(self.host)

    def pause(self) -> None:
        if not self._paused and not self.transport.is_closing():
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and not self.transport.is_closing():
            self._paused = False
            self._active = asyncio.get_running_loop().time()  # the wait was ours, not its
            self.transport.resume_reading()

    def _finish(self, *, complete: bool) -> None:
        if self._finished:
            return
        self._finished = True
        messages, odd = self.framer.finish(complete=complete)
        messages = [m for m in messages if not _blank(m)]
        if messages or odd:
            self.receiver._accept(self.name, self.peer, messages, odd, drop_when_full=False)


class _DatagramEndpoint(asyncio.DatagramProtocol):
    def __init__(self, receiver: SyslogReceiver):
        self.receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.receiver._datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        self.receiver._error = f"UDP socket error: {exc}"


def _blank(message: bytes) -> bool:
    """Whitespace only, as the drain's parser reads it: a keep-alive, not a message.

    Spooled, it would be neither stored nor quarantined (the parser skips blank lines), so it
    is never received at all. A syslog message starts with ``<``: only the rest are decoded.
    """
    return message[:1] != b"<" and message.decode("utf-8", errors="replace").isspace()


def _records_in(items: list) -> int:
    """Records a list of queued items would have made: messages and odd frames."""
    return sum(len(item[3]) + len(item[4]) for item in items)


def read_stats(spool_dir: Path) -> dict | None:
    """The receiver's counters as it last wrote them beside its spool (None: never ran).

    ``running`` is false once it stopped cleanly; ``updated_at`` tells a live receiver (written
    every second or so) from one that died.
    """
    try:
        return json.loads((Path(spool_dir) / STATS_FILE).read_text())
    except (OSError, ValueError):
        return None


def _udp_socket(bind: str, port: int, rcvbuf: int) -> socket.socket:
    """A bound UDP socket with a large receive buffer: bursts wait in the kernel, not lost.

    The kernel caps the buffer at ``net.core.rmem_max``; what it granted is what counts.
    """
    family = socket.getaddrinfo(bind, port, type=socket.SOCK_DGRAM)[0][0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((bind, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def kernel_udp_drops(sock: socket.socket) -> int | None:
    """The kernel's drop counter for this UDP socket (``/proc/net/udp``, last column), found by
    the socket's inode; None where there is no such file (not Linux)."""
    if sock.fileno() < 0:
        return None
    inode = str(os.fstat(sock.fileno()).st_ino)
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as handle:
                next(handle, None)
                for line in handle:
                    fields = line.split()
                    if len(fields) >= 13 and fields[9] == inode:
                        return int(fields[12])
        except OSError:
            continue
    return None
