"""A deployed function's role against the AWS calls the function really made on the local AWS.

The local AWS enforces no IAM, but it records every call a function makes (aws-calls.jsonl in its
state folder, one line per call with its parameters). From each call follow the IAM (action,
resource) pairs AWS would authorise, with the condition keys the request carries; the role must
allow every one of them and grant no action that none of them needed, except those Lambda itself
uses with the role (which the caller lists, each with its reason).
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Mapping, NamedTuple
from urllib.parse import urlsplit

REKOGNITION = "rekognition.amazonaws.com"
# Transaction parts are authorised as the single-item operation each one is.
_TRANSACTION_PARTS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                      "ConditionCheck": "ConditionCheckItem"}
# S3 object operations authorised by an action of another name (AWS's "Actions, resources, and
# condition keys for Amazon S3"): every step of a multipart upload is s3:PutObject.
_S3_OBJECT_ACTIONS = {"CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
                      "CompleteMultipartUpload": "s3:PutObject", "AbortMultipartUpload": "s3:AbortMultipartUpload",
                      "PutObject": "s3:PutObject", "GetObject": "s3:GetObject"}


class Requirement(NamedTuple):
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()  # condition keys of the request, e.g. iam:PassedToService


def recorded_calls(state_dir: Path, function_name: str) -> list[dict]:
    lines = (Path(state_dir) / "aws-calls.jsonl").read_text().splitlines()
    return [call for call in map(json.loads, lines) if call["function"] == function_name]


def _object_reads(s3_object: Mapping) -> list[Requirement]:
    """Rekognition reads the S3 object of a request with the caller's permissions."""
    object_arn = f"arn:aws:s3:::{s3_object['Bucket']}/{s3_object['Name']}"
    reads = [Requirement("s3:GetObject", object_arn)]
    if s3_object.get("Version"):
        reads.append(Requirement("s3:GetObjectVersion", object_arn))
    return reads


def queue_arn(queue_url: str, *, region: str) -> str:
    """https://sqs.<region>.amazonaws.com/<account>/<name> -> the queue's ARN."""
    parts = urlsplit(queue_url)
    account, name = parts.path.strip("/").split("/")
    host = parts.hostname.split(".")
    queue_region = host[1] if len(host) > 3 and host[0] == "sqs" else region
    return f"arn:aws:sqs:{queue_region}:{account}:{name}"


def iam_requirements(call: dict, *, region: str, account_id: str) -> list[Requirement]:
    """The IAM requirements of one recorded AWS call."""
    service, operation, params = call["service"], call["operation"], call["params"]
    if service == "rekognition" and operation == "DetectLabels":
        s3_object = (params.get("Image") or {}).get("S3Object")
        return [Requirement("rekognition:DetectLabels", "*"), *(_object_reads(s3_object) if s3_object else [])]
    if service == "rekognition" and operation == "StartLabelDetection":
        needed = [Requirement("rekognition:StartLabelDetection", "*"), *_object_reads(params["Video"]["S3Object"])]
        channel = params.get("NotificationChannel")
        if channel:
            # Rekognition publishes the job's end with the role the caller passes it.
            needed.append(Requirement("iam:PassRole", channel["RoleArn"], (("iam:PassedToService", REKOGNITION),)))
        return needed
    if service == "s3" and operation in _S3_OBJECT_ACTIONS and "Key" in params:
        action = _S3_OBJECT_ACTIONS[operation]
        if action == "s3:GetObject" and params.get("VersionId"):
            action = "s3:GetObjectVersion"  # a version's read needs this one, not s3:GetObject
        return [Requirement(action, f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
    if service == "sqs" and "QueueUrl" in params:
        return [Requirement(f"sqs:{operation}", queue_arn(params["QueueUrl"], region=region))]
    if service == "dynamodb":
        def table_arn(name: str) -> str:
            return f"arn:aws:dynamodb:{region}:{account_id}:table/{name}"

        if operation == "TransactWriteItems":
            return [Requirement(f"dynamodb:{_TRANSACTION_PARTS[kind]}", table_arn(body["TableName"]))
                    for item in params["TransactItems"] for kind, body in item.items()]
        if operation in ("BatchGetItem", "BatchWriteItem"):  # authorised per table it names
            return [Requirement(f"dynamodb:{operation}", table_arn(name)) for name in params["RequestItems"]]
        if operation == "TransactGetItems":
            return [Requirement("dynamodb:GetItem", table_arn(item["Get"]["TableName"])) for item in params["TransactItems"]]
        resource = table_arn(params["TableName"])
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
        return [Requirement(f"dynamodb:{operation}", resource)]
    return [Requirement(f"{service}:{operation}", "*")]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _conditions_met(statement: dict, context: Mapping[str, str]) -> bool:
    """String and ARN conditions, as IAM evaluates them for a request that carries `context`
    (a key the request does not carry fails its condition)."""
    for operator, tests in (statement.get("Condition") or {}).items():
        pattern_match = operator in ("StringLike", "ArnLike")
        if operator not in ("StringEquals", "StringLike", "ArnEquals", "ArnLike"):
            raise AssertionError(f"condition operator {operator} is not modelled here")
        for key, allowed in tests.items():
            value = context.get(key)
            if value is None or not any(fnmatch.fnmatchcase(value, pattern) if pattern_match else value == pattern
                                        for pattern in as_list(allowed)):
                return False
    return True


def policy_allows(statements: list[dict], requirement: Requirement) -> bool:
    context = dict(requirement.context)

    def matches(statement: dict) -> bool:
        return (any(fnmatch.fnmatchcase(requirement.action.lower(), pattern.lower())
                    for pattern in as_list(statement["Action"]))
                and any(fnmatch.fnmatchcase(requirement.resource, pattern) for pattern in as_list(statement["Resource"]))
                and _conditions_met(statement, context))

    if any(s["Effect"] == "Deny" and matches(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and matches(s) for s in statements)


def role_statements(iam, role_name: str) -> list[dict]:
    """The statements of the role's inline policies; a managed policy attached fails the check
    (its contents are AWS's, not the stack's to minimise)."""
    assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    statements = []
    for policy_name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        statements += as_list(document["Statement"])
    assert statements, f"the role {role_name} has no inline policy"
    return statements


def assert_role_fits_its_calls(*, aws, iam, lambda_, function_name: str, used_by_lambda: Mapping[str, str],
                               must_call: set[str], resource_star_for: set[str],
                               presigned_calls: list[dict] = ()) -> None:
    """The function's role allows every call the function made and grants nothing else but what
    `used_by_lambda` lists; `must_call` are operations the run must have made (else the check
    proves little); only the actions in `resource_star_for` may be granted on Resource "*".
    `presigned_calls` are calls others made with URLs the function presigned (recorded_calls'
    shape): AWS authorises them with the function's role, so they count as its calls."""
    calls = recorded_calls(aws.state_dir, function_name) + list(presigned_calls)
    made = {call["operation"] for call in calls}
    assert made >= must_call, f"{function_name} never called {sorted(must_call - made)}"

    role_arn = lambda_.get_function_configuration(FunctionName=function_name)["Role"]
    statements = role_statements(iam, role_arn.rsplit("/", 1)[1])
    needed = {need for call in calls for need in iam_requirements(call, region=aws.region, account_id=aws.account_id)}
    refused = sorted(need for need in needed if not policy_allows(statements, need))
    assert refused == [], f"the deployed role of {function_name} does not allow: {refused}"

    granted = {action for statement in statements if statement["Effect"] == "Allow"
               for action in as_list(statement["Action"])}
    unused = sorted(granted - {need.action for need in needed} - set(used_by_lambda))
    assert unused == [], f"granted to {function_name} but never used in this run: {unused}"
    assert set(used_by_lambda) <= granted, f"listed as Lambda's but not granted: {sorted(set(used_by_lambda) - granted)}"
    on_star = {action for statement in statements if "*" in as_list(statement["Resource"])
               for action in as_list(statement["Action"])}
    assert on_star <= resource_star_for, f"granted on Resource *: {sorted(on_star - resource_star_for)}"
