"""Compliance of what `cdk synth` produces: cdk-nag packs, cfn-lint, stage differences, bad context."""

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
from stack_synth import synth_template
from stacks.compliance import add_compliance_checks
from stacks.settings import SettingsError


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory):
    """`cdk synth` through the pinned CLI and cdk.json, exactly as a deployer runs it."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        pytest.fail("the CDK CLI is missing: run `make setup` (make test does it)")
    outdir = tmp_path_factory.mktemp("cdk.out")
    env = {**os.environ, "CDK_DISABLE_VERSION_CHECK": "1"}
    for stage in ("dev", "prod"):
        result = subprocess.run(
            [str(cdk), "synth", "--no-notices", "--quiet", "-c", f"stage={stage}", "-o", str(outdir / stage)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return outdir


def test_cli_synth_passes_cdk_nag_with_nothing_unacknowledged(cli_synth):
    # app.py adds the AwsSolutions and Serverless packs; a finding would have failed the synth.
    for stage in ("dev", "prod"):
        assert (cli_synth / stage / f"ImageLabels-{stage}.template.json").exists()
        report = cli_synth / stage / "validation-report.json"
        if report.exists():
            for plugin in json.loads(report.read_text()).get("pluginReports", []):
                assert plugin["conclusion"] == "success", plugin


def test_cfn_lint_reports_nothing(cli_synth):
    templates = sorted(str(path) for path in cli_synth.glob("*/*.template.json"))
    assert len(templates) == 2
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", *templates],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_an_unacknowledged_finding_fails_the_synth():
    """Proves the packs really run: a bucket without logging, TLS or encryption must stop synth."""
    app = App(context=cdk_json_context())
    careless = Stack(app, "Careless")
    s3.Bucket(careless, "Open")
    add_compliance_checks(app)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    return synth_template(stage="prod", minConfidence=85, maxLabels=20, logRetentionDays=90).to_json()


def test_prod_keeps_its_data_and_protects_the_table(prod):
    kept = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup")
    resources = prod["Resources"]
    assert all(r["DeletionPolicy"] == "Retain" for r in resources.values() if r["Type"] in kept)
    (table,) = [r for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_labelling_settings_come_from_context(prod):
    (function,) = [
        r for r in prod["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "image_labeller.handler.handle"
    ]
    env = function["Properties"]["Environment"]["Variables"]
    assert (env["MIN_CONFIDENCE"], env["MAX_LABELS"]) == ("85", "20")
    (log_group,) = [r for r in prod["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert log_group["Properties"]["RetentionInDays"] == 90


@pytest.mark.parametrize(
    "context, message",
    [
        ({"minConfidence": 120}, "minConfidence"),
        ({"minConfidence": "high"}, "minConfidence"),
        ({"maxLabels": 0}, "maxLabels"),
        ({"maxLabels": 25}, "maxLabels"),
        ({"maxLabels": 2.5}, "whole number"),
        ({"logRetentionDays": 31}, "logRetentionDays"),
        ({"stage": "my stage"}, "stage"),
    ],
)
def test_bad_context_is_refused_with_the_key_named(context, message):
    import app as entry

    with pytest.raises(SettingsError, match=message):
        entry.build_app(App(context=cdk_json_context(**context)))
