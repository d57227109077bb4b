"""The spool's records as the drain reads them (``collectors.live.spool_records``, read by
``logscan.read_spool``), against a reader written here from the record format that
``collectors.live.syslog_spool`` documents: the same records, the same bytes used, the same
damage named, whatever the records hold and wherever a segment is torn or corrupted.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import logscan
from collectors.live import syslog_spool
from collectors.live.spool_records import Record, Records
from collectors.live.syslog_collector import parse_records

_record = st.tuples(
    st.integers(-(2**63), 2**63 - 1),  # received, µs
    st.binary(max_size=40),  # peer
    st.sampled_from([syslog_spool.MESSAGE, syslog_spool.OVERSIZED, syslog_spool.TRUNCATED, syslog_spool.REJECTED]),
    st.integers(0, syslog_spool.MAX_SIZE_FIELD),
    st.binary(max_size=200),
)


def reference(data: bytes, segment: int, first: int, max_records: int) -> tuple[list[Record], int, str | None]:
    """The records as the format says: CRC-32 over all after itself, then payload length,
    receive time, original size, kind, peer length, the peer and the message."""
    records: list[Record] = []
    pos = 0
    header = struct.Struct("<IIqIBB")
    while len(records) < max_records and pos + header.size <= len(data):
        crc, length, received, size, kind, peer_length = header.unpack_from(data, pos)
        if length > syslog_spool.MAX_RECORD_BYTES or peer_length > length:
            return records, pos, f"impossible record length {length}"
        stop = pos + header.size + length
        if stop > len(data):
            break
        if zlib.crc32(data[pos + 4 : stop]) != crc:
            return records, pos, "checksum mismatch"
        body = pos + header.size
        peer = data[body : body + peer_length].decode("utf-8", errors="replace")
        records.append(
            Record(segment, first + len(records), received, peer, kind, size, data[body + peer_length : stop])
        )
        pos = stop
    return records, pos, None


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(_record, max_size=8),
    damage=st.sampled_from(["none", "flip", "cut", "length"]),
    at=st.integers(0, 10_000),
    max_records=st.integers(0, 10),
    first=st.integers(0, 1000),
)
def test_records_are_read_as_the_format_says(records, damage, at, max_records, first):
    data = bytearray(b"".join(syslog_spool.encode(*record) for record in records))
    if data and damage == "flip":
        data[at % len(data)] ^= 0x5A
    elif damage == "cut":
        data = data[: at % (len(data) + 1)]
    elif data and damage == "length":  # a length field no writer makes
        struct.pack_into("<I", data, 4, syslog_spool.MAX_RECORD_BYTES + 1 + at)
    read, used, problem = Records.read(bytes(data), 7, first, max_records)
    assert (list(read), used, problem) == reference(bytes(data), 7, first, max_records)
    assert len(read) == len(list(read))


@settings(max_examples=200, deadline=None)
@given(
    received=st.integers(-(2**63), 2**63 - 1),
    peer=st.binary(max_size=255),
    kind=st.integers(0, 3),
    messages=st.lists(st.binary(max_size=300), max_size=6),
)
def test_a_reads_messages_are_spooled_at_once_as_one_by_one(received, peer, kind, messages):
    """The receiver's writer encodes a read's messages in one call (``logscan.write_spool``):
    the same bytes as ``syslog_spool.encode`` gives each, so the drain reads them the same."""
    together = logscan.write_spool(received, peer, kind, messages)
    assert together == b"".join(syslog_spool.encode(received, peer, kind, len(m), m) for m in messages)


def test_a_peer_name_longer_than_a_record_holds_is_refused():
    with pytest.raises(ValueError, match="too long"):
        logscan.write_spool(0, b"p" * 256, 0, [b"x"])


def test_a_record_out_of_range_is_refused():
    records, _, _ = Records.read(syslog_spool.encode(1, b"udp:h:1", 0, 1, b"x"), 1, 0, 10)
    assert records[-1] == records[0]
    try:
        records[1]
    except IndexError as exc:
        assert "record 1 of 1" in str(exc)
    else:
        raise AssertionError("record 1 of a batch of one was given")


def test_a_message_spooled_with_its_line_end_is_the_same_event_without_it():
    # A TCP sender's CRLF may reach the spool: the event is the line, as from a file.
    text = b'<189>date=2026-03-01 time=09:30:00 devname="FGT" logid="0000000013" type="traffic" srcip=10.0.0.1'
    spooled = b"".join(
        syslog_spool.encode(1_772_357_400_000_000, b"tcp:h:1", syslog_spool.MESSAGE, len(m), m)
        for m in (text + b"\r\n", text + b"\n", b"\r\n", text)
    )
    records, _, _ = Records.read(spooled, 1, 0, 10)
    parsed = parse_records(records, datetime(2026, 3, 2, tzinfo=UTC))
    [table] = parsed.tables
    assert table["event.original"].to_pylist() == [text.decode()] * 3  # the blank is no record
    assert len(set(table["event.id"].to_pylist())) == 1  # one event to the store
    assert parsed.quarantined == []
