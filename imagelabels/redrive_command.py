"""`imagelabels redrive`: replay the image labeller's failed events through the function, and move
the film pipeline's dead letters back to their queues (a stack without film queues: images only)."""

from __future__ import annotations

from imagelabels import queue_moves
from imagelabels import redrive as redriving
from imagelabels.connection import Connection, InvokerFactory
from imagelabels.console import EXIT_FAILED, EXIT_OK, Output
from imagelabels.output import to_json
from imagelabels.stack_outputs import (
    FILM_COMPLETION_FAILURES_QUEUE,
    FILM_COMPLETIONS_QUEUE,
    FILM_EVENT_FAILURES_QUEUE,
    FILM_EVENTS_QUEUE,
)

FILM_QUEUES = (
    ("film events", FILM_EVENT_FAILURES_QUEUE, FILM_EVENTS_QUEUE),
    ("film completions", FILM_COMPLETION_FAILURES_QUEUE, FILM_COMPLETIONS_QUEUE),
)


def film_queue_pairs(connection: Connection) -> list[queue_moves.QueuePair]:
    pairs = []
    for name, dead_letters, source in FILM_QUEUES:
        dead_letters_url, source_url = connection.outputs.optional(dead_letters), connection.outputs.optional(source)
        if dead_letters_url and source_url:
            pairs.append(queue_moves.QueuePair(name=name, dead_letters_url=dead_letters_url, source_url=source_url))
    return pairs


def run_redrive(args, connection: Connection, out: Output, invoker_factory: InvokerFactory) -> int:
    queue_url = connection.outputs.failed_events_queue_url
    invoker = None if args.dry_run else invoker_factory(connection)
    sqs = connection.client("sqs")
    report = redriving.redrive(sqs=sqs, queue_url=queue_url, invoker=invoker or (lambda event: None),
                               dry_run=args.dry_run, concurrency=args.concurrency, max_messages=args.max_messages)
    moves = [queue_moves.move_back(sqs, pair, dry_run=args.dry_run, max_messages=args.max_messages)
             for pair in film_queue_pairs(connection)]
    if args.json:
        document = report.as_json()
        if moves:
            document["films"] = {move.pair.name.removeprefix("film "): move.as_json() for move in moves}
        out.print(to_json(document))
    else:
        for message in report.messages:
            keys = ", ".join(message.keys) or "-"
            detail = f" ({message.detail})" if message.detail else ""
            out.print(f"{message.verdict:<12} {keys}{detail}")
        for problem in report.delete_errors:
            out.print(f"not removed  {problem}")
        for move in moves:
            for message in move.messages:
                detail = f": {message.detail}" if message.detail else ""
                out.print(f"{message.verdict:<12} {', '.join(message.keys) or '-'} ({move.pair.name}{detail})")
    out.summary(_image_summary(report, dry_run=args.dry_run), as_json=args.json)
    for move in moves:
        if move.messages:
            out.summary(_film_summary(move, dry_run=args.dry_run), as_json=args.json)
    return EXIT_OK if report.ok and all(move.ok for move in moves) else EXIT_FAILED


def _image_summary(report: redriving.RedriveReport, *, dry_run: bool) -> str:
    if dry_run:
        return (f"{report.count(redriving.WOULD_REPLAY)} event(s) would be replayed, "
                f"{report.count(redriving.UNREADABLE)} unreadable; nothing changed")
    if not report.messages:
        return "the failed-events queue is empty: nothing to replay"
    return (f"{report.count(redriving.SUCCEEDED)} succeeded, {report.count(redriving.FAILED)} failed again (kept in the queue), "
            f"{report.count(redriving.SKIPPED)} skipped (newer state exists), {report.count(redriving.UNREADABLE)} unreadable (kept); "
            f"{report.deleted} removed from the queue")


def _film_summary(move: queue_moves.MoveReport, *, dry_run: bool) -> str:
    if dry_run:
        return f"{move.pair.name}: {move.count(queue_moves.WOULD_MOVE)} message(s) would be moved back to their queue"
    return (f"{move.pair.name}: {move.count(queue_moves.MOVED)} moved back to their queue, "
            f"{move.count(queue_moves.NOT_MOVED)} not moved (kept in the dead-letter queue), "
            f"{move.count(queue_moves.NOT_REMOVED)} moved but not removed (a rerun moves them again, harmlessly)")
