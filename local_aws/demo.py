"""`make demo`: the whole pipeline on this machine, with no AWS account.

Starts (or reuses) the local AWS, runs the real `cdk bootstrap` and `cdk deploy`, uploads the photos
in samples/ and the film in samples/films/, waits for their labels, prints them, runs one label
search, shows the film's timeline and a search across time with the `imagelabels` command itself,
makes a user for the web page the stack deployed, and says how to go on: the page's local URL with
that user's name and password, and the commands.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

from imagelabels.cli import main as imagelabels_main
from imagelabels.local_endpoint import pages_file, read_page_url
from imagelabels.uploads import UploadResult, is_film_key, is_image_key, plan_uploads, upload_all, wait_for_labels
from label_table.layout import BY_LABEL_INDEX
from label_table.search import search_library
from local_aws import cdk_cli
from local_aws.__main__ import DEFAULT_STATE_DIR, LOG_FILE, export_lines, not_enforced_text, start_daemon
from local_aws.clients import local_client, local_session
from local_aws.page_user import ensure_page_user
from local_aws.stack_deployment import STACK_NAME, StackDeployment

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
FILMS = SAMPLES / "films"
# Two labels on screen together in the demo film only from 0:09 to 0:12 (samples/films/make_demo_film.py).
TOGETHER = ("cat", "cup")
UPLOADS_AT_ONCE = 4
# The samples are labelled within seconds: poll as often as this, not with `upload --wait`'s backoff.
POLL_INTERVAL_S = 0.3


def sample_images(folder: Path = SAMPLES) -> list[Path]:
    return sorted(path for path in folder.iterdir() if is_image_key(path.name))


def sample_films(folder: Path = FILMS) -> list[Path]:
    return sorted(path for path in folder.iterdir() if is_film_key(path.name))


def upload_and_wait(s3, dynamodb, *, bucket: str, table: str, paths: list[Path],
                    timeout_s: float = 180) -> dict[str, UploadResult]:
    """Uploads each file under its own name, as `imagelabels upload FILE... --wait` does, and waits
    until each item (image or film) is LABELLED or FAILED for this very upload. Key -> its result
    (with .item)."""
    plan = plan_uploads(paths)
    not_sent = [f"{skipped.path}: {skipped.reason}" for skipped in plan.skipped + plan.unreadable]
    results = upload_all(s3, bucket, plan.uploads, concurrency=UPLOADS_AT_ONCE)
    not_sent += [f"{result.upload.path}: {result.error}" for result in results if not result.ok]
    if not_sent:
        raise RuntimeError("not uploaded: " + "; ".join(not_sent))
    waiting = wait_for_labels(dynamodb, table, results, timeout=timeout_s, film_timeout=timeout_s,
                              poll_interval=POLL_INTERVAL_S, max_interval=POLL_INTERVAL_S)
    if waiting:
        missing = sorted(result.upload.key for result in waiting)
        raise TimeoutError(f"no labels after {timeout_s:.0f} s for: {', '.join(missing)}")
    return {result.upload.key: result for result in results}


def label_summary(image: dict, top: int = 4) -> str:
    if image.get("Status") == "FAILED":
        error = image.get("Error") or {}
        return f"FAILED: {error.get('Code')} ({error.get('Message')})"
    labels = sorted(image.get("Labels") or [], key=lambda label: -float(label["Confidence"]))
    return ", ".join(f"{label['Name']} {float(label['Confidence']):.0f}%" for label in labels[:top]) or "(no labels)"


def table_text(rows: list[tuple[str, str]]) -> str:
    width = max(len("image"), *(len(name) for name, _ in rows))
    lines = [f"{'image'.ljust(width)}  top labels (confidence)", f"{'-' * width}  {'-' * 40}"]
    lines += [f"{name.ljust(width)}  {summary}" for name, summary in rows]
    return "\n".join(lines)


def most_shared_label(images: dict[str, dict]) -> str:
    counts = Counter(label["Name"] for image in images.values() for label in image.get("Labels") or [])
    if not counts:
        return "Person"
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def run_imagelabels(state_dir: Path, endpoint, *args: str) -> int:
    """`imagelabels --local ARGS` as a user types it, run in this process. With the default state
    folder that is exactly what runs; with another one (--state-dir) the same command is pointed
    at that endpoint with the local AWS's fake credentials."""
    print(f"$ .venv/bin/imagelabels --local {shlex.join(args)}", flush=True)
    if (ROOT / DEFAULT_STATE_DIR).resolve() == state_dir.resolve():
        code = imagelabels_main(["--local", *args], cwd=ROOT)
    else:
        code = imagelabels_main(["--endpoint-url", endpoint.endpoint_url, "--region", endpoint.region,
                                 "--stack", STACK_NAME, *args],
                                session_factory=lambda target: local_session(endpoint))
    sys.stdout.flush()
    return code


def run(state_dir: Path = DEFAULT_STATE_DIR) -> int:
    started = time.monotonic()
    step("Starting the local AWS (moto + local Lambda runtime + offline Rekognition model)")
    endpoint, fresh = start_daemon(state_dir)
    print(f"{'Started' if fresh else 'Reusing the running'} local AWS on {endpoint.endpoint_url} (logs: {state_dir / LOG_FILE})")
    print(not_enforced_text())

    deployment = StackDeployment(endpoint=endpoint, stack_name=STACK_NAME)
    step(f"cdk bootstrap aws://{endpoint.account_id}/{endpoint.region}")
    print(f"done in {deployment.bootstrap().seconds:.1f} s")
    step(f"cdk deploy {STACK_NAME} --require-approval never")
    print(f"done in {deployment.deploy().seconds:.1f} s")

    bucket, table = deployment.outputs.bucket, deployment.outputs.table
    print(f"bucket {bucket}\ntable  {table}")

    s3, dynamodb = local_client(endpoint, "s3"), local_client(endpoint, "dynamodb")
    images, films = sample_images(), sample_films()
    step(f"Uploading {len(images)} photos and {len(films)} film from samples/ to s3://{bucket}/")
    upload_started = time.monotonic()
    results = upload_and_wait(s3, dynamodb, bucket=bucket, table=table, paths=images + films)
    labelled = {key: result.item for key, result in results.items() if is_image_key(key)}
    print(f"all labelled {time.monotonic() - upload_started:.1f} s after the first upload "
          "(the film by Rekognition Video's local stand-in: a frame every 500 ms)\n")
    print(table_text([(name, label_summary(labelled[name])) for name in sorted(labelled)]))
    print(f"\n(labels printed {time.monotonic() - started:.1f} s after the demo started)")

    label = most_shared_label(labelled)
    step(f"Label search: which images show a {label!r}? (Query on the {BY_LABEL_INDEX} index, best first)")
    for hit in search_library(dynamodb, table, [label]):  # as `imagelabels search LABEL` finds them
        print(f"  {hit.key}  {hit.confidence:.1f}%")

    for film in films:
        step("The film's timeline: each label and when it is on screen")
        run_imagelabels(state_dir, endpoint, "show", film.name)
    if films:
        step(f"A search across time: where are {' and '.join(map(repr, TOGETHER))} on screen together?")
        run_imagelabels(state_dir, endpoint, "search", *TOGETHER)

    outputs = deployment.outputs
    page_url = read_page_url(pages_file(state_dir), outputs.require("DistributionId"))
    user = ensure_page_user(local_client(endpoint, "cognito-idp"), user_pool_id=outputs.require("UserPoolId"))

    step("Keep using it")
    print("The local AWS keeps running, with the stack deployed. Find and add images from the shell:\n")
    print(f"  .venv/bin/imagelabels --local search {label.lower()}")
    print(f"  .venv/bin/imagelabels --local search {' '.join(TOGETHER)}     # films: where both are on screen at once")
    print("  .venv/bin/imagelabels --local upload ~/Pictures --wait")
    print("  .venv/bin/imagelabels --local labels")
    print("\nOr point any AWS SDK or the CDK CLI at it:\n")
    print('  eval "$(.venv/bin/python -m local_aws env)"     # sets:')
    for line in export_lines(endpoint):
        print(f"      {line}")
    print(f"  node_modules/.bin/cdk deploy {STACK_NAME}     # redeploy your changes (bucket {bucket}, table {table})")
    print("\nStop it with:  make local-aws-stop      (it forgets every stack, bucket and table)")

    step("The web page: open it, sign in, search (or drop images and films on it to add them)")
    print("Served by the local page gateway, which stands for CloudFront, the HTTP API and Cognito's sign-in")
    print("page (a new password each time the demo runs):\n")
    print(f"  {page_url}")
    print(f"  user name  {user.username}")
    print(f"  password   {user.password}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws.demo", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    try:
        return run(args.state_dir)
    except cdk_cli.CdkFailed as error:
        print(f"\n{error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
