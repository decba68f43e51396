"""Cognito: what the local AWS changes about user pools deployed by CloudFormation.

CloudFormation models `AWS::Cognito::UserPool`, `AWS::Cognito::UserPoolClient` and
`AWS::Cognito::UserPoolDomain` as the pool, app client and domain of moto's own cognito-idp
backend, so the deployed pool can sign users in (InitiateAuth) and hand out its RS256 tokens.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cognitoidp import models as cognito_models
from moto.cognitoidp.exceptions import ResourceNotFoundError
from moto.core.common_models import CloudFormationModel
from moto.core.utils import utcnow

from local_aws.adjust.registry import rebuild_cloudformation_model_map, template_boolean

_API = botocore.session.get_session().get_service_model("cognito-idp")


def _members(operation: str) -> dict:
    return dict(_API.operation_model(operation).input_shape.members)


_CREATE_POOL, _UPDATE_POOL = _members("CreateUserPool"), _members("UpdateUserPool")
# A template names the pool UserPoolName, never PoolName.
_POOL_PARAMETERS = {name: shape for name, shape in _CREATE_POOL.items() if name != "PoolName"}
_CREATE_CLIENT = _members("CreateUserPoolClient")
_CREATE_DOMAIN, _UPDATE_DOMAIN = _members("CreateUserPoolDomain"), _members("UpdateUserPoolDomain")

# Settings Cognito fixes when it creates a pool (UsernameAttributes, AliasAttributes, Schema,
# UsernameConfiguration): UpdateUserPool has no parameter for them, so CloudFormation replaces the pool.
_POOL_FIXED_AT_CREATION = frozenset(_CREATE_POOL) - frozenset(_UPDATE_POOL)
# Template properties of a pool that are not CreateUserPool parameters: the name is PoolName there,
# EnabledMfas goes through SetUserPoolMfaConfig; moto has no e-mail MFA and no passkeys to hold the rest.
_POOL_PROPERTIES_NOT_IN_THE_API = {"UserPoolName", "EnabledMfas", "EmailAuthenticationMessage",
                                   "EmailAuthenticationSubject", "WebAuthnRelyingPartyID",
                                   "WebAuthnUserVerification"}
# A client's secret is chosen when it is created: CloudFormation replaces the client to change it.
_CLIENT_IDENTITY = ("UserPoolId", "GenerateSecret", "ClientSecret")
_DOMAIN_IDENTITY = ("UserPoolId", "Domain")


class CognitoTemplateError(ValueError):
    """A template the local AWS cannot (or Cognito would not) deploy; its text is the stack's failure reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _backend(account_id: str, region_name: str):
    return cognito_models.cognitoidp_backends[account_id][region_name]


def _as_api_value(value: Any, shape) -> Any:
    """A template value as the cognito-idp API takes it: numbers and flags in a template (or resolved
    from a parameter) may be text, moto stores what it is given and answers Describe* with it."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {name: _as_api_value(item, shape.members[name]) for name, item in value.items()
                if name in shape.members}
    if kind == "list" and isinstance(value, list):
        return [_as_api_value(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _as_api_value(item, shape.value) for key, item in value.items()}
    if kind in ("integer", "long"):
        return int(value)
    if kind == "boolean":
        return template_boolean(value)
    return value


def _api_parameters(properties: dict, members: dict, *, kind: str, not_in_the_api=frozenset(),
                    leave_out=frozenset()) -> dict:
    """The template's properties as API parameters; a property CloudFormation would not know fails the
    stack operation with its name instead of being dropped without a word."""
    unknown = sorted(set(properties) - set(members) - set(not_in_the_api))
    if unknown:
        raise CognitoTemplateError(f"{kind} has properties it does not support: {', '.join(unknown)}")
    return {name: _as_api_value(value, members[name]) for name, value in properties.items()
            if name in members and name not in leave_out}


def _changed(properties: dict, previous: dict, names) -> list[str]:
    return sorted(name for name in names if properties.get(name) != previous.get(name))


class LocalUserPool(CloudFormationModel):
    """`AWS::Cognito::UserPool` in CloudFormation, as a user pool in moto's cognito-idp backend."""

    def __init__(self, pool, properties: dict) -> None:
        self.pool = pool
        self.properties = dict(properties)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPool"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "UserPoolName"

    @property
    def physical_resource_id(self) -> str:
        return self.pool.id  # Ref of a user pool is its id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "ProviderName", "ProviderURL", "UserPoolId")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        provider = f"cognito-idp.{self.pool.region}.amazonaws.com/{self.pool.id}"
        return {"Arn": self.pool.arn, "ProviderName": provider, "ProviderURL": f"https://{provider}",
                "UserPoolId": self.pool.id}[attribute_name]

    @staticmethod
    def _config(properties: dict) -> dict:
        return _api_parameters(properties, _POOL_PARAMETERS, kind="AWS::Cognito::UserPool",
                               not_in_the_api=_POOL_PROPERTIES_NOT_IN_THE_API)

    @staticmethod
    def _set_mfa(backend, pool_id: str, properties: dict) -> None:
        """MfaConfiguration and EnabledMfas as SetUserPoolMfaConfig takes them (CreateUserPool and
        UpdateUserPool cannot say which factors are on)."""
        mode = properties.get("MfaConfiguration", "OFF")
        enabled = set(properties.get("EnabledMfas") or ())
        if mode not in ("OFF", "ON", "OPTIONAL"):
            raise CognitoTemplateError(f"MfaConfiguration must be OFF, ON or OPTIONAL, not {mode!r}")
        if mode != "OFF" and not enabled & {"SOFTWARE_TOKEN_MFA", "SMS_MFA"}:
            raise CognitoTemplateError(
                f"MfaConfiguration {mode} needs SOFTWARE_TOKEN_MFA or SMS_MFA in EnabledMfas")
        sms = None
        if "SMS_MFA" in enabled:
            sms = {"SmsAuthenticationMessage": properties.get("SmsAuthenticationMessage"),
                   "SmsConfiguration": properties.get("SmsConfiguration")}
        token = {"Enabled": True} if "SOFTWARE_TOKEN_MFA" in enabled else None
        backend.set_user_pool_mfa_config(pool_id, sms, token, mode)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        backend = _backend(account_id, region_name)
        pool = backend.create_user_pool(properties.get("UserPoolName", resource_name), cls._config(properties))
        try:
            cls._set_mfa(backend, pool.id, properties)
        except Exception:
            backend.delete_user_pool(pool.id)  # a refused template leaves no pool behind
            raise
        return cls(pool, properties)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        previous = original_resource.properties
        fixed = _changed(properties, previous, _POOL_FIXED_AT_CREATION)
        if fixed:
            # CloudFormation would replace the pool; moto's CloudFormation would then leave the
            # clients and domain that refer to it on the old, deleted pool: refuse plainly instead.
            raise CognitoTemplateError(
                f"changing {', '.join(fixed)} replaces the user pool, which the local AWS does not do "
                "(its clients and domain would not follow): delete the stack and deploy it again")
        config = cls._config(properties)
        config.pop("Schema", None)  # moto keeps the schema apart from the rest of the configuration
        backend = _backend(account_id, region_name)
        pool = original_resource.pool
        cls._set_mfa(backend, pool.id, properties)  # checked first: a refused update changes nothing
        # UpdateUserPool semantics: what the template leaves out goes back to its default.
        backend.update_user_pool(pool.id, config)
        pool.name = properties.get("UserPoolName", pool.name)  # moto has no rename; Cognito renames in place
        pool.last_modified_date = utcnow()
        return cls(pool, properties)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            _backend(self.pool.account_id, self.pool.region).delete_user_pool(self.pool.id)
        except ResourceNotFoundError:  # already gone: CloudFormation counts that as deleted
            pass


class LocalUserPoolClient(CloudFormationModel):
    """`AWS::Cognito::UserPoolClient` in CloudFormation, as an app client of a moto user pool."""

    def __init__(self, client, account_id: str, region_name: str, properties: dict) -> None:
        self.client = client
        self.account_id = account_id
        self.region_name = region_name
        self.properties = dict(properties)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolClient"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ClientName"

    @property
    def physical_resource_id(self) -> str:
        return self.client.id  # Ref of an app client is its client id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("ClientId", "ClientSecret", "Name")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "ClientSecret" and not self.client.generate_secret:
            raise UnformattedGetAttTemplateException()  # a client without a secret has no ClientSecret
        return {"ClientId": self.client.id, "ClientSecret": self.client.secret,
                "Name": self.client.extended_config.get("ClientName")}[attribute_name]

    @staticmethod
    def _config(properties: dict, name: str) -> dict:
        config = _api_parameters(properties, _CREATE_CLIENT, kind="AWS::Cognito::UserPoolClient",
                                 leave_out={"UserPoolId", "GenerateSecret", "ClientSecret"})
        config.setdefault("ClientName", name)
        return config

    @classmethod
    def _create(cls, properties: dict, name: str, account_id: str, region_name: str) -> "LocalUserPoolClient":
        generate_secret = _as_api_value(properties.get("GenerateSecret", False), _CREATE_CLIENT["GenerateSecret"])
        client = _backend(account_id, region_name).create_user_pool_client(
            properties["UserPoolId"], generate_secret, cls._config(properties, name))
        if properties.get("ClientSecret"):  # a secret the template chose
            client.secret = properties["ClientSecret"]
        return cls(client, account_id, region_name, properties)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls._create(cloudformation_json["Properties"], resource_name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        if _changed(properties, original_resource.properties, _CLIENT_IDENTITY):
            replacement = cls._create(properties, new_resource_name, account_id, region_name)
            original_resource.delete(account_id, region_name)  # CloudFormation creates the new one first
            return replacement
        client = original_resource.client
        config = cls._config(properties, client.extended_config.get("ClientName"))
        # UpdateUserPoolClient semantics: what the template leaves out goes back to its default
        # (moto's update merges into the old settings); moto's client constructor holds the defaults.
        client.extended_config = cognito_models.CognitoIdpUserPoolClient(
            client.user_pool_id, client.generate_secret, config).extended_config
        return cls(client, account_id, region_name, properties)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            _backend(self.account_id, self.region_name).delete_user_pool_client(self.client.user_pool_id, self.client.id)
        except ResourceNotFoundError:  # the pool (and with it the client) already went
            pass


class LocalUserPoolDomain(CloudFormationModel):
    """`AWS::Cognito::UserPoolDomain` in CloudFormation, as a domain of a moto user pool."""

    def __init__(self, domain, account_id: str, region_name: str, properties: dict) -> None:
        self.domain = domain
        self.account_id = account_id
        self.region_name = region_name
        self.properties = dict(properties)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Cognito::UserPoolDomain"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.domain.domain  # Ref of a user pool domain is the domain (prefix) itself

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "CloudFrontDistribution"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.domain.to_json(extended=False)["CloudFrontDomain"]

    @classmethod
    def _create(cls, properties: dict, account_id: str, region_name: str) -> "LocalUserPoolDomain":
        config = _api_parameters(properties, _CREATE_DOMAIN, kind="AWS::Cognito::UserPoolDomain")
        backend = _backend(account_id, region_name)
        if backend.describe_user_pool_domain(config["Domain"]) is not None:
            # Cognito refuses a domain in use; moto would silently move it to this pool.
            raise CognitoTemplateError(f"Domain {config['Domain']} is already associated with a user pool")
        domain = backend.create_user_pool_domain(config["UserPoolId"], config["Domain"],
                                                 config.get("CustomDomainConfig"))
        return cls(domain, account_id, region_name, properties)

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls._create(cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        if _changed(properties, original_resource.properties, _DOMAIN_IDENTITY):
            replacement = cls._create(properties, account_id, region_name)
            original_resource.delete(account_id, region_name)
            return replacement
        config = _api_parameters(properties, _UPDATE_DOMAIN, kind="AWS::Cognito::UserPoolDomain")
        domain = _backend(account_id, region_name).update_user_pool_domain(
            original_resource.domain.domain, config.get("CustomDomainConfig"))
        return cls(domain, account_id, region_name, properties)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            _backend(self.account_id, self.region_name).delete_user_pool_domain(self.domain.domain)
        except ResourceNotFoundError:
            pass


def model_cognito_user_pools_in_cloudformation() -> None:
    """`AWS::Cognito::UserPool`, `UserPoolClient` and `UserPoolDomain` become moto cognito-idp ones.

    moto's CloudFormation does not model these types and skips them silently: the web page's user
    pool, app client and sign-in domain do not exist after a deploy that reports success, so nobody
    can be created in the pool, sign in, or get the tokens the page's API checks, and Ref gives the
    logical id instead of a pool id. This registers CloudFormation models on moto's own cognito-idp
    backend (which signs users in and hands out RS256 tokens whose iss is the pool's issuer URL):
    - a pool gets every CreateUserPool parameter the template sets (UserPoolName is its PoolName;
      Policies, AdminCreateUserConfig, AutoVerifiedAttributes, UsernameAttributes,
      AccountRecoverySetting, messages, ...), and MfaConfiguration with EnabledMfas through
      SetUserPoolMfaConfig; an update replaces the whole configuration, as UpdateUserPool does
      (renaming in place); changing a setting fixed at creation (UsernameAttributes, AliasAttributes,
      Schema, UsernameConfiguration) fails the update with that reason instead of replacing the pool,
      since moto's CloudFormation would leave its clients and domain on the deleted one.
      Ref is the pool id; GetAtt Arn, ProviderName, ProviderURL, UserPoolId.
    - a client gets every CreateUserPoolClient parameter the template sets (OAuth flows, scopes,
      callback and logout URLs, ExplicitAuthFlows, token validities and units, identity providers,
      PreventUserExistenceErrors, ...); an update resets what the template leaves out, as
      UpdateUserPoolClient does; a new UserPoolId, GenerateSecret or ClientSecret replaces it.
      Ref is the client id; GetAtt ClientId, Name, and ClientSecret only for a client with a secret.
    - a domain is created on its pool (refused when the domain is taken); CustomDomainConfig
      changes in place, a new Domain or UserPoolId replaces it. Ref is the domain;
      GetAtt CloudFrontDistribution.
    Delete removes each; numbers and flags given as text are read as the API's types, and a
    property the type does not have fails the stack operation with its name.
    """
    rebuild_cloudformation_model_map()
    from moto.cloudformation import parsing as cfn_parsing

    model_map = cfn_parsing.get_model_map()
    assert model_map["AWS::Cognito::UserPool"] is LocalUserPool
    assert model_map["AWS::Cognito::UserPoolClient"] is LocalUserPoolClient
    assert model_map["AWS::Cognito::UserPoolDomain"] is LocalUserPoolDomain
