"""Deployment settings read from CDK context, validated once, with safe defaults.

Every value a deployer may need to change is a context key (`cdk.json` or `-c key=value`), so no
code has to be edited to deploy into another stage or to tune the labelling.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

# Rekognition returns at most this many labels per image when asked (MaxLabels), but one image is
# re-labelled in a single DynamoDB transaction (at most 100 writes): the image item, a put per new
# label, a delete per stale label and a counter update per label that comes or goes. 1 + 4 * 24 <= 100.
MAX_LABELS_PER_IMAGE = 24

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


class SettingsError(ValueError):
    """A context value that cannot be deployed; the message names the key and what it accepts."""


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    stage: str
    stack_name: str
    min_confidence: float
    max_labels: int
    log_retention_days: int

    @property
    def is_disposable(self) -> bool:
        """Only the dev stage may lose its data with the stack; every other stage keeps it."""
        return self.stage == "dev"

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.DESTROY if self.is_disposable else RemovalPolicy.RETAIN

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION_BY_DAYS[self.log_retention_days]

    @classmethod
    def from_context(cls, node: Node) -> "PipelineSettings":
        stage = str(node.try_get_context("stage") or "dev")
        if not stage.isidentifier() or not stage.isascii():
            raise SettingsError(f"context 'stage' must be a short ASCII name such as dev or prod, got {stage!r}")
        prefix = str(node.try_get_context("stackNamePrefix") or "ImageLabels")
        min_confidence = _number(node, "minConfidence", 70.0, float)
        if not 0 <= min_confidence <= 100:
            raise SettingsError(f"context 'minConfidence' must be between 0 and 100, got {min_confidence}")
        max_labels = _number(node, "maxLabels", 10, int)
        if not 1 <= max_labels <= MAX_LABELS_PER_IMAGE:
            raise SettingsError(
                f"context 'maxLabels' must be between 1 and {MAX_LABELS_PER_IMAGE}, got {max_labels}"
            )
        retention = _number(node, "logRetentionDays", 30, int)
        if retention not in _RETENTION_BY_DAYS:
            raise SettingsError(
                f"context 'logRetentionDays' must be one of {sorted(_RETENTION_BY_DAYS)}, got {retention}"
            )
        return cls(
            stage=stage,
            stack_name=f"{prefix}-{stage}",
            min_confidence=min_confidence,
            max_labels=max_labels,
            log_retention_days=retention,
        )


def _number(node: Node, key: str, default, kind):
    raw = node.try_get_context(key)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"context '{key}' must be a number, got {raw!r}") from None
    if kind is int and float(raw) != value:
        raise SettingsError(f"context '{key}' must be a whole number, got {raw!r}")
    return value
