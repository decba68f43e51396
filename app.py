#!/usr/bin/env python3
"""CDK entry point: `cdk synth` / `cdk deploy` run this (see cdk.json).

Account and Region come from the standard CDK environment variables (your AWS profile, or the
CI's credentials); the stage and its settings from CDK context (cdk.json, or -c key=value).
The CI-access stack is added only when the context names a GitHub repository (README, "Deploy from CI").
"""

import os

from aws_cdk import App, Environment

from stacks.ci_access_settings import GitHubDeploySettings
from stacks.ci_access_stack import CiAccessStack
from stacks.compliance import acknowledge_cdk_notification_handler, add_compliance_checks
from stacks.image_labels_stack import ImageLabelsStack
from stacks.settings import PipelineSettings


def build_app(app: App) -> ImageLabelsStack:
    settings = PipelineSettings.from_context(app.node)
    github = GitHubDeploySettings.from_context(app.node)
    env = Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
        region=os.environ.get("CDK_DEFAULT_REGION"),
    )
    stack = ImageLabelsStack(
        app,
        settings.stack_name,
        settings=settings,
        env=env,
        description="image-labels: labels every image uploaded to its bucket with Amazon Rekognition.",
    )
    acknowledge_cdk_notification_handler(stack)
    if github is not None:
        CiAccessStack(
            app,
            github.stack_name,
            settings=github,
            env=env,
            description="image-labels: lets GitHub Actions of one repository deploy through the CDK bootstrap roles.",
        )
    add_compliance_checks(app)
    return stack


if __name__ == "__main__":
    app = App()
    build_app(app)
    app.synth()
