"""local_aws/adjust/apigatewayv2.py: moto (pinned) still behaves as each adjustment assumes, and a
template's HTTP API (the web page's: Lambda proxy integration, JWT authorizer, routes, $default
stage) is in the local AWS as the template says, read back through the apigatewayv2 API.
A failure of a "moto still ..." test means the pin moved or moto changed: revisit that adjustment
rather than the test. One local AWS for the module (tests/adjust_fixtures.py).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from moto.apigatewayv2 import models as apigw_models

from adjust_fixtures import (  # noqa: F401 (aws and client are fixtures)
    EVENT_RECORDER, ROLE_ARN, aws, client, deploy_change_set, moto_source,
)
from local_aws.adjust.apigatewayv2 import HTTP_API_MODELS
from local_aws.adjust.registry import ORIGINALS

pytestmark = pytest.mark.usefixtures("aws")

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool"
ACCESS_LOG_FORMAT = '{"requestId": "$context.requestId", "status": "$context.status"}'


def http_api_template(*, audience: str = "page-client", search_authorizer: str = "PageUsers",
                      labels_authorized: bool = True, burst: int = 40, with_api: bool = True) -> str:
    """The web page's API in small: one function behind one Lambda proxy, two JWT authorizers,
    a JWT route (search), a route that may go without one (labels), the $default stage."""
    def authorizer(name: str, client_id: str) -> dict:
        return {"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": {
            "ApiId": {"Ref": "Api"}, "AuthorizerType": "JWT", "Name": name,
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Audience": [client_id], "Issuer": ISSUER}}}

    def route(key: str, authorizer_name: str | None) -> dict:
        properties: dict = {"ApiId": {"Ref": "Api"}, "RouteKey": key,
                            "Target": {"Fn::Join": ["", ["integrations/", {"Ref": "Proxy"}]]}}
        if authorizer_name:
            properties.update(AuthorizationType="JWT", AuthorizerId={"Ref": authorizer_name})
        return {"Type": "AWS::ApiGatewayV2::Route", "Properties": properties}

    resources: dict = {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
        "Code": {"ZipFile": EVENT_RECORDER}, "Handler": "index.handler", "Runtime": "python3.14", "Role": ROLE_ARN}}}
    outputs: dict = {"Function": {"Value": {"Fn::GetAtt": ["Fn", "Arn"]}}}
    if with_api:
        resources.update({
            "AccessLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {
                "LogGroupName": {"Fn::Sub": "${AWS::StackName}-access"}}},
            "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
                "Name": "ImageLabels-test-web", "ProtocolType": "HTTP", "Description": "the page's API"}},
            "Proxy": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
                "ApiId": {"Ref": "Api"}, "IntegrationType": "AWS_PROXY",
                "IntegrationUri": {"Fn::GetAtt": ["Fn", "Arn"]}, "PayloadFormatVersion": "2.0"}},
            "PageUsers": authorizer("PageUsers", audience),
            "OtherUsers": authorizer("OtherUsers", "other-client"),
            "Search": route("GET /api/search", search_authorizer),
            "Labels": route("GET /api/labels", "PageUsers" if labels_authorized else None),
            "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
                "ApiId": {"Ref": "Api"}, "StageName": "$default", "AutoDeploy": True,
                "AccessLogSettings": {"DestinationArn": {"Fn::GetAtt": ["AccessLogs", "Arn"]},
                                      "Format": ACCESS_LOG_FORMAT},
                "DefaultRouteSettings": {"ThrottlingBurstLimit": burst, "ThrottlingRateLimit": 20}}},
        })
        outputs.update({name: {"Value": value} for name, value in {
            "Api": {"Ref": "Api"}, "ApiId": {"Fn::GetAtt": ["Api", "ApiId"]},
            "ApiEndpoint": {"Fn::GetAtt": ["Api", "ApiEndpoint"]}, "ExecuteApiArn": {"Fn::GetAtt": ["Api", "ExecuteApiArn"]},
            "Stage": {"Ref": "Stage"},
            "Proxy": {"Ref": "Proxy"}, "ProxyId": {"Fn::GetAtt": ["Proxy", "IntegrationId"]},
            "PageUsers": {"Ref": "PageUsers"}, "OtherUsers": {"Ref": "OtherUsers"},
            "Search": {"Ref": "Search"}, "Labels": {"Fn::GetAtt": ["Labels", "RouteId"]},
            "LogGroup": {"Fn::GetAtt": ["AccessLogs", "Arn"]}}.items()})
    return json.dumps({"Resources": resources, "Outputs": outputs})


def outputs_of(stack: dict) -> dict:
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def routes_by_key(client, api_id: str) -> dict:
    return {route["RouteKey"]: route for route in client("apigatewayv2").get_routes(ApiId=api_id)["Items"]}


def authorizers_by_id(client, api_id: str) -> dict:
    return {a["AuthorizerId"]: a for a in client("apigatewayv2").get_authorizers(ApiId=api_id)["Items"]}


def failure_reasons(client, stack: str) -> list[str]:
    return [event.get("ResourceStatusReason") or "" for event in
            client("cloudformation").describe_stack_events(StackName=stack)["StackEvents"]]


def test_moto_still_skips_http_api_types_in_cloudformation():
    assert {model.cloudformation_type() for model in HTTP_API_MODELS} == {
        "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage", "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Authorizer"}
    assert not {model.cloudformation_type() for model in HTTP_API_MODELS} & ORIGINALS["cloudformation model types"]


def test_moto_still_has_no_get_authorizers_nor_update_stage():
    assert ORIGINALS["ApiGatewayV2Backend.get_authorizers"] is None
    assert ORIGINALS["ApiGatewayV2Response.get_authorizers"] is None
    assert not hasattr(apigw_models.ApiGatewayV2Backend, "update_stage")


def test_moto_still_keeps_a_dropped_authorizer_and_the_jwt_configuration_as_given():
    route = apigw_models.Route(api_key_required=False, authorization_scopes=None, authorization_type="JWT",
                               authorizer_id="abc", model_selection_expression=None, operation_name=None,
                               request_models=None, request_parameters=None, route_key="GET /x",
                               route_response_selection_expression=None, target=None)
    route.update(api_key_required=None, authorization_scopes=None, authorization_type="NONE", authorizer_id=None,
                 model_selection_expression=None, operation_name=None, request_models=None,
                 request_parameters=None, route_key=None, route_response_selection_expression=None, target=None)
    assert (route.authorization_type, route.authorizer_id) == ("NONE", "abc")  # why updates rebuild
    assert '"jwtConfiguration": self.jwt_config' in moto_source(apigw_models.Authorizer.to_json)


def test_a_template_http_api_is_there_as_the_template_says_and_follows_updates(aws, client):
    stack = deploy_change_set(client, "http-api", http_api_template(), "CREATE")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    out = outputs_of(stack)
    apigw = client("apigatewayv2")
    api = apigw.get_api(ApiId=out["Api"])
    assert (api["Name"], api["ProtocolType"], api["Description"]) == ("ImageLabels-test-web", "HTTP", "the page's API")
    assert out["ApiId"] == out["Api"] and api["ApiEndpoint"] == out["ApiEndpoint"]
    assert out["ApiEndpoint"] == f"https://{out['Api']}.execute-api.{aws.region}.amazonaws.com"
    assert out["ExecuteApiArn"] == f"arn:aws:execute-api:{aws.region}:{aws.account_id}:{out['Api']}"

    integration, = apigw.get_integrations(ApiId=out["Api"])["Items"]
    assert integration["IntegrationId"] == out["Proxy"] == out["ProxyId"]
    assert (integration["IntegrationType"], integration["IntegrationUri"], integration["PayloadFormatVersion"],
            integration["IntegrationMethod"]) == ("AWS_PROXY", out["Function"], "2.0", "POST")

    authorizers = authorizers_by_id(client, out["Api"])
    assert set(authorizers) == {out["PageUsers"], out["OtherUsers"]}
    page_users = authorizers[out["PageUsers"]]
    assert (page_users["Name"], page_users["AuthorizerType"], page_users["IdentitySource"]) == (
        "PageUsers", "JWT", ["$request.header.Authorization"])
    assert page_users["JwtConfiguration"] == {"Audience": ["page-client"], "Issuer": ISSUER}
    assert apigw.get_authorizer(ApiId=out["Api"], AuthorizerId=out["PageUsers"])["JwtConfiguration"] == {
        "Audience": ["page-client"], "Issuer": ISSUER}

    routes = routes_by_key(client, out["Api"])
    assert set(routes) == {"GET /api/search", "GET /api/labels"}
    assert routes["GET /api/search"]["RouteId"] == out["Search"]
    assert routes["GET /api/labels"]["RouteId"] == out["Labels"]
    for route in routes.values():
        assert (route["AuthorizationType"], route["AuthorizerId"], route["Target"]) == (
            "JWT", out["PageUsers"], f"integrations/{out['Proxy']}")

    stage, = apigw.get_stages(ApiId=out["Api"])["Items"]
    assert out["Stage"] == stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["AccessLogSettings"] == {"DestinationArn": out["LogGroup"], "Format": ACCESS_LOG_FORMAT}
    assert stage["DefaultRouteSettings"] == {"DetailedMetricsEnabled": False, "ThrottlingBurstLimit": 40,
                                             "ThrottlingRateLimit": 20.0}

    # An update: search moves to the other authorizer, labels drops its authorizer, the page client's
    # audience changes, the burst limit too. Every id stays.
    stack = deploy_change_set(client, "http-api", http_api_template(
        audience="new-page-client", search_authorizer="OtherUsers", labels_authorized=False, burst=10), "UPDATE")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {key: outputs_of(stack)[key] for key in out if key != "Function"} == {
        key: value for key, value in out.items() if key != "Function"}
    routes = routes_by_key(client, out["Api"])
    assert (routes["GET /api/search"]["AuthorizationType"], routes["GET /api/search"]["AuthorizerId"]) == (
        "JWT", out["OtherUsers"])
    assert routes["GET /api/labels"]["AuthorizationType"] == "NONE"
    assert routes["GET /api/labels"].get("AuthorizerId") is None
    assert authorizers_by_id(client, out["Api"])[out["PageUsers"]]["JwtConfiguration"] == {
        "Audience": ["new-page-client"], "Issuer": ISSUER}
    stage, = apigw.get_stages(ApiId=out["Api"])["Items"]
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 10
    assert stage["AccessLogSettings"]["DestinationArn"] == out["LogGroup"]

    # The API and everything in it leave the template: gone, the function stays.
    stack = deploy_change_set(client, "http-api", http_api_template(with_api=False), "UPDATE")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    with pytest.raises(ClientError) as gone:
        apigw.get_api(ApiId=out["Api"])
    assert gone.value.response["Error"]["Code"] == "NotFoundException"
    assert client("lambda").get_function(FunctionName=out["Function"])
    client("cloudformation").delete_stack(StackName="http-api")


def test_deleting_the_stack_deletes_the_api_even_after_a_hand_made_deletion(client):
    apigw = client("apigatewayv2")
    first = outputs_of(deploy_change_set(client, "http-api-delete", http_api_template(), "CREATE"))
    client("cloudformation").delete_stack(StackName="http-api-delete")
    assert out_of(apigw, first["Api"]) and "http-api-delete" not in [
        s["StackName"] for s in client("cloudformation").describe_stacks()["Stacks"]]

    # Someone deleted the API by hand (its routes and authorizers went with it): cdk destroy still works.
    second = outputs_of(deploy_change_set(client, "http-api-delete", http_api_template(), "CREATE"))
    apigw.delete_api(ApiId=second["Api"])
    client("cloudformation").delete_stack(StackName="http-api-delete")
    assert "http-api-delete" not in [s["StackName"] for s in client("cloudformation").describe_stacks()["Stacks"]]


def out_of(apigw, api_id: str) -> bool:
    """The API is gone from the apigatewayv2 API."""
    try:
        apigw.get_api(ApiId=api_id)
    except ClientError as error:
        return error.response["Error"]["Code"] == "NotFoundException"
    return False


def test_a_jwt_route_without_its_apis_authorizer_fails_the_deploy_with_the_reason(client):
    def api_ids() -> set[str]:
        return {api["ApiId"] for api in client("apigatewayv2").get_apis()["Items"]}

    before = api_ids()
    template = json.loads(http_api_template())
    del template["Resources"]["Search"]["Properties"]["AuthorizerId"]
    stack = deploy_change_set(client, "http-api-bad", json.dumps(template), "CREATE")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any("GET /api/search: AuthorizationType JWT needs an AuthorizerId" in reason
               for reason in failure_reasons(client, "http-api-bad"))
    assert api_ids() == before  # the API made before the failing route is deleted again
    client("cloudformation").delete_stack(StackName="http-api-bad")
