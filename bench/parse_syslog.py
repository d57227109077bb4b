"""Benchmark the syslog file-replay parser on generated appliance logs.

    .venv/bin/python bench/parse_syslog.py --events 1000000 --format mixed --header bsd [--drain | --receiver]
    .venv/bin/python bench/parse_syslog.py --events 200000 [--format fortigate] [--header pri]
    .venv/bin/python bench/parse_syslog.py --events 200000 --per-line   # the reference reader

Writes N seeded, realistic lines (FortiGate traffic/UTM/event key=value, CEF, PAN-OS CSV, or a
mix) to a temporary file, parses it batch by batch as ``cyberwell ingest`` replays a file
(``collectors.formats.syslog.iter_batches``) and prints lines/s, seconds and peak memory. Generation is not timed. ``--drain`` instead spools the same messages
as the receiver does (``syslog_spool``, one record per message with its peer and receive time)
and times the drain's reading and parsing of the spool (``syslog_collector.parsed_batches``, in
batches of ``DEFAULT_BATCH_RECORDS``); the store's append is not in it (bench/ingest_detect.py times
parsing and writing together, for files). ``--receiver`` sends the lines over four TCP connections
from another process to a real ``SyslogReceiver`` on 127.0.0.1 while the drain reads and parses
its spool, as ``cyberwell serve`` runs both, and times from the first byte sent to the last
line parsed.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.formats import syslog  # noqa: E402
from collectors.live import syslog_collector, syslog_spool  # noqa: E402
from collectors.live.syslog_receiver import SyslogReceiver  # noqa: E402

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
USERS = ["jbloggs", "asmith", "mjones", "kpatel", "lwilliams", "", "", ""]
APPS = ["HTTPS", "HTTP", "DNS", "SMTP", "RDP", "SSH", "Microsoft.Teams", "Office365"]
ACTIONS = ["close", "close", "close", "accept", "timeout", "server-rst", "client-rst", "deny"]


def _ip(rng: random.Random, internal: bool) -> str:
    if internal:
        return f"10.{rng.randint(1, 20)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return f"{rng.choice([20, 40, 52, 93, 104, 151, 185])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def fortigate_line(rng: random.Random, when: datetime) -> str:
    kind = rng.random()
    head = (
        f'date={when:%Y-%m-%d} time={when:%H:%M:%S} devname="FGT-CORE-01" devid="FG100FTK19000123" '
        f'eventtime={int(when.timestamp() * 1e9)} tz="+0000"'
    )
    if kind < 0.85:
        action = rng.choice(ACTIONS)
        user = rng.choice(USERS)
        return (
            f'{head} logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" '
            f'srcip={_ip(rng, True)} srcport={rng.randint(1024, 65535)} srcintf="port1" '
            f'srcintfrole="lan" dstip={_ip(rng, False)} dstport={rng.choice([443, 80, 53, 25, 3389, 22])} '
            f'dstintf="wan1" dstintfrole="wan" srccountry="Reserved" dstcountry="United States" '
            f'sessionid={rng.randint(1, 9_999_999)} proto={rng.choice([6, 6, 6, 17])} action="{action}" '
            f'policyid={rng.randint(1, 40)} policytype="policy" poluuid="5b9c8a2e-0d3f-51ee-8a7c-0e6b2c1d4f00" '
            f'policyname="LAN-to-Internet" service="{rng.choice(APPS)}" trandisp="snat" '
            f'transip=203.0.113.5 transport={rng.randint(1024, 65535)} appcat="unscanned" '
            f"duration={rng.randint(0, 3600)} sentbyte={rng.randint(40, 10**7)} "
            f"rcvdbyte={rng.randint(40, 10**8)} sentpkt={rng.randint(1, 9000)} rcvdpkt={rng.randint(1, 90000)}"
            + (f' user="{user}" group="Staff" authserver="ENTRA"' if user else "")
        )
    if kind < 0.95:
        return (
            f'{head} logid="0317013312" type="utm" subtype="webfilter" eventtype="ftgd_allow" '
            f'level="notice" vd="root" policyid=12 sessionid={rng.randint(1, 9_999_999)} '
            f'srcip={_ip(rng, True)} srcport={rng.randint(1024, 65535)} srcintf="port1" '
            f'dstip={_ip(rng, False)} dstport=443 dstintf="wan1" proto=6 service="HTTPS" '
            f'hostname="www.example.org" profile="default" action="passthrough" reqtype="direct" '
            f'url="https://www.example.org/path?q={rng.randint(0, 999)}" sentbyte=517 rcvdbyte=0 '
            f'direction="outgoing" msg="URL belongs to an allowed category in policy" cat=52 '
            f'catdesc="Information Technology"'
        )
    return (
        f'{head} logid="0100032001" type="event" subtype="system" level="information" vd="root" '
        f'logdesc="Admin login successful" sn="{rng.randint(10**9, 10**10)}" '
        f'user="{rng.choice(["admin", "netops"])}" ui="https({_ip(rng, True)})" method="https" '
        f'srcip={_ip(rng, True)} dstip=10.0.0.1 action="login" status="success" reason="none" '
        f'profile="super_admin" msg="Administrator admin logged in successfully from https"'
    )


def cef_line(rng: random.Random, when: datetime) -> str:
    return (
        f"CEF:0|Acme|Gateway|4.2|{rng.randint(100, 999)}|Connection {rng.choice(['allowed', 'blocked'])}|"
        f"{rng.randint(1, 10)}|rt={int(when.timestamp() * 1000)} src={_ip(rng, True)} "
        f"spt={rng.randint(1024, 65535)} dst={_ip(rng, False)} dpt=443 proto=TCP "
        f"act={rng.choice(['allow', 'block'])} suser={rng.choice(USERS) or 'svc'} "
        f"request=https://example.org/a\\=b msg=Connection to example.org cs1Label=Rule cs1=Outbound web"
    )


def panos_line(rng: random.Random, when: datetime) -> str:
    t = f"{when:%Y/%m/%d %H:%M:%S}"
    return (
        f"1,{t},016201000123,TRAFFIC,end,2561,{t},{_ip(rng, True)},{_ip(rng, False)},"
        f"203.0.113.5,0.0.0.0,Allow-Web,council\\{rng.choice(USERS) or 'svc'},,ssl,vsys1,trust,untrust,"
        f"ethernet1/2,ethernet1/1,Forward,{t},{rng.randint(1, 999999)},1,{rng.randint(1024, 65535)},443,"
        f"{rng.randint(1024, 65535)},443,0x400053,tcp,{rng.choice(['allow', 'deny', 'reset-both'])},"
        f"{rng.randint(100, 10**6)},{rng.randint(50, 10**5)},{rng.randint(50, 10**5)},12,{t},3,"
        f'"computer-and-internet-info,low-risk",0,{rng.randint(1, 10**9)},0x0,10.0.0.0-10.255.255.255,'
        f"United States,0,6,6,tcp-fin,0,0,0,0,,PA-CORE-01,from-policy"
    )


HEADERS = {
    "none": lambda when, body: body,
    "pri": lambda when, body: f"<189>{body}",
    "bsd": lambda when, body: f"<189>{when:%b} {when.day:2d} {when:%H:%M:%S} fw01 {body}",
    "ietf": lambda when, body: f"<189>1 {when:%Y-%m-%dT%H:%M:%S}.000Z fw01 - - - - {body}",
}
BODIES = {
    "fortigate": [fortigate_line],
    "cef": [cef_line],
    "panos": [panos_line],
    "mixed": [fortigate_line, fortigate_line, cef_line, panos_line],
}


def generate(path: Path, events: int, body_format: str, header: str, seed: int) -> None:
    rng = random.Random(seed)
    makers = BODIES[body_format]
    wrap = HEADERS[header]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(events):
            when = START + timedelta(milliseconds=i * 37)
            out.write(wrap(when, rng.choice(makers)(rng, when)) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--format", choices=sorted(BODIES), default="fortigate")
    parser.add_argument("--header", choices=sorted(HEADERS), default="pri")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drain", action="store_true", help="time the spool drain's parse, not file replay")
    parser.add_argument("--receiver", action="store_true", help="time TCP to the receiver and its drain, at once")
    parser.add_argument("--per-line", action="store_true", help="every line by the per-line reader (the reference)")
    args = parser.parse_args()
    bulk = not args.per_line
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "syslog.log")
        generate(path, args.events, args.format, args.header, args.seed)
        size = path.stat().st_size
        spool = Path(folder, "spool")
        if args.receiver:
            start, cpu_start = time.perf_counter(), time.process_time()
            count, rejected, columns = _through_receiver(path, spool, bulk, args.events)
        elif args.drain:
            _spool(path, spool)
            start, cpu_start = time.perf_counter(), time.process_time()
            count, rejected, columns = _drain(spool, bulk)
        else:
            start, cpu_start = time.perf_counter(), time.process_time()
            count, rejected, columns = _replay(path, bulk)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mode = "TCP to the receiver, and its drain" if args.receiver else "spool drain" if args.drain else "file replay"
    reader = "bulk" if bulk else "per-line"
    print(
        f"{mode} ({reader}) format={args.format} header={args.header} lines={args.events} file={size / 2**20:.1f} MiB"
    )
    print(f"parsed {count} events, {rejected} quarantined, {columns} columns (widest batch)")
    # CPU time counts every thread (DuckDB uses the machine's cores), so lines per CPU-second is
    # the throughput of one core, whatever else the machine is doing.
    print(
        f"{seconds:.2f} s wall, {args.events / seconds:,.0f} lines/s; "
        f"{cpu:.2f} s CPU, {args.events / cpu:,.0f} lines per CPU-second; "
        f"peak memory {peak_mib:,.0f} MiB"
    )


def _replay(path: Path, bulk: bool) -> tuple[int, int, int]:
    """Parse the file batch by batch as replay does (``syslog.iter_batches``: one batch's tables
    held at a time); the events, rejects and the widest batch's columns."""
    count = rejected = columns = 0
    for batch in syslog.iter_batches(path, bulk=bulk):
        count += batch.count
        rejected += len(batch.quarantined)
        columns = max(columns, batch.events.num_columns)
    return count, rejected, columns


def _spool(path: Path, spool: Path) -> None:
    """The lines as the receiver spools them: one record each, with a peer and a receive time."""
    writer = syslog_spool.SpoolWriter(spool)
    writer.open()
    received = int(START.timestamp() * 1_000_000)
    with open(path, "rb") as lines:
        chunk = []
        for i, line in enumerate(lines):
            data = line.rstrip(b"\n")
            chunk.append(syslog_spool.encode(received + i, b"tcp:10.0.0.1", syslog_spool.MESSAGE, len(data), data))
            if len(chunk) == 10_000:
                writer.write(chunk)
                chunk = []
        writer.write(chunk)
    writer.sync()
    writer.close()


_SENDER = r"""
import socket, sys, threading
host, port, path, connections = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
whole = open(path, "rb").read()
cuts = [0] + [whole.index(b"\n", len(whole) * k // connections) + 1 for k in range(1, connections)] + [len(whole)]
data = memoryview(whole)


def send(start, stop):
    sock = socket.create_connection((host, port))
    for at in range(start, stop, 1 << 20):
        sock.sendall(data[at : min(stop, at + (1 << 20))])
    sock.shutdown(socket.SHUT_WR)
    sock.recv(1)
    sock.close()


threads = [threading.Thread(target=send, args=cuts[k : k + 2]) for k in range(connections)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def _through_receiver(path: Path, spool: Path, bulk: bool, lines: int) -> tuple[int, int, int]:
    """Send the file's lines to a receiver from another process while draining its spool, until
    every line is parsed; the events, rejects and the widest batch's columns."""
    receiver = SyslogReceiver({"spool_dir": spool, "tcp_port": 0, "udp_port": None})
    receiver.start()
    try:
        host, port = receiver.addresses["tcp"][:2]
        sender = subprocess.Popen([sys.executable, "-c", _SENDER, host, str(port), str(path), "4"])
        found = _drain(spool, bulk, until=lines)
        if sender.wait(timeout=60):
            raise SystemExit(f"the sender failed (exit status {sender.returncode})")
        return found
    finally:
        receiver.stop()


def _drain(spool: Path, bulk: bool, until: int | None = None) -> tuple[int, int, int]:
    """Read and parse the spool as the drain does (``syslog_collector.parsed_batches``: the next
    batch parsing while one is handed over), to its end or, while a receiver writes it, until
    ``until`` records are read; the events, rejects and the widest batch's columns."""
    syslog.BULK = bulk
    position = syslog_spool.Position.from_dict(None, syslog_spool.spool_id(spool))
    count = rejected = columns = 0
    while until is None or count + rejected < until:
        before = position
        for batch, parsed in syslog_collector.parsed_batches(
            spool, position, syslog_collector.DEFAULT_BATCH_RECORDS, syslog_collector.DEFAULT_BATCH_BYTES
        ):
            count += sum(table.num_rows for table in parsed.tables)
            rejected += len(parsed.quarantined)
            columns = max([columns] + [table.num_columns for table in parsed.tables])
            position = batch.end
        if position == before:
            if until is None:
                break
            time.sleep(0.01)  # caught up with the receiver
    return count, rejected, columns


if __name__ == "__main__":
    main()
