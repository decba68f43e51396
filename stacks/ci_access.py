"""Keyless deployments from GitHub Actions: the account trusts GitHub's OIDC tokens for exactly one
repository, and the role CI assumes can do nothing but assume the CDK bootstrap roles.

Everything a deployment changes is then done by those bootstrap roles (CloudFormation through the
deploy role, assets through the publishing roles), so this role grants no AWS permission of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The audience configure-aws-credentials asks GitHub to put into its token.
STS_AUDIENCE = "sts.amazonaws.com"
# What the CDK CLI assumes during `cdk deploy` and `cdk diff`: CloudFormation calls, file assets,
# image assets, read-only lookups. The CloudFormation execution role is not among them: only
# CloudFormation itself may assume it.
DEPLOY_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
# `cdk diff --method=template` reads the deployed template through the lookup role only.
DIFF_BOOTSTRAP_ROLES = ("lookup",)


class GitHubDeployAccess(Construct):
    """The GitHub OIDC provider (created, or an existing one reused) and the roles CI assumes.

    `deploy_role` trusts workflow runs on the named branches and in the named GitHub environments.
    `diff_role` (optional) trusts pull-request runs and may only read, through the lookup role.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        owner: str,
        repository: str,
        branches: Sequence[str],
        environments: Sequence[str],
        existing_provider_arn: str | None,
        cdk_qualifier: str,
        pull_request_diff: bool,
    ) -> None:
        super().__init__(scope, construct_id)

        if existing_provider_arn is None:
            # An account holds one provider per URL: pass existing_provider_arn when it already has one.
            provider = iam.OidcProviderNative(
                self, "GitHubOidcProvider", url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE]
            )
            self.provider_arn = provider.oidc_provider_arn
        else:
            self.provider_arn = existing_provider_arn

        repo = f"repo:{owner}/{repository}"
        deploy_subjects = [f"{repo}:ref:refs/heads/{branch}" for branch in branches] + [
            f"{repo}:environment:{environment}" for environment in environments
        ]
        self.deploy_role = self._role(
            "DeployRole",
            subjects=deploy_subjects,
            bootstrap_roles=DEPLOY_BOOTSTRAP_ROLES,
            cdk_qualifier=cdk_qualifier,
            description=f"GitHub Actions of {owner}/{repository} deploy through the CDK bootstrap roles.",
        )
        self.diff_role = None
        if pull_request_diff:
            self.diff_role = self._role(
                "PullRequestDiffRole",
                subjects=[f"{repo}:pull_request"],
                bootstrap_roles=DIFF_BOOTSTRAP_ROLES,
                cdk_qualifier=cdk_qualifier,
                description=f"Pull requests of {owner}/{repository} read deployed templates for cdk diff.",
            )

    def _role(
        self,
        construct_id: str,
        *,
        subjects: list[str],
        bootstrap_roles: Sequence[str],
        cdk_qualifier: str,
        description: str,
    ) -> iam.Role:
        role = iam.Role(
            self,
            construct_id,
            # StringEquals, not StringLike: each subject is one exact repository + branch/environment.
            assumed_by=iam.WebIdentityPrincipal(
                self.provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subjects,
                    }
                },
            ),
            description=description,
            # Role chaining caps the bootstrap-role sessions at one hour anyway.
            max_session_duration=Duration.hours(1),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole"],
                resources=[bootstrap_role_arn(self, name, cdk_qualifier) for name in bootstrap_roles],
            )
        )
        return role


def bootstrap_role_arn(scope: Construct, role: str, cdk_qualifier: str) -> str:
    """The ARN `cdk bootstrap` gives a role in this stack's account and Region (exact, no wildcard)."""
    stack = Stack.of(scope)
    return stack.format_arn(
        service="iam",
        region="",
        resource="role",
        resource_name=f"cdk-{cdk_qualifier}-{role}-role-{stack.account}-{stack.region}",
    )
