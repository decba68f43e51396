"""The page's HTTP API: six routes behind a JWT authorizer (the page's Cognito client), all answered by
ONE function (lambda_src/web_api), with access logs and default throttling on its stage."""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.compliance import acknowledge
from stacks.logged_function import add_logged_function

HANDLER = "web_api.handler.handle"

# The page's API contract (web-design.md, "The API"). CloudFront passes the path as the browser
# sent it, so the routes keep the /api prefix of the page's behaviour.
ROUTES = (
    (apigwv2.HttpMethod.GET, "/api/search"),
    (apigwv2.HttpMethod.GET, "/api/item"),
    (apigwv2.HttpMethod.GET, "/api/labels"),
    (apigwv2.HttpMethod.POST, "/api/uploads"),
    (apigwv2.HttpMethod.POST, "/api/uploads/complete"),
    (apigwv2.HttpMethod.POST, "/api/uploads/abort"),
)

# One JSON line per request, with what an operator looks for first.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "user": "$context.authorizer.claims.sub",
})


class WebApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_name: str,
        bucket_name: str,
        url_seconds: int,
        upload_url_seconds: int,
        throttle_rate: float,
        throttle_burst: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        parts = add_logged_function(
            self,
            handler=HANDLER,
            description="Answers the web page's API: search, items, labels and uploads.",
            role_description="Answers the web page's API: reads the label table, presigns image reads and uploads.",
            memory_size=256,
            # API Gateway gives up on an integration after 30 s.
            timeout=Duration.seconds(29),
            environment={
                "TABLE_NAME": table_name,
                "BUCKET_NAME": bucket_name,
                "URL_SECONDS": str(url_seconds),
                "UPLOAD_URL_SECONDS": str(upload_url_seconds),
            },
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.function = parts.function
        self.role = parts.role
        acknowledge(self.function, "Serverless-LambdaDLQ",
            "Invoked synchronously by API Gateway only: a failure is answered to the page as an error, "
            "there is no asynchronous event to keep.",
        )
        acknowledge(self.function, "Serverless-LambdaTracing",
            "The stage's access log and the function's JSON logs carry the request id of every call. "
            "X-Ray would add xray:Put* on Resource * to the role.",
        )

        self.http_api = apigwv2.HttpApi(self, "Api", create_default_stage=False, api_name=f"{stack.stack_name}-web",
                                        description="image-labels web page API (behind CloudFront /api/*)")
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=removal_policy)
        self.stage = apigwv2.HttpStage(
            self,
            "Stage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=throttle_rate, burst_limit=throttle_burst),
        )
        # Set on the L1: HttpStage takes an IAccessLogSettings, but the format is a plain string here.
        self.stage.node.default_child.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn, format=ACCESS_LOG_FORMAT
        )

        # The host CloudFront forwards /api/* to: <api id>.execute-api.<region>.<suffix>.
        self.domain_name = f"{self.http_api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"
        self.authorizer: authorizers.HttpJwtAuthorizer | None = None

    def require_tokens_of(self, *, issuer: str, audience: list[str]) -> None:
        """Adds the routes, each behind a JWT authorizer of the given issuer and audience. Separate
        from construction: the app client's callback URLs name the distribution, which names this
        API, so the API exists before the client it trusts."""
        if self.authorizer is not None:
            raise ValueError("the web API already has its authorizer")
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "PageUsers", issuer, jwt_audience=audience, identity_source=["$request.header.Authorization"]
        )
        integration = integrations.HttpLambdaIntegration("WebApiFunction", self.function)
        for method, path in ROUTES:
            self.http_api.add_routes(path=path, methods=[method], integration=integration, authorizer=self.authorizer)
