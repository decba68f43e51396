"""What every adjustment of moto shares: the moto pin, the launcher's services, moto's originals.

The adjustments call back into the launcher (local_aws.server) through `LocalServices` (run a
function, submit an asynchronous invocation, answer DetectLabels), so no adjustment holds a process
or a model of its own. `ORIGINALS` keeps each function as moto ships it, for the tests that check
moto still behaves as an adjustment assumes.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

import moto
from moto.awslambda.models import LambdaFunction

MOTO_VERSION = "5.2.5"

logger = logging.getLogger("local_aws.moto")


class LocalServices(Protocol):
    """What the adjustments need from the launcher."""

    endpoint_url: str

    def invoke_function(self, function: LambdaFunction, payload: bytes, *, wait_for_slot: bool) -> Any:
        """Run the function now and return the runtime's InvocationResult (raises TooManyRequests)."""

    def submit_async_invocation(self, function: LambdaFunction, payload: bytes) -> str:
        """Queue an asynchronous invocation (retries, on-failure destination); returns its request id."""

    def detect_labels(self, request: dict, read_object: Callable[[str, str, str | None], bytes]) -> tuple[int, dict]:
        """Answer one Rekognition DetectLabels request: (HTTP status, JSON body)."""

    def start_label_detection(self, request: dict, *, account_id: str, read_object: Callable) -> tuple[int, dict]:
        """Answer one StartLabelDetection (a local video job starts in the background)."""

    def get_label_detection(self, request: dict) -> tuple[int, dict]:
        """Answer one GetLabelDetection: a job's status and a page of its labels."""

    def event_source_mapping_changed(self, mapping: Any) -> None:
        """An event source mapping was created, updated or deleted: (re)consider polling its queue."""

    def distribution_deployed(self, distribution_id: str, *, account_id: str) -> None:
        """A stack created or updated a CloudFront distribution: serve its page (local page gateway)."""

    def distribution_deleted(self, distribution_id: str) -> None:
        """A stack deleted a CloudFront distribution: stop serving its page."""

    def aws_origins_of_page_origin(self, origin: str) -> tuple[str, ...]:
        """The origins (https://<distribution domain>, its aliases) of the deployed page a local page
        gateway serves at `origin` (http://127.0.0.1:<port>); () for any other origin."""


_services: LocalServices | None = None

# The functions as moto ships them, for the tests that check moto still behaves as expected.
ORIGINALS: dict[str, Any] = {}


def check_moto_version() -> None:
    """The adjustments patch moto internals: any other moto than the pinned one is refused."""
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"local_aws adjusts moto {MOTO_VERSION} internals, but moto {moto.__version__} is installed: "
            "install requirements-local.txt"
        )


def use_services(services: LocalServices) -> None:
    """The launcher whose services the adjustments call from now on."""
    global _services
    _services = services


def require_services() -> LocalServices:
    if _services is None:
        raise RuntimeError("local_aws adjustments used before apply_all() gave them the launcher's services")
    return _services


def keep_original(name: str, value: Any) -> Any:
    ORIGINALS.setdefault(name, value)
    return ORIGINALS[name]


def locked_by(lock: Any, method: Callable) -> Callable:
    """`method` run while holding `lock` (moto's backends have none; its server is threaded)."""

    def with_lock(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    with_lock.__wrapped__ = method
    with_lock.__name__ = method.__name__
    return with_lock


def template_boolean(value: Any) -> bool:
    """A boolean as a template (or an SDK's string attribute) may write it: True and "true" alike,
    in any case; anything else is false."""
    return value is True or str(value).lower() == "true"


def rebuild_cloudformation_model_map() -> None:
    """Make moto's CloudFormation see the models this package adds (CloudFormationModel subclasses).

    moto caches its type -> model map from `CloudFormationModel.__subclasses__()`; the types moto
    itself models are kept first (ORIGINALS["cloudformation model types"]), for the tests."""
    from moto.cloudformation import parsing as cfn_parsing
    from moto.core.common_models import CloudFormationModel

    ORIGINALS.setdefault("cloudformation model types", {
        model.cloudformation_type() for model in CloudFormationModel.__subclasses__()
        if model.__module__.startswith("moto.")
    })
    cfn_parsing.get_model_list.cache_clear()
    cfn_parsing.get_model_map.cache_clear()
    cfn_parsing.get_name_type_map.cache_clear()
