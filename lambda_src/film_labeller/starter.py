"""Lambda entry point of the film starter: SQS batches of S3 film events from the FilmEvents
queue (event source mapping with ReportBatchItemFailures).

Clients are created once per execution environment, at import, and reused by every invocation.
"""

from __future__ import annotations

import logging
import os
import random

import boto3
from botocore.config import Config

from film_labeller.film_events import film_events
from film_labeller.film_store import FilmStore
from film_labeller.sqs_batch import MessageDelays, first_retry_seconds, process_batch
from film_labeller.start import StarterSettings, start_film_event

logger = logging.getLogger("film_labeller.starter")

_AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
# One retry at most inside the call: when the account runs its 20 jobs (LimitExceeded), waiting
# seconds does not help; the queue's growing delay (minutes) does. botocore's retries
# "max_attempts" counts the retries after the first attempt ("total_max_attempts" would count all).
_REKOGNITION_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=5, read_timeout=20)

SETTINGS = StarterSettings.from_environment(os.environ)
REKOGNITION = boto3.client("rekognition", config=_REKOGNITION_CONFIG)
SQS = boto3.client("sqs", config=_AWS_CONFIG)
STORE = FilmStore(boto3.client("dynamodb", config=_AWS_CONFIG), SETTINGS.table_name)
DELAYS = MessageDelays(SQS, queue_url=SETTINGS.events_queue_url, logger=logger)
JITTER = random.Random()
FIRST_RETRY_SECONDS = first_retry_seconds(os.environ)


def handle(event, context=None) -> dict:
    return process_batch(event, _start_message, delays=DELAYS, logger=logger, jitter=JITTER.random,
                         first_delay_s=FIRST_RETRY_SECONDS)


def _start_message(record: dict) -> str:
    outcomes = []
    for change in film_events(record):
        outcome = start_film_event(change, rekognition=REKOGNITION, store=STORE, settings=SETTINGS)
        logger.info("Film event applied", extra={"bucket": change.bucket, "key": change.key,
                                                 "event_name": change.event_name, "sequencer": change.sequencer,
                                                 "outcome": outcome})
        outcomes.append(outcome)
    return ",".join(outcomes) or "no-object-event"
