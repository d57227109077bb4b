"""A real SOC webhook receiver for the tests and the benchmark: a process on 127.0.0.1.

It verifies every request's signature the way docs/webhook.md tells a receiver to, records every
request (one JSON line each, flushed at once) and answers as told: a fraction fail with 500 or
503 + Retry-After, a fraction hang past the client's timeout (and then accept, as a slow real
receiver would: the sender never hears it, so it sends again), or every answer is one status.
"Going away for a while" is the test stopping the process and starting it again on the port.

    python tests/support/webhook_receiver.py --port 0 --port-file P --record R.jsonl [--fail-rate 0.3]
        [--hang-rate 0.05 --hang-seconds 3] [--retry-after 1] [--always 410] [--seed 7]

The secret comes from the environment variable named by --secret-env.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

TOLERANCE = 300
REASONS = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error"}
REASONS |= {503: "Service Unavailable", 410: "Gone", 400: "Bad Request"}


def verified(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """The receiver's check from docs/webhook.md, written out again here on purpose."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - sent) > TOLERANCE:
        return False
    expected = "v1=" + hmac.new(secret, f"{sent}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def about(body: bytes) -> tuple[str | None, int | None, str | None]:
    """The alert id, sequence and kind a body carries, in whichever shape it came."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None, None, None
    own = doc.get("cyberwell") or doc.get("unmapped", {}).get("cyberwell") or {}
    return own.get("alert_id", doc.get("alert_id")), own.get("sequence"), own.get("kind")


class Receiver:
    def __init__(self, args: argparse.Namespace, secret: bytes):
        self.args, self.secret = args, secret
        self.random = random.Random(args.seed)
        self.record = Path(args.record).open("a", encoding="utf-8")

    def decide(self) -> tuple[int, float]:
        """The status to answer and how long to wait first."""
        if self.args.always:
            return self.args.always, 0.0
        draw = self.random.random()
        if draw < self.args.hang_rate:
            return 200, self.args.hang_seconds
        if draw < self.args.hang_rate + self.args.fail_rate:
            return self.random.choice((500, 503)), 0.0
        return 200, 0.0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, wait = self.decide()
                ok = verified(
                    self.secret,
                    headers.get("x-cyberwell-timestamp", ""),
                    body,
                    headers.get("x-cyberwell-signature", ""),
                )
                if not ok:
                    status, wait = 401, 0.0
                alert_id, sequence, kind = about(body)
                entry = {
                    "at": time.time(),
                    "pid": os.getpid(),
                    "method": method,
                    "path": path,
                    "key": headers.get("idempotency-key"),
                    "event": headers.get("x-cyberwell-event"),
                    "signature_ok": ok,
                    "status": status,
                    "delay": wait,  # answered this long after "at" (if the sender still listens)
                    "body_sha256": hashlib.sha256(body).hexdigest(),
                    "alert_id": alert_id,
                    "sequence": sequence,
                    "kind": kind,
                }
                # Recorded on arrival: a 2xx the sender reads is always on record first, and a
                # request the receiver dies holding is on record too.
                self.record.write(json.dumps(entry) + "\n")
                self.record.flush()
                if wait:
                    await asyncio.sleep(wait)
                extra = f"Retry-After: {self.args.retry_after}\r\n" if status in (429, 503) else ""
                reply = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\nContent-Length: 2\r\n{extra}\r\nok"
                writer.write(reply.encode("ascii"))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def serve(args: argparse.Namespace) -> None:
    receiver = Receiver(args, os.environ[args.secret_env].encode("utf-8"))
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", args.port, reuse_address=True, backlog=512)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        temporary = Path(args.port_file + ".tmp")
        temporary.write_text(str(port))
        temporary.replace(args.port_file)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    loop.add_signal_handler(signal.SIGINT, stopped.set)
    async with server:
        await stopped.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--record", required=True)
    parser.add_argument("--secret-env", default="CYBERWELL_TEST_WEBHOOK_SECRET")
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--hang-rate", type=float, default=0.0)
    parser.add_argument("--hang-seconds", type=float, default=3.0)
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--always", type=int, default=0)
    parser.add_argument("--seed", type=int, default=None)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()


class ReceiverProcess:
    """The receiver as a subprocess, for a test: started, stopped, started again on its port."""

    def __init__(self, folder: Path, secret: str, *options: str):
        self.folder, self.secret, self.options = Path(folder), secret, list(options)
        self.record = self.folder / "received.jsonl"
        self.port = 0
        self.process: subprocess.Popen | None = None

    def start(self, *options: str) -> ReceiverProcess:
        port_file = self.folder / "receiver.port"
        port_file.unlink(missing_ok=True)
        command = [sys.executable, __file__, "--port", str(self.port), "--port-file", str(port_file)]
        command += ["--record", str(self.record), *(options or self.options)]
        env = {**os.environ, "CYBERWELL_TEST_WEBHOOK_SECRET": self.secret}
        self.process = subprocess.Popen(command, env=env)
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        """Gone at once, mid-request if need be, as a crashed or unplugged receiver is (every
        answer it sent was recorded first)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None

    def requests(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]
