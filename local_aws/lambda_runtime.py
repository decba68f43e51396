"""Run deployed Lambda functions (Python) as local processes, the way Lambda runs them: warm execution
environments reused across invocations, the function's own environment, a context object, a timeout,
Lambda's error objects and log lines, and a concurrency limit per function.

Each warm environment is a `lambda_worker.py` process for one (function ARN, code sha): it imports the
handler once (module-level code runs once per worker, as in a cold start) and then serves invocations over
dedicated pipes. The local AWS server calls `LambdaRuntime.invoke` for custom resources, S3 notifications and
the Invoke API; `async_invocations.AsyncInvoker` adds Lambda's asynchronous semantics on top.

What it does not do: enforce memory size (reported only), isolate the filesystem or network, or run anything
but Python (Node.js handlers such as CDK's autoDeleteObjects cannot run here). The worker runs on this
interpreter, so the function sees this environment's site-packages (boto3 included, as on Lambda).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from local_aws.lambda_worker import MESSAGE_HEADER, append_line, iso_millis, write_message

logger = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")

# Lambda gives the init phase 10 s of its own before the function timeout applies to a retried init.
_INIT_ALLOWANCE_S = 10.0

# Variables Lambda sets and a function's configuration may not override (CreateFunction refuses them).
RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)

# The only things taken from this process's environment: where programs are, and the text encoding.
_INHERITED_BASICS = ("PATH", "LANG", "LC_ALL")


@dataclass(frozen=True)
class FunctionSpec:
    arn: str  # unqualified function ARN
    name: str
    handler: str  # "module.function", e.g. "image_labeller.handler.handle" or "index.handler"
    code_sha256: str  # identifies the code version: a new sha means new warm workers (old ones retired)
    code_zip: bytes = field(repr=False)  # the deployment package as uploaded (zip)
    environment: dict[str, str]  # the function's Environment.Variables, exactly
    timeout_s: float
    memory_mb: int = 128
    reserved_concurrency: int | None = None  # None = unreserved
    # LoggingConfig.ApplicationLogLevel, which Lambda passes as AWS_LAMBDA_LOG_LEVEL (JSON log format).
    application_log_level: str | None = None


@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    payload: bytes  # JSON the handler returned; or Lambda's error object when it raised / timed out
    function_error: str | None  # "Unhandled" when the handler raised or timed out, else None
    log: str  # what the invocation printed/logged, between Lambda's START/END/REPORT lines
    duration_ms: float  # the invoke phase, as Lambda's Duration (init excluded)
    init_duration_ms: float | None = None  # set on a cold start: the worker started for this invocation


class TooManyRequests(Exception):
    """Every concurrency slot of the function is busy (Lambda's 429 TooManyRequestsException)."""


class InvalidRequestContent(ValueError):
    """The payload is not JSON (Lambda's 400 InvalidRequestContentException); nothing was run."""


class _Timeout(Exception):
    pass


class _ChannelClosed(Exception):
    pass


def payload_text(payload: bytes) -> str:
    """The invocation payload as JSON text; InvalidRequestContent when it is not JSON, as Invoke answers."""
    try:
        text = payload.decode("utf-8") if isinstance(payload, (bytes, bytearray)) else str(payload)
    except UnicodeDecodeError as exc:
        raise InvalidRequestContent(f"Could not parse request body into json: {exc}") from exc
    if not text.strip():
        return "{}"  # Invoke without a payload gives the handler an empty object
    try:
        json.loads(text)
    except ValueError as exc:
        raise InvalidRequestContent(f"Could not parse request body into json: {exc}") from exc
    return text


def _read_message(fd: int, deadline: float) -> dict:
    """The next message from a worker; _Timeout past `deadline` (monotonic), _ChannelClosed on EOF."""
    header = _read_exactly(fd, MESSAGE_HEADER.size, deadline)
    (length,) = MESSAGE_HEADER.unpack(header)
    return json.loads(_read_exactly(fd, length, deadline))


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        wait_s = deadline - time.monotonic()
        if wait_s <= 0:
            raise _Timeout
        readable, _, _ = select.select([fd], [], [], wait_s)
        if not readable:
            raise _Timeout
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise _ChannelClosed
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def error_payload(error_type: str, message: str, request_id: str = "") -> dict:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []}


class _Worker:
    """One warm execution environment: a worker process, its channel, and the file its output goes to."""

    def __init__(self, *, spec: FunctionSpec, code_dir: Path, worker_dir: Path, environment: dict[str, str],
                 call_log_path: Path | None) -> None:
        self.arn = spec.arn
        self.code_sha256 = spec.code_sha256
        self.worker_dir = worker_dir
        tmp_dir = worker_dir / "tmp"
        tmp_dir.mkdir(parents=True)
        # The handler's own home and /tmp: a developer's ~/.aws must never reach the function.
        environment = {**environment, "HOME": str(tmp_dir), "TMPDIR": str(tmp_dir)}
        self.output_path = worker_dir / "output.log"
        self._output_writer = open(self.output_path, "ab")  # O_APPEND: truncating it later is safe
        self._output_reader = open(self.output_path, "rb")
        request_read, self._request_fd = os.pipe()
        self._response_fd, response_write = os.pipe()
        command = [
            sys.executable, "-u", str(WORKER_SCRIPT), "--handler", spec.handler, "--code-dir", str(code_dir),
            "--request-fd", str(request_read), "--response-fd", str(response_write),
        ]
        if call_log_path is not None:
            command += ["--call-log", str(call_log_path)]
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=self._output_writer, stderr=self._output_writer,
                env=environment, cwd=code_dir, pass_fds=(request_read, response_write),
                start_new_session=True,  # its own process group: a timeout kills whatever the handler started
            )
        except BaseException:
            for fd in (self._request_fd, self._response_fd):
                os.close(fd)
            self._output_writer.close()
            self._output_reader.close()
            shutil.rmtree(worker_dir, ignore_errors=True)
            raise
        finally:
            os.close(request_read)
            os.close(response_write)
        self.closed = False

    def wait_ready(self, timeout_s: float) -> dict:
        """The worker's first message: {"type": "ready"} or {"type": "init_error", "error"}."""
        try:
            return _read_message(self._response_fd, time.monotonic() + timeout_s)
        except _Timeout:
            return {"type": "init_error", "timed_out": True,
                    "error": error_payload("Sandbox.Timedout", f"Init phase timed out after {timeout_s:.2f} seconds")}
        except _ChannelClosed:
            return {"type": "init_error", "error": error_payload("Runtime.ExitError", self._exit_description())}

    def run(self, request: dict, timeout_s: float) -> dict:
        """Send one request and wait for its result; kills the worker on timeout."""
        try:
            write_message(self._request_fd, request)
            return _read_message(self._response_fd, time.monotonic() + timeout_s)
        except _Timeout:
            self.kill()
            return {"type": "timeout"}
        except (_ChannelClosed, BrokenPipeError):
            return {"type": "crashed", "description": self._exit_description()}

    def take_output(self) -> str:
        """What the worker wrote since the last call (it flushes before answering)."""
        data = self._output_reader.read()
        if self._output_reader.tell() > 8 << 20:  # keep the file small; the worker is idle here
            self._output_writer.truncate(0)
            self._output_reader.seek(0)
        return data.decode(errors="replace")

    def _exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        if code is not None and code < 0:
            try:
                return f"Runtime exited with error: signal: {signal.Signals(-code).name}"
            except ValueError:
                return f"Runtime exited with error: signal {-code}"
        return f"Runtime exited with error: exit status {code}"

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.error("Worker %s did not exit after SIGKILL", self.process.pid)

    def close(self) -> None:
        """Retire the worker: closing its request pipe ends its loop; kill it if it lingers."""
        if self.closed:
            return
        self.closed = True
        try:
            os.close(self._request_fd)
        except OSError:
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        os.close(self._response_fd)
        self._output_writer.close()
        self._output_reader.close()
        shutil.rmtree(self.worker_dir, ignore_errors=True)


@dataclass
class _FunctionSlots:
    """Concurrency state of one function (all its code versions together, as reserved concurrency is)."""

    busy: int = 0
    current_sha: str | None = None
    idle: list[_Worker] = field(default_factory=list)


class LambdaRuntime:
    """Invokes functions synchronously in warm local worker processes; thread-safe."""

    def __init__(self, *, endpoint_url: str, region: str, account_id: str = "123456789012", work_dir: Path,
                 call_log_path: Path | None = None, max_workers_per_function: int = 4,
                 extra_environment: dict[str, str] | None = None) -> None:
        """extra_environment: set in every function's environment before the function's own variables
        (e.g. AWS_ENDPOINT_URL_REKOGNITION when one service is served elsewhere)."""
        if max_workers_per_function < 1:
            raise ValueError("max_workers_per_function must be at least 1")
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        # Absolute: workers run with their code folder as working directory, where a relative
        # path would point somewhere else (make demo passes the relative ".local-aws").
        self.work_dir = Path(work_dir).resolve()
        self.call_log_path = Path(call_log_path) if call_log_path is not None else None
        self.max_workers_per_function = max_workers_per_function
        self.extra_environment = dict(extra_environment or {})
        self.logs_dir = self.work_dir / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "code").mkdir(exist_ok=True)
        (self.work_dir / "workers").mkdir(exist_ok=True)
        if self.call_log_path is not None:
            self.call_log_path.parent.mkdir(parents=True, exist_ok=True)
        self._slots_changed = threading.Condition()
        self._functions: dict[str, _FunctionSlots] = {}
        self._live_workers: set[_Worker] = set()
        self._code_dirs: dict[str, Path] = {}
        self._code_lock = threading.Lock()
        self._shut_down = False

    # ---- public -----------------------------------------------------------------------------------------

    def concurrency_limit(self, spec: FunctionSpec) -> int:
        return spec.reserved_concurrency if spec.reserved_concurrency is not None else self.max_workers_per_function

    def invoke(self, spec: FunctionSpec, payload: bytes, *, wait_for_slot: bool = False,
               request_id: str | None = None) -> InvocationResult:
        """Run the function once and return what Lambda's Invoke (RequestResponse) would.

        Raises TooManyRequests when every slot is busy (unless wait_for_slot, which blocks until one frees)
        and InvalidRequestContent when the payload is not JSON. request_id: the id the handler sees
        (an async event keeps its id across retries); a new one by default."""
        text = payload_text(payload)
        worker = self._acquire(spec, wait_for_slot)
        request_id = request_id or str(uuid.uuid4())
        try:
            init_duration_ms = None
            init_output = ""
            if worker is None:
                worker, init_outcome = self._start_worker(spec)
                init_duration_ms = init_outcome.get("init_ms")
                init_output = worker.take_output() if worker is not None else init_outcome.get("output", "")
                if init_outcome["type"] != "ready":
                    return self._init_failure(spec, request_id, init_outcome, init_output)
            try:
                result = self._run(spec, worker, request_id, text, init_duration_ms, init_output)
            except BaseException:
                worker.kill()  # its state is unknown: never hand it to the next invocation
                raise
            return result  # a worker that exited (timeout, crash) is retired by _release
        finally:
            self._release(spec, worker)

    def shutdown(self) -> None:
        """Stop every worker; invocations in flight end with a Runtime.ExitError result."""
        with self._slots_changed:
            self._shut_down = True
            busy = set(self._live_workers)
            idle = [worker for slots in self._functions.values() for worker in slots.idle]
            busy.difference_update(idle)
            for slots in self._functions.values():
                slots.idle.clear()
            self._slots_changed.notify_all()
        for worker in idle:
            self._retire(worker)
        # A busy worker's channel belongs to the thread waiting on it: killing the process makes that thread
        # see the exit, report it, and retire the worker itself.
        for worker in busy:
            worker.kill()

    # ---- slots ------------------------------------------------------------------------------------------

    def _acquire(self, spec: FunctionSpec, wait_for_slot: bool) -> _Worker | None:
        """Take a concurrency slot (and an idle warm worker of this code version, if any)."""
        retired: list[_Worker] = []
        try:
            with self._slots_changed:
                slots = self._functions.setdefault(spec.arn, _FunctionSlots())
                if slots.current_sha != spec.code_sha256:
                    # New code: warm workers of the old code are retired (busy ones when they finish).
                    retired = [w for w in slots.idle if w.code_sha256 != spec.code_sha256]
                    slots.idle = [w for w in slots.idle if w.code_sha256 == spec.code_sha256]
                    slots.current_sha = spec.code_sha256
                while True:
                    if self._shut_down:
                        raise RuntimeError("LambdaRuntime is shut down")
                    if slots.busy < self.concurrency_limit(spec):
                        break
                    if not wait_for_slot:
                        raise TooManyRequests(
                            f"Rate Exceeded: {spec.name} has {slots.busy} invocations running "
                            f"(limit {self.concurrency_limit(spec)})"
                        )
                    self._slots_changed.wait()
                slots.busy += 1
                return slots.idle.pop() if slots.idle else None
        finally:
            for worker in retired:
                self._retire(worker)

    def _release(self, spec: FunctionSpec, worker: _Worker | None) -> None:
        retire = None
        with self._slots_changed:
            slots = self._functions[spec.arn]
            slots.busy -= 1
            if worker is not None:
                keep = (
                    not self._shut_down
                    and worker.process.poll() is None
                    and worker.code_sha256 == slots.current_sha
                    and len(slots.idle) < self.concurrency_limit(spec)
                )
                if keep:
                    slots.idle.append(worker)
                else:
                    retire = worker
            self._slots_changed.notify_all()
        if retire is not None:
            self._retire(retire)

    def _retire(self, worker: _Worker) -> None:
        worker.close()
        with self._slots_changed:
            self._live_workers.discard(worker)

    # ---- workers ----------------------------------------------------------------------------------------

    def _start_worker(self, spec: FunctionSpec) -> tuple[_Worker | None, dict]:
        """A new warm worker and its init outcome; the worker is None when it could not start."""
        started = time.monotonic()
        try:
            code_dir = self._code_dir(spec)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            error = error_payload("Runtime.InvalidCodePackage", f"Unable to extract the code package of {spec.name}: {exc}")
            return None, {"type": "init_error", "error": error, "output": ""}
        worker_dir = self.work_dir / "workers" / f"{spec.name}-{uuid.uuid4().hex[:12]}"
        stream_name = datetime.datetime.now(datetime.timezone.utc).strftime("%Y/%m/%d/") + f"[$LATEST]{uuid.uuid4().hex}"
        worker = _Worker(spec=spec, code_dir=code_dir, worker_dir=worker_dir,
                         environment=self._environment(spec, code_dir, stream_name), call_log_path=self.call_log_path)
        with self._slots_changed:
            self._live_workers.add(worker)
        outcome = worker.wait_ready(_INIT_ALLOWANCE_S + spec.timeout_s)
        outcome["init_ms"] = (time.monotonic() - started) * 1000  # process start included, as Lambda counts it
        if outcome["type"] != "ready":
            output = worker.take_output()
            worker.kill()
            self._retire(worker)
            outcome["output"] = output
            return None, outcome
        return worker, outcome

    def _code_dir(self, spec: FunctionSpec) -> Path:
        """The package unzipped once per code version, shared read-only by that version's workers."""
        with self._code_lock:
            cached = self._code_dirs.get(spec.code_sha256)
            if cached is not None:
                return cached
            target = self.work_dir / "code" / hashlib.sha256(spec.code_zip).hexdigest()
            if not target.is_dir():
                staging = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
                with zipfile.ZipFile(io.BytesIO(spec.code_zip)) as package:
                    package.extractall(staging)  # extractall drops absolute and ".." member paths
                try:
                    staging.rename(target)
                except OSError:  # another runtime sharing work_dir extracted it first
                    shutil.rmtree(staging, ignore_errors=True)
            self._code_dirs[spec.code_sha256] = target
            return target

    def _environment(self, spec: FunctionSpec, code_dir: Path, stream_name: str) -> dict[str, str]:
        """Exactly what a Lambda function sees, pointed at the local AWS; nothing else from this process."""
        environment = {key: os.environ[key] for key in _INHERITED_BASICS if key in os.environ}
        environment.setdefault("PATH", os.defpath)
        environment.setdefault("LANG", "C.UTF-8")
        environment.update(
            {
                "TZ": ":UTC",
                "AWS_ENDPOINT_URL": self.endpoint_url,
                **self.extra_environment,
            }
        )
        if spec.application_log_level:
            environment["AWS_LAMBDA_LOG_LEVEL"] = spec.application_log_level.upper()
        ignored = sorted(key for key in spec.environment if key in RESERVED_ENVIRONMENT_KEYS)
        if ignored:
            logger.warning("%s: reserved environment variables ignored (Lambda refuses them): %s", spec.name, ignored)
        environment.update({k: str(v) for k, v in spec.environment.items() if k not in RESERVED_ENVIRONMENT_KEYS})
        environment.update(
            {
                "_HANDLER": spec.handler,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": stream_name,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LAMBDA_RUNTIME_DIR": str(WORKER_SCRIPT.parent),
            }
        )
        return environment

    # ---- one invocation ---------------------------------------------------------------------------------

    def _run(self, spec: FunctionSpec, worker: _Worker, request_id: str, event_json: str,
             init_duration_ms: float | None, init_output: str) -> InvocationResult:
        request = {
            "request_id": request_id,
            "payload": event_json,
            "invoked_function_arn": spec.arn,
            "deadline_epoch_ms": int(time.time() * 1000 + spec.timeout_s * 1000),
        }
        started = time.monotonic()
        reply = worker.run(request, spec.timeout_s)
        duration_ms = (time.monotonic() - started) * 1000
        output = worker.take_output()
        status = None
        memory_used = reply.get("max_memory_mb")
        if reply["type"] == "result" and reply["ok"]:
            payload, function_error = reply["payload"].encode(), None
        elif reply["type"] == "result":
            error = dict(reply["error"], requestId=request_id)
            payload, function_error = json.dumps(error).encode(), "Unhandled"
        elif reply["type"] == "timeout":
            message = f"{iso_millis(datetime.datetime.now(datetime.timezone.utc))} {request_id} Task timed out after {spec.timeout_s:.2f} seconds"
            output += message + "\n"
            payload = json.dumps(error_payload("Sandbox.Timedout", message, request_id)).encode()
            function_error, status = "Unhandled", "timeout"
        else:
            message = f"RequestId: {request_id} Error: {reply['description']}"
            output += f"{message}\nRuntime.ExitError\n"
            payload = json.dumps(error_payload("Runtime.ExitError", message, request_id)).encode()
            function_error, status = "Unhandled", "error"
        log = self._log_text(spec, request_id, init_output, output, duration_ms, init_duration_ms, memory_used, status)
        return InvocationResult(request_id=request_id, payload=payload, function_error=function_error, log=log,
                                duration_ms=duration_ms, init_duration_ms=init_duration_ms)

    def _init_failure(self, spec: FunctionSpec, request_id: str, outcome: dict, init_output: str) -> InvocationResult:
        error = dict(outcome["error"], requestId=request_id)
        status = "timeout" if outcome.get("timed_out") else "error"
        init_ms = outcome.get("init_ms", 0.0)
        init_output += f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: {status}\tErrorType: {error['errorType']}\n"
        log = self._log_text(spec, request_id, init_output, "", 0.0, None, None, status)
        return InvocationResult(request_id=request_id, payload=json.dumps(error).encode(), function_error="Unhandled",
                                log=log, duration_ms=0.0, init_duration_ms=init_ms)

    def _log_text(self, spec: FunctionSpec, request_id: str, init_output: str, output: str, duration_ms: float,
                  init_duration_ms: float | None, memory_used_mb: int | None, status: str | None) -> str:
        if output and not output.endswith("\n"):
            output += "\n"
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {spec.memory_mb} MB\t"
            f"Max Memory Used: {memory_used_mb if memory_used_mb is not None else '-'} MB"
        )
        if init_duration_ms is not None:
            report += f"\tInit Duration: {init_duration_ms:.2f} ms"
        if status is not None:
            report += f"\tStatus: {status}"
        log = (
            f"{init_output}START RequestId: {request_id} Version: $LATEST\n{output}"
            f"END RequestId: {request_id}\n{report}\n"
        )
        append_line(self.logs_dir / f"{spec.name}.log", log.encode())
        return log
