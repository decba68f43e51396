"""The deployed stack's outputs: where the bucket, table, function and the queues are.
Nothing is typed by hand: a renamed or redeployed stack is found again by its name."""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from imagelabels.errors import UserError, error_code

BUCKET = "BucketName"
TABLE = "TableName"
FUNCTION = "FunctionName"
FAILED_EVENTS_QUEUE = "FailedEventsQueueUrl"
# The film pipeline's queues: absent from a stack deployed before films were labelled.
FILM_EVENTS_QUEUE = "FilmEventsQueueUrl"
FILM_EVENT_FAILURES_QUEUE = "FilmEventFailuresQueueUrl"
FILM_COMPLETIONS_QUEUE = "FilmCompletionsQueueUrl"
FILM_COMPLETION_FAILURES_QUEUE = "FilmCompletionFailuresQueueUrl"


@dataclass(frozen=True, kw_only=True)
class StackOutputs:
    stack_name: str
    status: str = ""
    values: dict[str, str] = field(default_factory=dict)

    def require(self, name: str) -> str:
        value = self.values.get(name)
        if value:
            return value
        if self.status.endswith("_IN_PROGRESS"):
            raise UserError(f"stack {self.stack_name!r} is {self.status}: wait for it to finish, then try again")
        raise UserError(
            f"stack {self.stack_name!r} has no output {name!r} (status {self.status or 'unknown'}): "
            "is it an image-labels stack, deployed with this version? (make deploy)"
        )

    def optional(self, name: str) -> str | None:
        """An output an older deployment may lack: None then, for the caller to do without."""
        return self.values.get(name) or None

    @property
    def bucket(self) -> str:
        return self.require(BUCKET)

    @property
    def table(self) -> str:
        return self.require(TABLE)

    @property
    def function(self) -> str:
        return self.require(FUNCTION)

    @property
    def failed_events_queue_url(self) -> str:
        return self.require(FAILED_EVENTS_QUEUE)

    @classmethod
    def from_stack(cls, stack: dict) -> "StackOutputs":
        return cls(
            stack_name=stack.get("StackName", ""),
            status=stack.get("StackStatus", ""),
            values={output["OutputKey"]: output.get("OutputValue", "") for output in stack.get("Outputs") or []},
        )


def read_stack_outputs(cloudformation, stack_name: str, *, where: str, region: str | None) -> StackOutputs:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error_code(error) == "ValidationError" and "does not exist" in str(error):
            raise UserError(
                f"stack {stack_name!r} not found in {where}, Region {region or '(none)'}: deploy it (make deploy), "
                "or pass --stack / --stage / --region"
            ) from None
        raise
    if not stacks:
        raise UserError(f"stack {stack_name!r} not found in {where}, Region {region or '(none)'}")
    return StackOutputs.from_stack(stacks[0])
