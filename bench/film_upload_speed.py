"""Film upload speed: `imagelabels upload` of one 1 GB film (the transfer manager, 16 MiB parts,
4 at once) against a single boto3 put_object of the same file, to the local AWS's S3.

    .venv/bin/python bench/film_upload_speed.py [--size-mb 1024] [--link-mb-per-s 20] [--part-size 16]

The film: a real 3 s H.264 MP4 from tests/film_factory.py (its ftyp box is what the command goes
by) followed by filler bytes up to --size-mb, written to a file on disk first (not timed); both
uploads stream from that file. Nothing decodes it: no stack is deployed, only a bucket (versioned,
as the stack's) and a placeholder stack whose outputs name it, so the command finds it as usual.
The command runs in this process (its own `main`, as bench/upload_speed.py does); the local AWS
runs in a child process, so that moto's server does not share the uploader's interpreter lock.

Two rounds, each the single put_object, then the command:
1. raw localhost: straight to the local AWS. There is no network: moto's own CPU (reading the
   body, hashing it, spooling it to disk; at the end of the multipart upload, joining the parts)
   and the client's (botocore hashes every body it signs over plain HTTP) bound both figures.
2. a modelled link: every TCP connection goes through a proxy (a third process) that paces each
   connection's bytes, each direction, to --link-mb-per-s (default 20 MB/s, about what one TCP
   stream to S3 over a long path gets). The cap is per connection and there is no aggregate cap:
   the uplink is taken to be wider than 4 streams, so the figure shows what parallel parts buy
   where one stream, not the line, is the limit.
Each round prints wall seconds and MB/s (10**6 bytes) of both, and their ratio. Every object is
deleted (its version too) once checked, so moto holds at most one copy of the film at a time.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from placeholder_stack import REGION, STACK, bucket_behind_placeholder_stack  # noqa: E402  (fake credentials first)

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from imagelabels.cli import main as imagelabels  # noqa: E402
from imagelabels.uploads import MIB  # noqa: E402

BUCKET = "bench-films"
PACE_CHUNK = 64 * 1024  # bytes forwarded at a time: 3 ms of a 20 MB/s link


def write_film(path: Path, size: int) -> int:
    """A real H.264 MP4 followed by filler to `size` bytes; returns the real film's length."""
    from film_factory import CAT, Shot, film

    head = film([Shot.of(CAT, 3)])
    filler = os.urandom(MIB)
    with path.open("wb") as out:
        out.write(head)
        left = size - len(head)
        while left > 0:
            out.write(filler[: min(left, len(filler))])
            left -= len(filler)
    return len(head)


# ---- the local AWS, in a child process -------------------------------------------------------------

def serve_local_aws(connection, state_dir: str) -> None:
    import logging

    from moto.s3.models import S3Backend

    from local_aws.server import LocalAws

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    complete = S3Backend.complete_multipart_upload
    seconds = [0.0]

    def timed_complete(self, *args, **kwargs):
        # moto joins the parts in memory here: its share of the command's time is reported apart.
        started = time.perf_counter()
        try:
            return complete(self, *args, **kwargs)
        finally:
            seconds[0] += time.perf_counter() - started

    S3Backend.complete_multipart_upload = timed_complete
    with LocalAws(state_dir=Path(state_dir), region=REGION) as aws:
        connection.send(aws.endpoint_url)
        while connection.recv() == "complete seconds":
            connection.send(seconds[0])
            seconds[0] = 0.0


# ---- the modelled link: a pacing TCP proxy, in a child process ---------------------------------------

def pump(source: socket.socket, sink: socket.socket, bytes_per_second: float) -> None:
    """Forwards source -> sink at most `bytes_per_second`: a chunk goes when the link is free
    again; meanwhile the kernel's buffers fill and TCP slows the sender, as a slow path does.
    An idle connection earns no credit (no burst after a pause)."""
    free_at = time.monotonic()
    try:
        while data := source.recv(PACE_CHUNK):
            now = time.monotonic()
            if free_at > now:
                time.sleep(free_at - now)
            else:
                free_at = now
            sink.sendall(data)
            free_at += len(data) / bytes_per_second
        sink.shutdown(socket.SHUT_WR)
    except OSError:  # the other side went away: so does this direction
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve_link(connection, upstream_port: int, bytes_per_second: float) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    connection.send(listener.getsockname()[1])

    def carry(client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", upstream_port)) as server:
            for end in (client, server):
                end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            back = threading.Thread(target=pump, args=(server, client, bytes_per_second), daemon=True)
            back.start()
            pump(client, server, bytes_per_second)
            back.join()

    while True:
        client, _ = listener.accept()
        threading.Thread(target=carry, args=(client,), daemon=True).start()


# ---- one round -----------------------------------------------------------------------------------------

def s3_client(endpoint: str):
    # As the command's own clients (imagelabels/connection.py): a retried 1 GB put would be seen below.
    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=60)
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, config=config)


def forget(s3, key: str, size: int) -> str:
    """Checks the object is whole, deletes it (every version); returns its ETag."""
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == size, head
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", [])
    for version in versions:
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version["VersionId"])
    return head["ETag"].strip('"')


def measure(path: Path, endpoint: str, *, part_size_mb: int) -> dict:
    """The single put_object's seconds and retries, the command's seconds and parts, via `endpoint`."""
    size = path.stat().st_size
    s3 = s3_client(endpoint)
    started = time.perf_counter()
    with path.open("rb") as body:
        response = s3.put_object(Bucket=BUCKET, Key="single/film.mp4", Body=body, ContentType="video/mp4")
    single_seconds = time.perf_counter() - started
    retries = response["ResponseMetadata"].get("RetryAttempts", 0)
    forget(s3, "single/film.mp4", size)

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = imagelabels(["--endpoint-url", endpoint, "--region", REGION, "--stack", STACK, "upload", str(path),
                        "--prefix", "command", "--part-size", str(part_size_mb), "--no-progress"],
                       stdout=out, stderr=err, environ={})
    command_seconds = time.perf_counter() - started
    assert code == 0, err.getvalue()
    summary = out.getvalue().splitlines()[-1]
    assert summary == "1 uploaded, 0 skipped, 0 failed", summary
    etag = forget(s3, f"command/{path.name}", size)
    parts = int(etag.rsplit("-", 1)[1]) if "-" in etag else 1  # a multipart ETag ends in -<parts>
    return {"single": single_seconds, "retries": retries, "command": command_seconds, "parts": parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="film size in MiB (default 1024)")
    parser.add_argument("--link-mb-per-s", type=float, default=20.0,
                        help="the modelled link: MB/s (10**6 bytes) per TCP connection (default 20)")
    parser.add_argument("--part-size", type=int, default=16, help="the command's --part-size in MiB (default 16)")
    args = parser.parse_args()
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters: no threads or moto state copied

    with tempfile.TemporaryDirectory(prefix="film-upload-bench-") as folder:
        path = Path(folder) / "film.mp4"
        size = args.size_mb * MIB
        head = write_film(path, size)
        load = os.getloadavg()
        print(f"{size / 10**6:.0f} MB film ({head // 1024} KB real H.264 MP4, then filler); "
              f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)

        aws_end, aws_child = spawn.Pipe()
        aws = spawn.Process(target=serve_local_aws, args=(aws_child, str(Path(folder) / "state")), daemon=True)
        aws.start()
        link = None
        try:
            endpoint = aws_end.recv()
            bucket_behind_placeholder_stack(s3_client(endpoint), boto3.client(
                "cloudformation", endpoint_url=endpoint, region_name=REGION), BUCKET)
            link_end, link_child = spawn.Pipe()
            link = spawn.Process(target=serve_link, args=(link_child, int(endpoint.rsplit(":", 1)[1]),
                                                          args.link_mb_per_s * 10**6), daemon=True)
            link.start()
            linked = f"http://127.0.0.1:{link_end.recv()}"
            rounds = [("raw localhost", endpoint),
                      (f"modelled link, {args.link_mb_per_s:g} MB/s per connection", linked)]
            for name, via in rounds:
                result = measure(path, via, part_size_mb=args.part_size)
                aws_end.send("complete seconds")
                complete = aws_end.recv()
                mb = size / 10**6
                print(f"{name}: put_object {result['single']:.1f} s ({mb / result['single']:.0f} MB/s, "
                      f"{result['retries']} retries), imagelabels upload --part-size {args.part_size} "
                      f"{result['command']:.1f} s ({mb / result['command']:.0f} MB/s, {result['parts']} parts; "
                      f"moto's CompleteMultipartUpload {complete:.1f} s of it): "
                      f"ratio {result['single'] / result['command']:.2f}x", flush=True)
        finally:
            aws_end.send("stop")
            aws.join(timeout=30)
            for child in (aws, link):
                if child is not None and child.is_alive():
                    child.terminate()


if __name__ == "__main__":
    main()
