"""The `imagelabels` command: one connection to the deployed stack, the sub-command, and how
it ends. Errors a user can meet end as one line on stderr and exit code 1."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Mapping, Sequence, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from imagelabels.arguments import parse_args
from imagelabels.backfill_command import run_backfill
from imagelabels.connection import Connection, InvokerFactory, lambda_invoker
from imagelabels.console import EXIT_CLOSED_PIPE, EXIT_FAILED, EXIT_INTERRUPTED, Output
from imagelabels.errors import UserError, describe
from imagelabels.labels_command import run_labels
from imagelabels.redrive_command import run_redrive
from imagelabels.search_command import run_search
from imagelabels.show_command import run_show
from imagelabels.target import Target, make_session, project_root, resolve_target
from imagelabels.upload_command import run_upload
from imagelabels.uploads import PARTS_AT_ONCE

# The command's entry point; parse_args and Output stay importable from here, where scripts and
# tests have always found them.
__all__ = ["main", "parse_args", "Output"]

SessionFactory = Callable[[Target], boto3.Session]


def run_command(args, connection: Connection, out: Output, invoker_factory: InvokerFactory) -> int:
    if args.command == "upload":
        return run_upload(args, connection, out)
    if args.command == "search":
        return run_search(args, connection, out)
    if args.command == "show":
        return run_show(args, connection, out)
    if args.command == "labels":
        return run_labels(args, connection, out)
    if args.command == "redrive":
        return run_redrive(args, connection, out, invoker_factory)
    if args.command == "backfill":
        return run_backfill(args, connection, out, invoker_factory)
    raise UserError(f"unknown command {args.command!r}")  # argparse refuses it first


def _discard_output(stream: TextIO) -> None:
    """Points a closed stdout at devnull, so that the interpreter's flush at exit does not fail
    again (Python's guidance: signal module, "Note on SIGPIPE"). A stream without a descriptor (a
    test's StringIO) has nothing to replace."""
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    session_factory: SessionFactory = make_session,
    invoker_factory: InvokerFactory = lambda_invoker,
    cwd: Path | None = None,
) -> int:
    out = Output(stdout or sys.stdout, stderr or sys.stderr)
    environ = os.environ if environ is None else environ
    target = None
    try:
        args = parse_args(list(sys.argv[1:] if argv is None else argv))
        target = resolve_target(stack=args.stack, stage=args.stage, region=args.region, endpoint_url=args.endpoint_url,
                                local=args.local, environ=environ, root=project_root(cwd))
        # Connections enough for every file (or invocation) at once, each sending its parts at once.
        connection = Connection(target=target, session=session_factory(target),
                                pool_size=PARTS_AT_ONCE * getattr(args, "concurrency", 4))
        status = run_command(args, connection, out, invoker_factory)
        # Here rather than at exit, so that a reader gone before the last buffered line is met below.
        out.stdout.flush()
        return status
    except BrokenPipeError:
        # `imagelabels labels | head -1`: the reader has what it wanted; end quietly, as other tools do.
        _discard_output(out.stdout)
        return EXIT_CLOSED_PIPE
    except KeyboardInterrupt:
        print("imagelabels: interrupted", file=out.stderr)
        return EXIT_INTERRUPTED
    except (UserError, BotoCoreError, ClientError, OSError) as error:
        endpoint = (target.endpoint_url if target else None) or environ.get("AWS_ENDPOINT_URL")
        print(f"imagelabels: {describe(error, endpoint_url=endpoint)}", file=out.stderr)
        return EXIT_FAILED
