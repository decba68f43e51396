"""Run the project's pinned CDK CLI (node_modules/.bin/cdk) against a local AWS endpoint.

The CLI is the real one, unchanged: only its environment points it at the local endpoint (AWS SDK v3
honours AWS_ENDPOINT_URL) with fake credentials.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from local_aws.server import Endpoint

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"
NODE_BIN = ROOT / ".venv" / "node-bin"
FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"


class CdkFailed(RuntimeError):
    """The CDK CLI exited with an error; the message ends with its output."""


@dataclass(frozen=True)
class CdkRun:
    args: tuple[str, ...]
    seconds: float
    output: str


def aws_environment(endpoint: Endpoint) -> dict[str, str]:
    """What any AWS SDK or CLI needs to talk to the local AWS (and what `python -m local_aws env` prints)."""
    return {
        "AWS_ENDPOINT_URL": endpoint.endpoint_url,
        # The CLI rewrites template URLs to <this endpoint>/<bucket>/<key>; moto reads a host that is
        # an IP address as a bucket name ("127"), so CloudFormation's own S3 reads go through
        # "localhost", which moto treats as a plain host.
        "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": f"http://localhost:{endpoint.port}",
        "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        "AWS_REGION": endpoint.region,
        "AWS_DEFAULT_REGION": endpoint.region,
        "CDK_DEFAULT_ACCOUNT": endpoint.account_id,
        "CDK_DEFAULT_REGION": endpoint.region,
    }


def cli_environment(endpoint: Endpoint) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        # Real credentials or profiles must never reach a CLI pointed at the local AWS.
        if not key.startswith("AWS_") and key not in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")
    }
    environment.update(aws_environment(endpoint))
    environment.update({
        "PATH": f"{NODE_BIN}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CI": "true",  # no interactive progress bars in captured output
    })
    return environment


def run_cdk(
    args: list[str],
    *,
    endpoint: Endpoint,
    output_dir: Path | None = None,
    context: dict[str, str] | None = None,
    timeout_s: float = 600,
    echo: bool = False,
) -> CdkRun:
    """Run `cdk <args>` in the project root; raise CdkFailed with the CLI's output on failure."""
    command = [str(CDK), "--no-notices"]
    if output_dir is not None:
        command += ["--output", str(output_dir)]
    for key, value in (context or {}).items():
        command += ["-c", f"{key}={value}"]
    command += list(args)
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=ROOT,
        env=cli_environment(endpoint),
        stdin=subprocess.DEVNULL,
        stdout=None if echo else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout_s,
    )
    seconds = time.monotonic() - started
    output = completed.stdout or ""
    if completed.returncode != 0:
        raise CdkFailed(f"cdk {' '.join(args)} exited with {completed.returncode}:\n{output[-6000:]}")
    return CdkRun(args=tuple(args), seconds=seconds, output=output)


def bootstrap(endpoint: Endpoint, **kwargs) -> CdkRun:
    return run_cdk(["bootstrap", f"aws://{endpoint.account_id}/{endpoint.region}"], endpoint=endpoint, **kwargs)


def deploy(endpoint: Endpoint, stack_name: str, **kwargs) -> CdkRun:
    # The CLI's defaults: change-set deployment, as on AWS; no prompt.
    return run_cdk(["deploy", stack_name, "--require-approval", "never"], endpoint=endpoint, **kwargs)


def destroy(endpoint: Endpoint, stack_name: str, **kwargs) -> CdkRun:
    return run_cdk(["destroy", stack_name, "--force"], endpoint=endpoint, **kwargs)
