"""`imagelabels backfill`: label what is in the bucket but not in the table, and report each object."""

from __future__ import annotations

from imagelabels import backfill as backfilling
from imagelabels.connection import Connection, InvokerFactory
from imagelabels.console import EXIT_FAILED, EXIT_OK, Output
from imagelabels.output import to_json
from imagelabels.progress import ProgressBar
from imagelabels.stack_outputs import FILM_EVENTS_QUEUE
from imagelabels.uploads import is_film_key


def run_backfill(args, connection: Connection, out: Output, invoker_factory: InvokerFactory) -> int:
    outputs = connection.outputs
    invoker = None if args.dry_run else invoker_factory(connection)
    # A stack deployed before films has no film pipeline: its films are left alone, as before.
    film_queue = outputs.optional(FILM_EVENTS_QUEUE)
    bar: list[ProgressBar] = []

    def planned(count: int) -> None:
        bar.append(out.progress(total=count, label="labelling", wanted=args.progress))

    try:
        report = backfilling.backfill(
            s3=connection.client("s3"), dynamodb=connection.client("dynamodb"), invoker=invoker or (lambda event: None),
            bucket=outputs.bucket, table=outputs.table, region=connection.region or "", prefix=args.prefix,
            force=args.force, dry_run=args.dry_run, concurrency=args.concurrency, on_planned=planned,
            sqs=connection.client("sqs") if film_queue else None, film_events_queue_url=film_queue,
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
    out.summary(_summary(report, args), as_json=args.json)
    return EXIT_OK if report.ok else EXIT_FAILED


def _summary(report: backfilling.BackfillReport, args) -> str:
    films = {entry.key for entry in report.objects if is_film_key(entry.key)}
    images = [entry for entry in report.objects if entry.key not in films]
    film_entries = [entry for entry in report.objects if entry.key in films]

    def count(entries, outcome: str) -> int:
        return sum(1 for entry in entries if entry.outcome == outcome)

    if args.dry_run:
        text = (f"{report.listed} image(s) under {args.prefix or 'the bucket'}: {count(images, 'would-label')} would be "
                f"labelled, {count(images, backfilling.DONE)} already done")
        if report.films_listed:
            text += (f"; {report.films_listed} film(s): {count(film_entries, 'would-label')} would be queued for labelling, "
                     f"{count(film_entries, backfilling.DONE)} already done")
        return text
    text = (f"{report.listed} image(s) listed: {count(images, backfilling.LABELLED)} labelled, "
            f"{count(images, backfilling.FAILED)} could not be labelled, {count(images, backfilling.NEWER)} had newer state, "
            f"{count(images, backfilling.ERROR)} errors (rerun to retry), {count(images, backfilling.DONE)} already done")
    if report.films_listed:
        text += (f"; {report.films_listed} film(s) listed: {count(film_entries, backfilling.QUEUED)} queued for labelling "
                 f"(rerun later to see them done), {count(film_entries, backfilling.ERROR)} errors (rerun to retry), "
                 f"{count(film_entries, backfilling.DONE)} already done")
    return text
