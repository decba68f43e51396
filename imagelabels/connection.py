"""One connection to the deployed stack: clients for the target AWS, created when first needed,
and the stack's outputs."""

from __future__ import annotations

from functools import cached_property
from typing import Callable

import boto3
from botocore.config import Config

from imagelabels.invoke import Invoker, LambdaInvoker
from imagelabels.stack_outputs import StackOutputs, read_stack_outputs
from imagelabels.target import Target


class Connection:
    """Clients for the target AWS and the stack's outputs, created when first needed."""

    def __init__(self, *, target: Target, session: boto3.Session, pool_size: int = 10) -> None:
        self.target = target
        self.session = session
        self._pool_size = pool_size
        self._clients: dict[str, object] = {}

    @property
    def region(self) -> str | None:
        return self.target.region or self.session.region_name

    def client(self, service: str):
        if service not in self._clients:
            read_timeout = 120 if service == "lambda" else 60  # the function may take 60 s
            config = Config(
                retries={"mode": "standard", "max_attempts": 4},
                connect_timeout=5,
                read_timeout=read_timeout,
                max_pool_connections=max(10, self._pool_size),
            )
            options = {"config": config}
            if self.target.endpoint_url:
                options["endpoint_url"] = self.target.endpoint_url
            self._clients[service] = self.session.client(service, **options)
        return self._clients[service]

    @cached_property
    def outputs(self) -> StackOutputs:
        return read_stack_outputs(self.client("cloudformation"), self.target.stack_name, where=self.target.where, region=self.region)


def lambda_invoker(connection: Connection) -> Invoker:
    return LambdaInvoker(client=connection.client("lambda"), function_name=connection.outputs.function)


InvokerFactory = Callable[[Connection], Invoker]
