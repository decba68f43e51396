"""Film scenarios on a deployed stack (tests/local_stack.py): the deployment the film end-to-end
modules share, uploads of many films at once, and what the starter's and collector's logs say."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Mapping

from local_stack import DeployedStack, deploy_local_stack

# A refused start or collection comes back after 1 s, 2 s, 4 s... instead of 60 s, 120 s...
FILM_TEST_CONTEXT = {"videoRetrySeconds": "1"}
# What the starter and the collector log for a message they leave to come back later.
RETRIED = "Message not processed; it will be retried"


@contextlib.contextmanager
def deploy_film_stack(tmp_path_factory, **local_aws_settings) -> Iterator[DeployedStack]:
    """The dev stack with short film retry delays, on a local AWS of its own (module scope)."""
    with deploy_local_stack(state_dir=tmp_path_factory.mktemp("local-aws"), context=FILM_TEST_CONTEXT,
                            **local_aws_settings) as stack:
        yield stack


@dataclass(frozen=True, kw_only=True)
class FilmUploads:
    versions: dict[str, str]  # key -> VersionId
    uploaded_at: float  # epoch seconds, just before the first upload
    poller: dict[str, int]  # what the event source mappings did meanwhile (EventSourcePoller.stats)

    def seconds_to(self, item: dict) -> float:
        """From the upload to the item's last write (the film's final state)."""
        return datetime.fromisoformat(item["UpdatedAt"]).timestamp() - self.uploaded_at


def upload_films_and_wait(stack: DeployedStack, bodies: Mapping[str, bytes], *, timeout_s: float = 240,
                          threads: int = 8) -> FilmUploads:
    """Every film uploaded at once, then the pipeline left to finish (delayed messages included)."""
    before = stack.aws.event_source_stats()
    uploaded_at = time.time()
    versions = stack.put_many(bodies, threads=threads)
    stack.wait_idle(timeout_s)
    after = stack.aws.event_source_stats()
    return FilmUploads(versions=versions, uploaded_at=uploaded_at,
                       poller={name: after[name] - before.get(name, 0) for name in after if name != "in_flight"})


def retried_messages(stack: DeployedStack, function_name: str) -> list[dict]:
    """The log records of each message the function left to come back (with errorType, retry_in_seconds)."""
    return [record for record in stack.log_records(function_name) if record.get("message") == RETRIED]
