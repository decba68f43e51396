"""The `imagelabels` command: argument parsing, one connection to the deployed stack, and the
output of each sub-command. Errors a user can meet end as one line on stderr and exit code 1."""

from __future__ import annotations

import argparse
import os
import sys
from functools import cached_property
from pathlib import Path
from typing import Callable, Mapping, Sequence, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from imagelabels import __version__
from imagelabels.errors import UserError, describe, error_code
from imagelabels.invoke import Invoker, LambdaInvoker
from imagelabels.output import confidence_text, human_size, render_table, to_json
from imagelabels.progress import ProgressBar
from imagelabels.uploads import is_image_key
from imagelabels.stack_outputs import StackOutputs, read_stack_outputs
from imagelabels.target import Target, make_session, project_root, resolve_target

EXIT_OK = 0
EXIT_FAILED = 1  # a user error, or some of the work did not succeed
EXIT_INTERRUPTED = 130
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: the status a shell reports for a tool that `| head` stopped

SessionFactory = Callable[[Target], boto3.Session]
InvokerFactory = Callable[["Connection"], Invoker]


# --- arguments -----------------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _concurrency(text: str) -> int:
    value = _positive_int(text)
    if value > 64:
        raise argparse.ArgumentTypeError(f"at most 64, got {value}")
    return value


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be 0-100, got {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


GLOBAL_DEFAULTS = {"stack": None, "stage": None, "region": None, "endpoint_url": None, "local": False}


def _global_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: given before or after the sub-command, an option is taken; absent, the defaults
    # above apply (otherwise the sub-command's default would overwrite a value given before it).
    group = parser.add_argument_group("where the stack is")
    group.add_argument("--stack", default=argparse.SUPPRESS, help="stack name (default: <stackNamePrefix>-<stage> from cdk.json, or $IMAGELABELS_STACK)")
    group.add_argument("--stage", default=argparse.SUPPRESS, help="stage in cdk.json whose stack to use (default: the context's stage)")
    group.add_argument("--region", default=argparse.SUPPRESS, help="AWS Region (default: AWS_REGION / your profile)")
    target = group.add_mutually_exclusive_group()
    target.add_argument("--endpoint-url", default=argparse.SUPPRESS, metavar="URL", help="send every request to URL (AWS_ENDPOINT_URL works too)")
    target.add_argument("--local", action="store_true", default=argparse.SUPPRESS,
                        help="use the running local AWS (.local-aws/endpoint.json); also IMAGELABELS_LOCAL=1")


def _progress_options(parser: argparse.ArgumentParser) -> None:
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--progress", dest="progress", action="store_true", default=None, help="draw the progress bar even when stderr is not a terminal")
    choice.add_argument("--no-progress", dest="progress", action="store_false", help="never draw the progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagelabels",
        description="Upload images to the image-labels bucket and find them by what is in them.",
    )
    parser.add_argument("--version", action="version", version=f"imagelabels {__version__}")
    _global_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    upload = commands.add_parser("upload", help="upload JPEG and PNG files and folders (recursive)")
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    upload.add_argument("--prefix", default="", help="key prefix, e.g. shoots/2026/")
    upload.add_argument("--concurrency", type=_concurrency, default=8, help="uploads at once (default 8)")
    upload.add_argument("--wait", action="store_true", help="wait until each image is labelled (or failed), print its labels")
    upload.add_argument("--timeout", type=_seconds, default=300.0, help="how long --wait waits, in seconds (default 300)")
    upload.add_argument("--json", action="store_true", help="print the report as JSON")
    _progress_options(upload)

    search = commands.add_parser("search", help="images carrying all the given labels, most confident first")
    search.add_argument("labels", nargs="+", metavar="LABEL")
    search.add_argument("--min-confidence", type=_confidence, default=None, metavar="PERCENT", help="only labels at least this confident (0-100)")
    search.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="at most N images")
    search.add_argument("--json", action="store_true", help="print JSON")

    show = commands.add_parser("show", help="the labels of one image, or why it could not be labelled")
    show.add_argument("key", metavar="KEY")
    show.add_argument("--json", action="store_true", help="print JSON")

    labels = commands.add_parser("labels", help="the labels in the library with how many images carry each")
    labels.add_argument("--json", action="store_true", help="print JSON")

    redrive = commands.add_parser("redrive", help="replay the events captured in the failed-events queue")
    redrive.add_argument("--dry-run", action="store_true", help="list the captured events; replay and remove nothing")
    redrive.add_argument("--concurrency", type=_concurrency, default=4, help="replays at once (default 4)")
    redrive.add_argument("--max-messages", type=_positive_int, default=None, metavar="N", help="replay at most N messages")
    redrive.add_argument("--json", action="store_true", help="print the report as JSON")

    backfill = commands.add_parser("backfill", help="label the images already in the bucket that the table does not describe")
    backfill.add_argument("prefix", nargs="?", default="", metavar="PREFIX", help="only keys starting with PREFIX")
    backfill.add_argument("--force", action="store_true", help="relabel images already labelled or failed too")
    backfill.add_argument("--dry-run", action="store_true", help="list what would be labelled; invoke nothing")
    backfill.add_argument("--concurrency", type=_concurrency, default=4,
                          help="invocations at once (default 4; keep it at or below the function's reserved concurrency)")
    backfill.add_argument("--json", action="store_true", help="print the report as JSON")
    _progress_options(backfill)

    for sub in commands.choices.values():
        _global_options(sub)
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    for name, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    return args


# --- the connection ------------------------------------------------------------------------------

class Connection:
    """Clients for the target AWS and the stack's outputs, created when first needed."""

    def __init__(self, *, target: Target, session: boto3.Session, pool_size: int = 10) -> None:
        self.target = target
        self.session = session
        self._pool_size = pool_size
        self._clients: dict[str, object] = {}

    @property
    def region(self) -> str | None:
        return self.target.region or self.session.region_name

    def client(self, service: str):
        if service not in self._clients:
            read_timeout = 120 if service == "lambda" else 60  # the function may take 60 s
            config = Config(
                retries={"mode": "standard", "max_attempts": 4},
                connect_timeout=5,
                read_timeout=read_timeout,
                max_pool_connections=max(10, self._pool_size),
            )
            options = {"config": config}
            if self.target.endpoint_url:
                options["endpoint_url"] = self.target.endpoint_url
            self._clients[service] = self.session.client(service, **options)
        return self._clients[service]

    @cached_property
    def outputs(self) -> StackOutputs:
        return read_stack_outputs(self.client("cloudformation"), self.target.stack_name, where=self.target.where, region=self.region)


def lambda_invoker(connection: Connection) -> Invoker:
    return LambdaInvoker(client=connection.client("lambda"), function_name=connection.outputs.function)


# --- commands ------------------------------------------------------------------------------------

class Output:
    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout = stdout
        self.stderr = stderr

    def print(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def progress(self, *, total: int, label: str, wanted: bool | None) -> ProgressBar:
        enabled = wanted if wanted is not None else _is_tty(self.stderr)
        return ProgressBar(total=total, label=label, stream=self.stderr, enabled=enabled)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _labels_line(item: dict, limit: int = 8) -> str:
    labels = item.get("Labels") or []
    text = ", ".join(f"{label['Name']} {confidence_text(label['Confidence'])}" for label in labels[:limit])
    if len(labels) > limit:
        text += f", +{len(labels) - limit} more"
    return text or "(no labels above the confidence threshold)"


def _error_line(item: dict) -> str:
    error = item.get("Error") or {}
    return f"{error.get('Code', 'unknown error')}: {error.get('Message', '')}".rstrip(": ")


def run_upload(args, connection: Connection, out: Output) -> int:
    from imagelabels.uploads import plan_uploads, upload_all, wait_for_labels

    plan = plan_uploads(args.paths, prefix=args.prefix)
    results, waiting = [], []
    if plan.uploads:
        bucket = connection.outputs.bucket
        table = connection.outputs.table if args.wait else None
        s3 = connection.client("s3")
        total_bytes = sum(upload.size for upload in plan.uploads)
        with out.progress(total=len(plan.uploads), label=f"uploading {human_size(total_bytes)}", wanted=args.progress) as bar:
            results = upload_all(s3, bucket, plan.uploads, concurrency=args.concurrency,
                                 on_done=lambda result: bar.advance(size=result.upload.size, failed=not result.ok))
        if args.wait and any(result.ok for result in results):
            uploaded = [result for result in results if result.ok]
            with out.progress(total=len(uploaded), label="labelling", wanted=args.progress) as bar:
                waiting = wait_for_labels(connection.client("dynamodb"), table, uploaded, timeout=args.timeout,
                                          on_done=lambda result: bar.advance(failed=result.item.get("Status") != "LABELLED"))
    uploaded = [result for result in results if result.ok]
    failed_uploads = [result for result in results if not result.ok]
    timed_out = waiting

    if args.json:
        out.print(to_json({
            "uploaded": [_upload_json(result, waited=args.wait) for result in uploaded],
            "skipped": [{"path": str(skip.path), "reason": skip.reason} for skip in plan.skipped],
            "failed": [{"path": str(skip.path), "reason": skip.reason} for skip in plan.unreadable]
            + [{"path": str(result.upload.path), "key": result.upload.key, "reason": result.error} for result in failed_uploads],
        }))
    else:
        for skip in plan.skipped:
            out.print(f"skipped   {skip.path}: {skip.reason}")
        for skip in plan.unreadable:
            out.print(f"FAILED    {skip.path}: {skip.reason}")
        for result in failed_uploads:
            out.print(f"FAILED    {result.upload.path}: {result.error}")
        for result in uploaded:
            if not args.wait:
                out.print(f"uploaded  {result.upload.key}")
            elif result.item is None:
                out.print(f"waiting   {result.upload.key}: not labelled within {args.timeout:g} s")
            elif result.item.get("Status") == "LABELLED":
                out.print(f"labelled  {result.upload.key}: {_labels_line(result.item)}")
            else:
                out.print(f"unlabelled {result.upload.key}: {_error_line(result.item)}")
    summary = f"{len(uploaded)} uploaded, {len(plan.skipped)} skipped, {len(plan.unreadable) + len(failed_uploads)} failed"
    if args.wait and uploaded:
        labelled = sum(1 for result in uploaded if result.item and result.item.get("Status") == "LABELLED")
        unlabelled = sum(1 for result in uploaded if result.item and result.item.get("Status") != "LABELLED")
        summary += f"; {labelled} labelled, {unlabelled} could not be labelled, {len(timed_out)} not done in time"
    print(summary, file=out.stderr if args.json else out.stdout)
    if not plan.uploads and not plan.unreadable:
        print("imagelabels: nothing to upload (no JPEG or PNG file among the paths)", file=out.stderr)
        return EXIT_FAILED
    return EXIT_OK if not plan.unreadable and not failed_uploads and not timed_out else EXIT_FAILED


def _upload_json(result, *, waited: bool) -> dict:
    entry = {"path": str(result.upload.path), "key": result.upload.key, "content_type": result.upload.content_type,
             "size": result.upload.size, "version_id": result.version_id, "etag": result.etag}
    if waited:
        item = result.item or {}
        entry["status"] = item.get("Status", "WAITING")
        entry["labels"] = [{"name": label["Name"], "confidence": label["Confidence"]} for label in item.get("Labels") or []]
        if item.get("Error"):
            entry["error"] = {"code": item["Error"].get("Code"), "message": item["Error"].get("Message")}
    return entry


def run_search(args, connection: Connection, out: Output) -> int:
    from label_table.search import search_images

    hits = search_images(connection.client("dynamodb"), connection.outputs.table, args.labels,
                         min_confidence=args.min_confidence, limit=args.limit)
    if args.json:
        out.print(to_json([hit.as_json() for hit in hits]))
        return EXIT_OK
    if not hits:
        from label_table.search import unknown_labels_with_suggestions

        # A label no image has is the whole explanation (with its look-alikes); only when every label
        # exists is it their combination, or the confidence asked for, that finds nothing.
        unknown = unknown_labels_with_suggestions(connection.client("dynamodb"), connection.outputs.table, args.labels)
        message = "; ".join(f"no image is labelled {label!r}" + (f" (did you mean {', '.join(suggestions)}?)" if suggestions else "")
                            for label, suggestions in unknown.items())
        if not unknown:
            message = f"no image carries {' and '.join(repr(label) for label in args.labels)}"
            if args.min_confidence is not None:
                message += f" at {args.min_confidence:g} % or more"
        print(message, file=out.stderr)
        return EXIT_OK
    several = len(hits[0].labels) > 1
    rows = [[hit.key, confidence_text(hit.confidence)]
            + ([", ".join(f"{name} {confidence_text(value)}" for name, value in hit.labels.items())] if several else [])
            for hit in hits]
    out.print(render_table(["KEY", "CONFIDENCE"] + (["LABELS"] if several else []), rows))
    return EXIT_OK


def run_show(args, connection: Connection, out: Output) -> int:
    from label_table.search import image_item, image_summary

    item = image_item(connection.client("dynamodb"), connection.outputs.table, args.key)
    if item is None:
        raise UserError(_unknown_key_message(connection, args.key))
    if args.json:
        out.print(to_json(image_summary(item)))
        return EXIT_OK
    status = item.get("Status", "?")
    facts = [f"{human_size(item['Size'])}" if item.get("Size") is not None else None,
             f"version {item['VersionId']}" if item.get("VersionId") else None,
             f"updated {item['UpdatedAt']}" if item.get("UpdatedAt") else None]
    out.print(f"{args.key}  {status}  ({', '.join(fact for fact in facts if fact)})")
    if status == "FAILED":
        out.print(f"could not be labelled: {_error_line(item)}")
    elif status == "DELETED":
        out.print("deleted from the bucket: no labels")
    elif item.get("Labels"):
        rows = [[label["Name"], confidence_text(label["Confidence"]), ", ".join(label.get("Parents") or []),
                 str(len(label.get("Instances") or []))] for label in item["Labels"]]
        out.print(render_table(["LABEL", "CONFIDENCE", "PARENTS", "BOXES"], rows))
    else:
        out.print("no labels above the confidence threshold")
    return EXIT_OK


def _unknown_key_message(connection: Connection, key: str) -> str:
    """Says whether the object exists at all, which is what the user needs to know next."""
    try:
        connection.client("s3").head_object(Bucket=connection.outputs.bucket, Key=key)
    except ClientError as error:
        if error_code(error) in {"404", "NoSuchKey", "NotFound"}:
            return f"no image {key!r}: not in the bucket and not in the label table (keys are case-sensitive)"
        return f"no image {key!r} in the label table"
    except (BotoCoreError, UserError):
        return f"no image {key!r} in the label table"
    if not is_image_key(key):
        return f"{key!r} is in the bucket but is not labelled: only .jpg, .jpeg and .png keys are"
    return f"{key!r} is in the bucket but not labelled yet: wait a moment, or run: imagelabels backfill {key!r}"


def run_labels(args, connection: Connection, out: Output) -> int:
    from label_table.search import library_labels

    counts = library_labels(connection.client("dynamodb"), connection.outputs.table)
    if args.json:
        out.print(to_json([{"label": count.label, "images": count.images} for count in counts]))
    elif counts:
        out.print(render_table(["LABEL", "IMAGES"], [[count.label, count.images] for count in counts]))
    else:
        print("no labelled image yet", file=out.stderr)
    return EXIT_OK


def run_redrive(args, connection: Connection, out: Output, invoker_factory: InvokerFactory) -> int:
    from imagelabels import redrive as redriving

    queue_url = connection.outputs.failed_events_queue_url
    invoker = None if args.dry_run else invoker_factory(connection)
    report = redriving.redrive(sqs=connection.client("sqs"), queue_url=queue_url, invoker=invoker or (lambda event: None),
                               dry_run=args.dry_run, concurrency=args.concurrency, max_messages=args.max_messages)
    if args.json:
        out.print(to_json(report.as_json()))
    else:
        for message in report.messages:
            keys = ", ".join(message.keys) or "-"
            detail = f" ({message.detail})" if message.detail else ""
            out.print(f"{message.verdict:<12} {keys}{detail}")
        for problem in report.delete_errors:
            out.print(f"not removed  {problem}")
    if args.dry_run:
        summary = f"{report.count(redriving.WOULD_REPLAY)} event(s) would be replayed, {report.count(redriving.UNREADABLE)} unreadable; nothing changed"
    elif not report.messages:
        summary = "the failed-events queue is empty: nothing to replay"
    else:
        summary = (f"{report.count(redriving.SUCCEEDED)} succeeded, {report.count(redriving.FAILED)} failed again (kept in the queue), "
                   f"{report.count(redriving.SKIPPED)} skipped (newer state exists), {report.count(redriving.UNREADABLE)} unreadable (kept); "
                   f"{report.deleted} removed from the queue")
    print(summary, file=out.stderr if args.json else out.stdout)
    return EXIT_OK if report.ok else EXIT_FAILED


def run_backfill(args, connection: Connection, out: Output, invoker_factory: InvokerFactory) -> int:
    from imagelabels import backfill as backfilling

    outputs = connection.outputs
    invoker = None if args.dry_run else invoker_factory(connection)
    bar: list[ProgressBar] = []

    def planned(count: int) -> None:
        bar.append(out.progress(total=count, label="labelling", wanted=args.progress))

    try:
        report = backfilling.backfill(
            s3=connection.client("s3"), dynamodb=connection.client("dynamodb"), invoker=invoker or (lambda event: None),
            bucket=outputs.bucket, table=outputs.table, region=connection.region or "", prefix=args.prefix,
            force=args.force, dry_run=args.dry_run, concurrency=args.concurrency, on_planned=planned,
            on_done=lambda report: bar[0].advance(failed=report.outcome == backfilling.ERROR),
        )
    finally:
        if bar:
            bar[0].close()
    if args.json:
        out.print(to_json(report.as_json()))
    else:
        for entry in report.objects:
            if entry.outcome != backfilling.DONE:
                out.print(f"{entry.outcome:<12} {entry.key}" + (f" ({entry.detail})" if entry.detail else ""))
    done = report.count(backfilling.DONE)
    if args.dry_run:
        summary = f"{report.listed} image(s) under {args.prefix or 'the bucket'}: {report.count('would-label')} would be labelled, {done} already done"
    else:
        summary = (f"{report.listed} image(s) listed: {report.count(backfilling.LABELLED)} labelled, "
                   f"{report.count(backfilling.FAILED)} could not be labelled, {report.count(backfilling.NEWER)} had newer state, "
                   f"{report.count(backfilling.ERROR)} errors (rerun to retry), {done} already done")
    print(summary, file=out.stderr if args.json else out.stdout)
    return EXIT_OK if report.ok else EXIT_FAILED


# --- entry point ---------------------------------------------------------------------------------

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
        connection = Connection(target=target, session=session_factory(target),
                                pool_size=2 * getattr(args, "concurrency", 4))
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
