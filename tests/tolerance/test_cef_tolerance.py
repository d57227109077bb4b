"""CEF as senders write it: bare or behind any header, escaped header and extension, labelled
custom fields, the time keys in their documented shapes, and records with no time at all
(issue 15, points 2 and 7).

The lines are written for this test from ArcSight's "Implementing ArcSight Common Event Format
(CEF)" (revision 25 and earlier): the header and its escapes ("Header information"), the
extension and its escapes ("Character encoding"), the custom dictionary extensions (``csN`` /
``csNLabel``, ``cnN``, ``cfpN``, ``c6aN``, ``flexStringN``, ``flexNumberN``, ``flexDateN``,
``deviceCustomDateN``) and the date formats the time keys accept ("Date formats": epoch
milliseconds, ``MMM dd HH:mm:ss[.SSS][ zzz]``, ``MMM dd yyyy HH:mm:ss[.SSS][ zzz]``). No
vendor's sample is copied here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.formats import syslog
from collectors.formats.appliances import cef

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HEAD = "CEF:0|Acme|Gateway|4.2|100|Connection allowed|3|"


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _one(line: str, **kwargs) -> dict:
    batch = syslog.parse_lines([line], "test", now=NOW, **kwargs)
    assert batch.quarantined == [], batch.quarantined
    [row] = batch.events.to_pylist()
    return row


# --- custom fields -------------------------------------------------------------------------


def test_labelled_custom_fields_become_named_columns():
    row = _one(
        HEAD + "src=10.1.2.3 cs1Label=Rule Name cs1=Allow web cn1Label=Bytes In cn1=4096 "
        "flexString1Label=Tenant flexString1=north-council cfp1Label=Risk cfp1=0.75 "
        "deviceCustomString2Label=Zone deviceCustomString2=DMZ c6a1Label=Peer v6 c6a1=2001:db8::1 "
        "deviceCustomDate1Label=Expiry deviceCustomDate1=Mar 01 2026 10:00:00 cs3=unlabelled"
    )
    assert row["cef.custom.rule_name"] == "Allow web"
    assert row["cef.custom.bytes_in"] == "4096"
    assert row["cef.custom.tenant"] == "north-council"
    assert row["cef.custom.risk"] == "0.75"
    assert row["cef.custom.zone"] == "DMZ"
    assert row["cef.custom.peer_v6"] == "2001:db8::1"
    assert row["cef.custom.expiry"] == "Mar 01 2026 10:00:00"
    # The raw pairs stay as sent; a value without a label gets no named column.
    assert (row["cef.extensions.cs1Label"], row["cef.extensions.cs1"]) == ("Rule Name", "Allow web")
    assert row["cef.extensions.cs3"] == "unlabelled"
    assert not any(name.startswith("cef.custom.cs3") for name in row)
    assert row["rule.name"] == "Allow web"


def test_two_values_with_one_label_keep_the_first():
    row = _one(HEAD + "cs1Label=Rule cs1=first cs2Label=rule cs2=second")
    assert row["cef.custom.rule"] == "first"
    assert row["cef.extensions.cs2"] == "second"


def test_custom_columns_of_many_records_line_up():
    batch = syslog.parse_lines(
        [HEAD + "cs1Label=Rule cs1=a", HEAD + "cn2Label=Count cn2=5", HEAD + "src=10.0.0.1"], "test", now=NOW
    )
    assert batch.events["cef.custom.rule"].to_pylist() == ["a", None, None]
    assert batch.events["cef.custom.count"].to_pylist() == [None, "5", None]


# --- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extension", "stamp"),
    [
        ("rt=1772359200000", _utc(2026, 3, 1, 10)),  # epoch milliseconds
        ("rt=1772359200.250", _utc(2026, 3, 1, 10, 0, 0, 250000)),  # epoch seconds and a fraction
        ("rt=Mar 01 2026 10:00:00.123 UTC", _utc(2026, 3, 1, 10, 0, 0, 123000)),
        ("rt=Mar 01 2026 10:00:00.123 BST", _utc(2026, 3, 1, 9, 0, 0, 123000)),
        ("rt=Mar 01 2026 10:00:00 CET", _utc(2026, 3, 1, 9)),
        ("rt=Mar 01 2026 02:00:00 PST", _utc(2026, 3, 1, 10)),
        ("rt=Mar 01 2026 11:00:00 Europe/Paris", _utc(2026, 3, 1, 10)),
        ("rt=Mar 01 2026 11:00:00 +01:00", _utc(2026, 3, 1, 10)),
        ("rt=Mar 01 2026 11:00:00 GMT+01:00", _utc(2026, 3, 1, 10)),
        ("rt=Mar 01 10:00:00 UTC", _utc(2026, 3, 1, 10)),  # no year: the latest not ahead of now
        ("rt=MAR 01 2026 10:00:00", _utc(2026, 3, 1, 10)),  # month in capitals
        ("rt=Mar 01 2026 11:00:00 dtz=Europe/Paris", _utc(2026, 3, 1, 10)),  # zone from dtz
        ("deviceReceiptTime=1772359200000", _utc(2026, 3, 1, 10)),  # the long name
        ("end=Mar 01 2026 10:00:00", _utc(2026, 3, 1, 10)),
        ("start=2026-03-01T10:00:00Z", _utc(2026, 3, 1, 10)),
        ("startTime=2026-03-01T11:00:00+01:00", _utc(2026, 3, 1, 10)),
        ("rt=not a time end=1772359200000", _utc(2026, 3, 1, 10)),  # an unreadable rt gives way
    ],
)
def test_time_keys_in_their_documented_shapes(extension, stamp):
    row = _one(HEAD + "src=10.1.2.3 " + extension)
    assert row["@timestamp"] == stamp
    assert row["cyberwell.time_source"] == "event"


def test_a_record_with_no_time_is_stored_with_the_ingest_or_receive_time(tmp_path):
    path = tmp_path / "cef.log"
    path.write_text(HEAD + "src=10.1.2.3\n" + HEAD + "src=10.1.2.4 rt=Someday\n")
    batch = syslog.parse_file(path, now=NOW)
    assert batch.quarantined == []
    assert batch.events["@timestamp"].to_pylist() == [NOW, NOW]
    assert batch.events["cyberwell.time_source"].to_pylist() == ["ingested", "ingested"]
    received = NOW - timedelta(minutes=1)
    row = _one(HEAD + "src=10.1.2.3", received_at=received)
    assert (row["@timestamp"], row["cyberwell.time_source"]) == (received, "received")


# --- escaping, spacing, the header --------------------------------------------------------


def test_header_and_extension_escape_differently():
    # A "|" is escaped in the header but not in the extension; "=" only in the extension.
    line = r"CEF:0|Sec\|Corp|Fire\\wall|1.0|100|a=b \| c|5|msg=x|y a\=b c:\\temp\\new\nline2 act=blocked"
    row = _one(line)
    assert (row["cef.device_vendor"], row["cef.device_product"], row["cef.name"]) == (
        "Sec|Corp",
        "Fire\\wall",
        "a=b | c",
    )
    assert row["cef.extensions.msg"] == "x|y a=b c:\\temp\\new\nline2"
    assert row["cef.extensions.act"] == "blocked"


def test_values_with_spaces_and_padding():
    row = _one(HEAD + "msg=Port scan from the  outside   src=10.1.2.3     dst=52.1.2.3  ")
    assert row["message"] == "Port scan from the  outside"
    assert (row["source.ip"], row["destination.ip"]) == ("10.1.2.3", "52.1.2.3")
    assert row["cef.extensions.src"] == "10.1.2.3    "  # the vendor column keeps what was sent


def test_a_header_without_an_extension_may_omit_the_last_pipe():
    row = _one("CEF:0|Acme|Gateway|4.2|100|Heartbeat|Low")
    assert (row["cef.name"], row["cef.severity"]) == ("Heartbeat", "Low")


def test_cef_behind_other_headers_and_none():
    lines = [
        HEAD + "src=10.0.0.1",  # bare, as an appliance's own export
        "0|Acme|Gateway|4.2|100|n|3|src=10.0.0.2",  # without the CEF: prefix
        "<134>1 2026-03-01T10:00:00Z fw01 cef - - - " + HEAD + "src=10.0.0.3",  # RFC 5424
        "<134>Mar  1 10:00:00 fw01 " + HEAD + "src=10.0.0.4",  # RFC 3164
        "Mar  1 10:00:00 fw01 CEF: 0|Acme|Gateway|4.2|100|n|3|src=10.0.0.5",  # "CEF: 0", a space
        "2026-03-01 10:00:00,123 INFO [forwarder] " + HEAD + "src=10.0.0.6",  # a relay's own log line
    ]
    batch = syslog.parse_lines(lines, "test", now=NOW)
    assert batch.quarantined == []
    assert batch.events["source.ip"].to_pylist() == [f"10.0.0.{i}" for i in range(1, 7)]
    assert set(batch.events["event.dataset"].to_pylist()) == {"cef"}


def test_a_truncated_header_says_how_far_it_got():
    batch = syslog.parse_lines(["CEF:0|Acme|Gateway|4.2"], "upload.log", now=NOW)
    [reject] = batch.quarantined
    assert reject.reason == "truncated CEF header: 4 of the 8 '|'-separated parts"
    assert reject.origin == "upload.log:1"


# --- properties and fuzz ---------------------------------------------------------------------

_header_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_key = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True).filter(lambda k: not k.endswith("Label"))
# Values: anything printable, spaces inside (not at the ends: a padded value is not kept padded
# by the ECS columns, and the raw column is tested above), and the characters CEF escapes.
_value = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\r=\\|"), min_size=1, max_size=20
).filter(lambda v: v.strip(" ") == v)
_label = st.from_regex(r"[A-Za-z][A-Za-z0-9 ]{0,14}[A-Za-z0-9]", fullmatch=True)


#: Zones as a time value may name them, and what they mean (None: no zone, read as UTC).
ZONES = {
    None: UTC,
    "UTC": UTC,
    "BST": timezone(timedelta(hours=1)),
    "CET": timezone(timedelta(hours=1)),
    "EST": timezone(timedelta(hours=-5)),
    "+05:30": timezone(timedelta(hours=5, minutes=30)),
    "Europe/London": ZoneInfo("Europe/London"),
}


def _escape_header(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


def _unrenamed(column: str) -> str:
    """The column name before a case clash renamed it (``cef.extensions.src_2`` -> ``...src``)."""
    name, _, n = column.rpartition("_")
    return name if name and n.isdigit() else column


def test_keys_differing_only_in_case_are_both_kept():
    row = _one(HEAD + "f=first F=second src=10.0.0.1")
    assert row["cef.extensions.f"] == "first"
    assert row["cef.extensions.F_2"] == "second"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.lists(_header_text, min_size=6, max_size=6),
    pairs=st.dictionaries(_key, _value, max_size=8),
    labelled=st.dictionaries(
        st.sampled_from(["cs1", "cs2", "cn1", "cfp1", "flexString1", "deviceCustomString6"]),
        st.tuples(_label, _value),
        max_size=3,
    ),
    stamp=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2037, 1, 1), timezones=st.just(UTC)),
    zone=st.sampled_from(sorted(ZONES, key=str)),
    shape=st.sampled_from(["epoch", "arcsight", "arcsight-ms", "iso"]),
    prefix=st.sampled_from(["", "<134>", "<134>Mar  1 10:00:00 fw01 ", "<134>1 2026-03-01T10:00:00Z fw01 cef - - - "]),
)
def test_every_field_of_a_valid_record_survives(header, pairs, labelled, stamp, zone, shape, prefix):
    stamp = stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)
    pairs = {
        k: v for k, v in pairs.items() if k not in labelled and k not in ("rt", "dtz") and f"{k}Label" not in pairs
    }
    local = stamp.astimezone(ZONES[zone])
    if shape == "epoch":
        rt = str(int(stamp.timestamp()) * 1000 + stamp.microsecond // 1000)  # exact: no float
    elif shape == "iso":
        rt = local.isoformat()
    else:
        millis = f".{local.microsecond // 1000:03d}" if shape == "arcsight-ms" else ""
        rt = f"{local:%b %d %Y %H:%M:%S}{millis}" + (f" {zone}" if zone else "")
        if shape == "arcsight-ms":
            stamp = stamp.replace(microsecond=local.microsecond // 1000 * 1000)
        else:
            stamp = stamp.replace(microsecond=0)
    extension = {**pairs, "rt": rt}
    for key, (label, value) in labelled.items():
        extension[key] = value
        extension[f"{key}Label"] = label
    body = (
        "CEF:0|"
        + "|".join(_escape_header(h) for h in header)
        + "|"
        + " ".join(f"{k}={_escape_value(v)}" for k, v in extension.items())
    )
    row = _one(prefix + body)
    assert [row[f] for f in cef.HEADER_FIELDS] == ["0", *header]
    # Keys differing only in case are all kept; the later one is renamed ``<key>_2`` (the store's
    # engine reads column names case-insensitively), so compare each case-folded group's values.
    groups: dict[str, list[str]] = {}
    for key, value in extension.items():
        groups.setdefault(key.lower(), []).append(value)
    for folded, values in groups.items():
        kept = [row[c] for c in row if c.startswith("cef.extensions.") and _unrenamed(c)[15:].lower() == folded]
        assert sorted(v for v in kept if v is not None) == sorted(values), folded
    named: dict[str, str] = {}
    for label, value in labelled.values():
        named.setdefault(cef.custom_column(label) or "", value)
    for column, value in named.items():
        assert row[column] == value
    assert row["@timestamp"] == stamp
    assert row["cyberwell.time_source"] == "event"


_pieces = st.sampled_from(
    [
        "CEF:",
        "0",
        "1",
        "|",
        "\\",
        "\\|",
        "=",
        "\\=",
        " ",
        "src=",
        "rt=",
        "Mar 01 2026 ",
        "10:00:00",
        "cs1Label=",
        "cs1=",
        "x",
        "é",
        "\x00",
        "\t",
        "99999999999999999999999",
        "CEF:0|a|b|c|d|e|5|",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.lists(_pieces, max_size=20).map("".join), min_size=1, max_size=10))
def test_broken_cef_never_crashes_and_every_record_is_counted(lines):
    lines = ["CEF:0|" + line for line in lines]
    batch = syslog.parse_lines(lines, "fuzz", now=NOW)
    assert batch.count + len(batch.quarantined) == len(lines)
    assert not any(q.reason.startswith("parser error") for q in batch.quarantined), batch.quarantined
    for reject in batch.quarantined:
        assert reject.reason.startswith("truncated CEF header: "), reject.reason
