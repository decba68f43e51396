"""Compliance of what `cdk synth` produces: cdk-nag packs, cfn-lint, the documented stage differences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from conftest import ROOT, cdk_json_context
from stacks.compliance import add_compliance_checks

# One CLI run per stage. The prod run also names a GitHub repository, so that the same synth
# produces and checks the optional CI-access stack: every CLI synth costs about ten seconds.
# Both compose the web page: dev with CloudFront's default certificate, prod with a custom domain and
# its certificate.
CLI_RUNS = {
    "dev": ["-c", "stage=dev"],
    "prod": [
        "-c", "stage=prod",
        "-c", "webDomainName=labels.example.com",
        "-c", "webCertificateArn=arn:aws:acm:us-east-1:123456789012:certificate/0f8c4a7e-1b2c-4d5e-9f00-123456789abc",
        "-c", "alarmEmail=media-ops@example.com",
        "-c", "githubOwner=media-co",
        "-c", "githubRepository=image-labels",
        "-c", "githubBranches=main",
    ],
}
KEPT_TYPES = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup")


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory):
    """`cdk synth` through the pinned CLI and cdk.json, exactly as a deployer runs it."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        pytest.fail("the CDK CLI is missing: run `make setup` (make test does it)")
    outdir = tmp_path_factory.mktemp("cdk.out")
    env = {**os.environ, "CDK_DISABLE_VERSION_CHECK": "1"}
    for stage, context in CLI_RUNS.items():
        result = subprocess.run(
            [str(cdk), "synth", "--no-notices", "--quiet", *context, "-o", str(outdir / stage)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return outdir


def cli_template(cli_synth, stage: str, stack: str) -> dict:
    return json.loads((cli_synth / stage / f"{stack}.template.json").read_text())


def test_cli_synth_passes_cdk_nag_with_nothing_unacknowledged(cli_synth):
    # app.py adds the AwsSolutions and Serverless packs; a finding would have failed the synth.
    expected = {
        "dev": {"ImageLabels-dev"},
        "prod": {"ImageLabels-prod", "ImageLabels-ci-access"},
    }
    for stage, stacks in expected.items():
        assert {path.name.removesuffix(".template.json") for path in (cli_synth / stage).glob("*.template.json")} == stacks
        report = cli_synth / stage / "validation-report.json"
        if report.exists():
            for plugin in json.loads(report.read_text()).get("pluginReports", []):
                assert plugin["conclusion"] == "success", plugin


def test_cfn_lint_reports_nothing(cli_synth):
    templates = sorted(str(path) for path in cli_synth.glob("*/*.template.json"))
    assert len(templates) == 3  # dev, prod, CI access
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", *templates],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_the_ci_access_stack_is_only_synthesized_when_a_repository_is_named(cli_synth):
    assert not (cli_synth / "dev" / "ImageLabels-ci-access.template.json").exists()
    assert (cli_synth / "prod" / "ImageLabels-ci-access.template.json").exists()


def test_dev_and_prod_differ_as_the_readme_says(cli_synth):
    """README, "Stages": removal policy, deletion protection, alarms, reserved concurrency."""
    dev = cli_template(cli_synth, "dev", "ImageLabels-dev")["Resources"]
    prod = cli_template(cli_synth, "prod", "ImageLabels-prod")["Resources"]

    def of_type(resources, *types):
        return [r for r in resources.values() if r["Type"] in types]

    assert {r["DeletionPolicy"] for r in of_type(dev, *KEPT_TYPES)} == {"Delete"}
    assert {r["DeletionPolicy"] for r in of_type(prod, *KEPT_TYPES)} == {"Retain"}
    assert [t["Properties"]["DeletionProtectionEnabled"] for t in of_type(dev, "AWS::DynamoDB::Table")] == [False]
    assert [t["Properties"]["DeletionProtectionEnabled"] for t in of_type(prod, "AWS::DynamoDB::Table")] == [True]

    assert of_type(dev, "AWS::CloudWatch::Alarm") == []
    # dev's only topic and key carry Rekognition's film-job notifications, not alarms.
    (topic,) = of_type(dev, "AWS::SNS::Topic")
    (key,) = of_type(dev, "AWS::KMS::Key")
    assert topic["Properties"]["DisplayName"] == "image-labels film jobs"
    assert "film" in key["Properties"]["Description"].lower()
    assert sorted(a["Properties"]["MetricName"] for a in of_type(prod, "AWS::CloudWatch::Alarm")) == [
        "ApproximateAgeOfOldestMessage", *["ApproximateNumberOfMessagesVisible"] * 3, *["Errors"] * 3,
        "FailedFilmJobs", "Throttles",
    ]

    def labeller(resources):
        (function,) = [
            r for r in of_type(resources, "AWS::Lambda::Function")
            if r["Properties"].get("Handler") == "image_labeller.handler.handle"
        ]
        return function["Properties"]

    assert "ReservedConcurrentExecutions" not in labeller(dev)
    assert labeller(prod)["ReservedConcurrentExecutions"] == 10


def test_an_unacknowledged_finding_fails_the_synth():
    """Proves the packs really run: a bucket without logging, TLS or encryption must stop synth."""
    app = App(context=cdk_json_context())
    careless = Stack(app, "Careless")
    s3.Bucket(careless, "Open")
    add_compliance_checks(app)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
