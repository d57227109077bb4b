"""Export files an attacker or a careless user hands over: odd names, gzip bombs, damaged gzip,
blank lines, bytes that are not UTF-8. Each case runs for every source kind replay reads.

A file is read as exactly the file named; a small gzip never takes more than a bounded amount
of memory; what was readable before damage is kept and the damage is said; a blank line is no
record; two records that differ only in bytes that are not UTF-8 stay two events.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from collectors.formats import syslog
from collectors.formats.registry import SOURCE_KINDS, source_format
from collectors.reading import chunking
from collectors.reading.gunzip import EXCERPT_BYTES, MAX_RECORD_BYTES
from collectors.replay import batches, ingest
from console.cli import app
from store import EmbeddedStore
from store.batch import ParsedBatch
from tests.console.test_cli import signin
from tests.parsers.test_parse_azure_firewall import legacy
from tests.parsers.test_parse_defender_alerts import mde_alert
from tests.parsers.test_parse_entra_signins_la import la_row
from tests.parsers.test_parse_syslog import FORTI, NOW

REPO = Path(__file__).resolve().parents[2]


def records(kind: str, count: int, start: int = 0) -> list[bytes]:
    """``count`` distinct valid records of ``kind``, as the lines of an export (no line ends)."""
    numbers = range(start, start + count)
    if kind == "entra-signins":
        return [orjson.dumps(signin(i)) for i in numbers]
    if kind == "entra-signins-la":
        return [orjson.dumps(la_row(signin(i))) for i in numbers]
    if kind == "defender-alerts":
        return [orjson.dumps(mde_alert(id=f"da6387000000000000{i:02d}_1")) for i in numbers]
    if kind == "azure-firewall":
        msg = "UDP request from 10.0.0.9:{} to 10.0.0.53:53. Action: Allow. "
        return [orjson.dumps(legacy(msg.format(1000 + i))) for i in numbers]
    assert kind == "syslog", kind
    return [f"<189>Mar  1 09:30:00 FGT-CORE {FORTI} sessionid={i}".encode() for i in numbers]


def lines(items: list[bytes]) -> bytes:
    return b"".join(item + b"\n" for item in items)


def la_csv(items: list[bytes]) -> bytes:
    """Log Analytics rows (JSON lines) as the portal's CSV export of them."""
    rows = [orjson.loads(item) for item in items]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow(
            [json.dumps(v) if isinstance(v, dict | list) else ("" if v is None else v) for v in row.values()]
        )
    return out.getvalue().encode()


def over_long() -> bytes:
    """A record just over the limit, of text that does not compress much (as a real one would
    not: a record of one repeated byte would also be refused as a decompression bomb)."""
    return b"{" + base64.b64encode(os.urandom(MAX_RECORD_BYTES * 3 // 4 + 30))


def parse(kind: str, path: Path) -> ParsedBatch:
    """The file through replay as ``cyberwell ingest`` reads it, batches joined."""
    events, quarantined = [], []
    for batch in batches(path, kind):
        events.extend(batch.events.column("event.original").to_pylist() if batch.count else [])
        quarantined.extend(batch.quarantined)
    return ParsedBatch(pa.table({"event.original": pa.array(events, pa.string())}), quarantined)


def originals(kind: str, path: Path) -> list[str]:
    return parse(kind, path).events.column("event.original").to_pylist()


# --- a path is a path --------------------------------------------------------------------------

#: A hostile name, and a sibling its characters match as a glob pattern (or as DuckDB's ``~``).
NAMES = {
    "arr[1].json": "arr1.json",
    "signins*.json": "signins-other.json",
    "x?.json": "xy.json",
    "{a,b}.json": "a.json",
    "~": "~x",
    'it\'s "q" ü.json': "it.json",
    "**": "z.json",
}


def _shapes(kind: str) -> list[str]:
    """The shapes of export a kind reads; each reaches a different reader (DuckDB or Python)."""
    if kind == "syslog":
        return ["lines"]
    return ["lines", "array"] + (["csv"] if kind == "entra-signins-la" else [])


def _export(shape: str, items: list[bytes]) -> bytes:
    if shape == "array":
        return b"[" + b",".join(items) + b"]"
    if shape == "csv":
        return la_csv(items)
    return lines(items)


@pytest.mark.parametrize("kind", SOURCE_KINDS)
@pytest.mark.parametrize("name", list(NAMES))
def test_a_file_is_read_as_exactly_the_file_named_whatever_its_name(tmp_path, kind, name):
    wanted, other = records(kind, 1), records(kind, 3, start=10)
    for shape in _shapes(kind):
        folder = tmp_path / shape
        folder.mkdir()
        (folder / NAMES[name]).write_bytes(_export(shape, other))
        (folder / "signins-more.json").write_bytes(_export(shape, other))
        (folder / name).write_bytes(_export(shape, wanted))
        got = originals(kind, folder / name)
        assert len(got) == 1, (shape, got)
        if shape != "csv":  # a CSV row's original is its own text
            assert orjson.loads(got[0]) == orjson.loads(wanted[0]) if kind != "syslog" else got == [wanted[0].decode()]


@pytest.mark.parametrize("kind", ["entra-signins", "entra-signins-la"])
def test_a_big_export_with_a_pattern_for_a_name_is_read_piece_by_piece_as_itself(tmp_path, kind):
    """The pieces way (DuckDB's reader running ahead over the file) reads the named file too."""
    path = tmp_path / "signins[1]*.json"
    path.write_bytes(lines(records(kind, 40)))
    (tmp_path / "signins1-all.json").write_bytes(lines(records(kind, 500, start=100)))
    parsed = list(source_format(kind).parse_pieces(path, chunking.line_pieces(path, 2048)))
    assert sum(batch.count for batch in parsed) == 40
    assert [q for batch in parsed for q in batch.quarantined] == []


def test_the_command_ingests_the_file_named_not_the_files_its_name_matches(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "arr[1].json").write_bytes(b"[" + b",".join(records("entra-signins", 1)) + b"]")
    (folder / "arr1.json").write_bytes(b"[" + b",".join(records("entra-signins", 5, start=50)) + b"]")
    result = CliRunner().invoke(
        app,
        [
            "--home",
            str(tmp_path / "home"),
            "ingest",
            str(folder / "arr[1].json"),
            "--source",
            "entra-signins",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ingested"] == 1


# --- gzip: bombs, over-long records, damage ----------------------------------------------------

_BOMB = """
import resource, sys
from pathlib import Path
from collectors.formats.registry import source_format

kind, path, warm = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
warm.write_bytes(b"x\\n")
parse = source_format(kind).parse_file
parse(warm)  # DuckDB and the parser's own set-up are not the bomb's doing
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
batch = parse(path)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(grown // 1024, path.stat().st_size, batch.count, "|".join(q.reason for q in batch.quarantined))
"""

#: What a gzip bomb may add to a parser's peak memory (RSS), in MiB: the decompression bounds
#: (16 MiB of output past which a 200-fold expansion is refused; 16 MiB per record) and what a
#: parser makes of that much text.
BOMB_RSS_MIB = 256


@pytest.fixture(scope="module", params=[b"A", b"\n"], ids=["newline-free", "blank-lines"])
def bomb(request, tmp_path_factory) -> Path:
    """260 KB of gzip holding 256 MiB of one repeated byte (deflate's ratio is at most ~1000)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = request.param * (16 << 20)
    path = tmp_path_factory.mktemp("bomb") / "bomb.gz"
    path.write_bytes(b"".join([deflate.compress(block) for _ in range(16)] + [deflate.flush()]))
    return path


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_a_gzip_bomb_is_refused_within_bounded_memory(tmp_path, kind, bomb):
    warm = tmp_path / "warm"
    warm.write_bytes(b"x\n")
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_BOMB), kind, str(bomb), str(warm)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    grown, size, count, reasons = run.stdout.split(" ", 3)
    assert int(size) < 300 * 1024
    assert int(grown) < BOMB_RSS_MIB, f"{kind}: peak memory grew {grown} MiB for a {size}-byte file"
    assert int(count) == 0
    assert "decompression bomb" in reasons


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_an_over_long_record_in_a_gzip_is_quarantined_with_its_length_and_the_rest_read(tmp_path, kind):
    good = records(kind, 4)
    huge = over_long()
    path = tmp_path / "export.gz"
    path.write_bytes(gzip.compress(lines(good[:2] + [huge] + good[2:]), compresslevel=1))
    parsed = parse(kind, path)
    assert parsed.count == 4
    [refused] = parsed.quarantined
    assert "longer than the limit" in refused.reason
    assert str(len(huge)) in refused.reason
    assert refused.record == huge[:EXCERPT_BYTES].decode()
    assert refused.origin == f"{path}:3"
    assert all(len(q.record) <= EXCERPT_BYTES for q in parsed.quarantined)


def test_an_over_long_record_in_a_big_gzip_cut_into_chunks_is_quarantined(tmp_path, monkeypatch):
    monkeypatch.setattr(chunking, "CHUNK_BYTES", 64 * 1024)
    good = records("entra-signins", 300)
    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(lines(good[:150] + [over_long()] + good[150:]), compresslevel=1))
    assert chunking.layout(path) == "ndjson"
    store = EmbeddedStore(tmp_path / "home")
    result = ingest(store, [path], "entra-signins")
    assert (result.ingested, result.quarantined) == (300, 1)
    [refused] = store.state.quarantined()
    assert "longer than the limit" in refused["reason"]
    assert refused["origin"] == f"{path}:151"


@pytest.mark.parametrize(("kind", "shape"), [(kind, "lines") for kind in SOURCE_KINDS] + [("entra-signins-la", "csv")])
def test_a_truncated_gzip_keeps_the_records_before_the_damage_and_says_why(tmp_path, kind, shape):
    good = records(kind, 400)
    packed = gzip.compress(_export(shape, good))
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    parsed = parse(kind, path)
    assert 0 < parsed.count < 400
    damage = [q for q in parsed.quarantined if q.reason.startswith("gzip stream damaged after")]
    assert len(damage) == 1 and "truncated" in damage[0].reason
    # every record kept is whole: one of those written, never a fragment
    whole = {item.decode() for item in good}
    kept = parsed.events.column("event.original").to_pylist()
    if shape == "lines":
        assert set(kept) <= whole


# --- blank lines and bytes that are not UTF-8 --------------------------------------------------


@pytest.mark.parametrize("kind", SOURCE_KINDS)
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_blank_and_white_space_lines_are_skipped_not_quarantined(tmp_path, kind, compressed):
    good = records(kind, 3)
    content = good[0] + b"\n\n   \n\t\r\n" + good[1] + b"\r\n\n" + good[2] + b"\n\n"
    path = tmp_path / "export"
    path.write_bytes(gzip.compress(content) if compressed else content)
    parsed = parse(kind, path)
    assert (parsed.count, parsed.quarantined) == (3, [])


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_syslog_lines_differing_only_in_bytes_that_are_not_utf8_are_two_events(tmp_path, compressed):
    base = f"<189>Mar  1 09:30:00 FGT-CORE {FORTI} user=".encode()
    content = base + b"j\xffbloggs\n" + base + b"j\xfebloggs\n"
    path = tmp_path / "fw.log"
    path.write_bytes(gzip.compress(content) if compressed else content)
    batch = syslog.parse_file(path, now=NOW)
    ids = batch.events.column("event.id").to_pylist()
    assert len(set(ids)) == 2
    store = EmbeddedStore(tmp_path / "home")
    assert ingest(store, [path], "syslog").ingested == 2


def test_syslog_messages_given_as_bytes_are_known_by_their_bytes():
    base = f"<189>Mar  1 09:30:00 FGT-CORE {FORTI} user=".encode()
    batch = syslog.parse_lines([base + b"a\xff", base + b"a\xfe", b"  "], "udp:10.0.0.1", now=NOW)
    assert batch.count == 2 and batch.quarantined == []
    assert len(set(batch.events.column("event.id").to_pylist())) == 2


def test_firewall_records_differing_only_in_bytes_that_are_not_utf8_are_two_events(tmp_path):
    record = legacy("UDP request from 10.0.0.9:5353 to 10.0.0.53:53. Action: Allow. Rule: r-\u00e9")
    text = orjson.dumps(record)
    first, second = text.replace("\u00e9".encode(), b"\xff"), text.replace("\u00e9".encode(), b"\xfe")
    path = tmp_path / "fw.json"
    path.write_bytes(first + b"\n" + second + b"\n")
    batch = source_format("azure-firewall").parse_file(path)
    assert batch.count == 2
    assert len(set(batch.events.column("event.id").to_pylist())) == 2
    # a valid file's ids do not change: the hash of the text, as before
    clean = tmp_path / "clean.json"
    clean.write_bytes(text + b"\n")
    [only] = source_format("azure-firewall").parse_file(clean).events.column("event.id").to_pylist()
    assert only == hashlib.sha256(text).hexdigest()


def test_a_corrupt_gzip_says_so_and_keeps_nothing_it_could_not_read(tmp_path):
    packed = gzip.compress(lines(records("syslog", 50)))
    path = tmp_path / "bad.gz"
    path.write_bytes(packed[:10] + b"\xff" * 40 + packed[50:])
    batch = syslog.parse_file(path, now=NOW)
    assert batch.count == 0
    [reject] = batch.quarantined
    assert reject.reason.startswith("cannot read file: corrupt deflate data")
