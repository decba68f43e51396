"""boto3 clients on a local AWS endpoint, signed with the fake credentials it accepts (never the
machine's real ones, which boto3's chain would otherwise find)."""

from __future__ import annotations

import boto3
from botocore.config import Config

from local_aws.cdk_cli import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY
from local_aws.server import Endpoint


def local_session(endpoint: Endpoint) -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id=FAKE_ACCESS_KEY_ID, aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
                                 region_name=endpoint.region)


def local_client(endpoint: Endpoint, service: str, *, config: Config | None = None):
    return local_session(endpoint).client(service, endpoint_url=endpoint.endpoint_url, config=config)
