"""One warm Lambda execution environment: a long-lived process that imports a handler once and serves
invocations from the runtime (local_aws/lambda_runtime.py) over a pair of dedicated pipes.

Run as a script by the runtime, which imports from it only what both ends share (the message framing,
timestamps, line appends): this file must stay standard library plus botocore (imported only when calls
are recorded), because it runs inside the function's environment.

Channel: each message is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON, on file
descriptors passed by the runtime. fd 1 and fd 2 belong to the handler (its prints and logs go to a file the
runtime reads after each invocation), so nothing the handler writes can corrupt the channel.

Messages, worker -> runtime: {"type": "ready", "init_ms"} or {"type": "init_error", "error": {...}} once, then
{"type": "result", "ok": bool, "payload": str (JSON text) | "error": {...}, "max_memory_mb"} per request.
Runtime -> worker: {"request_id", "payload": str (JSON text), "deadline_epoch_ms", "invoked_function_arn"}.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import importlib
import json
import logging
import os
import resource
import struct
import sys
import time
import traceback

MESSAGE_HEADER = struct.Struct(">I")  # the length before each JSON message

# Attributes every LogRecord has: whatever else a record carries came from `extra=` and becomes a top-level
# key of the JSON line, as Lambda's JSON log format does.
_STANDARD_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class _RequestState:
    """The request being served, read by the log formatter and the context object."""

    request_id: str | None = None


def write_message(fd: int, message: dict) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    data = MESSAGE_HEADER.pack(len(body)) + body
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_message(fd: int) -> dict | None:
    """The next message, or None when the runtime closed the channel."""
    header = _read_exactly(fd, MESSAGE_HEADER.size)
    if header is None:
        return None
    (length,) = MESSAGE_HEADER.unpack(header)
    body = _read_exactly(fd, length)
    if body is None:
        return None
    return json.loads(body)


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    remaining = size
    while remaining:
        chunk = os.read(fd, remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class LambdaJsonFormatter(logging.Formatter):
    """Lambda's JSON application-log format: timestamp, level, message, logger, requestId, each `extra` field
    as a top-level key, and errorType/errorMessage/stackTrace when an exception is attached."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": _iso_timestamp(record.created),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        if _RequestState.request_id:
            line["requestId"] = _RequestState.request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_RECORD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            exc_type, exc_value, exc_tb = record.exc_info
            line["errorType"] = exc_type.__name__
            line["errorMessage"] = str(exc_value)
            line["stackTrace"] = traceback.format_tb(exc_tb)
        return json.dumps(line, default=str)


def iso_millis(moment: datetime.datetime) -> str:
    """Lambda's timestamps: UTC, milliseconds, a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso_timestamp(epoch_s: float) -> str:
    return iso_millis(datetime.datetime.fromtimestamp(epoch_s, tz=datetime.timezone.utc))


def append_line(path, data: bytes) -> None:
    """One write with O_APPEND: lines from concurrent writers (workers, threads) never interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def configure_logging() -> None:
    """Like the Lambda Python runtime: the root logger has the runtime's own handler (so a handler's
    logging.basicConfig() changes nothing) at the function's log level."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    stream_handler = logging.StreamHandler(sys.stdout)
    stream_handler.setFormatter(LambdaJsonFormatter())
    root.addHandler(stream_handler)
    level = getattr(logging, os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper(), None)
    root.setLevel(level if isinstance(level, int) else logging.INFO)


class LambdaContext:
    """The context object the Python runtime passes as the handler's second argument."""

    def __init__(self, *, request_id: str, invoked_function_arn: str, deadline_epoch_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string, as in the real runtime (it is read from the environment there too).
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_epoch_ms - time.time() * 1000))


def error_object(exc: BaseException, *, error_type: str | None = None, message: str | None = None) -> dict:
    return {
        "errorMessage": str(exc) if message is None else message,
        "errorType": error_type or type(exc).__name__,
        "requestId": _RequestState.request_id or "",
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _json_default(value):
    # The Python runtime's marshaller accepts Decimal (what DynamoDB reads return).
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# ---- AWS call recording ---------------------------------------------------------------------------------


def _summarise_params(value):
    """API parameters as JSON: bytes and streams replaced by their length (blobs are data, not intent)."""
    if isinstance(value, dict):
        return {str(key): _summarise_params(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_summarise_params(item) for item in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "read"):
        try:
            position = value.tell()
            value.seek(0, os.SEEK_END)
            size = value.tell() - position
            value.seek(position)
            return size
        except Exception:
            return "<stream>"
    return str(value)


def install_call_recorder(call_log_path: str, function_name: str) -> None:
    """Append one JSON line per AWS API call made through any botocore session created from now on (boto3's
    default session included), before the handler module is imported."""
    import botocore.session

    def record_call(params=None, model=None, **_ignored) -> None:
        if model is None:
            return
        line = {
            "function": function_name,
            "service": model.service_model.signing_name,
            "operation": model.name,
            "params": _summarise_params(params or {}),
        }
        append_line(call_log_path, (json.dumps(line, default=str, separators=(",", ":")) + "\n").encode())

    original_init = botocore.session.Session.__init__

    def recording_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        # before-parameter-build: once per API call (not per HTTP retry), with the caller's own parameters.
        self.register("before-parameter-build.*.*", record_call, unique_id="local-aws-call-recorder")

    botocore.session.Session.__init__ = recording_init


# ---- main loop ------------------------------------------------------------------------------------------


def load_handler(handler: str):
    """'pkg.module.function' (or 'dir/module.function') -> the function; raises with Lambda's error types."""
    module_name, _, function_name = handler.rpartition(".")
    module_name = module_name.replace("/", ".")
    if not module_name or not function_name:
        raise _InitError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _InitError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", exc) from exc
    except SyntaxError as exc:
        raise _InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", exc) from exc
    try:
        return getattr(module, function_name)
    except AttributeError as exc:
        raise _InitError(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'", exc
        ) from exc


class _InitError(Exception):
    def __init__(self, error_type: str, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.cause = cause


def serve(*, handler: str, code_dir: str, request_fd: int, response_fd: int, call_log: str | None) -> int:
    started = time.monotonic()
    sys.dont_write_bytecode = True  # the code directory is read-only on Lambda and shared by workers here
    configure_logging()
    if call_log:
        install_call_recorder(call_log, os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""))
    sys.path.insert(0, code_dir)
    try:
        handle = load_handler(handler)
    except _InitError as exc:
        error = {"errorMessage": str(exc), "errorType": exc.error_type, "requestId": "", "stackTrace": []}
        if exc.cause is not None:
            error["stackTrace"] = traceback.format_tb(exc.cause.__traceback__)
        _log_error(error)
        write_message(response_fd, {"type": "init_error", "error": error})
        return 1
    except Exception as exc:  # module-level code raised
        error = error_object(exc)
        _log_error(error)
        write_message(response_fd, {"type": "init_error", "error": error})
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    write_message(response_fd, {"type": "ready", "init_ms": (time.monotonic() - started) * 1000})

    while True:
        request = read_message(request_fd)
        if request is None:
            return 0
        _RequestState.request_id = request["request_id"]
        context = LambdaContext(
            request_id=request["request_id"],
            invoked_function_arn=request["invoked_function_arn"],
            deadline_epoch_ms=request["deadline_epoch_ms"],
        )
        try:
            event = json.loads(request["payload"])
            result = handle(event, context)
            try:
                reply = {"type": "result", "ok": True, "payload": json.dumps(result, default=_json_default)}
            except (TypeError, ValueError) as exc:
                error = error_object(exc, error_type="Runtime.MarshalError", message=f"Unable to marshal response: {exc}")
                reply = {"type": "result", "ok": False, "error": error}
        except Exception as exc:
            error = error_object(exc)
            _log_error(error)
            reply = {"type": "result", "ok": False, "error": error}
        # SystemExit / KeyboardInterrupt propagate: the process ends, the runtime reports Runtime.ExitError.
        sys.stdout.flush()
        sys.stderr.flush()
        reply["max_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        _RequestState.request_id = None
        write_message(response_fd, reply)


def _log_error(error: dict) -> None:
    """The runtime's own line for an unhandled error, in the JSON log format."""
    line = {"timestamp": _iso_timestamp(time.time()), "level": "ERROR", **error}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def main() -> int:
    # Running as a script put this file's folder first on sys.path: the function must not see it.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handler", required=True)
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--request-fd", type=int, required=True)
    parser.add_argument("--response-fd", type=int, required=True)
    parser.add_argument("--call-log")
    args = parser.parse_args()
    return serve(
        handler=args.handler,
        code_dir=args.code_dir,
        request_fd=args.request_fd,
        response_fd=args.response_fd,
        call_log=args.call_log,
    )


if __name__ == "__main__":
    sys.exit(main())
