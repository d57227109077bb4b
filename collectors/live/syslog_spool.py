"""The syslog spool: messages on disk between the receiver and the store.

Syslog has no acknowledgements, so a message is "received" once it is on disk here, not once it
is parsed: the receiver appends, fsyncs, and only then counts it; the drain
(``collectors.live.syslog_collector``) reads from its checkpoint, stores, and only then moves the
checkpoint. Either side can die at any moment without losing what the other has finished.

Layout of ``spool_dir``:

* ``<seq>.seg`` — segment files, numbered upwards and never reused. Each starts with ``MAGIC`` and
  holds length-prefixed records; the writer rotates to a new segment past ``segment_bytes`` and
  whenever it starts, so a segment with a newer one beside it is sealed: nothing more is written.
* ``spool-id`` — a random name for this spool, kept in the checkpoint, so that a spool deleted and
  made afresh (its numbers starting again from 1) is read from its start, not skipped.
* ``writer.lock``, ``drain.lock`` — one receiver writes and one drain reads at a time.
* ``drained`` — how far the drain has got, a note for the receiver's backlog figure.

The folder is made 0700 and every file in it 0600: the messages are sign-ins and firewall logs,
for the user who runs Cyberwell alone.

A record is ``RECORD_HEADER`` (CRC-32, payload length, receive time in µs, original size, kind,
peer length) then the peer's name and the message bytes. The CRC covers everything after itself,
so a torn write (a crash mid-record) is recognised and never parsed as a message.
"""

from __future__ import annotations

import fcntl
import os
import struct
import uuid
import zlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from io import FileIO
from pathlib import Path

from collectors.live.spool_records import Records
from store.durable import fsync_path

MAGIC = b"CWSPOOL1"
#: crc32, payload length, received (µs since the epoch), original size, kind, peer length.
RECORD_HEADER = struct.Struct("<IIqIBB")
#: A length beyond this cannot be a record the writer made: the segment is damaged there.
MAX_RECORD_BYTES = 64 * 1024 * 1024
#: The largest original size a record can say (the header's uint32): a frame announced larger
#: must be rejected before it reaches ``encode``.
MAX_SIZE_FIELD = 2**32 - 1
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024

# Record kinds. Oversized and truncated frames are spooled too (their head only) so that the
# drain quarantines them through the same durable path as everything else.
MESSAGE = 0
OVERSIZED = 1  # longer than the receiver's max_message_bytes; ``data`` is the first part
TRUNCATED = 2  # an octet-counted frame the peer closed before its announced length
REJECTED = 3  # a frame over the receiver's max_frame_bytes: ``data`` is its start, the rest was refused


_SUFFIX = ".seg"


class SpoolError(RuntimeError):
    """The spool cannot be used (locked by another receiver, unwritable, ...)."""


@dataclass(frozen=True)
class Position:
    """Where the drain goes on: a segment, a byte offset in it and the record number there."""

    spool: str
    segment: int
    offset: int
    index: int

    def to_dict(self) -> dict[str, str | int]:
        return {"spool": self.spool, "segment": self.segment, "offset": self.offset, "index": self.index}

    @classmethod
    def from_dict(cls, value: dict[str, str | int] | None, spool: str) -> Position:
        """The checkpoint's position, or the spool's start when it names another spool."""
        if not value or value.get("spool") != spool:
            return cls(spool, 0, len(MAGIC), 0)
        return cls(spool, int(value["segment"]), int(value["offset"]), int(value["index"]))


@dataclass
class Batch:
    """Records read in one go, the position after them and any damage found on the way."""

    records: Records
    end: Position
    damage: list[tuple[str, bytes, str]]  # (what is wrong, the unreadable bytes' start, where)
    caught_up: bool = False  # read to the end of the growing segment: nothing more for now


def encode(received_us: int, peer: bytes, kind: int, size: int, data: bytes) -> bytes:
    """One record, ready to append to a segment.

    Raises ``struct.error`` for values the header cannot hold (``size`` over ``MAX_SIZE_FIELD``,
    a peer name over 255 bytes): the writer counts such a record and goes on.
    """
    rest = RECORD_HEADER.pack(0, len(peer) + len(data), received_us, size, kind, len(peer))[4:]
    crc = zlib.crc32(data, zlib.crc32(peer, zlib.crc32(rest)))
    return struct.pack("<I", crc) + rest + peer + data


def spool_id(directory: Path) -> str:
    """This spool's name, made on first use."""
    path = Path(directory) / "spool-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    make_private_dir(Path(directory))
    temporary = path.with_suffix(".tmp")
    write_private(temporary, uuid.uuid4().hex.encode())
    fsync_path(temporary)
    try:
        os.link(temporary, path)  # first writer wins: never replace an existing name
    except FileExistsError:
        pass
    temporary.unlink(missing_ok=True)
    fsync_path(Path(directory))
    return path.read_text().strip()


def segments(directory: Path) -> list[int]:
    """Segment numbers present, oldest first."""
    numbers = []
    for entry in os.scandir(directory):
        stem, _, suffix = entry.name.partition(".")
        if "." + suffix == _SUFFIX and stem.isdigit():
            numbers.append(int(stem))
    return sorted(numbers)


def segment_path(directory: Path, number: int) -> Path:
    return Path(directory) / f"{number:016d}{_SUFFIX}"


def backlog_bytes(directory: Path) -> int:
    """Bytes of records not yet drained, as far as the drain's last note says."""
    drained_segment, drained_offset = _drained(directory)
    total = 0
    for number in segments(directory):
        if number < drained_segment:
            continue  # drained; about to be deleted
        try:
            size = segment_path(directory, number).stat().st_size
        except FileNotFoundError:
            continue  # deleted by the drain meanwhile
        start = drained_offset if number == drained_segment else len(MAGIC)
        total += max(0, size - start)
    return total


def note_drained(directory: Path, position: Position) -> None:
    """Tell the receiver how far the drain has got, for its backlog figure and bound.

    Advisory only (the checkpoint in the state database is the truth), so not fsynced: a
    stale note after a crash only overstates the backlog until the next drain.
    """
    path = Path(directory) / "drained"
    temporary = path.with_suffix(".tmp")
    write_private(temporary, f"{position.spool} {position.segment} {position.offset}".encode())
    os.replace(temporary, path)


def _drained(directory: Path) -> tuple[int, int]:
    try:
        spool, segment, offset = (Path(directory) / "drained").read_text().split()
        if spool == (Path(directory) / "spool-id").read_text().strip():
            return int(segment), int(offset)
    except (OSError, ValueError):
        pass
    return 0, 0


def remove_before(directory: Path, number: int) -> int:
    """Delete segments older than ``number``: the drain has stored all they hold."""
    removed = 0
    for old in segments(directory):
        if old >= number:
            break
        segment_path(directory, old).unlink(missing_ok=True)
        removed += 1
    if removed:
        fsync_path(Path(directory))
    return removed


def make_private_dir(directory: Path) -> None:
    """Make the spool folder, readable by its user only (its parents as ``mkdir -p`` would).

    A folder that is already there keeps its mode: as for the home, that is the user's choice."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.mkdir(mode=0o700, exist_ok=True)


def write_private(path: Path, data: bytes) -> None:
    """Write a small file (stats, notes) readable by its user only, replacing what was there."""
    path.unlink(missing_ok=True)  # a file left by an older version keeps its mode when reopened
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "wb") as handle:
        handle.write(data)


@contextmanager
def locked(directory: Path, name: str, *, wait: bool) -> Iterator[None]:
    """Hold ``directory/name`` with an exclusive lock; the kernel drops it if the holder dies."""
    make_private_dir(Path(directory))
    descriptor = os.open(Path(directory) / name, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with open(descriptor, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise SpoolError(f"{directory} is in use by another process ({name})") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SpoolWriter:
    """Appends records to the newest segment; the caller decides when to ``sync``.

    One writer per spool (``writer.lock``). It always starts a new segment, so a segment a
    crashed writer left with a torn last record is sealed and its damage is bounded.
    """

    def __init__(self, directory: Path, segment_bytes: int = DEFAULT_SEGMENT_BYTES):
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self._lock: ExitStack | None = None  # holds writer.lock while open
        self._file: FileIO | None = None
        self._size = 0
        self.segment = 0

    def open(self) -> None:
        make_private_dir(self.directory)
        spool_id(self.directory)
        with ExitStack() as lock:
            lock.enter_context(locked(self.directory, "writer.lock", wait=False))
            self._rotate()
            self._lock = lock.pop_all()  # opened: kept until close()

    def write(self, records: Iterable[bytes]) -> int:
        """Append encoded records (``encode``); durable only after ``sync``."""
        data = b"".join(records)
        self._segment().write(data)
        self._size += len(data)
        return len(data)

    def sync(self) -> None:
        """Make everything written so far durable, then rotate if the segment is full."""
        segment = self._segment()
        segment.flush()
        os.fsync(segment.fileno())
        if self._size >= self.segment_bytes:
            self._rotate()

    def _segment(self) -> FileIO:
        """The open segment, or a new one where a failure left none (see :meth:`recover`)."""
        return self._file if self._file is not None else self._rotate()

    def close(self) -> None:
        try:
            if self._file is not None:
                self.sync()
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def recover(self) -> None:
        """After a failed write or sync, go on in a new segment: the current one may now end
        mid-record, and sealing it is what lets the reader skip that safely."""
        # No segment at all when making the last one failed: then there is none to seal.
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
        self._rotate()

    def _rotate(self) -> FileIO:
        """Seal the current segment (it is already synced) and start the next number."""
        if self._file is not None:
            self._file.close()
            self._file = None  # sealed: if the next cannot be made, writing makes it later
        existing = segments(self.directory)
        self.segment = max(existing[-1] if existing else 0, self.segment) + 1
        path = segment_path(self.directory, self.segment)
        # Unbuffered: ``write`` gets one joined buffer per batch, and a reader in another
        # process should see whole records as soon as the system call returns.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = segment = open(descriptor, "wb", buffering=0)
        segment.write(MAGIC)
        os.fsync(segment.fileno())
        fsync_path(self.directory)
        self._size = len(MAGIC)
        return segment


def read_batch(directory: Path, position: Position, *, max_records: int, max_bytes: int) -> Batch:
    """Records from ``position`` on, within one segment, up to the given bounds.

    At the end of a sealed segment the position moves to the next segment, so the caller can
    commit it and delete what is behind. The newest segment may still be growing: a record cut
    short at its end is simply not there yet. In a sealed segment the same is damage (a writer
    died mid-record): it is reported and the rest of that segment is skipped.
    """
    numbers = segments(directory)
    later = [n for n in numbers if n >= position.segment]
    if not later:
        return Batch(Records.none(position.segment, position.index), position, [], caught_up=True)
    if later[0] != position.segment:  # its segment was fully read and deleted: go on from the next
        position = Position(position.spool, later[0], len(MAGIC), 0)
    sealed = len(later) > 1
    path = segment_path(directory, position.segment)
    with open(path, "rb") as handle:
        handle.seek(position.offset)
        data = handle.read(max(max_bytes, RECORD_HEADER.size))
        if len(data) >= RECORD_HEADER.size:  # a single record larger than the bound: read it whole
            length = RECORD_HEADER.unpack_from(data)[1]
            if RECORD_HEADER.size + length > len(data) and length <= MAX_RECORD_BYTES:
                data += handle.read(RECORD_HEADER.size + length - len(data))
        at_end = handle.read(1) == b""
    problem: str | None
    if position.offset == len(MAGIC) and position.index == 0 and not _has_magic(path):
        records, used, problem = Records.none(position.segment, position.index), 0, "not a spool segment (bad magic)"
    else:
        records, used, problem = Records.read(data, position.segment, position.index, max_records)
    end = Position(position.spool, position.segment, position.offset + used, position.index + len(records))
    damage: list[tuple[str, bytes, str]] = []
    finished = at_end and used == len(data)
    if sealed and (problem is not None or (at_end and not finished)) and len(records) < max_records:
        if problem is None:
            problem = "record cut short (the writer stopped mid-record)"
        skipped = max(0, path.stat().st_size - end.offset)
        damage.append(
            (
                f"spool segment {position.segment} damaged at byte {end.offset}: {problem}; {skipped} bytes skipped",
                data[used : used + 256],
                f"spool {position.segment}@{end.offset}",
            )
        )
        finished = True
    if sealed and finished:
        end = Position(position.spool, later[1], len(MAGIC), 0)
    return Batch(records, end, damage, caught_up=not sealed and (finished or problem is not None))


def _has_magic(path: Path) -> bool:
    """False only for a file that has a start and it is not ours; a writer that died between
    creating a segment and writing its magic leaves an empty file, which is not damage."""
    with open(path, "rb") as handle:
        start = handle.read(len(MAGIC))
    return start == MAGIC or len(start) < len(MAGIC)
