"""Seconds from `make demo` start (dependencies installed) to the labels printed.

    .venv/bin/python bench/demo_time.py

Runs the demo twice in a fresh state folder: cold (starts the local AWS, bootstraps, deploys) and
warm (reuses the running local AWS: bootstrap and deploy find nothing to change), then stops it.
Prints both, the share of each step, and the warm/cold ratio, all measured in this run.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEP_TIMES = re.compile(r"==> (cdk \w+)[^\n]*\ndone in ([\d.]+) s")


def run_demo(state_dir: Path) -> tuple[float, float, dict[str, float]]:
    """(seconds to labels printed, seconds in total, seconds per CDK step) of one demo run."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "local_aws.demo", "--state-dir", str(state_dir)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, labels_printed = [], None
    for line in process.stdout:
        output.append(line)
        if labels_printed is None and line.startswith("(labels printed"):
            labels_printed = time.monotonic() - started
    if process.wait() != 0 or labels_printed is None:
        raise SystemExit("the demo failed:\n" + "".join(output[-40:]))
    steps = {name: float(seconds) for name, seconds in STEP_TIMES.findall("".join(output))}
    return labels_printed, time.monotonic() - started, steps


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as folder:
        state = Path(folder) / "state"
        try:
            cold = run_demo(state)
            warm = run_demo(state)
        finally:
            subprocess.run([sys.executable, "-m", "local_aws", "stop", "--state-dir", str(state)], cwd=ROOT,
                           stdout=subprocess.DEVNULL)
    for name, (labels, total, steps) in (("cold (starts the local AWS)", cold), ("warm (reuses it)", warm)):
        detail = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in steps.items())
        print(f"{name:28s} labels printed after {labels:5.1f} s (demo ends {total:5.1f} s; {detail})")
    print(f"warm / cold: {warm[0] / cold[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
