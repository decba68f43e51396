"""CloudFront: what the local AWS changes about distributions, origin access controls and response
headers policies.

CloudFormation models `AWS::CloudFront::Distribution`, `AWS::CloudFront::OriginAccessControl` and
`AWS::CloudFront::ResponseHeadersPolicy`. Distributions and origin access controls live in moto's
cloudfront backend (so the CloudFront API, CreateInvalidation included, sees them); what moto drops
or does not have is kept here, and read by the local page gateway through two readers:

- `deployed_distribution_config(distribution_id) -> dict`: the distribution's DistributionConfig
  as the template declared it (CloudFormation's shape: plain lists, `IPV6Enabled`,
  `OriginAccessControlId` on origins), intrinsic functions resolved;
- `response_headers_policy_config(policy_id) -> dict`: a ResponseHeadersPolicyConfig, likewise.

Both raise `UnknownCloudFrontResource` for what no stack deployed here (AWS-managed policies
included). The records live on moto's own objects (a distribution's on moto's Distribution, the
policies on moto's cloudfront backend), so they go with the resource when it is deleted and with
every moto reset (LocalAws._reset_moto_state, moto's /moto-api/reset). Nothing here serves a page:
that is the gateway's part.
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timezone
from typing import Any

from moto.cloudfront import models as cloudfront_models
from moto.core.common_models import CloudFormationModel
from moto.utilities.utils import get_partition

from local_aws.adjust.registry import rebuild_cloudformation_model_map, require_services, template_boolean

# Where the records live on moto's objects (attribute names moto never uses).
_DEPLOYED_CONFIG = "local_aws_deployed_config"
_POLICIES = "local_aws_response_headers_policies"


class UnknownCloudFrontResource(LookupError):
    """No stack deployed a distribution or response headers policy with that id here."""


def _backend(account_id: str, region_name: str) -> cloudfront_models.CloudFrontBackend:
    # CloudFront is global: moto keeps one backend per partition, as its own API handler does.
    return cloudfront_models.cloudfront_backends[account_id][get_partition(region_name)]


def _every_backend() -> list[cloudfront_models.CloudFrontBackend]:
    return [backend for _, _, backend in list(cloudfront_models.cloudfront_backends.iter_backends())]


# ---- CloudFormation's DistributionConfig -> the API's (what moto's backend takes) ---------------

def _quantity(items: Any) -> dict:
    items = list(items or [])
    return {"Quantity": len(items), "Items": items}


def _copy_present(source: dict, names: tuple[str, ...], convert=None) -> dict:
    return {name: (convert(source[name]) if convert else source[name]) for name in names if name in source}


def _api_origin(origin: dict) -> dict:
    api = _copy_present(origin, ("Id", "DomainName", "OriginPath", "OriginAccessControlId"))
    api.update(_copy_present(origin, ("ConnectionAttempts", "ConnectionTimeout"), int))
    if "S3OriginConfig" in origin:
        api["S3OriginConfig"] = {"OriginAccessIdentity": origin["S3OriginConfig"].get("OriginAccessIdentity", "")}
    if "CustomOriginConfig" in origin:
        custom = origin["CustomOriginConfig"]
        api["CustomOriginConfig"] = {
            "HTTPPort": int(custom.get("HTTPPort", 80)),  # CloudFormation's defaults; the API requires both
            "HTTPSPort": int(custom.get("HTTPSPort", 443)),
            "OriginProtocolPolicy": custom["OriginProtocolPolicy"],
            **_copy_present(custom, ("OriginReadTimeout", "OriginKeepaliveTimeout"), int),
        }
        if "OriginSSLProtocols" in custom:
            api["CustomOriginConfig"]["OriginSslProtocols"] = _quantity(custom["OriginSSLProtocols"])
    if "OriginCustomHeaders" in origin:
        api["CustomHeaders"] = _quantity(origin["OriginCustomHeaders"])
    if "OriginShield" in origin:
        shield = origin["OriginShield"]
        api["OriginShield"] = {"Enabled": template_boolean(shield.get("Enabled")),
                               **_copy_present(shield, ("OriginShieldRegion",))}
    return api


def _api_behaviour(behaviour: dict) -> dict:
    api = _copy_present(behaviour, (
        "PathPattern", "TargetOriginId", "ViewerProtocolPolicy", "CachePolicyId", "OriginRequestPolicyId",
        "ResponseHeadersPolicyId", "FieldLevelEncryptionId", "RealtimeLogConfigArn"))
    api.update(_copy_present(behaviour, ("MinTTL", "DefaultTTL", "MaxTTL"), int))
    api.update(_copy_present(behaviour, ("SmoothStreaming",), template_boolean))
    api["Compress"] = template_boolean(behaviour.get("Compress", False))  # CloudFront's default, not moto's (True)
    api["AllowedMethods"] = {**_quantity(behaviour.get("AllowedMethods", ["GET", "HEAD"])),
                             "CachedMethods": _quantity(behaviour.get("CachedMethods", ["GET", "HEAD"]))}
    for name in ("TrustedSigners", "TrustedKeyGroups"):
        if name in behaviour:
            api[name] = {"Enabled": bool(behaviour[name]), **_quantity(behaviour[name])}
    if "ForwardedValues" in behaviour:
        forwarded = behaviour["ForwardedValues"]
        cookies = forwarded.get("Cookies", {"Forward": "none"})
        api["ForwardedValues"] = {
            "QueryString": template_boolean(forwarded.get("QueryString", False)),
            "Cookies": {"Forward": cookies.get("Forward", "none"),
                        **({"WhitelistedNames": _quantity(cookies["WhitelistedNames"])}
                           if "WhitelistedNames" in cookies else {})},
            **{name: _quantity(forwarded[name]) for name in ("Headers", "QueryStringCacheKeys") if name in forwarded},
        }
    if "LambdaFunctionAssociations" in behaviour:
        api["LambdaFunctionAssociations"] = _quantity(
            {**association, "IncludeBody": template_boolean(association.get("IncludeBody", False))}
            for association in behaviour["LambdaFunctionAssociations"])
    if "FunctionAssociations" in behaviour:
        api["FunctionAssociations"] = _quantity(behaviour["FunctionAssociations"])
    return api


def _api_distribution_config(config: dict, caller_reference: str) -> dict:
    """The API's DistributionConfig for a template's: {Quantity, Items} lists, CallerReference, API names.
    What the template leaves out is left to moto's defaults."""
    for required in ("Enabled", "Origins", "DefaultCacheBehavior"):
        if required not in config:
            raise ValueError(f"AWS::CloudFront::Distribution: DistributionConfig.{required} is required")
    api = {
        "CallerReference": caller_reference,
        "Comment": config.get("Comment", ""),
        "Enabled": template_boolean(config["Enabled"]),
        "Origins": _quantity(_api_origin(origin) for origin in config["Origins"]),
        "DefaultCacheBehavior": _api_behaviour(config["DefaultCacheBehavior"]),
        "CacheBehaviors": _quantity(_api_behaviour(behaviour) for behaviour in config.get("CacheBehaviors", [])),
        "Aliases": _quantity(config.get("Aliases", [])),
        **_copy_present(config, ("DefaultRootObject", "HttpVersion", "PriceClass", "WebACLId")),
    }
    if "IPV6Enabled" in config:
        api["IsIPV6Enabled"] = template_boolean(config["IPV6Enabled"])
    if "Logging" in config:
        logging = config["Logging"]
        api["Logging"] = {"Enabled": True, "IncludeCookies": template_boolean(logging.get("IncludeCookies", False)),
                          "Bucket": logging["Bucket"], "Prefix": logging.get("Prefix", "")}
    if "CustomErrorResponses" in config:
        api["CustomErrorResponses"] = _quantity(
            {**response, "ErrorCode": int(response["ErrorCode"]),
             **({"ResponseCode": str(response["ResponseCode"])} if "ResponseCode" in response else {})}
            for response in config["CustomErrorResponses"])
    if "Restrictions" in config:
        geo = config["Restrictions"]["GeoRestriction"]
        api["Restrictions"] = {"GeoRestriction": {"RestrictionType": geo["RestrictionType"],
                                                  **_quantity(geo.get("Locations", []))}}
    if "ViewerCertificate" in config:
        certificate = config["ViewerCertificate"]
        renamed = {"AcmCertificateArn": "ACMCertificateArn", "IamCertificateId": "IAMCertificateId",
                   "SslSupportMethod": "SSLSupportMethod"}
        api["ViewerCertificate"] = {renamed.get(name, name): value for name, value in certificate.items()}
    return api


def _check_origin_access_controls(backend, config: dict) -> None:
    # CloudFront refuses an origin naming an origin access control that does not exist.
    for origin in config["Origins"]:
        if origin.get("OriginAccessControlId"):
            backend.get_origin_access_control(origin["OriginAccessControlId"])  # NoSuchOriginAccessControl


class _CloudFrontResource:
    """What the three models share: CloudFront makes up the id (Ref), the backend is the partition's.
    A mixin, not a base class: moto's CloudFormation only sees direct CloudFormationModel subclasses."""

    def __init__(self, resource_id: str, account_id: str, region_name: str) -> None:
        self.resource_id = resource_id
        self.account_id = account_id
        self.region_name = region_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""  # no name property to take the resource name from

    @property
    def physical_resource_id(self) -> str:
        return self.resource_id

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        pass  # delete() does it, on the resource CloudFormation holds

    def backend(self) -> cloudfront_models.CloudFrontBackend:
        return _backend(self.account_id, self.region_name)


class LocalCloudFrontDistribution(_CloudFrontResource, CloudFormationModel):
    """`AWS::CloudFront::Distribution` in CloudFormation, as a distribution in moto's cloudfront backend."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::Distribution"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("DomainName", "Id")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "DomainName":
            return self._distribution().domain_name
        return self.resource_id

    def _distribution(self) -> cloudfront_models.Distribution:
        return self.backend().distributions[self.resource_id]

    @staticmethod
    def _keep_what_moto_drops(distribution, config: dict) -> None:
        # moto's Origin has no OriginAccessControlId: set it where its API answer reads it from.
        by_id = {origin["Id"]: origin for origin in config["Origins"]}
        for origin in distribution.distribution_config.Origins["Items"]:
            origin.origin_access_control_id = by_id[origin.id].get("OriginAccessControlId", "")
        setattr(distribution, _DEPLOYED_CONFIG, copy.deepcopy(config))

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        config = properties["DistributionConfig"]
        backend = _backend(account_id, region_name)
        _check_origin_access_controls(backend, config)
        # CloudFormation makes up the caller reference: unique per resource of a stack.
        reference = f"{kwargs.get('StackId', '')}/{kwargs.get('LogicalId', resource_name)}/{uuid.uuid4()}"
        distribution, _, _ = backend.create_distribution(
            distribution_config=_api_distribution_config(config, reference), tags=list(properties.get("Tags", [])))
        cls._keep_what_moto_drops(distribution, config)
        # CloudFront serves the page from here on: locally, the page gateway (a port of its own).
        require_services().distribution_deployed(distribution.distribution_id, account_id=account_id)
        return cls(distribution.distribution_id, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        properties = cloudformation_json["Properties"]
        config = properties["DistributionConfig"]
        backend = _backend(account_id, region_name)
        _check_origin_access_controls(backend, config)
        distribution = original_resource._distribution()
        reference = distribution.distribution_config.caller_reference  # an update keeps it, as CloudFront requires
        backend.update_distribution(_api_distribution_config(config, reference), distribution.distribution_id,
                                    if_match=distribution.etag)
        cls._keep_what_moto_drops(distribution, config)
        backend.tagger.delete_all_tags_for_resource(distribution.arn)
        backend.tagger.tag_resource(distribution.arn, list(properties.get("Tags", [])))
        require_services().distribution_deployed(distribution.distribution_id, account_id=account_id)
        return cls(distribution.distribution_id, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = self.backend()
        distribution = backend.distributions.get(self.resource_id)
        if distribution is None:  # already gone (deleted through the API): nothing left to delete
            return
        backend.tagger.delete_all_tags_for_resource(distribution.arn)
        backend.delete_distribution(self.resource_id, if_match=distribution.etag)  # the record goes with it
        require_services().distribution_deleted(self.resource_id)


class LocalOriginAccessControl(_CloudFrontResource, CloudFormationModel):
    """`AWS::CloudFront::OriginAccessControl` in CloudFormation, as one in moto's cloudfront backend."""

    _FIELDS = ("Name", "Description", "SigningProtocol", "SigningBehavior", "OriginAccessControlOriginType")

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::OriginAccessControl"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.resource_id

    @classmethod
    def _config(cls, cloudformation_json: dict) -> dict:
        config = cloudformation_json["Properties"]["OriginAccessControlConfig"]
        # Every field, absent ones as None: an update that drops the Description clears it.
        return {name: config.get(name) for name in cls._FIELDS}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        control = _backend(account_id, region_name).create_origin_access_control(cls._config(cloudformation_json))
        return cls(control.id, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        _backend(account_id, region_name).update_origin_access_control(
            original_resource.resource_id, cls._config(cloudformation_json))
        return cls(original_resource.resource_id, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self.backend().origin_access_controls.pop(self.resource_id, None)


def _policies_of(backend) -> dict[str, "LocalResponseHeadersPolicy"]:
    # On the backend's own __dict__, which moto empties on reset.
    return backend.__dict__.setdefault(_POLICIES, {})


class LocalResponseHeadersPolicy(_CloudFrontResource, CloudFormationModel):
    """`AWS::CloudFront::ResponseHeadersPolicy` in CloudFormation, kept here: moto has none."""

    def __init__(self, policy_id: str, account_id: str, region_name: str, config: dict) -> None:
        super().__init__(policy_id, account_id, region_name)
        self.config = copy.deepcopy(config)
        self.last_modified_time = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::ResponseHeadersPolicy"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id", "LastModifiedTime")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.last_modified_time if attribute_name == "LastModifiedTime" else self.resource_id

    @classmethod
    def _keep(cls, policy_id: str, account_id: str, region_name: str, cloudformation_json: dict):
        config = cloudformation_json["Properties"].get("ResponseHeadersPolicyConfig") or {}
        if not config.get("Name"):
            raise ValueError("AWS::CloudFront::ResponseHeadersPolicy: ResponseHeadersPolicyConfig.Name is required")
        policies = _policies_of(_backend(account_id, region_name))
        if any(other.config["Name"] == config["Name"] for other_id, other in policies.items() if other_id != policy_id):
            raise ValueError(f"ResponseHeadersPolicyAlreadyExists: a response headers policy named "
                             f"{config['Name']!r} already exists in this account")
        policy = cls(policy_id, account_id, region_name, config)
        policies[policy_id] = policy
        return policy

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return cls._keep(str(uuid.uuid4()), account_id, region_name, cloudformation_json)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        return cls._keep(original_resource.resource_id, account_id, region_name, cloudformation_json)

    def delete(self, account_id: str, region_name: str) -> None:
        _policies_of(self.backend()).pop(self.resource_id, None)


# ---- what the local page gateway reads ------------------------------------------------------

def deployed_distribution_config(distribution_id: str) -> dict:
    """The DistributionConfig a stack deployed for `distribution_id`, in CloudFormation's shape
    (Origins, CacheBehaviors as plain lists; OriginAccessControlId, ResponseHeadersPolicyId and
    CachePolicyId as the template gave them), intrinsic functions resolved; a copy.
    Raises UnknownCloudFrontResource when no stack here deployed it (or it has been deleted)."""
    for backend in _every_backend():
        distribution = backend.distributions.get(distribution_id)
        config = distribution.__dict__.get(_DEPLOYED_CONFIG) if distribution is not None else None
        if config is not None:
            return copy.deepcopy(config)
    raise UnknownCloudFrontResource(
        f"no CloudFront distribution {distribution_id!r} deployed by a CloudFormation stack in the local AWS")


def deployed_distribution_domain_names(distribution_id: str) -> tuple[str, ...]:
    """The names viewers reach `distribution_id` by on AWS: its CloudFront domain, then its Aliases.
    Raises UnknownCloudFrontResource as deployed_distribution_config does."""
    config = deployed_distribution_config(distribution_id)
    for backend in _every_backend():
        distribution = backend.distributions.get(distribution_id)
        if distribution is not None:
            return (distribution.domain_name, *config.get("Aliases", []))
    raise UnknownCloudFrontResource(f"no CloudFront distribution {distribution_id!r} in the local AWS")


def response_headers_policy_config(policy_id: str) -> dict:
    """The ResponseHeadersPolicyConfig a stack deployed as `policy_id` (CloudFormation's shape,
    intrinsic functions resolved); a copy. Raises UnknownCloudFrontResource for any other id, AWS's
    managed policies included (the local AWS does not know them)."""
    for backend in _every_backend():
        policy = backend.__dict__.get(_POLICIES, {}).get(policy_id)
        if policy is not None:
            return copy.deepcopy(policy.config)
    raise UnknownCloudFrontResource(
        f"no CloudFront response headers policy {policy_id!r} deployed by a CloudFormation stack in the local AWS")


def model_cloudfront_in_cloudformation() -> None:
    """`AWS::CloudFront::Distribution`, `::OriginAccessControl` and `::ResponseHeadersPolicy` are deployed.

    moto's CloudFormation models none of the three and skips them silently: the deploy reports
    success, but no distribution exists, Ref of it is its logical id, so the page's release (a
    CreateInvalidation on the distribution's Ref) fails, and the local page gateway has nothing to
    serve. moto's cloudfront backend has distributions and origin access controls (in the API's
    shape, {Quantity, Items} and a CallerReference), but its Origin drops OriginAccessControlId and
    it has no response headers policies at all.

    This registers CloudFormation models: a distribution is created, updated in place and deleted
    in moto's backend from the template's DistributionConfig converted to the API's shape (origin
    access controls it names must exist, as on CloudFront), with its OriginAccessControlIds put back
    on moto's origins; an origin access control likewise; a response headers policy is kept here
    (Name unique per account, as on CloudFront). Ref is the id, GetAtt gives Distribution.DomainName
    and Id, OriginAccessControl.Id, ResponseHeadersPolicy.Id and LastModifiedTime. The resolved
    configs are kept for `deployed_distribution_config` and `response_headers_policy_config`.
    """
    rebuild_cloudformation_model_map()
    from moto.cloudformation import parsing as cfn_parsing

    model_map = cfn_parsing.get_model_map()
    for model in (LocalCloudFrontDistribution, LocalOriginAccessControl, LocalResponseHeadersPolicy):
        assert model_map[model.cloudformation_type()] is model
