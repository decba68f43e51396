"""Upload speed: 500 small images uploaded by `imagelabels upload` (concurrent) against a
sequential boto3 put_object loop, both against a moto ThreadedMotoServer on a free port.

    .venv/bin/python bench/upload_speed.py [--images 500] [--concurrency 8] [--latency-ms 20]

The server runs in a child process so that it does not share the uploader's interpreter lock,
as the local AWS or S3 would not. Both runs upload the same files (different key prefixes) to the
same bucket; the command is timed from its start to its summary, stack look-up included.

Two rounds: moto as it is (on one machine the server's own CPU is the limit, so this is the
local-AWS figure), then with a fixed delay before each request (--latency-ms, default 20) that
stands for the network round trip to S3 in a Region: the figure that matters against real AWS.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from placeholder_stack import REGION, STACK, bucket_behind_placeholder_stack  # noqa: E402  (fake credentials first)

import boto3  # noqa: E402

from imagelabels.cli import main as imagelabels  # noqa: E402

BUCKET = "bench-images"


def small_png(seed: int, side: int = 96) -> bytes:
    """A real PNG (a few KB), different for every seed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    # Each row: filter byte 0, then `side` RGB pixels.
    raw = b"".join(b"\x00" + b"".join(bytes(((x * 7 + seed) % 256, (y * 5 + seed * 3) % 256, (x ^ y ^ seed) % 256))
                                      for x in range(side)) for y in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def serve(connection, latency_seconds: float) -> None:
    import logging

    from moto.moto_server import werkzeug_app
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access-log line per request
    if latency_seconds:
        answer = werkzeug_app.DomainDispatcherApplication.__call__

        def delayed(self, environ, start_response):
            time.sleep(latency_seconds)  # the round trip; sleeping releases the interpreter lock
            return answer(self, environ, start_response)

        werkzeug_app.DomainDispatcherApplication.__call__ = delayed

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    connection.send(server.get_host_and_port()[1])
    connection.recv()  # until the parent says stop
    server.stop()


def measure(files: list[Path], *, concurrency: int, latency_seconds: float) -> tuple[float, float]:
    """(sequential loop seconds, command seconds) against a fresh server."""
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child, latency_seconds), daemon=True)
    server.start()
    try:
        port = parent.recv()
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        bucket_behind_placeholder_stack(s3, boto3.client("cloudformation", endpoint_url=endpoint, region_name=REGION),
                                        BUCKET)

        started = time.perf_counter()
        for path in files:
            s3.put_object(Bucket=BUCKET, Key=f"loop/{path.name}", Body=path.read_bytes(), ContentType="image/png")
        loop_seconds = time.perf_counter() - started

        out, err = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        code = imagelabels(["--endpoint-url", endpoint, "--region", REGION, "--stack", STACK, "upload", str(files[0].parent),
                            "--prefix", "command", "--concurrency", str(concurrency), "--no-progress"],
                           stdout=out, stderr=err, environ={})
        command_seconds = time.perf_counter() - started
        assert code == 0, err.getvalue()
        summary = out.getvalue().splitlines()[-1]
        assert summary == f"{len(files)} uploaded, 0 skipped, 0 failed", summary
        listed = sum(page.get("KeyCount", 0) for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="command/"))
        assert listed == len(files), listed
        return loop_seconds, command_seconds
    finally:
        parent.send("stop")
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        photos = Path(folder) / "photos"
        photos.mkdir()
        for n in range(args.images):
            (photos / f"img-{n:04}.png").write_bytes(small_png(n))
        files = sorted(photos.iterdir())
        size = sum(path.stat().st_size for path in files) / len(files) / 1024
        print(f"{len(files)} PNG files, {size:.1f} KB each on average; {os.cpu_count()} cores")
        for latency in (0.0, args.latency_ms / 1000):
            loop_seconds, command_seconds = measure(files, concurrency=args.concurrency, latency_seconds=latency)
            where = "moto server as it is" if not latency else f"moto server + {latency * 1000:.0f} ms a request"
            print(f"{where}: sequential boto3 loop {loop_seconds:.2f} s ({len(files) / loop_seconds:.0f}/s), "
                  f"imagelabels upload --concurrency {args.concurrency} {command_seconds:.2f} s ({len(files) / command_seconds:.0f}/s): "
                  f"ratio {loop_seconds / command_seconds:.1f}x")


if __name__ == "__main__":
    main()
