"""The CI-access stack: GitHub's OIDC tokens of one repository may assume a role that can only
assume the CDK bootstrap roles of the account it is deployed to."""

from __future__ import annotations

import os

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from conftest import cdk_json_context
from stacks.ci_access_stack import CiAccessStack
from stacks.ci_access_settings import GitHubDeploySettings
from stacks.settings import SettingsError

ACCOUNT, REGION = "123456789012", "eu-west-1"
GITHUB = {"githubOwner": "media-co", "githubRepository": "image-labels", "githubBranches": "main,release"}
EXISTING_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


def synth_ci_access(**context) -> Template:
    """The app as `cdk synth` builds it, in an account and Region as the CLI would set them."""
    import app as entry

    saved = {key: os.environ.get(key) for key in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")}
    os.environ.update(CDK_DEFAULT_ACCOUNT=ACCOUNT, CDK_DEFAULT_REGION=REGION)
    try:
        app = App(context=cdk_json_context(**context))
        entry.build_app(app)
        app.synth()  # cdk-nag runs here: raises on any unacknowledged finding
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    (stack,) = [child for child in app.node.children if isinstance(child, CiAccessStack)]
    assert stack.stack_name == "ImageLabels-ci-access"
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def template():
    return synth_ci_access(**GITHUB)


@pytest.fixture(scope="module")
def reusing():
    """An account that already has the provider, a custom bootstrap qualifier, no pull-request role."""
    return synth_ci_access(
        **GITHUB, githubOidcProviderArn=EXISTING_PROVIDER, cdkQualifier="media01", githubPullRequestDiff="false",
        githubEnvironments=["production"],
    )


def render(value):
    """A template value as the string CloudFormation makes of it in the aws partition."""
    if isinstance(value, str):
        return value
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    raise AssertionError(f"unexpected template value {value!r}")


def bootstrap_role(name: str, qualifier: str = "hnb659fds") -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/cdk-{qualifier}-{name}-role-{ACCOUNT}-{REGION}"


def role_named(template: Template, construct_id: str) -> tuple[str, dict]:
    found = {k: v for k, v in template.find_resources("AWS::IAM::Role").items() if k.startswith(f"GitHubDeployAccess{construct_id}")}
    assert len(found) == 1, sorted(found)
    return next(iter(found.items()))


def trust(template: Template, construct_id: str) -> dict:
    _, role = role_named(template, construct_id)
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return statement


def permissions(template: Template, construct_id: str) -> list[dict]:
    """Every statement that grants the role anything: its inline policies and attached ones."""
    name, role = role_named(template, construct_id)
    assert "ManagedPolicyArns" not in role["Properties"]
    assert "Policies" not in role["Properties"]
    attached = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": name} in policy["Properties"]["Roles"]
    ]
    assert len(attached) == 1
    return attached[0]


def test_github_oidc_provider_accepts_the_sts_audience_only(template):
    (provider,) = template.find_resources("AWS::IAM::OIDCProvider").values()
    assert provider["Properties"] == {
        "Url": "https://token.actions.githubusercontent.com", "ClientIdList": ["sts.amazonaws.com"],
    }


def test_deploy_role_trusts_the_repository_on_its_branches_and_environments_only(template):
    provider, _ = next(iter(template.find_resources("AWS::IAM::OIDCProvider").items()))
    statement = trust(template, "DeployRole")
    assert statement == {
        "Effect": "Allow",
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": {"Ref": provider}},
        "Condition": {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": [
                    "repo:media-co/image-labels:ref:refs/heads/main",
                    "repo:media-co/image-labels:ref:refs/heads/release",
                    # By default, the GitHub environments named after the stages in cdk.json.
                    "repo:media-co/image-labels:environment:dev",
                    "repo:media-co/image-labels:environment:prod",
                ],
            }
        },
    }


def test_deploy_role_may_only_assume_the_four_bootstrap_roles_of_its_account_and_region(template):
    (statement,) = permissions(template, "DeployRole")
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRole"
    assert [render(arn) for arn in statement["Resource"]] == [
        bootstrap_role("deploy"), bootstrap_role("file-publishing"), bootstrap_role("image-publishing"),
        bootstrap_role("lookup"),
    ]
    assert "Condition" not in statement


def test_pull_requests_get_a_role_that_can_only_read_through_the_lookup_role(template):
    statement = trust(template, "PullRequestDiffRole")
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": ["repo:media-co/image-labels:pull_request"],
        }
    }
    (granted,) = permissions(template, "PullRequestDiffRole")
    assert (granted["Action"], render(granted["Resource"])) == ("sts:AssumeRole", bootstrap_role("lookup"))


def test_no_other_role_or_policy_exists(template):
    assert len(template.find_resources("AWS::IAM::Role")) == 2
    assert len(template.find_resources("AWS::IAM::Policy")) == 2
    assert template.find_resources("AWS::IAM::ManagedPolicy") == {}
    for role in template.find_resources("AWS::IAM::Role").values():
        assert role["Properties"]["MaxSessionDuration"] == 3600


def test_outputs_give_what_the_repository_variables_need(template):
    deploy, _ = role_named(template, "DeployRole")
    diff, _ = role_named(template, "PullRequestDiffRole")
    outputs = template.to_json()["Outputs"]
    assert outputs["DeployRoleArn"]["Value"] == {"Fn::GetAtt": [deploy, "Arn"]}
    assert outputs["PullRequestDiffRoleArn"]["Value"] == {"Fn::GetAtt": [diff, "Arn"]}
    assert all("Export" not in output for output in outputs.values())


def test_an_existing_provider_is_reused_and_the_qualifier_is_honoured(reusing):
    assert reusing.find_resources("AWS::IAM::OIDCProvider") == {}
    statement = trust(reusing, "DeployRole")
    assert statement["Principal"] == {"Federated": EXISTING_PROVIDER}
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"][-1] == (
        "repo:media-co/image-labels:environment:production"
    )
    (granted,) = permissions(reusing, "DeployRole")
    assert render(granted["Resource"][0]) == bootstrap_role("deploy", qualifier="media01")
    assert len(reusing.find_resources("AWS::IAM::Role")) == 1  # no pull-request role
    assert "PullRequestDiffRoleArn" not in reusing.to_json()["Outputs"]


def github_settings(**context):
    return GitHubDeploySettings.from_context(App(context=cdk_json_context(**context)).node)


def test_without_a_repository_there_is_no_ci_access_stack():
    assert github_settings() is None


@pytest.mark.parametrize(
    "context, message",
    [
        ({"githubOwner": "media-co"}, "without githubRepository, githubBranches"),
        ({**GITHUB, "githubBranches": "release/*"}, "'githubBranches' must name at least one branch"),
        ({**GITHUB, "githubBranches": ["main", ""]}, "'githubBranches'"),
        ({**GITHUB, "githubEnvironments": "prod*"}, "'githubEnvironments'"),
        ({**GITHUB, "githubOwner": "media co"}, "'githubOwner'"),
        ({**GITHUB, "githubRepository": "media-co/image-labels"}, "'githubRepository' must be a repository name without its owner"),
        ({**GITHUB, "githubOidcProviderArn": "arn:aws:iam::123:oidc-provider/example.com"}, "'githubOidcProviderArn'"),
        ({**GITHUB, "cdkQualifier": "far-too-long-qualifier"}, "'cdkQualifier'"),
        ({**GITHUB, "githubPullRequestDiff": "maybe"}, "'githubPullRequestDiff' must be true or false"),
    ],
)
def test_bad_github_context_is_refused_with_the_key_named(context, message):
    with pytest.raises(SettingsError) as refused:
        github_settings(**context)
    assert message in str(refused.value)
