"""Shared test set-up: import paths, Node.js for jsii, one synthesis helper, the fault injector, the
offline labelling model."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]

# The `browser` and `page` fixtures, one definition for every module (see browser_fixtures.py).
pytest_plugins = ("browser_fixtures",)

# jsii runs on the first `node` on PATH: prefer the Node 24 that `make setup` links into .venv.
_node_bin = ROOT / ".venv" / "node-bin"
if _node_bin.is_dir() and str(_node_bin) not in os.environ.get("PATH", ""):
    os.environ["PATH"] = f"{_node_bin}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

# Handler modules create boto3 clients at import: never let them find real credentials.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


def cdk_json_context(**overrides) -> dict:
    """The context `cdk synth` would pass (cdk.json), with test overrides."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context.update(overrides)
    return context


@pytest.fixture()
def injector():
    """The local AWS's fault injector (local_aws/faults.py), removed again after the test."""
    from local_aws import faults  # imported here: most test modules never start a moto server

    with faults.installed() as fault_injector:
        yield fault_injector


@pytest.fixture(scope="session")
def labeller():
    """The offline labelling model (local_aws/rekognition_model.py), loaded once per test process
    however many modules use it (with `--dist loadfile` each worker is one process); a local AWS
    started in the same process labels with this same one."""
    from local_aws.rekognition_model import OfflineLabeller  # imported here: it loads OpenCV and LiteRT

    return OfflineLabeller.shared()
