"""How a Rekognition Video job is tied to the object event that started it. Pure."""

from __future__ import annotations

import hashlib

JOB_TAG_PREFIX = "film-"


def client_request_token(*, bucket: str, key: str, version_id: str | None, sequencer: str,
                         min_confidence: float, relabel_time: str | None = None) -> str:
    """The same event for the same object version always gets the same token, so a retried start
    returns the job already running (Rekognition keeps tokens 7 days) and sends no second
    notification.

    The token also covers what else varies in the request (the event's sequencer, which is in
    the JobTag, and MinConfidence): Rekognition answers a known token with other parameters with
    IdempotentParameterMismatchException, which no retry cures. So a redeploy with another
    minConfidence, or a relabel request, starts a job of its own. In an unversioned bucket the
    sequencer is also what tells two uploads of one key apart.

    A relabel request (`imagelabels backfill`) carries the sequencer already stored, so that alone
    would give the token of the job that labelled the film before: Rekognition would answer with
    that finished job and send no notification, and the film would stay PROCESSING for good. Its
    `relabel_time` (the request's eventTime, one per backfill run, the same on a redelivery) makes
    each relabel request a job of its own.
    """
    material = f"{bucket}\n{key}\n{version_id or ''}\n{sequencer}\n{float(min_confidence)!r}"
    if relabel_time is not None:
        material += f"\nrelabel {relabel_time}"
    return _sha256(material)[:64]


def job_tag(*, key: str, sequencer: str) -> str:
    """film-<32 hex of sha256(key)>-<sequencer>. The hash leads back to the film item; the
    sequencer of the starting event tells the collector whether a job it does not find on the
    film item is stale (older than the item) or not recorded yet (newer: the starter's write is
    still to come, e.g. it is being retried), so its one notification is not thrown away."""
    return f"{JOB_TAG_PREFIX}{_sha256(key)[:32]}-{sequencer}"


def tag_sequencer(tag: str | None) -> str | None:
    """The sequencer job_tag put in `tag`; None for a tag this labeller did not make."""
    if not tag or not tag.startswith(JOB_TAG_PREFIX):
        return None
    parts = tag[len(JOB_TAG_PREFIX):].split("-")
    if len(parts) != 2 or not parts[1]:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
