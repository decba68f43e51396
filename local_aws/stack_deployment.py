"""The one way the tests, the benchmarks and the demo deploy the image-labels stack on a local AWS:
the project's real CDK CLI bootstraps the endpoint's environment and deploys a named stack with
`-c` context overrides; the outputs are read from DescribeStacks by the command's own reader; each
step's CdkRun (its seconds and output) is kept for the callers that report timings."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Mapping

from imagelabels.stack_outputs import StackOutputs, read_stack_outputs
from local_aws import cdk_cli
from local_aws.clients import local_client
from local_aws.server import Endpoint, LocalAws

STACK_NAME = "ImageLabels-dev"  # the default stage of cdk.json


class StackDeployment:
    """One named stack on one endpoint: bootstrap, deploy (first or again), destroy."""

    def __init__(self, *, endpoint: Endpoint, stack_name: str = STACK_NAME, output_dir: Path | None = None) -> None:
        self.endpoint = endpoint
        self.stack_name = stack_name
        # None: the CLI's own cdk.out in the project root (the demo, as a user's `cdk deploy` would).
        self.output_dir = output_dir
        self.runs: dict[str, cdk_cli.CdkRun] = {}  # the latest run of each step: "bootstrap", "deploy", "destroy"
        self.outputs: StackOutputs | None = None  # as DescribeStacks gave them after the latest deploy

    def bootstrap(self) -> cdk_cli.CdkRun:
        return self._keep("bootstrap", cdk_cli.bootstrap(self.endpoint, output_dir=self.output_dir))

    def deploy(self, *, context: Mapping[str, str] | None = None) -> cdk_cli.CdkRun:
        """`cdk deploy` with these context values (a create, an update or no change), then the outputs."""
        run = cdk_cli.deploy(self.endpoint, self.stack_name, output_dir=self.output_dir, context=dict(context or {}))
        self.outputs = self.read_outputs()
        return self._keep("deploy", run)

    def destroy(self) -> cdk_cli.CdkRun:
        run = cdk_cli.destroy(self.endpoint, self.stack_name, output_dir=self.output_dir)
        self.outputs = None
        return self._keep("destroy", run)

    def read_outputs(self) -> StackOutputs:
        return read_stack_outputs(local_client(self.endpoint, "cloudformation"), self.stack_name,
                                  where=f"the local AWS at {self.endpoint.endpoint_url}", region=self.endpoint.region)

    def _keep(self, step: str, run: cdk_cli.CdkRun) -> cdk_cli.CdkRun:
        self.runs[step] = run
        return run


def deploy_stack(*, endpoint: Endpoint, stack_name: str = STACK_NAME, context: Mapping[str, str] | None = None,
                 output_dir: Path | None = None) -> StackDeployment:
    """Bootstrap and deploy; the returned deployment has the outputs and both steps' runs."""
    deployment = StackDeployment(endpoint=endpoint, stack_name=stack_name, output_dir=output_dir)
    deployment.bootstrap()
    deployment.deploy(context=context)
    return deployment


@contextlib.contextmanager
def stack_on_local_aws(aws: LocalAws, *, context: Mapping[str, str] | None = None) -> Iterator[StackDeployment]:
    """Start `aws` (a LocalAws in this process, not yet started), deploy the stack into it with
    cdk.out in its state folder, yield the deployment; stop the local AWS after."""
    with aws:
        yield deploy_stack(endpoint=aws.endpoint, context=context, output_dir=aws.state_dir / "cdk.out")
