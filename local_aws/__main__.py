"""python -m local_aws start|stop|status|env|serve

start   run the local AWS in the background (or reuse the healthy one recorded in the state folder),
        record .local-aws/endpoint.json, print what it does not enforce and the environment to use
stop    stop the one recorded in the state folder
status  say whether it runs, and where
env     print the export lines for a shell (eval "$(python -m local_aws env)")
serve   run in the foreground until interrupted (what `start` runs in the background)
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from imagelabels.errors import UserError
from imagelabels.local_endpoint import (
    STATE_DIR, EndpointRecord, endpoint_file, process_alive, read_endpoint_record, write_endpoint_record,
)
from local_aws.cdk_cli import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, aws_environment
from local_aws.not_enforced import NOT_ENFORCED
from local_aws.server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Endpoint, LocalAws

DEFAULT_STATE_DIR = STATE_DIR
LOG_FILE = "server.log"
START_TIMEOUT_S = 60


class NotRunning(RuntimeError):
    pass


def read_endpoint(state_dir: Path) -> Endpoint | None:
    """The endpoint recorded in the state folder, or None when there is no record as `serve` writes it."""
    try:
        record = read_endpoint_record(endpoint_file(state_dir))
    except UserError:
        return None
    if not record.complete:
        return None
    return Endpoint(endpoint_url=record.endpoint_url, region=record.region, account_id=record.account_id,
                    pid=record.pid)


def is_healthy(endpoint: Endpoint, timeout_s: float = 3.0) -> bool:
    """The recorded process is alive and its endpoint answers STS GetCallerIdentity for its account."""
    if endpoint.pid is not None and not process_alive(endpoint.pid):
        return False
    import boto3
    from botocore.config import Config

    try:
        identity = boto3.client(
            "sts", endpoint_url=endpoint.endpoint_url, region_name=endpoint.region,
            aws_access_key_id=FAKE_ACCESS_KEY_ID, aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
            config=Config(connect_timeout=timeout_s, read_timeout=timeout_s, retries={"max_attempts": 1}),
        ).get_caller_identity()
    except Exception:
        return False
    return identity.get("Account") == endpoint.account_id


def running_endpoint(state_dir: Path) -> Endpoint | None:
    endpoint = read_endpoint(state_dir)
    return endpoint if endpoint is not None and is_healthy(endpoint) else None


def start_daemon(state_dir: Path, *, port: int = 0, region: str = DEFAULT_REGION) -> tuple[Endpoint, bool]:
    """(endpoint, started): reuse the healthy server recorded in state_dir, else start one in the
    background on `port` (0: a free one) and wait until it answers."""
    existing = running_endpoint(state_dir)
    if existing is not None:
        return existing, False
    state_dir.mkdir(parents=True, exist_ok=True)
    endpoint_file(state_dir).unlink(missing_ok=True)  # a stale record from a dead server
    log = open(state_dir / LOG_FILE, "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "serve", "--state-dir", str(state_dir), "--port", str(port),
         "--region", region],
        cwd=Path(__file__).resolve().parent.parent,
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # survives the terminal (and make) that started it
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the local AWS exited at start (code {process.returncode}); see {state_dir / LOG_FILE}:\n"
                + _tail(state_dir / LOG_FILE)
            )
        endpoint = read_endpoint(state_dir)
        if endpoint is not None and endpoint.pid == process.pid and is_healthy(endpoint):
            return endpoint, True
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"the local AWS did not answer within {START_TIMEOUT_S} s; see {state_dir / LOG_FILE}")


def stop_daemon(state_dir: Path, timeout_s: float = 20.0) -> bool:
    """Stop the server recorded in state_dir; False when none was running."""
    endpoint = read_endpoint(state_dir)
    if endpoint is None or endpoint.pid is None:
        return False
    try:
        os.kill(endpoint.pid, signal.SIGTERM)
    except ProcessLookupError:
        endpoint_file(state_dir).unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(endpoint.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(endpoint.pid, signal.SIGKILL)
    endpoint_file(state_dir).unlink(missing_ok=True)
    return True


def export_lines(endpoint: Endpoint) -> list[str]:
    return [f"export {key}={shlex.quote(value)}" for key, value in aws_environment(endpoint).items()]


def not_enforced_text() -> str:
    return "The local AWS does NOT enforce:\n" + "\n".join(f"  - {line}" for line in NOT_ENFORCED)


def serve(state_dir: Path, *, port: int, region: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    aws = LocalAws(state_dir=state_dir, port=port, region=region, account_id=DEFAULT_ACCOUNT_ID).start()
    try:
        write_endpoint_record(endpoint_file(state_dir), EndpointRecord(
            endpoint_url=aws.endpoint_url, region=aws.region, account_id=aws.account_id, pid=os.getpid()))
        print(f"Local AWS on {aws.endpoint_url} (pid {os.getpid()})", flush=True)
        print(not_enforced_text(), flush=True)
        stop.wait()
    finally:
        record_now = read_endpoint(state_dir)
        if record_now is not None and record_now.pid == os.getpid():
            endpoint_file(state_dir).unlink(missing_ok=True)
        aws.stop()
    return 0


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status", "env", "serve"])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                        help="where endpoint.json, logs and function code live (default .local-aws)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--region", default=DEFAULT_REGION)
    args = parser.parse_args(argv)

    if args.command == "serve":
        return serve(args.state_dir, port=args.port, region=args.region)
    if args.command == "start":
        endpoint, started = start_daemon(args.state_dir, port=args.port, region=args.region)
        print(("Started" if started else "Already running:") + f" local AWS on {endpoint.endpoint_url} "
              f"(pid {endpoint.pid}, logs in {args.state_dir / LOG_FILE})")
        print(not_enforced_text())
        print("Use it from a shell with:  eval \"$(.venv/bin/python -m local_aws env)\"")
        return 0
    if args.command == "stop":
        print("Stopped the local AWS." if stop_daemon(args.state_dir) else "No local AWS was running.")
        return 0
    endpoint = running_endpoint(args.state_dir)
    if args.command == "status":
        if endpoint is None:
            print("No local AWS is running (start it with: make local-aws-start).")
            return 1
        print(f"Local AWS running on {endpoint.endpoint_url} (pid {endpoint.pid}, region {endpoint.region}, "
              f"account {endpoint.account_id})")
        return 0
    if endpoint is None:  # env
        print("No local AWS is running (start it with: make local-aws-start).", file=sys.stderr)
        return 1
    print("\n".join(export_lines(endpoint)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
