"""Pipeline throughput on the local AWS: images labelled a minute at reserved concurrency 1, 2 and 4.

    .venv/bin/python bench/throughput.py [--images N] [--levels 1,2,4]

Deploys the stack with the real CDK CLI on the local AWS (in this process), then for each level
redeploys with `-c reservedConcurrency=LEVEL` (a stack update: the local AWS runs at most that many
invocations at once, as Lambda does), uploads N small photos at once and times from the first
upload until the last event is done. The labeller is the offline model at its real speed (the
local AWS's DetectLabels answer cache is off: each level uploads the same images again); S3,
Lambda's async queue, the handler and DynamoDB are all in the loop. Prints images a minute, the
ratio to level 1, the mean invocation time, and the model's own rate for comparison.

On AWS the same pipeline is bounded by the function's reserved concurrency over the seconds each
image takes, and by the Region's DetectLabels TPS quota, whichever is lower (README, "Failures,
retries and scaling"). Here the bound is this machine's cores: the model needs CPU, Lambda on
AWS gives each invocation its own.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from local_stack import (  # noqa: E402
    DeployedStack, assert_label_index_consistent, deploy_local_stack, redeploy, varied_images,
)


def model_rate(images: list[bytes], threads: int) -> float:
    """Images a second of the offline model alone, `threads` callers at once."""
    from local_aws.rekognition_model import OfflineLabeller

    labeller = OfflineLabeller.load(max_parallel=threads)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(labeller.detect_labels, images[:threads]))  # warm, one model pair a thread
        started = time.perf_counter()
        list(pool.map(labeller.detect_labels, images))
    return len(images) / (time.perf_counter() - started)


class PeakRunning:
    """The most invocations seen running at once (sampled every 10 ms): the limit at work."""

    def __init__(self, stack: DeployedStack) -> None:
        self._stack = stack
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.value = 0

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.value = max(self.value, self._stack.stats()["in_flight"])

    def __enter__(self) -> "PeakRunning":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


def run_level(stack: DeployedStack, level: int, images: list[bytes], warm_up: list[bytes]) -> dict:
    redeploy_s = redeploy(stack, context={"reservedConcurrency": str(level)})
    configured = stack.lambda_.get_function_concurrency(FunctionName=stack.function_name)
    assert configured.get("ReservedConcurrentExecutions") == level, configured
    # Warm workers for this level first: Lambda's cold starts are not what is measured here.
    stack.put_many({f"bench/c{level}/warm-{n}.jpg": body for n, body in enumerate(warm_up[:level])})
    stack.wait_idle(300)

    invocations_before = len(stack.aws.invocations)
    before = stack.stats()
    keys = {f"bench/c{level}/img-{n:03d}.jpg": body for n, body in enumerate(images)}
    load_before = os.getloadavg()[0]
    peak = PeakRunning(stack)
    started = time.monotonic()
    with peak:
        stack.put_many(keys, threads=16)
        stack.wait_idle(1800)
    seconds = time.monotonic() - started
    after = stack.stats()

    labelled = sum(1 for key in keys if (stack.image(key) or {}).get("Status") == "LABELLED")
    if labelled != len(keys) or after["failed_to_destination"] != before["failed_to_destination"]:
        raise SystemExit(f"level {level}: only {labelled} of {len(keys)} labelled: {after}")
    durations = [entry["duration_ms"] / 1000 for entry in stack.aws.invocations[invocations_before:]]
    return {
        "level": level,
        "images": len(keys),
        "seconds": seconds,
        "per_minute": len(keys) / seconds * 60,
        "invocation_s": statistics.mean(durations),
        "waited_for_slot": after["throttled"] - before["throttled"],
        "redeploy_s": redeploy_s,
        "peak_running": peak.value,
        "load_average": load_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60, help="images uploaded at once at each level (default 60)")
    parser.add_argument("--levels", default="1,2,4", help="reserved concurrency levels (default 1,2,4)")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    logging.basicConfig(level=logging.WARNING)

    images = varied_images(args.images, seed=11)
    warm_up = varied_images(max(levels), seed=12)
    print(f"{os.cpu_count()} CPU cores; {args.images} images ({sum(map(len, images)) // len(images) // 1024} KB "
          f"on average) a level", flush=True)
    rates = {threads: model_rate(images[:24], threads) for threads in (1, 2)}
    print(f"offline model alone: {rates[1] * 60:.0f} images/min with 1 caller, {rates[2] * 60:.0f} with 2", flush=True)

    started = time.monotonic()
    # The same images go up at every level: with the DetectLabels answer cache on, every level after
    # the first would skip the model and measure nothing but the pipeline around it.
    with deploy_local_stack(detect_labels_cache_size=0) as stack:
        assert stack.aws.detect_labels_cache is None
        print(f"local AWS started, bootstrapped and deployed in {time.monotonic() - started:.0f} s; "
              "DetectLabels answer cache off: the model labels every upload", flush=True)
        results = []
        for level in levels:
            result = run_level(stack, level, images, warm_up)
            results.append(result)
            print(f"  reserved concurrency {level}: {result['per_minute']:.0f} images/min "
                  f"({result['images']} in {result['seconds']:.1f} s; {result['invocation_s']:.2f} s an invocation; "
                  f"at most {result['peak_running']} running at once; update deploy {result['redeploy_s']:.0f} s; "
                  f"load average {result['load_average']:.1f} before)", flush=True)
        assert_label_index_consistent(stack)

    base = results[0]["per_minute"]
    print("\n| reserved concurrency | images/min | ratio to 1 | s per invocation | most running at once |")
    print("| --- | --- | --- | --- | --- |")
    for result in results:
        print(f"| {result['level']} | {result['per_minute']:.0f} | {result['per_minute'] / base:.2f} | "
              f"{result['invocation_s']:.2f} | {result['peak_running']} |")
    print(f"\n{os.cpu_count()} cores bound the local figures (the model alone: {rates[2] * 60:.0f} images/min on 2 "
          "callers). On AWS: images/min ~= 60 x min(reserved concurrency / seconds per image, DetectLabels TPS quota).")


if __name__ == "__main__":
    main()
