"""Settings of the optional CI-access stack (stacks/ci_access.py), read from CDK context.

Top-level context keys only (not stage blocks): one CI-access stack serves every stage. Values are
parsed and refused with the same rules and messages as the pipeline's settings (stacks/settings.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from constructs import Node

from stacks.settings import _STACK_NAME_PART, SettingsError, _boolean, _optional_text, _text, stage_names

# Keyless CI access (stacks/ci_access.py). The stack exists only when all three are given.
GITHUB_KEYS = ("githubOwner", "githubRepository", "githubBranches")
DEFAULT_CDK_QUALIFIER = "hnb659fds"
_GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9._-]{1,100}")
# The trust policy compares subjects with StringEquals: a wildcard would be taken literally (and
# with StringLike it would widen the trust), so names with pattern characters are refused.
_REF_OR_ENVIRONMENT = re.compile(r"[^\s*?\[\]:~^\\]+")
_CDK_QUALIFIER = re.compile(r"[A-Za-z0-9_-]{1,10}")
_GITHUB_OIDC_PROVIDER_ARN = re.compile(
    r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com"
)


@dataclass(frozen=True, kw_only=True)
class GitHubDeploySettings:
    stack_name: str
    owner: str
    repository: str
    branches: tuple[str, ...]
    environments: tuple[str, ...]
    oidc_provider_arn: str | None
    cdk_qualifier: str
    pull_request_diff: bool

    @classmethod
    def from_context(cls, node: Node) -> "GitHubDeploySettings | None":
        """None when the context names no GitHub repository: the CI-access stack is optional."""
        given = [key for key in GITHUB_KEYS if node.try_get_context(key) not in (None, "", [])]
        if not given:
            return None
        missing = [key for key in GITHUB_KEYS if key not in given]
        if missing:
            raise SettingsError(
                f"context {', '.join(given)} given without {', '.join(missing)}: the CI-access stack needs "
                f"all of {', '.join(GITHUB_KEYS)}"
            )
        owner = _text(node.try_get_context("githubOwner"), "githubOwner")
        if not _GITHUB_OWNER.fullmatch(owner):
            raise SettingsError(f"context 'githubOwner' must be a GitHub user or organisation name, got {owner!r}")
        repository = _text(node.try_get_context("githubRepository"), "githubRepository")
        if not _GITHUB_REPOSITORY.fullmatch(repository):
            raise SettingsError(
                f"context 'githubRepository' must be a repository name without its owner, got {repository!r}"
            )
        branches = _names(node.try_get_context("githubBranches"), "githubBranches")
        environments = node.try_get_context("githubEnvironments")
        # The workflows deploy each stage inside the GitHub environment of the same name.
        environments = stage_names(node) if environments is None else _names(environments, "githubEnvironments")

        provider_arn = _optional_text(node.try_get_context("githubOidcProviderArn"), "githubOidcProviderArn")
        if provider_arn is not None and not _GITHUB_OIDC_PROVIDER_ARN.fullmatch(provider_arn):
            raise SettingsError(
                "context 'githubOidcProviderArn' must be the ARN of an existing GitHub OIDC provider, "
                f"arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com, got {provider_arn!r}"
            )
        qualifier = _text(node.try_get_context("cdkQualifier") or DEFAULT_CDK_QUALIFIER, "cdkQualifier")
        if not _CDK_QUALIFIER.fullmatch(qualifier):
            raise SettingsError(
                f"context 'cdkQualifier' must be the bootstrap qualifier (1-10 letters, digits, _ or -), got {qualifier!r}"
            )
        pull_request_diff = _boolean(
            True if node.try_get_context("githubPullRequestDiff") is None
            else node.try_get_context("githubPullRequestDiff"),
            "githubPullRequestDiff",
        )
        stack_name = _text(node.try_get_context("ciAccessStackName") or "ImageLabels-ci-access", "ciAccessStackName")
        if not _STACK_NAME_PART.fullmatch(stack_name) or len(stack_name) > 128:
            raise SettingsError(
                f"context 'ciAccessStackName' must be a CloudFormation stack name, got {stack_name!r}"
            )
        return cls(
            stack_name=stack_name,
            owner=owner,
            repository=repository,
            branches=branches,
            environments=tuple(environments),
            oidc_provider_arn=provider_arn,
            cdk_qualifier=qualifier,
            pull_request_diff=pull_request_diff,
        )


def _names(raw: Any, where: str) -> tuple[str, ...]:
    """A JSON list from cdk.json, or a comma-separated string from -c key=a,b."""
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise SettingsError(f"context {where!r} must be a list of names or a comma-separated string, got {raw!r}")
    names = tuple(str(item).strip() for item in items)
    bad = [name for name in names if not _REF_OR_ENVIRONMENT.fullmatch(name)]
    if not names or bad:
        raise SettingsError(
            f"context {where!r} must name at least one branch or environment exactly, without spaces or "
            f"wildcards (* ? [ ] : ~ ^), got {raw!r}"
        )
    return names
