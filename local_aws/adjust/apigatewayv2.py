"""API Gateway HTTP APIs: what the local AWS changes about them.

CloudFormation models `AWS::ApiGatewayV2::Api`, `::Stage`, `::Integration`, `::Route` and
`::Authorizer` in moto's own apigatewayv2 backend, and GetAuthorizers answers. The backend then
holds every value a template gave, in the API's own (camelCase) shape: get_routes, get_integrations,
get_authorizers and get_stages read back what the template says, and so does the local page gateway
reading the backend's objects (route.target "integrations/<id>", route.authorization_type and
authorizer_id, integration.integration_uri and payload_format_version, authorizer.jwt_config
{"issuer", "audience"}). moto never answers an HTTP API's own URL (see NOT_ENFORCED).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from moto.apigatewayv2 import models as apigw_models
from moto.apigatewayv2 import responses as apigw_responses
from moto.core.common_models import CloudFormationModel

from local_aws.adjust.registry import keep_original, rebuild_cloudformation_model_map, template_boolean

# Api properties that build an API from an OpenAPI body or a quick-create target: not modelled here.
_UNMODELLED_API_PROPERTIES = ("Body", "BodyS3Location", "BasePath", "FailOnWarnings", "Target", "RouteKey",
                              "CredentialsArn")


def _backend(account_id: str, region_name: str) -> apigw_models.ApiGatewayV2Backend:
    return apigw_models.apigatewayv2_backends[account_id][region_name]


def _flag(value: Any) -> bool | None:
    """A template boolean ("true" and True alike), None when absent."""
    return None if value is None else template_boolean(value)


def _api_shape(structure: dict | None) -> dict | None:
    """A CloudFormation structure as the API spells it: {"Issuer": ..} -> {"issuer": ..}."""
    if structure is None:
        return None
    return {key[:1].lower() + key[1:]: value for key, value in structure.items()}


def _each_api_shape(mapping: dict | None) -> dict | None:
    """A map of structures (route settings by route key, ...): its keys as they are, its values in API shape."""
    return None if mapping is None else {key: _api_shape(value) for key, value in mapping.items()}


class _HttpApiResource:
    """What the five models share: one object in one API of moto's backend (the API itself, for
    the API), Ref its id. A mixin, not a CloudFormationModel: moto lists only the direct
    subclasses of CloudFormationModel as models."""

    def __init__(self, account_id: str, region_name: str, api_id: str, child_id: str, properties: dict) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.api_id = api_id
        self.child_id = child_id  # the API's id again, for the API
        self.properties = dict(properties)

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.child_id

    def is_created(self) -> bool:
        return True

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass  # moto's ResourceMap calls delete() on the model instead


class _ApiChild(_HttpApiResource):
    """What stages, integrations, routes and authorizers share: moving one to another API replaces
    it, and an update rebuilds the backend's object under the same id (moto's own updates skip
    empty values, so a property dropped from the template would stay)."""

    ID_ATTRIBUTE = ""  # the GetAtt name of the id, "" when there is none
    REPLACED_BY: tuple[str, ...] = ("ApiId",)  # properties whose change replaces the resource

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return bool(cls.ID_ATTRIBUTE) and attr == cls.ID_ATTRIBUTE

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.child_id

    # What each type says: its arguments for moto, and where moto makes and keeps it.
    MOTO_CLASS: type = object
    CREATE = ""  # the backend's create method
    COLLECTION = ""  # the Api attribute that holds them by id
    ID_FIELD = "id"
    KEPT: tuple[str, ...] = ()  # what a rebuild keeps besides the id (responses: resources of their own)

    @staticmethod
    def arguments(api: apigw_models.Api, properties: dict) -> dict:
        raise NotImplementedError

    @classmethod
    def create(cls, backend: apigw_models.ApiGatewayV2Backend, api_id: str, arguments: dict) -> Any:
        return getattr(backend, cls.CREATE)(api_id=api_id, **arguments)

    @classmethod
    def rebuild(cls, api: apigw_models.Api, old: Any, arguments: dict) -> Any:
        rebuilt = cls.MOTO_CLASS(**arguments)
        for name in (cls.ID_FIELD, *cls.KEPT):
            setattr(rebuilt, name, getattr(old, name))
        return rebuilt

    @classmethod
    def collection(cls, api: apigw_models.Api) -> dict:
        return getattr(api, cls.COLLECTION)

    @classmethod
    def id_of(cls, made: Any) -> str:
        return getattr(made, cls.ID_FIELD)

    @classmethod
    def _make(cls, account_id: str, region_name: str, properties: dict):
        backend = _backend(account_id, region_name)
        api = backend.get_api(properties.get("ApiId"))  # NotFoundException when the API is not there
        made = cls.create(backend, api.api_id, cls.arguments(api, properties))
        return cls(account_id, region_name, api.api_id, cls.id_of(made), properties)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls._make(account_id, region_name, cloudformation_json["Properties"])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        properties = cloudformation_json["Properties"]
        if any(properties.get(key) != original_resource.properties.get(key) for key in cls.REPLACED_BY):
            replacement = cls._make(account_id, region_name, properties)  # the new one first, as CloudFormation
            original_resource.delete(account_id, region_name)
            return replacement
        api = _backend(account_id, region_name).get_api(original_resource.api_id)
        collection = cls.collection(api)
        old = collection.get(original_resource.child_id)
        if old is None:
            raise ValueError(f"{cls.cloudformation_type()} {original_resource.child_id} is no longer in API "
                             f"{api.api_id} (deleted outside the stack?)")
        collection[original_resource.child_id] = cls.rebuild(api, old, cls.arguments(api, properties))
        return cls(account_id, region_name, api.api_id, original_resource.child_id, properties)

    def delete(self, account_id: str, region_name: str) -> None:
        api = _backend(self.account_id, self.region_name).apis.get(self.api_id)
        if api is not None:  # deleting an API deletes what it holds
            self.collection(api).pop(self.child_id, None)


class LocalHttpApi(_HttpApiResource, CloudFormationModel):
    """`AWS::ApiGatewayV2::Api` in CloudFormation, as an API in moto's apigatewayv2 backend."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Api"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("ApiEndpoint", "ApiId", "ExecuteApiArn")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        api = _backend(self.account_id, self.region_name).get_api(self.api_id)
        if attribute_name == "ApiEndpoint":
            return api.api_endpoint
        if attribute_name == "ExecuteApiArn":
            partition = api.arn.split(":")[1]
            return f"arn:{partition}:execute-api:{self.region_name}:{self.account_id}:{api.api_id}"
        return api.api_id

    @staticmethod
    def _check(properties: dict, previous: dict | None = None) -> None:
        unmodelled = [name for name in _UNMODELLED_API_PROPERTIES if name in properties]
        if unmodelled:
            raise ValueError(f"AWS::ApiGatewayV2::Api: the local AWS does not model {', '.join(unmodelled)} "
                             "(OpenAPI bodies, quick-create APIs): declare Routes and Integrations instead")
        if not properties.get("Name") or properties.get("ProtocolType") not in ("HTTP", "WEBSOCKET"):
            raise ValueError("AWS::ApiGatewayV2::Api needs a Name and a ProtocolType of HTTP or WEBSOCKET")
        if previous is not None and properties["ProtocolType"] != previous.get("ProtocolType"):
            # A replaced API gets a new id, and moto's CloudFormation would leave its stages, routes
            # and integrations (whose templates did not change) in the deleted one.
            raise ValueError("AWS::ApiGatewayV2::Api: the local AWS cannot replace an API (ProtocolType changed): "
                             "its routes would not follow; delete the stack and deploy it again")

    @staticmethod
    def _apply(backend: apigw_models.ApiGatewayV2Backend, api: apigw_models.Api, properties: dict) -> None:
        """Every setting as the template says, a dropped one back to its default (Api.update skips None)."""
        api.name = properties["Name"]
        api.description = properties.get("Description")
        api.version = properties.get("Version")
        api.cors_configuration = _api_shape(properties.get("CorsConfiguration"))
        api.api_key_selection_expression = properties.get("ApiKeySelectionExpression", "$request.header.x-api-key")
        api.route_selection_expression = properties.get("RouteSelectionExpression", "$request.method $request.path")
        api.disable_execute_api_endpoint = _flag(properties.get("DisableExecuteApiEndpoint")) or False
        api.disable_schema_validation = _flag(properties.get("DisableSchemaValidation"))
        backend.tagger.delete_all_tags_for_resource(api.arn)
        backend.tag_resource(api.arn, dict(properties.get("Tags") or {}))

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        cls._check(properties)
        backend = _backend(account_id, region_name)
        api = backend.create_api(
            api_key_selection_expression=None, cors_configuration=None, description=None,
            disable_schema_validation=None, disable_execute_api_endpoint=None, name=properties["Name"],
            protocol_type=properties["ProtocolType"], route_selection_expression=None, tags={}, version=None)
        cls._apply(backend, api, properties)
        return cls(account_id, region_name, api.api_id, api.api_id, properties)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                        region_name):
        properties = cloudformation_json["Properties"]
        cls._check(properties, previous=original_resource.properties)
        backend = _backend(account_id, region_name)
        cls._apply(backend, backend.get_api(original_resource.api_id), properties)
        return cls(account_id, region_name, original_resource.api_id, original_resource.api_id, properties)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(self.account_id, self.region_name)
        if self.api_id in backend.apis:
            backend.tagger.delete_all_tags_for_resource(backend.apis[self.api_id].arn)
        backend.delete_api(self.api_id)  # its stages, routes, integrations and authorizers with it


class LocalHttpApiStage(_ApiChild, CloudFormationModel):
    """`AWS::ApiGatewayV2::Stage`: a stage of an API in moto's backend, Ref its name. moto has no
    UpdateStage: an update rebuilds the stage (keeping its creation date)."""

    REPLACED_BY = ("ApiId", "StageName")
    COLLECTION = "stages"
    ID_FIELD = "name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Stage"

    @staticmethod
    def arguments(api: apigw_models.Api, properties: dict) -> dict:
        if not properties.get("StageName"):
            raise ValueError("AWS::ApiGatewayV2::Stage needs a StageName")
        config: dict[str, Any] = {
            "stageName": properties["StageName"],
            "stageVariables": dict(properties.get("StageVariables") or {}),
            "routeSettings": _each_api_shape(properties.get("RouteSettings")) or {},
            "tags": dict(properties.get("Tags") or {}),
        }
        if "DefaultRouteSettings" in properties:  # AWS shows detailedMetricsEnabled false unless set
            config["defaultRouteSettings"] = {"detailedMetricsEnabled": False,
                                              **_api_shape(properties["DefaultRouteSettings"])}
        optional = {"accessLogSettings": _api_shape(properties.get("AccessLogSettings")),
                    "autoDeploy": _flag(properties.get("AutoDeploy")),
                    "clientCertificateId": properties.get("ClientCertificateId"),
                    "description": properties.get("Description")}
        config.update({key: value for key, value in optional.items() if value is not None})
        return config

    @classmethod
    def create(cls, backend, api_id, arguments):
        return backend.create_stage(api_id, arguments)

    @classmethod
    def rebuild(cls, api, old, arguments):
        stage = apigw_models.Stage(api=api, config=arguments)
        stage.created = old.created
        stage.updated = datetime.now()
        return stage


class LocalHttpApiIntegration(_ApiChild, CloudFormationModel):
    """`AWS::ApiGatewayV2::Integration`: an integration of an API in moto's backend (a Lambda
    proxy's IntegrationUri is the function's ARN as the template gives it)."""

    ID_ATTRIBUTE = "IntegrationId"
    MOTO_CLASS, CREATE, COLLECTION = apigw_models.Integration, "create_integration", "integrations"
    KEPT = ("responses",)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Integration"

    @staticmethod
    def arguments(api: apigw_models.Api, properties: dict) -> dict:
        if not properties.get("IntegrationType"):
            raise ValueError("AWS::ApiGatewayV2::Integration needs an IntegrationType")
        response_parameters = properties.get("ResponseParameters")
        timeout = properties.get("TimeoutInMillis")
        return {
            "connection_id": properties.get("ConnectionId"),
            "connection_type": properties.get("ConnectionType", "INTERNET"),  # AWS's default
            "content_handling_strategy": properties.get("ContentHandlingStrategy"),
            "credentials_arn": properties.get("CredentialsArn"),
            "description": properties.get("Description"),
            "integration_method": properties.get("IntegrationMethod"),
            "integration_subtype": properties.get("IntegrationSubtype"),
            "integration_type": properties["IntegrationType"],
            "integration_uri": properties.get("IntegrationUri"),
            "passthrough_behavior": properties.get("PassthroughBehavior"),
            "payload_format_version": properties.get("PayloadFormatVersion"),
            "request_parameters": properties.get("RequestParameters"),
            "request_templates": properties.get("RequestTemplates"),
            # CloudFormation: {status: {ResponseParameters: [{Destination, Source}]}}; the API: {status: {destination: source}}
            "response_parameters": None if response_parameters is None else {
                status: {item["Destination"]: item["Source"] for item in mapping.get("ResponseParameters", [])}
                for status, mapping in response_parameters.items()},
            "template_selection_expression": properties.get("TemplateSelectionExpression"),
            "timeout_in_millis": None if timeout is None else int(timeout),
            "tls_config": _api_shape(properties.get("TlsConfig")),
        }


class LocalHttpApiRoute(_ApiChild, CloudFormationModel):
    """`AWS::ApiGatewayV2::Route`: a route of an API in moto's backend. Its authorizer and its
    target integration must be the API's own, as on AWS (moto checks neither)."""

    ID_ATTRIBUTE = "RouteId"
    MOTO_CLASS, CREATE, COLLECTION = apigw_models.Route, "create_route", "routes"
    ID_FIELD, KEPT = "route_id", ("route_responses",)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Route"

    @staticmethod
    def arguments(api: apigw_models.Api, properties: dict) -> dict:
        route_key = properties.get("RouteKey")
        if not route_key:
            raise ValueError("AWS::ApiGatewayV2::Route needs a RouteKey")
        authorization_type = properties.get("AuthorizationType", "NONE")
        authorizer_id = properties.get("AuthorizerId")
        if authorization_type in ("JWT", "CUSTOM") and authorizer_id not in api.authorizers:
            raise ValueError(f"AWS::ApiGatewayV2::Route {route_key}: AuthorizationType {authorization_type} needs "
                             f"an AuthorizerId of API {api.api_id} (got {authorizer_id!r})")
        target = properties.get("Target")
        if target and target.startswith("integrations/") and target.split("/", 1)[1] not in api.integrations:
            raise ValueError(f"AWS::ApiGatewayV2::Route {route_key}: Target {target} is not an integration "
                             f"of API {api.api_id}")
        return {
            "api_key_required": _flag(properties.get("ApiKeyRequired")) or False,
            "authorization_scopes": properties.get("AuthorizationScopes"),
            "authorization_type": authorization_type,
            "authorizer_id": authorizer_id,
            "model_selection_expression": properties.get("ModelSelectionExpression"),
            "operation_name": properties.get("OperationName"),
            "request_models": properties.get("RequestModels"),
            "request_parameters": _each_api_shape(properties.get("RequestParameters")),
            "route_key": route_key,
            "route_response_selection_expression": properties.get("RouteResponseSelectionExpression"),
            "target": target,
        }


class LocalHttpApiAuthorizer(_ApiChild, CloudFormationModel):
    """`AWS::ApiGatewayV2::Authorizer`: an authorizer of an API in moto's backend, its
    JwtConfiguration kept as the API spells it ({"issuer", "audience"})."""

    ID_ATTRIBUTE = "AuthorizerId"
    MOTO_CLASS, CREATE, COLLECTION = apigw_models.Authorizer, "create_authorizer", "authorizers"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Authorizer"

    @staticmethod
    def arguments(api: apigw_models.Api, properties: dict) -> dict:
        authorizer_type = properties.get("AuthorizerType")
        if not properties.get("Name") or authorizer_type not in ("JWT", "REQUEST"):
            raise ValueError("AWS::ApiGatewayV2::Authorizer needs a Name and an AuthorizerType of JWT or REQUEST")
        jwt_config = _api_shape(properties.get("JwtConfiguration"))
        if authorizer_type == "JWT" and not (jwt_config or {}).get("issuer"):
            raise ValueError(f"AWS::ApiGatewayV2::Authorizer {properties['Name']}: a JWT authorizer needs "
                             "JwtConfiguration.Issuer")
        ttl = properties.get("AuthorizerResultTtlInSeconds")
        return {
            "auth_creds_arn": properties.get("AuthorizerCredentialsArn"),
            "auth_payload_format_version": properties.get("AuthorizerPayloadFormatVersion"),
            "auth_result_ttl": None if ttl is None else int(ttl),
            "authorizer_type": authorizer_type,
            "authorizer_uri": properties.get("AuthorizerUri"),
            "enable_simple_response": _flag(properties.get("EnableSimpleResponses")),
            "identity_source": properties.get("IdentitySource"),
            "identity_validation_expr": properties.get("IdentityValidationExpression"),
            "jwt_config": jwt_config,
            "name": properties["Name"],
        }


HTTP_API_MODELS = (LocalHttpApi, LocalHttpApiStage, LocalHttpApiIntegration, LocalHttpApiRoute,
                   LocalHttpApiAuthorizer)


def model_http_apis_in_cloudformation() -> None:
    """`AWS::ApiGatewayV2::Api`, `::Stage`, `::Integration`, `::Route` and `::Authorizer` become an
    HTTP API in moto's apigatewayv2 backend.

    moto's CloudFormation models none of them and skips them silently: the web page's API (six
    routes to one Lambda proxy behind a JWT authorizer, a $default stage with access logs and
    throttling) would not exist, Ref of the API would be its logical id, and the local page gateway
    would find nothing to route the page's /api/* requests to. This registers a model per type that
    creates it through moto's backend with every property the template gives, in the API's own
    shape (camelCase, which moto stores as it receives it: a JwtConfiguration handed over as
    {"Issuer"} would read back empty). Refs are the API, integration, route and authorizer ids and
    the stage name, as on AWS; GetAtt gives Api.ApiEndpoint, ApiId and ExecuteApiArn and the
    children's ids. An update changes the API in place, and rebuilds a child under the same id
    (moto has no UpdateStage, and its route, integration and authorizer updates skip empty values,
    so a dropped authorizer would stay); a new ApiId or StageName replaces it. A route whose
    JWT authorizer or target integration is not its API's own fails the deploy, as on AWS. Delete
    removes each; deleting an API removes whatever it still holds. Not modelled (the deploy fails
    saying so): APIs built from an OpenAPI Body or quick-create Target, and replacing an API.
    """
    rebuild_cloudformation_model_map()
    from moto.cloudformation import parsing as cfn_parsing

    model_map = cfn_parsing.get_model_map()
    assert all(model_map[model.cloudformation_type()] is model for model in HTTP_API_MODELS)


def list_authorizers_with_get_authorizers() -> None:
    """GetAuthorizers lists an API's authorizers.

    moto 5.2.5 answers GetAuthorizer but has no GetAuthorizers: the call fails (NotImplementedError,
    an HTTP 500 in server mode), so a client listing an API's authorizers (the AWS CLI's
    get-authorizers, a test checking what a deploy made) cannot. Instead it answers
    {"items": [every authorizer of the API]} as AWS does (one page: moto pages none of its lists).
    """
    backend_class = apigw_models.ApiGatewayV2Backend
    response_class = apigw_responses.ApiGatewayV2Response
    keep_original("ApiGatewayV2Backend.get_authorizers", getattr(backend_class, "get_authorizers", None))
    keep_original("ApiGatewayV2Response.get_authorizers", getattr(response_class, "get_authorizers", None))

    def get_authorizers(self, api_id: str) -> list:
        return list(self.get_api(api_id).authorizers.values())

    def get_authorizers_response(self):
        api_id = self.path.split("/")[-2]
        authorizers = self.apigatewayv2_backend.get_authorizers(api_id)
        return 200, {}, json.dumps({"items": [authorizer.to_json() for authorizer in authorizers]})

    backend_class.get_authorizers = get_authorizers
    response_class.get_authorizers = get_authorizers_response
