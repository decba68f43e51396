"""A JSON-protocol request checked against the constraints in botocore's model of its operation.

AWS checks every request against the operation's model before acting on it (required members,
types, lengths, patterns, enums, ranges) and botocore checks only part of that on the client
(required members and types; not patterns or maximum lengths), so a request the local AWS accepts
must be one AWS would accept. Taking the constraints from botocore's own model (pinned with boto3)
keeps them exact instead of copied by hand. Members the model does not know are ignored, as the
JSON protocol does.
"""

from __future__ import annotations

import math
import re
from functools import cache

import botocore.session
from botocore.model import OperationModel, Shape


class ConstraintViolation(ValueError):
    """The first member that breaks its constraint, worded like AWS's validation messages."""


@cache
def operation_model(service: str, operation: str) -> OperationModel:
    return botocore.session.get_session().get_service_model(service).operation_model(operation)


def check_request(service: str, operation: str, request) -> None:
    """Raises ConstraintViolation for the first member of `request` that breaks the model."""
    _check(operation_model(service, operation).input_shape, request, "request")


def _check(shape: Shape, value, where: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ConstraintViolation(f"{where} must be an object")
        for name in shape.required_members:
            if value.get(name) is None:
                raise ConstraintViolation(f"{where}.{name} is required")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], f"{where}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            raise ConstraintViolation(f"{where} must be a list")
        _check_range(shape, len(value), where, "length")
        for index, item in enumerate(value):
            _check(shape.member, item, f"{where}[{index}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise ConstraintViolation(f"{where} must be a string")
        _check_range(shape, len(value), where, "length")
        if shape.enum and value not in shape.enum:
            raise ConstraintViolation(f"{where} must be one of {', '.join(shape.enum)}")
        pattern = shape.metadata.get("pattern")
        if pattern and not _pattern(pattern).fullmatch(value):
            raise ConstraintViolation(f"{where} must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConstraintViolation(f"{where} must be a whole number")
        _check_range(shape, value, where, "value")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ConstraintViolation(f"{where} must be a number")
        _check_range(shape, value, where, "value")
    elif kind == "boolean" and not isinstance(value, bool):
        raise ConstraintViolation(f"{where} must be true or false")


def _check_range(shape: Shape, measure, where: str, what: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measure < low:
        raise ConstraintViolation(f"{where} must have {what} greater than or equal to {low}")
    if high is not None and measure > high:
        raise ConstraintViolation(f"{where} must have {what} less than or equal to {high}")


@cache
def _pattern(pattern: str) -> re.Pattern:
    return re.compile(pattern)
