"""`imagelabels labels`: every label in the library with how many objects (images and films)
carry it, from the pipeline's counters."""

from __future__ import annotations

from imagelabels.connection import Connection
from imagelabels.console import EXIT_OK, Output
from imagelabels.output import render_table, to_json
from label_table.search import library_labels


def run_labels(args, connection: Connection, out: Output) -> int:
    counts = library_labels(connection.client("dynamodb"), connection.outputs.table)
    if args.json:
        out.print(to_json([{"label": count.label, "objects": count.objects} for count in counts]))
    elif counts:
        out.print(render_table(["LABEL", "OBJECTS"], [[count.label, count.objects] for count in counts]))
    else:
        print("nothing labelled yet", file=out.stderr)
    return EXIT_OK
