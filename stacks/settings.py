"""Deployment settings read from CDK context, validated once, with safe defaults.

Every value a deployer may need to change is a context key (`cdk.json` or `-c key=value`), so no
code has to be edited to deploy into another stage or to tune the labelling.

A stage is a named block under the `stages` context key (see cdk.json); `-c stage=NAME` picks one.
A key given at the top level of the context (that is what `-c key=value` does) overrides the
stage's own value, so `-c stage=prod -c minConfidence=85` changes one setting of prod only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

# Rekognition returns at most this many labels per image when asked (MaxLabels), but one image is
# re-labelled in a single DynamoDB transaction (at most 100 writes): the image item, a put per new
# label, a delete per stale label and a counter update per label that comes or goes. 1 + 4 * 24 <= 100.
MAX_LABELS_PER_IMAGE = 24

# The bounds Lambda accepts for an SQS event source mapping's ScalingConfig.MaximumConcurrency.
VIDEO_START_CONCURRENCY_RANGE = (2, 1000)

_RETENTION_BY_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}

_REMOVAL_POLICIES = {"destroy": RemovalPolicy.DESTROY, "retain": RemovalPolicy.RETAIN}

# What a stage gets for a key its block leaves out: the choices that cannot lose data.
STAGE_DEFAULTS: dict[str, Any] = {
    "stackNamePrefix": "ImageLabels",
    "removalPolicy": "retain",
    "deletionProtection": True,
    "alarms": True,
    "alarmEmail": None,
    "reservedConcurrency": None,
    "minConfidence": 70,
    "maxLabels": 10,
    "logRetentionDays": 30,
    "videoMinConfidence": None,  # None: the stage's minConfidence
    "videoStartConcurrency": 2,
    "videoRetrySeconds": 60,
    # The web page (site, sign-in, HTTP API); web=false deploys the pipeline alone, e.g. for an
    # account where CloudFront or Cognito is not allowed.
    "web": True,
    "webAuthDomainPrefix": None,  # None: derived from the stack name and the account
    "webDomainName": None,
    "webCertificateArn": None,
    "webUrlSeconds": 900,
    "webUploadUrlSeconds": 3600,
    "webThrottleRate": 20,
    "webThrottleBurst": 40,
}

# CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 characters.
_STACK_NAME_PART = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Cognito's rule for a domain prefix: lower-case letters, digits and inner hyphens, at most 63, and
# none of the words it reserves.
_AUTH_DOMAIN_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_RESERVED_IN_PREFIX = ("aws", "amazon", "cognito")
_DOMAIN_NAME = re.compile(r"(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# CloudFront only takes certificates from ACM in us-east-1.
_CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]+")
# Presigned URL lifetimes S3 accepts with SigV4: up to seven days.
MAX_URL_SECONDS = 7 * 24 * 3600


class SettingsError(ValueError):
    """A context value that cannot be deployed; the message names the key and what it accepts."""


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    """The web page's settings (README, "Settings")."""

    auth_domain_prefix: str | None  # None: the stack derives one from its name and account
    domain_name: str | None
    certificate_arn: str | None
    url_seconds: int
    upload_url_seconds: int
    throttle_rate: float
    throttle_burst: int


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    stage: str
    stack_name: str
    removal_policy: RemovalPolicy
    deletion_protection: bool
    alarms: bool
    alarm_email: str | None
    reserved_concurrency: int | None
    min_confidence: float
    max_labels: int
    log_retention_days: int
    video_min_confidence: float
    video_start_concurrency: int
    video_retry_seconds: int
    web_page: bool
    web: WebSettings

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION_BY_DAYS[self.log_retention_days]

    @classmethod
    def from_context(cls, node: Node) -> "PipelineSettings":
        stage, block = _stage_block(node)
        read = _StageReader(node, stage, block)

        prefix = read("stackNamePrefix", _text)
        stack_name = f"{prefix}-{stage}"
        if not _STACK_NAME_PART.fullmatch(prefix) or len(stack_name) > 128:
            raise SettingsError(
                f"context {read.where('stackNamePrefix')!r} must start with a letter and hold only letters, "
                f"digits and hyphens (it names the stack {stack_name!r}), got {prefix!r}"
            )

        removal = read("removalPolicy", _text).lower()
        if removal not in _REMOVAL_POLICIES:
            raise SettingsError(
                f"context {read.where('removalPolicy')!r} must be one of {sorted(_REMOVAL_POLICIES)}, got {removal!r}"
            )
        deletion_protection = read("deletionProtection", _boolean)
        if deletion_protection and removal == "destroy":
            raise SettingsError(
                f"context {read.where('deletionProtection')!r} is true while {read.where('removalPolicy')!r} is "
                "'destroy': a protected table cannot be destroyed with the stack; choose one"
            )

        alarms = read("alarms", _boolean)
        alarm_email = read("alarmEmail", _optional_text)
        if alarm_email is not None and not _EMAIL.fullmatch(alarm_email):
            raise SettingsError(f"context {read.where('alarmEmail')!r} must be an e-mail address, got {alarm_email!r}")
        if alarm_email is not None and not alarms:
            raise SettingsError(
                f"context {read.where('alarmEmail')!r} is set but {read.where('alarms')!r} is false for stage "
                f"{stage!r}: nothing would ever be sent to it"
            )

        concurrency = read("reservedConcurrency", _optional_whole_number)
        if concurrency is not None and concurrency < 1:
            raise SettingsError(
                f"context {read.where('reservedConcurrency')!r} must be at least 1, or null/none for no "
                f"reservation (0 would stop the function), got {concurrency}"
            )

        min_confidence = read("minConfidence", _number)
        if not 0 <= min_confidence <= 100:
            raise SettingsError(
                f"context {read.where('minConfidence')!r} must be between 0 and 100, got {min_confidence}"
            )
        max_labels = read("maxLabels", _whole_number)
        if not 1 <= max_labels <= MAX_LABELS_PER_IMAGE:
            raise SettingsError(
                f"context {read.where('maxLabels')!r} must be between 1 and {MAX_LABELS_PER_IMAGE}, got {max_labels}"
            )
        retention = read("logRetentionDays", _whole_number)
        if retention not in _RETENTION_BY_DAYS:
            raise SettingsError(
                f"context {read.where('logRetentionDays')!r} must be one of {sorted(_RETENTION_BY_DAYS)}, "
                f"got {retention}"
            )

        video_min_confidence = read("videoMinConfidence", _optional_number)
        if video_min_confidence is None:
            video_min_confidence = min_confidence
        elif not 0 <= video_min_confidence <= 100:
            raise SettingsError(
                f"context {read.where('videoMinConfidence')!r} must be between 0 and 100, or null/none for "
                f"the stage's minConfidence, got {video_min_confidence}"
            )
        # How many starter invocations may run at once (each starts up to five jobs). An account
        # runs at most 20 label-detection jobs at once; starts beyond that are refused and wait in
        # the queue (the backlog), so more starters only mean more refused calls.
        low, high = VIDEO_START_CONCURRENCY_RANGE
        video_start_concurrency = read("videoStartConcurrency", _whole_number)
        if not low <= video_start_concurrency <= high:
            raise SettingsError(
                f"context {read.where('videoStartConcurrency')!r} must be between {low} and {high} (the "
                f"maximum concurrency an SQS event source accepts), got {video_start_concurrency}"
            )

        # The first delay of a film start Rekognition refused (its 20 running jobs) or a collection
        # that failed; each further one doubles, up to 900 s (lambda_src/film_labeller/sqs_batch.py).
        video_retry_seconds = read("videoRetrySeconds", _whole_number)
        if not 1 <= video_retry_seconds <= 900:
            raise SettingsError(
                f"context {read.where('videoRetrySeconds')!r} must be between 1 and 900 seconds, "
                f"got {video_retry_seconds}"
            )

        return cls(
            stage=stage,
            stack_name=stack_name,
            removal_policy=_REMOVAL_POLICIES[removal],
            deletion_protection=deletion_protection,
            alarms=alarms,
            alarm_email=alarm_email,
            reserved_concurrency=concurrency,
            min_confidence=min_confidence,
            max_labels=max_labels,
            log_retention_days=retention,
            video_min_confidence=video_min_confidence,
            video_start_concurrency=video_start_concurrency,
            video_retry_seconds=video_retry_seconds,
            web_page=(web_page := read("web", _boolean)),
            web=_web_settings(read, stack_name=stack_name, web_page=web_page),
        )


def default_auth_domain_prefix(stack_name: str, account: str) -> str:
    """The sign-in domain's prefix when webAuthDomainPrefix is unset: unique per stack and account."""
    return f"{stack_name.lower()}-{account}"


def _web_settings(read: "_StageReader", *, stack_name: str, web_page: bool) -> WebSettings:
    prefix = read("webAuthDomainPrefix", _optional_text)
    derived = default_auth_domain_prefix(stack_name, "123456789012")  # every account id has 12 digits
    if web_page and prefix is None and (
        not _AUTH_DOMAIN_PREFIX.fullmatch(derived) or any(word in derived for word in _RESERVED_IN_PREFIX)
    ):
        raise SettingsError(
            f"the stack name {stack_name!r} cannot make Cognito's sign-in domain prefix (1-63 lower-case letters, "
            f"digits and hyphens without the words {', '.join(_RESERVED_IN_PREFIX)}): set context "
            "'webAuthDomainPrefix'"
        )
    if prefix is not None and (
        not _AUTH_DOMAIN_PREFIX.fullmatch(prefix) or any(word in prefix for word in _RESERVED_IN_PREFIX)
    ):
        raise SettingsError(
            f"context {read.where('webAuthDomainPrefix')!r} must be 1-63 lower-case letters, digits and inner "
            f"hyphens without the words {', '.join(_RESERVED_IN_PREFIX)} (Cognito's rule), got {prefix!r}"
        )
    domain = read("webDomainName", _optional_text)
    certificate = read("webCertificateArn", _optional_text)
    if (domain is None) != (certificate is None):
        raise SettingsError(
            f"context {read.where('webDomainName')!r} and {read.where('webCertificateArn')!r} go together: a "
            "custom domain needs its certificate and a certificate is only used for the domain; set both or neither"
        )
    if domain is not None and not _DOMAIN_NAME.fullmatch(domain):
        raise SettingsError(f"context {read.where('webDomainName')!r} must be a lower-case DNS name, got {domain!r}")
    if certificate is not None and not _CERTIFICATE_ARN.fullmatch(certificate):
        raise SettingsError(
            f"context {read.where('webCertificateArn')!r} must be the ARN of an ACM certificate in us-east-1 "
            f"(the only Region CloudFront takes certificates from), got {certificate!r}"
        )
    seconds = {}
    for key in ("webUrlSeconds", "webUploadUrlSeconds"):
        seconds[key] = read(key, _whole_number)
        if not 60 <= seconds[key] <= MAX_URL_SECONDS:
            raise SettingsError(
                f"context {read.where(key)!r} must be between 60 and {MAX_URL_SECONDS} seconds (S3 presigned "
                f"URLs last at most seven days), got {seconds[key]}"
            )
    rate = read("webThrottleRate", _number)
    burst = read("webThrottleBurst", _whole_number)
    if rate <= 0 or burst < 1:
        raise SettingsError(
            f"context {read.where('webThrottleRate')!r} must be above 0 requests per second and "
            f"{read.where('webThrottleBurst')!r} at least 1, got {rate} and {burst}"
        )
    return WebSettings(
        auth_domain_prefix=prefix,
        domain_name=domain,
        certificate_arn=certificate,
        url_seconds=seconds["webUrlSeconds"],
        upload_url_seconds=seconds["webUploadUrlSeconds"],
        throttle_rate=rate,
        throttle_burst=burst,
    )


def stage_names(node: Node) -> list[str]:
    """The stages cdk.json defines, in its order."""
    return list(_stages(node))


def _stages(node: Node) -> dict:
    stages = node.try_get_context("stages")
    if not isinstance(stages, dict) or not stages:
        raise SettingsError(
            "context 'stages' must map each stage name to its settings, as cdk.json does "
            '("stages": {"dev": {...}, "prod": {...}}); it is missing or not an object'
        )
    return stages


def _stage_block(node: Node) -> tuple[str, dict]:
    stages = _stages(node)
    stage = str(node.try_get_context("stage") or "dev")
    if stage not in stages:
        raise SettingsError(
            f"context 'stage' is {stage!r}, which is not a known stage; known stages: {', '.join(stages)} "
            "(add a block under 'stages' in cdk.json to define another)"
        )
    if not _STACK_NAME_PART.fullmatch(stage):
        raise SettingsError(
            f"context 'stage' must start with a letter and hold only letters, digits and hyphens "
            f"(it ends the stack name), got {stage!r}"
        )
    block = stages[stage]
    if not isinstance(block, dict):
        raise SettingsError(f"context 'stages.{stage}' must be an object of settings, got {block!r}")
    unknown = sorted(set(block) - set(STAGE_DEFAULTS))
    if unknown:
        raise SettingsError(
            f"context 'stages.{stage}' has unknown key(s) {', '.join(unknown)}; "
            f"known keys: {', '.join(STAGE_DEFAULTS)}"
        )
    return stage, block


class _StageReader:
    """Reads one setting: a top-level context value (-c key=value) wins over the stage's block,
    which wins over STAGE_DEFAULTS. `where` names the key as the deployer wrote it."""

    def __init__(self, node: Node, stage: str, block: dict) -> None:
        self._node = node
        self._stage = stage
        self._block = block

    def where(self, key: str) -> str:
        if self._node.try_get_context(key) is not None:
            return key
        if key in self._block:
            return f"stages.{self._stage}.{key}"
        return key

    def __call__(self, key: str, parse: Callable[[Any, str], Any]) -> Any:
        raw = self._node.try_get_context(key)
        if raw is None:
            raw = self._block.get(key, STAGE_DEFAULTS[key])
        return parse(raw, self.where(key))


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise SettingsError(f"context {where!r} must be a non-empty string, got {raw!r}")
    return raw


def _optional_text(raw: Any, where: str) -> str | None:
    if raw is None or raw == "":
        return None
    return _text(raw, where)


def _boolean(raw: Any, where: str) -> bool:
    # -c key=value always gives strings; cdk.json gives JSON booleans.
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise SettingsError(f"context {where!r} must be true or false, got {raw!r}")


def _number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or raw == "":
        raise SettingsError(f"context {where!r} must be a number, got {raw!r}")
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"context {where!r} must be a number, got {raw!r}") from None


def _whole_number(raw: Any, where: str) -> int:
    value = _number(raw, where)
    if not value.is_integer():
        raise SettingsError(f"context {where!r} must be a whole number, got {raw!r}")
    return int(value)


def _is_unset(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.lower() in ("", "none", "null"))


def _optional_whole_number(raw: Any, where: str) -> int | None:
    return None if _is_unset(raw) else _whole_number(raw, where)


def _optional_number(raw: Any, where: str) -> float | None:
    return None if _is_unset(raw) else _number(raw, where)
