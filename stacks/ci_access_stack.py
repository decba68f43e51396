"""The optional CI-access stack: deployed once per account and Region, by a person, never by CI."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.ci_access import GitHubDeployAccess
from stacks.ci_access_settings import GitHubDeploySettings


class CiAccessStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: GitHubDeploySettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)

        access = GitHubDeployAccess(
            self,
            "GitHubDeployAccess",
            owner=settings.owner,
            repository=settings.repository,
            branches=settings.branches,
            environments=settings.environments,
            existing_provider_arn=settings.oidc_provider_arn,
            cdk_qualifier=settings.cdk_qualifier,
            pull_request_diff=settings.pull_request_diff,
        )

        # What goes into the repository's Actions variables (README, "Deploy from CI").
        CfnOutput(self, "DeployRoleArn", value=access.deploy_role.role_arn)
        if access.diff_role is not None:
            CfnOutput(self, "PullRequestDiffRoleArn", value=access.diff_role.role_arn)
        CfnOutput(self, "GitHubOidcProviderArn", value=access.provider_arn)

        self.access = access
