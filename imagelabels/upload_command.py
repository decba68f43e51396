"""`imagelabels upload`: send the files, wait for their labels if asked, report each file."""

from __future__ import annotations

from imagelabels.connection import Connection
from imagelabels.console import EXIT_FAILED, EXIT_OK, Output
from imagelabels.output import error_line, labels_line, to_json
from imagelabels.uploads import UploadResult, plan_uploads, upload_all, wait_for_labels
from label_table.layout import STATUS_LABELLED
from label_table.object_summary import segments_json


def run_upload(args, connection: Connection, out: Output) -> int:
    plan = plan_uploads(args.paths, prefix=args.prefix)
    results, waiting = [], []
    if plan.uploads:
        bucket = connection.outputs.bucket
        table = connection.outputs.table if args.wait else None
        s3 = connection.client("s3")
        total_bytes = sum(upload.size for upload in plan.uploads)
        # In bytes: one film can be most of the work, so a bar of files would stand still.
        with out.progress(total=total_bytes, label=f"uploading {len(plan.uploads)} file(s)", wanted=args.progress,
                          in_bytes=True) as bar:
            def done(result: UploadResult) -> None:
                if not result.ok:
                    bar.advance(0, failed=True)

            results = upload_all(s3, bucket, plan.uploads, concurrency=args.concurrency, part_size=args.part_size,
                                 on_bytes=bar.advance, on_done=done)
        if args.wait and any(result.ok for result in results):
            uploaded = [result for result in results if result.ok]
            with out.progress(total=len(uploaded), label="labelling", wanted=args.progress) as bar:
                waiting = wait_for_labels(connection.client("dynamodb"), table, uploaded, timeout=args.timeout,
                                          film_timeout=args.film_timeout,
                                          on_done=lambda result: bar.advance(failed=result.item.get("Status") != STATUS_LABELLED))
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
            out.print(_result_line(result, waited=args.wait, timeout=args.film_timeout if result.upload.is_film else args.timeout))
    summary = f"{len(uploaded)} uploaded, {len(plan.skipped)} skipped, {len(plan.unreadable) + len(failed_uploads)} failed"
    if args.wait and uploaded:
        labelled = sum(1 for result in uploaded if result.item and result.item.get("Status") == STATUS_LABELLED)
        unlabelled = sum(1 for result in uploaded if result.item and result.item.get("Status") != STATUS_LABELLED)
        summary += f"; {labelled} labelled, {unlabelled} could not be labelled, {len(timed_out)} not done in time"
    out.summary(summary, as_json=args.json)
    if not plan.uploads and not plan.unreadable:
        print("imagelabels: nothing to upload (no JPEG, PNG, MP4 or MOV file among the paths)", file=out.stderr)
        return EXIT_FAILED
    return EXIT_OK if not plan.unreadable and not failed_uploads and not timed_out else EXIT_FAILED


def _result_line(result: UploadResult, *, waited: bool, timeout: float) -> str:
    key = result.upload.key
    if not waited:
        return f"uploaded  {key}"
    if result.item is None:
        return f"waiting   {key}: not labelled within {timeout:g} s"
    if result.item.get("Status") != STATUS_LABELLED:
        return f"unlabelled {key}: {error_line(result.item)}"
    if result.upload.is_film:
        entries = result.film_entries or []
        return f"labelled  {key}: {labels_line([(entry['Label'], entry['Confidence']) for entry in entries])}"
    labels = result.item.get("Labels") or []
    return f"labelled  {key}: {labels_line([(label['Name'], label['Confidence']) for label in labels])}"


def _upload_json(result: UploadResult, *, waited: bool) -> dict:
    entry = {"path": str(result.upload.path), "key": result.upload.key, "content_type": result.upload.content_type,
             "size": result.upload.size, "version_id": result.version_id, "etag": result.etag}
    if waited:
        item = result.item or {}
        entry["status"] = item.get("Status", "WAITING")
        if result.upload.is_film:
            entry["labels"] = [{"name": film_entry["Label"], "confidence": film_entry["Confidence"],
                                "segments": segments_json(film_entry.get("Segments"))}
                               for film_entry in result.film_entries or []]
        else:
            entry["labels"] = [{"name": label["Name"], "confidence": label["Confidence"]} for label in item.get("Labels") or []]
        if item.get("Error"):
            entry["error"] = {"code": item["Error"].get("Code"), "message": item["Error"].get("Message")}
    return entry
