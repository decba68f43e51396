"""What the local AWS does not do that AWS does: what a user must know before trusting a green
deploy on it. The launcher prints it when it starts (python -m local_aws, make demo); the README's
"What it does not enforce" says the same at more length."""

from __future__ import annotations

# What a user must know before trusting a green deploy here (printed at start, and in README).
NOT_ENFORCED = (
    "IAM is not enforced: every call is allowed whatever the roles and policies say "
    "(the end-to-end tests check the labeller's role against the calls it makes instead).",
    "Resource types skipped without error (moto's CloudFormation does not model them): "
    "AWS::CloudWatch::Alarm, AWS::SNS::TopicPolicy, AWS::S3::BucketPolicy, AWS::SQS::QueuePolicy, "
    "AWS::IAM::OIDCProvider, AWS::DynamoDB::GlobalTable, AWS::CDK::Metadata. A template that deploys "
    "here can still fail on AWS: cfn-lint and cdk-nag stay the checks for it.",
    "Bucket and queue policies (TLS only), KMS key policies, encryption and managed policies are "
    "stored or ignored, never applied.",
    "HTTP APIs (AWS::ApiGatewayV2::*) are only stored, readable through the apigatewayv2 API: nothing answers "
    "on their execute-api URL, and their stage throttling, access logs, CORS and JWT authorizers are never applied.",
    "Only Python functions run (in a local python process, not the runtime version the template names).",
    "CloudFront is configuration only: a deployed distribution serves nothing by itself and invalidations "
    "complete at once; response headers policies are kept by the local AWS (no CloudFront API for them); "
    "origin access controls, cache and origin request policies, price classes, logging and geo "
    "restrictions are stored, never applied.",
    "Cognito (moto's): no hosted UI; ExplicitAuthFlows is not checked, so USER_PASSWORD_AUTH signs in on "
    "any app client; every pool signs with one RS256 key shipped inside moto; tokens last an hour whatever "
    "the client's validities; no MFA code, e-mail or SMS is ever sent.",
    "Failed stack updates are not rolled back (the stack ends UPDATE_ROLLBACK_FAILED).",
    "State lives in memory: stopping the local AWS forgets every stack, bucket and table.",
    "The web page is served by a local gateway (one port per distribution) standing for CloudFront, the "
    "HTTP API and Cognito's hosted UI: it serves the site bucket with the deployed headers (the CSP's AWS "
    "origins and config.json's sign-in URLs made local), checks tokens as the JWT authorizer does and "
    "signs in with a local form against the local user pool (USER_PASSWORD_AUTH, which moto allows on "
    "any client); it does not cache, invalidate, throttle, apply WAF, serve HTTPS or custom domains, and of a response "
    "headers policy it adds the security and custom headers only (not its CORS, remove-headers or "
    "Server-Timing settings).",
)
