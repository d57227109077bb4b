"""The Elasticsearch store's ingest against raw ``_bulk``, and all shipped rules on Elasticsearch.

    .venv/bin/python bench/elastic.py --events 1000000 [--es-url http://127.0.0.1:9250]

Scenario: the demo scenario at size N, parsed once by the real parsers into Arrow batches
(kept as Parquet under ``--dir``, so parsing is not in either figure). Then, batch by batch:
- raw: the batch's documents are serialised and framed as ``_bulk`` bodies beforehand (not
  timed), and only sending them — same chunk size, same index template, ``create`` with the
  event id — is timed;
- store: ``ElasticStore.append(batch)`` is timed whole: serialising from Arrow, streaming_bulk
  with its retry bookkeeping and the duplicate checks; both sides end with one refresh that makes
  the events searchable.
Raw and store alternate per batch, so both meet the node in the same state. The goal (issue 3):
store events/s >= 0.8 x raw events/s. Then every shipped rule runs on the store over the
scenario's window with ``detections.engine.run_detections``; the seconds are the run's own.
Peak RSS is this process's (the node's memory is its own).

Without ``--es-url`` a node is started for the run (tests/support/elastic_node.py) and removed after.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import orjson  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


def parse_scenario(size: int, seed: int, out: Path) -> tuple[list[Path], object]:
    """Generate the demo scenario and parse it into Parquet batches (one file per batch)."""
    from collectors.replay import batches
    from scenario import generate

    manifest = generate(out / "scenario", size=size, seed=seed)
    parsed, files = out / "parsed", []
    parsed.mkdir(parents=True, exist_ok=True)
    for item in manifest.files:
        for batch in batches(Path(item.path), item.kind):
            if batch.count:
                path = parsed / f"{len(files):05d}.parquet"
                pq.write_table(batch.events, path, compression="lz4")
                files.append(path)
    return files, manifest


def bulk_bodies(table, prefix: str, chunk_docs: int, chunk_bytes: int) -> list[bytes]:
    """The batch as ready-to-send ``_bulk`` bodies: what a hand-written loader would send."""
    from store.elastic.bulk import index_names, serialise

    indices = index_names(table, prefix).to_pylist()
    ids = table.column("event.id").to_pylist()
    bodies, lines, size = [], [], 0
    for index, event_id, document in zip(indices, ids, serialise(table)):
        header = orjson.dumps({"create": {"_index": index, "_id": event_id}})
        body = document.encode()
        if lines and (len(lines) // 2 >= chunk_docs or size + len(header) + len(body) + 2 > chunk_bytes):
            bodies.append(b"\n".join(lines) + b"\n")
            lines, size = [], 0
        lines += [header, body]
        size += len(header) + len(body) + 2
    if lines:
        bodies.append(b"\n".join(lines) + b"\n")
    return bodies


def send_raw(client, bodies: list[bytes]) -> int:
    created = 0
    for body in bodies:
        answer = client.bulk(operations=body)
        created += sum(1 for item in answer["items"] if item["create"]["status"] == 201)
    return created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--es-url", help="A running node; default: start one for the run.")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "cyberwell-bench-elastic")
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark's indices afterwards.")
    args = parser.parse_args()

    node = None
    url = args.es_url
    if url is None:
        from tests.support.elastic_node import ElasticNode

        node = ElasticNode()
        node.start()
        url = node.url
    try:
        print(json.dumps(run(args, url), indent=2))
    finally:
        if node is not None:
            node.remove()


def run(args, url: str) -> dict:
    from console.config import DEFAULT_RULE_DIRS
    from detections.engine import run_detections
    from store import ElasticStore
    from store.elastic.client import ElasticSettings, build_client
    from store.elastic.store import name_batches

    shutil.rmtree(args.dir, ignore_errors=True)
    clock = time.perf_counter()
    files, manifest = parse_scenario(args.events, args.seed, args.dir)
    parse_seconds = time.perf_counter() - clock

    client = build_client(ElasticSettings(hosts=(url,), request_timeout=120))
    run_id = f"{int(time.time())}"
    store = ElasticStore(client, args.dir / "home", f"cwbench-store-{run_id}-")
    raw = ElasticStore(client, args.dir / "raw-home", f"cwbench-raw-{run_id}-")
    store.ensure_templates()
    raw.ensure_templates()  # the same template: the raw figure is not helped by a lighter mapping

    raw_seconds = store_seconds = raw_cpu = store_cpu = 0.0  # cpu: this process's, all threads
    raw_created = stored = duplicates = rejected = events = 0
    try:
        for path in files:
            table = pq.read_table(path)
            events += table.num_rows
            bodies = bulk_bodies(table, raw.prefix, store.bulk.chunk_docs, store.bulk.chunk_bytes)
            clock, cpu = time.perf_counter(), time.process_time()
            raw_created += send_raw(client, bodies)
            raw_seconds += time.perf_counter() - clock
            raw_cpu += time.process_time() - cpu
            del bodies
            clock, cpu = time.perf_counter(), time.process_time()
            result = store.append(table)
            store_seconds += time.perf_counter() - clock
            store_cpu += time.process_time() - cpu
            stored, duplicates, rejected = (
                stored + result.stored,
                duplicates + result.duplicates,
                rejected + result.rejected,
            )
        clock = time.perf_counter()
        raw.refresh()  # both figures include making the events searchable, once, at the end
        raw_seconds += time.perf_counter() - clock
        clock = time.perf_counter()
        store.refresh()
        store_seconds += time.perf_counter() - clock

        clock = time.perf_counter()
        report = run_detections(store, list(DEFAULT_RULE_DIRS), manifest.start, manifest.end)
        detect_wall = time.perf_counter() - clock
        data = report.to_dict()
    finally:
        if not args.keep:
            for prefix in (store.prefix, raw.prefix):
                names = sorted(client.indices.get(index=f"{prefix}*", ignore_unavailable=True, allow_no_indices=True))
                for joined in name_batches(names):
                    client.indices.delete(index=joined, ignore_unavailable=True)
                client.indices.delete_index_template(name=f"{prefix}*")
    store_rate, raw_rate = events / store_seconds, events / raw_seconds
    return {
        "events": events,
        "parse_seconds_untimed_setup": round(parse_seconds, 1),
        "raw_bulk": {
            "seconds": round(raw_seconds, 1),
            "events_per_s": round(raw_rate),
            "created": raw_created,
            "client_cpu_seconds": round(raw_cpu, 1),
        },
        "store_append": {
            "seconds": round(store_seconds, 1),
            "events_per_s": round(store_rate),
            "stored": stored,
            "duplicates": duplicates,
            "rejected": rejected,
            "client_cpu_seconds": round(store_cpu, 1),
        },
        "ratio_store_to_raw": round(store_rate / raw_rate, 3),
        "goal_ratio": 0.8,
        "detect": {
            "rules": len(data["rules"]),
            "failed": [r["title"] for r in data["rules"] if r["status"] != "succeeded"],
            "problems": len(data["problems"]),
            "seconds": round(data["seconds"], 2),
            "wall_seconds": round(detect_wall, 2),
            "alerts_new": data["alerts_new"],
            "alerts_updated": data["alerts_updated"],
        },
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


if __name__ == "__main__":
    main()
