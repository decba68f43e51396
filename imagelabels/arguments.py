"""The `imagelabels` command line: its sub-commands and options, and what each value may be.
Options that say where the stack is are taken before or after the sub-command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from imagelabels import __version__
from imagelabels.uploads import DEFAULT_PART_SIZE, MIB, MIN_PART_SIZE, PARTS_AT_ONCE


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


def _part_size(text: str) -> int:
    value = _positive_int(text) * MIB
    if value < MIN_PART_SIZE:
        raise argparse.ArgumentTypeError(f"at least {MIN_PART_SIZE // MIB} (S3's smallest part), got {text}")
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
        description="Upload images and films to the image-labels bucket and find them by what is in them.",
    )
    parser.add_argument("--version", action="version", version=f"imagelabels {__version__}")
    _global_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    upload = commands.add_parser("upload", help="upload JPEG and PNG images and MP4/MOV films, files and folders (recursive)")
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    upload.add_argument("--prefix", default="", help="key prefix, e.g. shoots/2026/")
    upload.add_argument("--concurrency", type=_concurrency, default=8, help="files uploaded at once (default 8)")
    upload.add_argument("--part-size", type=_part_size, default=DEFAULT_PART_SIZE, metavar="MIB",
                        help=f"a file larger than this goes up in parts of this size, {PARTS_AT_ONCE} at once "
                             f"(MiB, at least 5; default {DEFAULT_PART_SIZE // MIB})")
    upload.add_argument("--wait", action="store_true", help="wait until each image and film is labelled (or failed), print its labels")
    upload.add_argument("--timeout", type=_seconds, default=300.0, help="how long --wait waits for an image, in seconds (default 300)")
    upload.add_argument("--film-timeout", type=_seconds, default=1800.0, metavar="SECONDS",
                        help="how long --wait waits for a film, in seconds (default 1800: a Rekognition Video job takes minutes)")
    upload.add_argument("--json", action="store_true", help="print the report as JSON")
    _progress_options(upload)

    search = commands.add_parser("search", help="images and films carrying all the given labels (a film: where they are on screen together), most confident first")
    search.add_argument("labels", nargs="+", metavar="LABEL")
    search.add_argument("--min-confidence", type=_confidence, default=None, metavar="PERCENT", help="only labels at least this confident (0-100)")
    search.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="at most N images and films")
    search.add_argument("--json", action="store_true", help="print JSON")

    show = commands.add_parser("show", help="the labels of one image, or a film's timeline, or why it could not be labelled")
    show.add_argument("key", metavar="KEY")
    show.add_argument("--json", action="store_true", help="print JSON")

    labels = commands.add_parser("labels", help="the labels in the library with how many images and films carry each")
    labels.add_argument("--json", action="store_true", help="print JSON")

    redrive = commands.add_parser("redrive", help="replay the events captured in the failed-events queue; move the film DLQs' messages back to their queues")
    redrive.add_argument("--dry-run", action="store_true", help="list the captured events; replay and remove nothing")
    redrive.add_argument("--concurrency", type=_concurrency, default=4, help="replays at once (default 4)")
    redrive.add_argument("--max-messages", type=_positive_int, default=None, metavar="N", help="replay at most N messages")
    redrive.add_argument("--json", action="store_true", help="print the report as JSON")

    backfill = commands.add_parser("backfill", help="label the images and films already in the bucket that the table does not describe")
    backfill.add_argument("prefix", nargs="?", default="", metavar="PREFIX", help="only keys starting with PREFIX")
    backfill.add_argument("--force", action="store_true", help="relabel images and films already labelled or failed too")
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
