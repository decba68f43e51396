"""The CDK feature flags in cdk.json: the ones `cdk init app --language python` writes with the
pinned CLI (node_modules/aws-cdk/lib/init-templates/.recommended-feature-flags.json), so that
`cdk synth` no longer prints "N feature flags are not configured".

Each flag was kept after comparing the templates of both stages (and the CI-access stack) with and
without it. Only three change anything here, none of them a deployed resource's identity:
- @aws-cdk/core:enablePartitionLiterals writes "arn:aws:..." instead of joining Ref AWS::Partition.
  The CLI always synthesizes for a Region (CDK_DEFAULT_REGION), so the partition is known and the
  ARN is the string CloudFormation computed before: the policies are updated in place, unchanged.
- @aws-cdk/aws-iam:minimizePolicies sorts (and may merge) the actions of a policy statement: the
  same permissions, updated in place.
- @aws-cdk/core:enableAdditionalMetadataCollection widens the usage data in AWS::CDK::Metadata
  (property keys, booleans and enums; no values), which `--no-version-reporting` still turns off.
No logical id changes, so nothing is replaced: no flag had to be pinned to its old value.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

import pytest
from aws_cdk import App

from conftest import ROOT, cdk_json_context

RECOMMENDED_FLAGS = ROOT / "node_modules" / "aws-cdk" / "lib" / "init-templates" / ".recommended-feature-flags.json"
# What cdk.json set before it carried the recommended flags: the baseline the templates are compared with.
FLAGS_BEFORE = ("@aws-cdk/core:checkSecretUsage", "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy",
                "@aws-cdk/aws-lambda:recognizeLayerVersion", "@aws-cdk/core:target-partitions")
# The prod stage with the optional CI-access stack: every stack the app can make.
CONTEXT = {"stage": "prod", "githubOwner": "o", "githubRepository": "r", "githubBranches": "main"}
STACKS = ("ImageLabels-prod", "ImageLabels-ci-access")
REGION = "eu-west-1"  # a Region of the "aws" partition
PARTITION = "aws"
# What the CLI adds to the context of every synth (paths and assets in each resource's Metadata).
CLI_METADATA_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


def is_feature_flag(key: str) -> bool:
    return key.startswith("@aws-cdk")


@dataclass(frozen=True)
class CliSynth:
    output: str  # what the CLI printed
    templates: dict[str, dict]  # by stack name
    environment: str  # aws://ACCOUNT/REGION the CLI synthesized for


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory):
    """`cdk synth` through the pinned CLI and cdk.json, as a deployer runs it."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    context = [argument for key, value in CONTEXT.items() for argument in ("-c", f"{key}={value}")]
    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--no-notices", "--quiet", *context, "-o", str(outdir)],
        cwd=ROOT, env={**os.environ, "CDK_DISABLE_VERSION_CHECK": "1", "AWS_REGION": REGION},
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    templates = {stack: json.loads((outdir / f"{stack}.template.json").read_text()) for stack in STACKS}
    environments = {artifact["environment"] for artifact in json.loads((outdir / "manifest.json").read_text())["artifacts"].values()
                    if artifact["type"] == "aws:cloudformation:stack"}
    return CliSynth(output=result.stdout + result.stderr, templates=templates, environment=environments.pop())


@pytest.fixture(scope="module")
def templates_before(cli_synth):
    """The same app synthesized with only the flags cdk.json set before, for the account and
    Region the CLI found."""
    import app as entry

    account, region = cli_synth.environment.removeprefix("aws://").split("/")
    context = {key: value for key, value in cdk_json_context(**CONTEXT).items()
               if not is_feature_flag(key) or key in FLAGS_BEFORE}
    context.update(CLI_METADATA_CONTEXT)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (("CDK_DEFAULT_ACCOUNT", account), ("CDK_DEFAULT_REGION", region)):
            if value.startswith("unknown-"):
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        app = App(context=context)
        entry.build_app(app)
        assembly = app.synth()
    return {stack: assembly.get_stack_by_name(stack).template for stack in STACKS}


def same_meaning(value):
    """A template value with Ref AWS::Partition written out and the actions of each statement
    sorted: what the kept flags change, and nothing that CloudFormation resolves differently."""
    if isinstance(value, list):
        return [same_meaning(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value == {"Ref": "AWS::Partition"}:
        return PARTITION
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        joined: list = []
        for part in same_meaning(parts):
            if isinstance(part, str) and joined and isinstance(joined[-1], str):
                joined[-1] += separator + part
            else:
                joined.append(part)
        return joined[0] if len(joined) == 1 and isinstance(joined[0], str) else {"Fn::Join": [separator, joined]}
    meaning = {key: same_meaning(item) for key, item in value.items()}
    if isinstance(meaning.get("Action"), list) and "Effect" in meaning:
        meaning["Action"] = sorted(meaning["Action"])
    return meaning


def resources(templates: dict, stack: str) -> dict:
    return {name: resource for name, resource in templates[stack]["Resources"].items()
            if resource["Type"] != "AWS::CDK::Metadata"}


def test_cdk_synth_no_longer_reports_unconfigured_feature_flags(cli_synth):
    assert "feature flags are not configured" not in cli_synth.output


def test_cdk_json_sets_every_flag_cdk_init_writes_with_the_pinned_cli_to_its_recommended_value():
    recommended = json.loads(RECOMMENDED_FLAGS.read_text())
    configured = {key: value for key, value in cdk_json_context().items() if is_feature_flag(key)}
    assert configured == recommended


@pytest.mark.parametrize("stack", STACKS)
def test_no_resource_is_added_removed_or_renamed(cli_synth, templates_before, stack):
    """A changed logical id would make CloudFormation replace the resource: a new bucket or table."""
    templates = cli_synth.templates
    after = {name: resource["Type"] for name, resource in resources(templates, stack).items()}
    assert after == {name: resource["Type"] for name, resource in resources(templates_before, stack).items()}


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_means_what_it_meant_before(cli_synth, templates_before, stack):
    templates = cli_synth.templates
    assert same_meaning(resources(templates, stack)) == same_meaning(resources(templates_before, stack))


def test_partition_literals_write_the_alarm_key_and_ci_role_arns_out(cli_synth, templates_before):
    templates = cli_synth.templates

    def mentions_partition_ref(resource) -> bool:
        return '{"Ref": "AWS::Partition"}' in json.dumps(resource)

    changed = {(stack, name) for stack in STACKS for name, resource in resources(templates, stack).items()
               if mentions_partition_ref(templates_before[stack]["Resources"][name]) and not mentions_partition_ref(resource)}
    # The keys' policies, the film Rekognition role's SourceArn condition, the web API function's
    # permissions (one per route: the API's execute-api ARN) and the page release's policy
    # (the distribution's ARN) name the partition.
    web_api_permissions = {("ImageLabels-prod", f"WebApi{route}WebApiFunctionPermission{suffix}") for route, suffix in (
        ("GETapisearch", "6204B81A"), ("GETapiitem", "A2E82DCB"), ("GETapilabels", "9B76B4C1"),
        ("POSTapiuploads", "CB486778"), ("POSTapiuploadscomplete", "93950B7B"), ("POSTapiuploadsabort", "AC6EA360"))}
    assert changed == web_api_permissions | {("ImageLabels-prod", "AlarmsTopicKeyAB251E47"),
                       ("ImageLabels-prod", "FilmLabellerFilmJobsKeyBB9FE72A"),
                       ("ImageLabels-prod", "FilmLabellerRekognitionRoleC7F214AD"),
                       ("ImageLabels-prod", "PageReleaseRoleDefaultPolicy73136609"),
                       ("ImageLabels-ci-access", "GitHubDeployAccessDeployRoleDefaultPolicy52AF194C"),
                       ("ImageLabels-ci-access", "GitHubDeployAccessPullRequestDiffRoleDefaultPolicy0B5CA084")}
    key = next(resource for resource in resources(templates, "ImageLabels-prod").values() if resource["Type"] == "AWS::KMS::Key")
    root = json.dumps(key["Properties"]["KeyPolicy"]["Statement"][0]["Principal"]["AWS"])
    assert "AWS::Partition" not in root and f"arn:{PARTITION}:iam::" in root


def test_minimized_policies_list_the_labellers_table_actions_in_order(cli_synth):
    templates = cli_synth.templates
    policies = [resource for resource in resources(templates, "ImageLabels-prod").values()
                if resource["Type"] == "AWS::IAM::Policy"
                and json.dumps(resource["Properties"]["Roles"]).startswith('[{"Ref": "LabellerRole')]
    assert len(policies) == 1
    table_actions = [statement["Action"] for statement in policies[0]["Properties"]["PolicyDocument"]["Statement"]
                     if "dynamodb:GetItem" in statement["Action"]]
    assert table_actions == [["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]]
