"""`imagelabels search`: the images and films carrying labels, as a table (a film with the time
ranges where the labels are on screen together) or JSON."""

from __future__ import annotations

from imagelabels.connection import Connection
from imagelabels.console import EXIT_OK, Output
from imagelabels.output import confidence_text, ranges_text, render_table, to_json
from label_table.search import search_library, unknown_labels_with_suggestions


def run_search(args, connection: Connection, out: Output) -> int:
    hits = search_library(connection.client("dynamodb"), connection.outputs.table, args.labels,
                          min_confidence=args.min_confidence, limit=args.limit)
    if args.json:
        out.print(to_json([hit.as_json() for hit in hits]))
        return EXIT_OK
    if not hits:
        # A label nothing has is the whole explanation (with its look-alikes); only when every label
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
    films = any(hit.segments is not None for hit in hits)
    rows = [[hit.key, confidence_text(hit.confidence)]
            + ([", ".join(f"{name} {confidence_text(value)}" for name, value in hit.labels.items())] if several else [])
            + ([ranges_text(hit.segments) if hit.segments is not None else ""] if films else [])
            for hit in hits]
    headers = ["KEY", "CONFIDENCE"] + (["LABELS"] if several else []) + (["ON SCREEN"] if films else [])
    out.print(render_table(headers, rows))
    return EXIT_OK
