"""Which AWS the command talks to: the stack name (from cdk.json, read as plain JSON so that the
command never imports aws_cdk), the endpoint (real AWS, --endpoint-url or the local AWS), the
Region and the credentials."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import boto3

from imagelabels.errors import UserError
from imagelabels.local_endpoint import NOT_RUNNING, STATE_DIR, EndpointRecord, endpoint_file, process_alive, read_endpoint_record

# What stacks/settings.py uses when cdk.json says nothing: the same stack name as a plain `cdk deploy`.
DEFAULT_STAGE = "dev"
DEFAULT_STACK_NAME_PREFIX = "ImageLabels"
# The local AWS accepts any credentials; these only exist so that boto3 can sign requests.
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def project_root(start: Path | None = None) -> Path | None:
    """The folder holding cdk.json: the current folder or one of its parents, else the checkout
    this package was installed from (an editable install), else None."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "cdk.json").is_file():
            return folder
    installed_from = Path(__file__).resolve().parent.parent
    if (installed_from / "cdk.json").is_file():
        return installed_from
    return None


def stack_name_from_cdk_json(cdk_json: Path | None, *, stage: str | None) -> str:
    """`<stackNamePrefix>-<stage>` as stacks/settings.py computes it: the stage from --stage, else
    the context's `stage`, else dev; a top-level stackNamePrefix wins over the stage's own."""
    if cdk_json is None or not cdk_json.is_file():
        return f"{DEFAULT_STACK_NAME_PREFIX}-{stage or DEFAULT_STAGE}"
    try:
        context = json.loads(cdk_json.read_text()).get("context") or {}
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {cdk_json}: {error}; pass --stack NAME") from None
    stage = stage or str(context.get("stage") or DEFAULT_STAGE)
    stages = context.get("stages")
    block: dict = {}
    if isinstance(stages, dict) and stages:
        if stage not in stages:
            raise UserError(f"stage {stage!r} is not defined in {cdk_json} (known stages: {', '.join(stages)})")
        block = stages[stage] if isinstance(stages[stage], dict) else {}
    prefix = context.get("stackNamePrefix") or block.get("stackNamePrefix") or DEFAULT_STACK_NAME_PREFIX
    return f"{prefix}-{stage}"


def read_local_endpoint(path: Path) -> EndpointRecord:
    """The endpoint record of the running local AWS; UserError when it is missing or its process has exited."""
    record = read_endpoint_record(path)
    if record.pid is not None and not process_alive(record.pid):
        raise UserError(f"{NOT_RUNNING} ({path} names process {record.pid}, which has exited)")
    return record


@dataclass(frozen=True, kw_only=True)
class Target:
    stack_name: str
    region: str | None  # None: boto3's own chain (AWS_REGION, the profile)
    endpoint_url: str | None  # None: real AWS, or AWS_ENDPOINT_URL which boto3 reads itself
    local: bool

    @property
    def where(self) -> str:
        """For messages: which AWS this is."""
        if self.local:
            return f"the local AWS at {self.endpoint_url}"
        if self.endpoint_url:
            return f"{self.endpoint_url}"
        return "AWS"


def resolve_target(
    *,
    stack: str | None,
    stage: str | None,
    region: str | None,
    endpoint_url: str | None,
    local: bool,
    environ: Mapping[str, str],
    root: Path | None,
) -> Target:
    """Pure apart from reading cdk.json and the endpoint file: what the options and environment ask for."""
    local = local or environ.get("IMAGELABELS_LOCAL", "").strip().lower() in {"1", "true", "yes"}
    if local and endpoint_url:
        raise UserError("--local and --endpoint-url are exclusive: --local reads the endpoint of the running local AWS")
    if local:
        base = root or Path.cwd()
        endpoint = read_local_endpoint(endpoint_file(base / STATE_DIR))
        endpoint_url = endpoint.endpoint_url
        region = region or endpoint.region
    stack_name = stack or environ.get("IMAGELABELS_STACK") or stack_name_from_cdk_json(
        root / "cdk.json" if root else None, stage=stage
    )
    return Target(stack_name=stack_name, region=region, endpoint_url=endpoint_url, local=local)


def make_session(target: Target) -> boto3.Session:
    """The standard credential chain and Region; against the local AWS, fake credentials when
    the chain has none (the emulator accepts any)."""
    session = boto3.Session(region_name=target.region) if target.region else boto3.Session()
    if session.region_name is None and os.environ.get("AWS_REGION"):
        # botocore reads AWS_DEFAULT_REGION; AWS_REGION is what Lambda and most SDKs set.
        session = boto3.Session(region_name=os.environ["AWS_REGION"])
    if target.local and session.get_credentials() is None:
        session = boto3.Session(region_name=session.region_name, **FAKE_CREDENTIALS)
    return session
