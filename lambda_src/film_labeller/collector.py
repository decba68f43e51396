"""Lambda entry point of the film collector: SQS batches (size 1) from the FilmCompletions
queue: Rekognition's job notifications through SNS, and the continuations it sends itself.

Clients are created once per execution environment, at import, and reused by every invocation.
"""

from __future__ import annotations

import logging
import os
import random

import boto3
from botocore.config import Config

from film_labeller.collect import CollectorSettings, collect
from film_labeller.completion import Continuation, continuation_body, parse_completion
from film_labeller.film_store import FilmStore
from film_labeller.sqs_batch import MessageDelays, first_retry_seconds, process_batch

logger = logging.getLogger("film_labeller.collector")

_AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
# Without a Lambda context (a direct call), assume the most Lambda allows.
_DEFAULT_REMAINING_MILLIS = 900_000

SETTINGS = CollectorSettings.from_environment(os.environ)
REKOGNITION = boto3.client("rekognition", config=_AWS_CONFIG)
SQS = boto3.client("sqs", config=_AWS_CONFIG)
STORE = FilmStore(boto3.client("dynamodb", config=_AWS_CONFIG), SETTINGS.table_name)
DELAYS = MessageDelays(SQS, queue_url=SETTINGS.completions_queue_url, logger=logger)
JITTER = random.Random()
FIRST_RETRY_SECONDS = first_retry_seconds(os.environ)


def handle(event, context=None) -> dict:
    remaining = getattr(context, "get_remaining_time_in_millis", None) or (lambda: _DEFAULT_REMAINING_MILLIS)

    def collect_message(record: dict) -> str:
        return collect(parse_completion(record.get("body")), rekognition=REKOGNITION, store=STORE,
                       hand_on=_hand_on, remaining_millis=remaining)

    return process_batch(event, collect_message, delays=DELAYS, logger=logger, jitter=JITTER.random,
                         first_delay_s=FIRST_RETRY_SECONDS)


def _hand_on(continuation: Continuation) -> None:
    SQS.send_message(QueueUrl=SETTINGS.completions_queue_url, MessageBody=continuation_body(continuation))
    logger.info("Job handed on", extra={"job_id": continuation.job_id, "pages": continuation.pages})
