"""The local AWS: moto's server on 127.0.0.1 with this project's adjustments, a Lambda runtime that
runs deployed Python functions in local processes, asynchronous invocations with Lambda's retry
semantics, SQS event source mappings polled as Lambda polls them, and DetectLabels answered by an
offline model.

moto keeps its state in module-level backends, so there is one LocalAws per process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

DEFAULT_REGION = "us-east-1"
# moto's default account: every request with the fake credentials lands in it.
DEFAULT_ACCOUNT_ID = "123456789012"
LOOPBACK = "127.0.0.1"
# DetectLabels answers kept (each a few KB): enough for a demo library's distinct images.
DEFAULT_DETECT_LABELS_CACHE_SIZE = 1024
# Rekognition's default quota: 20 label detection jobs running at once per account.
DEFAULT_VIDEO_JOB_LIMIT = 20

logger = logging.getLogger("local_aws")

_instance_lock = threading.Lock()
_running_instance: "LocalAws | None" = None


class LocalAwsError(RuntimeError):
    """The local AWS could not start or serve."""


@dataclass(frozen=True)
class Endpoint:
    """Where a running local AWS answers, as recorded in .local-aws/endpoint.json."""

    endpoint_url: str
    region: str
    account_id: str
    pid: int | None = None

    @property
    def port(self) -> int:
        return int(self.endpoint_url.rsplit(":", 1)[1])


class _LoggingRuntime:
    """The Lambda runtime as the launcher uses it (sync Invoke and the asynchronous invoker alike):
    every result's log also goes to CloudWatch Logs, as Lambda does, and to the invocation record."""

    def __init__(self, runtime: Any, on_result: Callable[[Any, Any], None]) -> None:
        self._runtime = runtime
        self._on_result = on_result

    def invoke(self, spec, payload, **kwargs):
        result = self._runtime.invoke(spec, payload, **kwargs)
        self._on_result(spec, result)
        return result

    def __getattr__(self, name):
        return getattr(self._runtime, name)


class LocalAws:
    """Start with `start()` (or `with LocalAws(...) as aws:`), stop with `stop()`."""

    def __init__(
        self,
        *,
        state_dir: Path,
        port: int = 0,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        max_workers_per_function: int = 4,
        retry_delays_s: tuple[float, ...] = (1.0, 2.0),
        detect_labels_cache_size: int = DEFAULT_DETECT_LABELS_CACHE_SIZE,
        video_job_limit: int = DEFAULT_VIDEO_JOB_LIMIT,
        video_workers: int = 2,
        video_page_size: int | None = None,
    ) -> None:
        from local_aws.rekognition_api import DetectLabelsCache

        if detect_labels_cache_size < 0:
            raise ValueError("detect_labels_cache_size is a number of answers, 0 to disable the cache")
        self.state_dir = Path(state_dir).resolve()
        self.region = region
        self.account_id = account_id
        self._requested_port = port
        self._max_workers_per_function = max_workers_per_function
        self._retry_delays_s = retry_delays_s
        self._server = None
        self._runtime = None
        self._invoker = None
        self._poller = None
        self._page_gateways = None  # local_aws/page_gateway.py, made at the first serve_distribution
        # Rekognition Video jobs: beyond `video_job_limit` running at once, StartLabelDetection
        # answers LimitExceededException; `video_workers` decode and label at once (the CPU bound);
        # `video_page_size` caps GetLabelDetection's pages below Rekognition's 1000, a test knob
        # (LocalVideoJobs.page_size) that makes a short film span many pages.
        self._video_job_limit = video_job_limit
        self._video_workers = video_workers
        self._video_page_size = video_page_size
        self._video_jobs = None
        self._video_jobs_lock = threading.Lock()
        # DetectLabels answers for identical image bytes and parameters, computed once (None: off).
        self.detect_labels_cache: DetectLabelsCache | None = (
            DetectLabelsCache(max_entries=detect_labels_cache_size) if detect_labels_cache_size else None
        )
        self._records_lock = threading.Lock()
        self.invocations: list[dict] = []
        self.endpoint_url = ""

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> "LocalAws":
        global _running_instance
        with _instance_lock:
            if _running_instance is not None:
                raise LocalAwsError(
                    "a local AWS already runs in this process (moto's state is per process): stop it first"
                )
            _running_instance = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from moto.server import ThreadedMotoServer

        from local_aws import adjust
        from local_aws.async_invocations import AsyncInvoker
        from local_aws.event_source_poller import EventSourcePoller
        from local_aws.lambda_runtime import LambdaRuntime

        self.state_dir.mkdir(parents=True, exist_ok=True)
        # One line per request drowns everything else (a deploy makes hundreds).
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._reset_moto_state()
        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=self._requested_port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{LOOPBACK}:{port}"
        adjust.apply_all(self)
        runtime = LambdaRuntime(
            endpoint_url=self.endpoint_url,
            region=self.region,
            account_id=self.account_id,
            work_dir=self.state_dir / "lambda",
            call_log_path=self.state_dir / "aws-calls.jsonl",
            max_workers_per_function=self._max_workers_per_function,
        )
        self._runtime = _LoggingRuntime(runtime, self._record_result)
        self._invoker = AsyncInvoker(
            runtime=self._runtime,
            policy_for=self._async_policy_for,
            send_to_queue=self._send_to_queue,
            retry_delays_s=self._retry_delays_s,
        )
        self._poller = EventSourcePoller(
            invoke=lambda function, payload: self.invoke_function(function, payload, wait_for_slot=True),
            default_max_concurrency=self._max_workers_per_function,
        )
        logger.info("Local AWS on %s (region %s, account %s)", self.endpoint_url, self.region, self.account_id)

    def stop(self) -> None:
        global _running_instance
        # Video jobs and the poller first: they feed the runtime (and, through the functions, the invoker).
        with self._video_jobs_lock:
            video_jobs, self._video_jobs = self._video_jobs, None
        if self._page_gateways is not None:  # first: the pages call the functions
            self._page_gateways.stop_all()
            self._page_gateways = None
        for part in (video_jobs, self._poller, self._invoker, self._runtime):
            if part is not None:
                try:
                    part.shutdown()
                except Exception as error:  # stopping must go on: report, continue
                    logger.warning("Shutting down %s: %s", type(part).__name__, error)
        self._poller = None
        self._invoker = None
        self._runtime = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        with _instance_lock:
            if _running_instance is self:
                _running_instance = None

    def __enter__(self) -> "LocalAws":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(endpoint_url=self.endpoint_url, region=self.region, account_id=self.account_id)

    @staticmethod
    def _reset_moto_state() -> None:
        # A previous LocalAws in this process (tests) must not leave stacks or buckets behind.
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    # ---- services the moto adjustments call ------------------------------------------------

    def function_spec(self, function: Any):
        from local_aws.lambda_runtime import FunctionSpec

        reserved = function.reserved_concurrency
        logging_config = getattr(function, "local_aws_logging_config", None) or {}
        environment = {str(key): str(value) for key, value in (function.environment_vars or {}).items()}
        # The runtime keeps warm workers per code version. Lambda also replaces its execution
        # environments when the configuration changes (a new MIN_CONFIDENCE must apply to the next
        # event), so the version identity covers code and configuration.
        identity = hashlib.sha256(json.dumps(
            [function.code_sha_256, function.handler, environment, str(function.timeout),
             str(function.memory_size), logging_config.get("ApplicationLogLevel")], sort_keys=True,
        ).encode()).hexdigest()
        return FunctionSpec(
            arn=function.function_arn,
            name=function.function_name,
            handler=function.handler,
            code_sha256=identity,
            code_zip=function.code_bytes,
            environment=environment,
            timeout_s=float(function.timeout),
            memory_mb=int(function.memory_size),
            reserved_concurrency=None if reserved is None else int(reserved),
            application_log_level=logging_config.get("ApplicationLogLevel"),
        )

    def log_group_of(self, function_name: str) -> str:
        """The function's LoggingConfig.LogGroup, else Lambda's default /aws/lambda/<name>."""
        from moto.awslambda.utils import get_backend as get_lambda_backend

        try:
            function = get_lambda_backend(self.account_id, self.region).get_function(function_name)
        except Exception:
            return f"/aws/lambda/{function_name}"
        logging_config = getattr(function, "local_aws_logging_config", None) or {}
        return logging_config.get("LogGroup") or f"/aws/lambda/{function_name}"

    def invoke_function(self, function: Any, payload: bytes, *, wait_for_slot: bool) -> Any:
        return self._require_runtime().invoke(self.function_spec(function), payload, wait_for_slot=wait_for_slot)

    def submit_async_invocation(self, function: Any, payload: bytes) -> str:
        if self._invoker is None:
            raise LocalAwsError("the local AWS is not running")
        return self._invoker.submit(self.function_spec(function), payload)

    def event_source_mapping_changed(self, mapping: Any) -> None:
        if self._poller is not None:
            self._poller.watch(account_id=mapping.account_id, region=mapping.region, uuid=mapping.uuid,
                               event_source_arn=mapping.event_source_arn)

    def publish_to_topic(self, topic_arn: str, message: str) -> str:
        """Publish as an AWS service does (Rekognition's job completions): every subscriber gets it, an SQS
        one in the SNS envelope unless it has raw message delivery. Returns the MessageId."""
        from moto.sns.models import sns_backends
        from moto.utilities.arns import parse_arn

        arn = parse_arn(topic_arn)
        return sns_backends[arn.account][arn.region].publish(message=message, arn=topic_arn)

    def detect_labels(self, request: dict, read_object: Callable[[str, str, str | None], bytes]) -> tuple[int, dict]:
        from local_aws.rekognition_api import detect_labels_response

        return detect_labels_response(request, labeller=self.labeller(), read_object=read_object,
                                      cache=self.detect_labels_cache)

    def start_label_detection(self, request: dict, *, account_id: str, read_object: Callable) -> tuple[int, dict]:
        return self.video_jobs().start_label_detection(request, account_id=account_id, read_object=read_object)

    def get_label_detection(self, request: dict) -> tuple[int, dict]:
        return self.video_jobs().get_label_detection(request)

    def video_jobs(self):
        """The local Rekognition Video jobs, created at the first video request; their completion
        messages go to the job's SNS topic as Rekognition's do."""
        with self._video_jobs_lock:
            if self._video_jobs is None:
                from local_aws.rekognition_video import LocalVideoJobs, offline_label_frame

                labeller = self.labeller()
                self._video_jobs = LocalVideoJobs(
                    label_frame=offline_label_frame(labeller),
                    label_model_version=labeller.model_version,
                    publish=lambda topic_arn, _role_arn, message: self.publish_to_topic(topic_arn, message),
                    max_workers=self._video_workers,
                    max_concurrent_jobs=self._video_job_limit,
                )
                if self._video_page_size is not None:
                    self._video_jobs.page_size = self._video_page_size
            return self._video_jobs

    def labeller(self):
        """The offline model, loaded at the first DetectLabels and shared by every LocalAws the process starts."""
        from local_aws.rekognition_model import OfflineLabeller

        return OfflineLabeller.shared()

    # ---- the web page: one local gateway per deployed distribution ----------------------------

    def serve_distribution(self, distribution_id: str, resolve: Callable) -> str:
        """Serves what `resolve()` (a ServedSite, asked for on every request) describes on a port of
        its own; returns the page's URL. Serving a distribution again keeps its URL."""
        from local_aws.page_gateway import PageGateways

        self._require_runtime()
        with self._records_lock:
            if self._page_gateways is None:
                self._page_gateways = PageGateways.for_local_aws(self)
        return self._page_gateways.serve(distribution_id, resolve)

    def stop_serving(self, distribution_id: str) -> None:
        if self._page_gateways is not None:
            self._page_gateways.stop(distribution_id)

    def distribution_deployed(self, distribution_id: str, *, account_id: str) -> None:
        """What the deployed distribution serves is read from the deployed resources on every
        request (local_aws/deployed_site.py); its URL goes to .local-aws/pages.json."""
        from local_aws.deployed_site import served_site_of

        self.serve_distribution(distribution_id, functools.partial(served_site_of, distribution_id, account_id=account_id))
        self._record_page_urls()

    def distribution_deleted(self, distribution_id: str) -> None:
        self.stop_serving(distribution_id)
        self._record_page_urls()

    def aws_origins_of_page_origin(self, origin: str) -> tuple[str, ...]:
        from local_aws.adjust.cloudfront import UnknownCloudFrontResource, deployed_distribution_domain_names

        for distribution_id, url in self.page_urls().items():
            if url.rstrip("/") == origin:
                try:
                    return tuple(f"https://{name}" for name in deployed_distribution_domain_names(distribution_id))
                except UnknownCloudFrontResource:
                    return ()
        return ()

    def page_urls(self) -> dict[str, str]:
        """Distribution id -> the URL its page is served on."""
        return self._page_gateways.urls() if self._page_gateways is not None else {}

    def _record_page_urls(self) -> None:
        from imagelabels.local_endpoint import pages_file, write_page_urls

        write_page_urls(pages_file(self.state_dir), self.page_urls())

    # ---- asynchronous invocations and event source mappings -------------------------------------

    def wait_idle(self, timeout_s: float) -> bool:
        """True once, at one moment, no asynchronous invocation is queued, running or waiting for a retry,
        no event source mapping is running a batch or has a visible message in its queue (messages
        waiting out a visibility timeout do not count), and no video job is running. Each can feed the
        others, so all are asked again until none has anything; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            # Asked afresh each round: the first StartLabelDetection creates the video jobs.
            parts = self._pipeline_parts()
            for part in parts:
                if not part.wait_idle(max(0.0, deadline - time.monotonic())):
                    return False
            if all(part.wait_idle(0) for part in parts) and len(self._pipeline_parts()) == len(parts):
                return True

    def _pipeline_parts(self) -> list:
        return [part for part in (self._video_jobs, self._invoker, self._poller) if part is not None]

    def async_stats(self) -> dict:
        return self._invoker.stats() if self._invoker is not None else {}

    def event_source_stats(self) -> dict:
        return self._poller.stats() if self._poller is not None else {}

    def _async_policy_for(self, function_arn: str):
        from local_aws.async_invocations import AsyncPolicy

        from moto.awslambda.utils import get_backend as get_lambda_backend

        try:
            function = get_lambda_backend(self.account_id, self.region).get_function(function_arn)
        except Exception:  # deleted since the event was queued: Lambda's defaults
            return AsyncPolicy()
        config = function.event_invoke_config[0].config if function.event_invoke_config else {}
        destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        return AsyncPolicy(
            maximum_retry_attempts=int(config.get("MaximumRetryAttempts", 2)),
            maximum_event_age_s=int(config.get("MaximumEventAgeInSeconds", 21600)),
            on_failure_destination=destination,
        )

    def _send_to_queue(self, queue_arn: str, body_json: str) -> None:
        from moto.sqs.models import sqs_backends

        parts = queue_arn.split(":")
        if len(parts) < 6 or parts[2] != "sqs":
            raise LocalAwsError(f"on-failure destination {queue_arn!r} is not an SQS queue ARN")
        region, account_id, queue_name = parts[3], parts[4], parts[5]
        sqs_backends[account_id][region].send_message(queue_name, body_json)

    def _record_result(self, spec: Any, result: Any) -> None:
        with self._records_lock:
            self.invocations.append({
                "function": spec.name, "request_id": result.request_id,
                "duration_ms": result.duration_ms, "function_error": result.function_error,
            })
        self._save_logs(spec, result)

    def _save_logs(self, spec: Any, result: Any) -> None:
        from moto.logs.models import logs_backends

        if not result.log:
            return
        try:
            backend = logs_backends[self.account_id][self.region]
            group = self.log_group_of(spec.name)
            with self._records_lock:  # concurrent invocations would both try to create the group
                backend.ensure_log_group(group)
            stream = f"local/[$LATEST]{result.request_id}"
            backend.create_log_stream(group, stream)
            now_ms = int(time.time() * 1000)
            backend.put_log_events(group, stream, [
                {"timestamp": now_ms, "message": line} for line in result.log.splitlines() if line
            ] or [{"timestamp": now_ms, "message": "(no output)"}])
        except Exception as error:  # logs are a convenience: never fail an invocation for them
            logger.warning("Could not store the logs of %s: %s", spec.name, error)

    def _require_runtime(self):
        if self._runtime is None:
            raise LocalAwsError("the local AWS is not running")
        return self._runtime


