"""Film pipeline speed on the local AWS: seconds of film labelled per second of wall time, from
PutObject to the film item LABELLED, and where that time goes.

    .venv/bin/python bench/film_pipeline_speed.py [--lengths 15,60] [--sizes 320x240,1280x720]

Deploys the stack into a fresh local AWS in this process (the real CDK CLI, as every caller does:
local_aws/stack_deployment.py). Makes the films first (not timed) with tests/film_factory.py:
H.264 at 10 fps, shots of the sample photos 3 s each, of every length at every size. A 3 s film
at each size goes through first, not reported: the starter's and the collector's workers start
and the model loads there, as they would have on a library already in use. Then each film alone:
put_object under a new key, then a consistent GetItem every 20 ms until its item is LABELLED for
that version ("wall"). The split, all from this run:
- job: the local Rekognition Video job from a worker taking it to its result (decode + model),
  from LocalVideoJobs.job_times;
- collector: the Duration of the collector's invocations (LocalAws.invocations, Lambda's REPORT
  Duration) in that time: GetLabelDetection pages and the DynamoDB transactions;
- rest: wall - job - collector: the PutObject itself, S3's notification -> FilmEvents (SQS) ->
  the starter (its Duration shown apart) -> StartLabelDetection, and Rekognition's SNS message ->
  FilmCompletions (SQS) -> the collector, plus up to 20 ms of polling. "before the job" is
  PutObject's start to StartLabelDetection accepted (the starter's Duration beside it: its write
  after the start overlaps the job); "after" is the job's end to LABELLED seen, less the
  collector, which can come out a few ms below zero: its Duration runs past its last write.
The local job runs on this machine's cores alongside everything else (load average printed).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from film_factory import ASTRONAUT, CAMERAMAN, CAT, CUP, ROCKET, Shot, film  # noqa: E402
from label_table.layout import STATUS_LABELLED  # noqa: E402
from label_table.object_summary import object_item  # noqa: E402
from local_aws.clients import local_client  # noqa: E402
from local_aws.server import LocalAws  # noqa: E402
from local_aws.stack_deployment import stack_on_local_aws  # noqa: E402

FPS = 10
SHOT_SECONDS = 3
PHOTOS = [CAT, CUP, CAMERAMAN, ROCKET, ASTRONAUT]
POLL_S = 0.02
TIMEOUT_S = 900


@dataclass(frozen=True, kw_only=True)
class Film:
    name: str
    seconds: int
    width: int
    height: int
    data: bytes


@dataclass(frozen=True, kw_only=True)
class Timing:
    wall: float
    before_job: float  # PutObject's start to StartLabelDetection accepted
    waiting: float  # StartLabelDetection to a worker taking the job
    job: float
    after_job: float  # the job's result to LABELLED seen
    collector: float
    starter: float
    film_seconds: float
    labels: int
    load: float


def make_film(seconds: int, width: int, height: int) -> Film:
    shots = [Shot.of(PHOTOS[index % len(PHOTOS)], SHOT_SECONDS) for index in range(seconds // SHOT_SECONDS)]
    return Film(name=f"{seconds}s-{width}x{height}.mp4", seconds=seconds, width=width, height=height,
                data=film(shots, width=width, height=height, fps=FPS))


class Pipeline:
    """The deployed stack on the local AWS, driven one film at a time."""

    def __init__(self, aws: LocalAws, outputs: dict[str, str]) -> None:
        self.aws = aws
        self.bucket, self.table = outputs["BucketName"], outputs["TableName"]
        self.starter, self.collector = outputs["StarterFunctionName"], outputs["CollectorFunctionName"]
        self.s3, self.dynamodb = local_client(aws.endpoint, "s3"), local_client(aws.endpoint, "dynamodb")

    def run(self, key: str, data: bytes) -> Timing:
        load = os.getloadavg()[0]
        invocations_before = len(self.aws.invocations)
        started = time.monotonic()
        version = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="video/mp4")["VersionId"]
        deadline = started + TIMEOUT_S
        while True:
            item = object_item(self.dynamodb, self.table, key)
            if item and item.get("VersionId") == version and item.get("Status") == STATUS_LABELLED:
                wall = time.monotonic() - started
                break
            if item and item.get("VersionId") == version and item.get("Status") not in (None, "PROCESSING"):
                raise SystemExit(f"{key}: {item.get('Status')} {item.get('Error')}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{key}: not labelled within {TIMEOUT_S} s: {item}")
            time.sleep(POLL_S)
        # The collector's invocation is recorded as it returns, a moment after its last write.
        if not self.aws.wait_idle(60):
            raise SystemExit("the pipeline was still busy a minute after the film was labelled")
        times = self.aws.video_jobs().job_times(item["JobId"])
        invocations = self.aws.invocations[invocations_before:]

        def duration(function: str) -> float:
            return sum(record["duration_ms"] for record in invocations if record["function"] == function) / 1000

        return Timing(wall=wall, before_job=times.submitted - started, waiting=times.started - times.submitted,
                      job=times.finished - times.started, after_job=started + wall - times.finished,
                      collector=duration(self.collector), starter=duration(self.starter),
                      film_seconds=int(item["DurationMillis"]) / 1000, labels=int(item.get("LabelCount", 0)),
                      load=load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="15,60", help="film lengths in seconds (default 15,60)")
    parser.add_argument("--sizes", default="320x240,1280x720", help="frame sizes (default 320x240,1280x720)")
    args = parser.parse_args()
    lengths = [int(length) for length in args.lengths.split(",")]
    sizes = [tuple(int(side) for side in size.split("x")) for size in args.sizes.split(",")]
    logging.basicConfig(level=logging.WARNING)
    # The deploy's notes on resource types the local AWS skips (README, "What it does not enforce").
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)

    warm_ups = [make_film(SHOT_SECONDS, width, height) for width, height in sizes]
    films = [make_film(seconds, width, height) for width, height in sizes for seconds in lengths]
    print(f"{os.cpu_count()} cores; films made: " + ", ".join(f"{f.name} {len(f.data) // 1024} KB" for f in films),
          flush=True)
    with tempfile.TemporaryDirectory(prefix="film-pipeline-bench-") as folder:
        started = time.monotonic()
        aws = LocalAws(state_dir=Path(folder) / "state")
        with stack_on_local_aws(aws) as deployment:
            print(f"local AWS started, bootstrapped and deployed in {time.monotonic() - started:.0f} s", flush=True)
            pipeline = Pipeline(aws, deployment.outputs.values)
            for warm_up in warm_ups:
                pipeline.run(f"bench/warm-up/{warm_up.name}", warm_up.data)
            results = []
            for one in films:
                timing = pipeline.run(f"bench/{one.name}", one.data)
                results.append((one, timing))
                print(f"  {one.name}: {timing.wall:.1f} s wall, job {timing.job:.1f} s, collector "
                      f"{timing.collector:.2f} s, {timing.labels} labels (load average {timing.load:.2f} before)",
                      flush=True)

    print("\n| film | wall s | film s per wall s | job (decode + model) s | job's film s per s | collector s "
          "| rest s: before the job (starter) / waiting for a worker / after the job, less the collector |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for one, t in results:
        rest = t.wall - t.job - t.collector
        print(f"| {one.width}x{one.height} {FPS} fps, {t.film_seconds:.0f} s, {len(one.data) // 1024} KB | {t.wall:.1f} "
              f"| {t.film_seconds / t.wall:.2f} | {t.job:.1f} ({t.job / t.wall:.0%}) | {t.film_seconds / t.job:.2f} "
              f"| {t.collector:.2f} ({t.collector / t.wall:.0%}) | {rest:.2f} ({rest / t.wall:.0%}): {t.before_job:.2f} "
              f"({t.starter:.2f}) / {t.waiting:.2f} / {t.after_job - t.collector:.2f} |")
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
