"""`imagelabels show KEY`: one image's labels, one film's timeline, or why there are none."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from imagelabels.connection import Connection
from imagelabels.console import EXIT_OK, Output
from imagelabels.errors import UserError, error_code
from imagelabels.output import confidence_text, error_line, human_size, ranges_text, render_table, to_json
from imagelabels.uploads import is_film_key, is_image_key
from label_table.layout import STATUS_DELETED, STATUS_FAILED, STATUS_LABELLED, STATUS_PROCESSING, is_film
from label_table.object_summary import film_labels, object_item, object_summary
from label_table.segments import format_ms


def run_show(args, connection: Connection, out: Output) -> int:
    dynamodb, table = connection.client("dynamodb"), connection.outputs.table
    item = object_item(dynamodb, table, args.key)
    if item is None:
        raise UserError(_unknown_key_message(connection, args.key))
    entries = film_labels(dynamodb, table, item) if is_film(item) and item.get("Status") == STATUS_LABELLED else None
    if args.json:
        out.print(to_json(object_summary(item, entries)))
        return EXIT_OK
    status = item.get("Status", "?")
    facts = [f"{human_size(item['Size'])}" if item.get("Size") is not None else None,
             f"version {item['VersionId']}" if item.get("VersionId") else None,
             f"updated {item['UpdatedAt']}" if item.get("UpdatedAt") else None]
    out.print(f"{args.key}  {status}  ({', '.join(fact for fact in facts if fact)})")
    if status == STATUS_FAILED:
        out.print(f"could not be labelled: {error_line(item)}")
    elif status == STATUS_DELETED:
        out.print("deleted from the bucket: no labels")
    elif is_film(item):
        _film_timeline(item, entries, out)
    elif item.get("Labels"):
        rows = [[label["Name"], confidence_text(label["Confidence"]), ", ".join(label.get("Parents") or []),
                 str(len(label.get("Instances") or []))] for label in item["Labels"]]
        out.print(render_table(["LABEL", "CONFIDENCE", "PARENTS", "BOXES"], rows))
    else:
        out.print("no labels above the confidence threshold")
    return EXIT_OK


def _film_timeline(item: dict, entries: list[dict] | None, out: Output) -> None:
    if item.get("Status") == STATUS_PROCESSING:
        out.print(f"being labelled (Rekognition Video job {item.get('JobId')}): run show again in a few minutes")
        return
    out.print(f"film: {film_facts(item)}")
    if not entries:
        out.print("no labels above the confidence threshold")
        return
    rows = [[entry["Label"], confidence_text(entry["Confidence"]), ranges_text(entry.get("Segments"), limit=12)]
            for entry in entries]
    out.print(render_table(["LABEL", "CONFIDENCE", "ON SCREEN"], rows))


def film_facts(item: dict) -> str:
    """"2:05, 29.97 fps, h264, 1280x720" from what Rekognition told of the film."""
    facts = []
    if item.get("DurationMillis") is not None:
        facts.append(format_ms(item["DurationMillis"], round_up=True))
    if item.get("FrameRate") is not None:
        facts.append(f"{float(item['FrameRate']):g} fps")
    if item.get("Codec"):
        facts.append(str(item["Codec"]))
    if item.get("FrameWidth") and item.get("FrameHeight"):
        facts.append(f"{item['FrameWidth']}x{item['FrameHeight']}")
    return ", ".join(facts) or "no metadata"


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
    if not (is_image_key(key) or is_film_key(key)):
        return f"{key!r} is in the bucket but is not labelled: only .jpg, .jpeg, .png, .mp4 and .mov keys are"
    return f"{key!r} is in the bucket but not labelled yet: wait a moment, or run: imagelabels backfill {key!r}"
