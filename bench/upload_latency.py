"""Upload-to-labelled latency on the local AWS, and the labeller's milliseconds per image.

    .venv/bin/python bench/upload_latency.py [--uploads 50]

Deploys the stack into a fresh local AWS (real CDK CLI), then uploads the sample photos under new
keys: first one at a time (each waits for its labels), then all at once as a burst. Latency is
from PutObject's start to the image item being LABELLED for that upload's version, seen by polling
DynamoDB every 20 ms. Also prints the handler's duration per invocation (Lambda's REPORT Duration:
DetectLabels with the offline model plus the DynamoDB transaction) and the model alone per image.
Every figure comes from this run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from label_table.layout import STATUS_LABELLED  # noqa: E402
from label_table.object_summary import object_item  # noqa: E402
from local_aws.clients import local_client  # noqa: E402
from local_aws.demo import sample_images  # noqa: E402
from local_aws.server import LocalAws  # noqa: E402
from local_aws.stack_deployment import stack_on_local_aws  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def labelled_version(dynamodb, table: str, key: str) -> str | None:
    item = object_item(dynamodb, table, key)
    return item.get("VersionId") if item and item.get("Status") == STATUS_LABELLED else None


def measure(s3, dynamodb, bucket: str, table: str, uploads: list[tuple[str, bytes]], *, burst: bool) -> list[float]:
    started: dict[str, float] = {}
    versions: dict[str, str] = {}
    latencies: dict[str, float] = {}

    def wait(keys: list[str]) -> None:
        deadline = time.monotonic() + 300
        while any(key not in latencies for key in keys):
            if time.monotonic() > deadline:
                raise SystemExit(f"not labelled within 300 s: {[k for k in keys if k not in latencies]}")
            for key in keys:
                if key not in latencies and labelled_version(dynamodb, table, key) == versions[key]:
                    latencies[key] = time.monotonic() - started[key]
            time.sleep(0.02)

    for key, body in uploads:
        started[key] = time.monotonic()
        versions[key] = s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]
        if not burst:
            wait([key])
    wait([key for key, _ in uploads])
    return [latencies[key] for key, _ in uploads]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=50)
    args = parser.parse_args()
    samples = [(path.name, path.read_bytes()) for path in sample_images()]

    with tempfile.TemporaryDirectory(prefix="latency-bench-") as folder:
        # The uploads reuse the sample photos: with the answer cache on, every repeat would skip the
        # model and the latency would not be the pipeline's.
        aws = LocalAws(state_dir=Path(folder) / "state", detect_labels_cache_size=0)
        with stack_on_local_aws(aws) as deployment:
            s3, dynamodb = local_client(aws.endpoint, "s3"), local_client(aws.endpoint, "dynamodb")
            bucket, table = deployment.outputs.bucket, deployment.outputs.table

            # Warm-up: the first invocation starts a worker and loads the model.
            measure(s3, dynamodb, bucket, table, [("warm-up/" + samples[0][0], samples[0][1])], burst=False)
            aws.invocations.clear()

            def batch(name: str) -> list[tuple[str, bytes]]:
                return [(f"{name}/{i:03d}-{samples[i % len(samples)][0]}", samples[i % len(samples)][1])
                        for i in range(args.uploads)]

            one_by_one = measure(s3, dynamodb, bucket, table, batch("sequential"), burst=False)
            handler_ms = [record["duration_ms"] for record in aws.invocations if record["function"].startswith("ImageLabels")]
            burst_started = time.monotonic()
            burst = measure(s3, dynamodb, bucket, table, batch("burst"), burst=True)
            burst_seconds = time.monotonic() - burst_started

    from local_aws.rekognition_model import OfflineLabeller

    labeller = OfflineLabeller.load()
    model_ms = []
    for _ in range(3):
        for _, body in samples:
            started = time.perf_counter()
            labeller.detect_labels(body, max_labels=10, min_confidence=70)
            model_ms.append((time.perf_counter() - started) * 1000)

    def line(name: str, values: list[float]) -> str:
        return (f"{name:38s} p50 {statistics.median(values):7.0f} ms   p95 {percentile(values, 0.95):7.0f} ms"
                f"   (n={len(values)})")

    print("DetectLabels answer cache off: the model labels every upload")
    print(line("upload -> labelled, one at a time", [v * 1000 for v in one_by_one]))
    print(line(f"upload -> labelled, burst of {args.uploads}", [v * 1000 for v in burst]))
    print(f"{'burst throughput':38s} {args.uploads / burst_seconds:7.1f} images/s")
    print(line("handler duration per invocation", handler_ms))
    print(line("offline model alone per image", model_ms))
    print(f"model share of the one-at-a-time p50: {statistics.median(model_ms) / (statistics.median(one_by_one) * 1000):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
