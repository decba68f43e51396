"""The local Lambda runtime runs handler code the way Lambda does: warm environments, exact environment,
Lambda's error objects, timeouts, concurrency limits, logs, and a record of every AWS call."""

from __future__ import annotations

import hashlib
import io
import json
import os
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import pytest

from local_aws.lambda_runtime import (
    FunctionSpec,
    InvalidRequestContent,
    LambdaRuntime,
    TooManyRequests,
)

REGION = "eu-west-1"
ENDPOINT = "http://127.0.0.1:9"  # nothing listens: only the call-recording test makes AWS calls


def code_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, source in files.items():
            package.writestr(name, textwrap.dedent(source))
    return buffer.getvalue()


def make_spec(name: str, source: str, *, handler: str = "index.handler", extra_files: dict[str, str] | None = None,
              **overrides) -> FunctionSpec:
    package = code_zip({"index.py": source, **(extra_files or {})})
    fields = dict(
        arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
        name=name,
        handler=handler,
        code_sha256=hashlib.sha256(package).hexdigest(),
        code_zip=package,
        environment={},
        timeout_s=5.0,
    )
    fields.update(overrides)
    return FunctionSpec(**fields)


def body(result) -> dict:
    return json.loads(result.payload)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("lambda-runtime")
    lambda_runtime = LambdaRuntime(endpoint_url=ENDPOINT, region=REGION, work_dir=work_dir, max_workers_per_function=2)
    yield lambda_runtime
    lambda_runtime.shutdown()


COUNTER_SOURCE = """
    import logging, os
    INVOCATIONS = 0
    print("module imported")
    logger = logging.getLogger("counter")

    def handler(event, context):
        global INVOCATIONS
        INVOCATIONS += 1
        print("event was", event)
        logger.info("Counted", extra={"count": INVOCATIONS, "colour": "blue"})
        logger.debug("not shown at INFO")
        return {"invocations": INVOCATIONS, "pid": os.getpid(), "echo": event}
"""


def test_returns_what_the_handler_returned_and_logs_like_lambda(runtime):
    spec = make_spec("returns", COUNTER_SOURCE)
    result = runtime.invoke(spec, b'{"greeting": "hi"}')

    assert result.function_error is None
    assert body(result)["echo"] == {"greeting": "hi"}
    lines = result.log.splitlines()
    assert lines[0] == "module imported"  # init output comes before START, as in CloudWatch
    assert lines[1] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert "event was {'greeting': 'hi'}" in lines
    json_line = json.loads(next(line for line in lines if line.startswith("{")))
    assert json_line["level"] == "INFO" and json_line["message"] == "Counted" and json_line["logger"] == "counter"
    assert json_line["requestId"] == result.request_id
    assert json_line["count"] == 1 and json_line["colour"] == "blue"  # extra fields are top-level keys
    assert json_line["timestamp"].endswith("Z")
    assert "not shown at INFO" not in result.log
    assert lines[-2] == f"END RequestId: {result.request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {result.request_id}\tDuration: ")
    assert "Init Duration: " in lines[-1] and result.init_duration_ms > 0
    assert result.log in (runtime.work_dir / "logs" / "returns.log").read_text()


def test_warm_worker_is_reused_and_module_code_runs_once(runtime):
    spec = make_spec("warm", COUNTER_SOURCE)
    results = [runtime.invoke(spec, b"{}") for _ in range(3)]

    assert [body(r)["invocations"] for r in results] == [1, 2, 3]
    assert len({body(r)["pid"] for r in results}) == 1
    assert results[0].init_duration_ms is not None
    assert results[1].init_duration_ms is None and "module imported" not in results[1].log


def test_exception_gives_lambda_error_object(runtime):
    spec = make_spec(
        "raises",
        """
        class LabelStoreError(RuntimeError):
            pass

        def handler(event, context):
            raise LabelStoreError("table refused the write")
        """,
    )
    result = runtime.invoke(spec, b"{}")

    assert result.function_error == "Unhandled"
    error = body(result)
    assert error["errorType"] == "LabelStoreError"
    assert error["errorMessage"] == "table refused the write"
    assert error["requestId"] == result.request_id
    assert any("raise LabelStoreError" in frame for frame in error["stackTrace"])
    logged = json.loads(next(line for line in result.log.splitlines() if line.startswith("{")))
    assert logged["level"] == "ERROR" and logged["errorType"] == "LabelStoreError"
    # The worker survives a handled exception: the next invocation is warm.
    assert runtime.invoke(spec, b"{}").init_duration_ms is None


def test_timeout_kills_the_worker_and_a_fresh_one_serves_next(runtime):
    spec = make_spec(
        "sleeps",
        """
        import os, time
        def handler(event, context):
            if event.get("sleep"):
                time.sleep(event["sleep"])
            return {"pid": os.getpid()}
        """,
        timeout_s=0.5,
    )
    first_pid = body(runtime.invoke(spec, b"{}"))["pid"]
    started = time.monotonic()
    result = runtime.invoke(spec, b'{"sleep": 30}')

    assert time.monotonic() - started < 5
    assert result.function_error == "Unhandled"
    error = body(result)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 0.50 seconds")
    assert "Status: timeout" in result.log
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)
    after = runtime.invoke(spec, b"{}")
    assert after.function_error is None and after.init_duration_ms is not None
    assert body(after)["pid"] != first_pid


@pytest.mark.parametrize(
    ("statement", "expected_message"),
    [
        ("import sys; sys.exit(3)", "Runtime exited with error: exit status 3"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "Runtime exited with error: signal: SIGSEGV"),
    ],
)
def test_crashed_worker_gives_exit_error_and_is_replaced(runtime, statement, expected_message):
    spec = make_spec(
        f"crashes-{len(statement)}",
        f"""
        def handler(event, context):
            if event.get("crash"):
                {statement}
            return "fine"
        """,
    )
    result = runtime.invoke(spec, b'{"crash": true}')

    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Runtime.ExitError"
    assert expected_message in body(result)["errorMessage"]
    assert runtime.invoke(spec, b"{}").payload == b'"fine"'


def test_import_error_and_missing_handler_are_init_errors(runtime):
    broken = make_spec("broken-import", "import module_that_does_not_exist\ndef handler(e, c): pass\n")
    missing = make_spec("missing-handler", "def other(e, c): pass\n")

    broken_error = body(runtime.invoke(broken, b"{}"))
    missing_error = body(runtime.invoke(missing, b"{}"))

    assert broken_error["errorType"] == "Runtime.ImportModuleError"
    assert "module_that_does_not_exist" in broken_error["errorMessage"]
    assert missing_error["errorType"] == "Runtime.HandlerNotFound"


def test_environment_is_the_functions_plus_lambdas_and_nothing_from_the_parent(runtime, monkeypatch):
    monkeypatch.setenv("PARENT_ONLY_SECRET", "must-not-leak")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    spec = make_spec(
        "environment",
        "import os\ndef handler(event, context):\n    return dict(os.environ)\n",
        environment={"TABLE_NAME": "labels", "MIN_CONFIDENCE": "70", "AWS_REGION": "us-east-1"},
        memory_mb=256,
    )
    environment = body(runtime.invoke(spec, b"{}"))

    assert environment["TABLE_NAME"] == "labels" and environment["MIN_CONFIDENCE"] == "70"
    assert environment["AWS_REGION"] == REGION  # reserved: the function's value is refused, as by Lambda
    assert environment["AWS_DEFAULT_REGION"] == REGION
    assert environment["AWS_ENDPOINT_URL"] == ENDPOINT
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "environment"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environment["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert environment["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/environment"
    assert environment["AWS_ACCESS_KEY_ID"] == "testing" and environment["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "PARENT_ONLY_SECRET" not in environment and "PYTHONPATH" not in environment
    assert not Path(environment["HOME"], ".aws").exists()
    expected_keys = {
        "TABLE_NAME", "MIN_CONFIDENCE", "PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "_HANDLER",
        "AWS_EXECUTION_ENV", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
    # The interpreter may add LC_CTYPE when it coerces the C locale; nothing else may appear.
    assert set(environment) - {"LC_CTYPE"} <= expected_keys
    assert expected_keys - {"LC_ALL", "LANG"} <= set(environment)


def test_code_directory_comes_first_on_sys_path_and_the_runtime_is_not_importable(runtime):
    spec = make_spec("sys-path", "import os, sys\ndef handler(e, c):\n    return {'path': sys.path, 'cwd': os.getcwd()}\n")
    seen = body(runtime.invoke(spec, b"{}"))

    code_dir = seen["path"][0]
    assert Path(code_dir, "index.py").is_file() and seen["cwd"] == code_dir
    local_aws_dir = str(Path(__file__).resolve().parent.parent / "local_aws")
    assert local_aws_dir not in seen["path"]


def test_shutdown_ends_an_invocation_in_flight_and_leaves_no_process(tmp_path):
    stopping = LambdaRuntime(endpoint_url=ENDPOINT, region=REGION, work_dir=tmp_path)
    spec = make_spec("stopped", "import os, time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return os.getpid()\n")
    idle_pid = int(stopping.invoke(spec, b"{}").payload)
    other = make_spec("stopped-busy", "import time\ndef handler(e, c):\n    time.sleep(30)\n")
    results = []
    busy = threading.Thread(target=lambda: results.append(stopping.invoke(other, b"{}")))
    busy.start()
    time.sleep(0.5)
    stopping.shutdown()
    busy.join(10)

    assert not busy.is_alive()
    assert body(results[0])["errorType"] == "Runtime.ExitError"
    with pytest.raises(ProcessLookupError):
        os.kill(idle_pid, 0)
    with pytest.raises(RuntimeError):
        stopping.invoke(spec, b"{}")


def test_context_object_has_lambdas_fields(runtime):
    spec = make_spec(
        "context",
        """
        def handler(event, context):
            return {
                "aws_request_id": context.aws_request_id,
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
            }
        """,
        timeout_s=3,
    )
    result = runtime.invoke(spec, b"{}")
    context = body(result)

    assert context["aws_request_id"] == result.request_id
    assert context["function_name"] == "context" and context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == spec.arn
    assert context["memory_limit_in_mb"] == "128"
    assert context["log_group_name"] == "/aws/lambda/context"
    assert "[$LATEST]" in context["log_stream_name"]
    assert 2000 < context["remaining"] <= 3000


def test_handler_output_cannot_corrupt_the_channel(runtime):
    spec = make_spec(
        "noisy",
        """
        import os, sys
        def handler(event, context):
            sys.stdout.write("\\x00\\x00\\x00\\x10{not a message}")
            sys.stderr.write("to stderr\\n")
            os.write(1, b"\\xff\\xfe raw fd 1\\n")
            os.write(2, b"raw fd 2\\n")
            return {"ok": True}
        """,
    )
    result = runtime.invoke(spec, b"{}")

    assert body(result) == {"ok": True}
    assert "to stderr" in result.log and "raw fd 1" in result.log and "raw fd 2" in result.log


def test_new_code_version_runs_new_code_and_retires_old_workers(runtime):
    old = make_spec("versions", "import os\ndef handler(e, c):\n    return {'version': 1, 'pid': os.getpid()}\n")
    new = make_spec("versions", "import os\ndef handler(e, c):\n    return {'version': 2, 'pid': os.getpid()}\n")
    old_result = body(runtime.invoke(old, b"{}"))
    new_result = body(runtime.invoke(new, b"{}"))

    assert old_result["version"] == 1 and new_result["version"] == 2
    with pytest.raises(ProcessLookupError):
        os.kill(old_result["pid"], 0)


def test_reserved_concurrency_limits_parallel_sync_invocations(runtime, tmp_path):
    release = tmp_path / "release"
    spec = make_spec(
        "reserved-one",
        f"""
        import os, time
        def handler(event, context):
            while event.get("hold") and not os.path.exists({str(release)!r}):
                time.sleep(0.01)
            return "done"
        """,
        reserved_concurrency=1,
    )
    runtime.invoke(spec, b"{}")  # warm up, so the held invocation starts at once
    held = []
    holder = threading.Thread(target=lambda: held.append(runtime.invoke(spec, b'{"hold": true}')))
    holder.start()
    time.sleep(0.3)

    with pytest.raises(TooManyRequests):
        runtime.invoke(spec, b"{}")
    waited = []
    waiter = threading.Thread(target=lambda: waited.append(runtime.invoke(spec, b"{}", wait_for_slot=True)))
    waiter.start()
    time.sleep(0.2)
    assert not waited  # still blocked behind the held invocation
    release.touch()
    holder.join(10)
    waiter.join(10)
    assert held[0].payload == waited[0].payload == b'"done"'


def test_zero_reserved_concurrency_throttles_every_sync_invoke(runtime):
    spec = make_spec("reserved-zero", "def handler(e, c):\n    return 1\n", reserved_concurrency=0)
    with pytest.raises(TooManyRequests):
        runtime.invoke(spec, b"{}")


def test_payload_must_be_json_and_return_value_serialisable(runtime):
    spec = make_spec(
        "marshal",
        """
        from decimal import Decimal
        def handler(event, context):
            if event.get("bad"):
                return {"a set": {1, 2}}
            return {"confidence": Decimal("97.5"), "count": Decimal("3")}
        """,
    )
    with pytest.raises(InvalidRequestContent):
        runtime.invoke(spec, b"{not json")
    assert body(runtime.invoke(spec, b"{}")) == {"confidence": 97.5, "count": 3}
    bad = runtime.invoke(spec, b'{"bad": true}')
    assert bad.function_error == "Unhandled" and body(bad)["errorType"] == "Runtime.MarshalError"


def test_application_log_level_filters_handler_logs(runtime):
    spec = make_spec(
        "quiet",
        """
        import logging
        def handler(event, context):
            logging.getLogger("x").info("info line")
            logging.getLogger("x").warning("warning line")
        """,
        application_log_level="WARN",
    )
    log = runtime.invoke(spec, b"{}").log
    assert "warning line" in log and "info line" not in log


def test_package_in_a_folder_with_dotted_handler(runtime):
    spec = make_spec(
        "package",
        "",
        handler="image_labeller.handler.handle",
        extra_files={
            "image_labeller/__init__.py": "",
            "image_labeller/handler.py": "from image_labeller.helper import VALUE\ndef handle(e, c):\n    return VALUE\n",
            "image_labeller/helper.py": "VALUE = 'from the package'\n",
        },
    )
    assert runtime.invoke(spec, b"{}").payload == b'"from the package"'


def test_invalid_zip_is_a_recorded_failure(runtime):
    spec = make_spec("not-a-zip", "", code_zip=b"this is not a zip", code_sha256="nope")
    result = runtime.invoke(spec, b"{}")
    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Runtime.InvalidCodePackage"


def test_every_aws_call_the_handler_makes_is_recorded(tmp_path):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    call_log = tmp_path / "calls.jsonl"
    recording = LambdaRuntime(endpoint_url=f"http://{host}:{port}", region=REGION, work_dir=tmp_path / "work",
                              call_log_path=call_log)
    spec = make_spec(
        "recorded",
        """
        import boto3
        S3 = boto3.client("s3")
        def handler(event, context):
            S3.create_bucket(Bucket="photos", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
            S3.put_object(Bucket="photos", Key="cat.jpg", Body=b"12345")
            boto3.client("dynamodb").list_tables()
            return S3.get_object(Bucket="photos", Key="cat.jpg")["Body"].read().decode()
        """,
    )
    try:
        result = recording.invoke(spec, b"{}")
    finally:
        recording.shutdown()
        server.stop()

    assert result.payload == b'"12345"', result.log
    calls = [json.loads(line) for line in call_log.read_text().splitlines()]
    assert calls == [
        {"function": "recorded", "service": "s3", "operation": "CreateBucket",
         "params": {"Bucket": "photos", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}},
        {"function": "recorded", "service": "s3", "operation": "PutObject",
         "params": {"Bucket": "photos", "Key": "cat.jpg", "Body": 5}},
        {"function": "recorded", "service": "dynamodb", "operation": "ListTables", "params": {}},
        {"function": "recorded", "service": "s3", "operation": "GetObject", "params": {"Bucket": "photos", "Key": "cat.jpg"}},
    ]


def test_a_relative_work_dir_still_finds_the_code(tmp_path, monkeypatch):
    """make demo passes the relative ".local-aws": workers start inside their code folder, where a
    relative path would point elsewhere and every import of the handler would fail."""
    monkeypatch.chdir(tmp_path)
    relative = LambdaRuntime(endpoint_url=ENDPOINT, region=REGION, work_dir=Path("state/lambda"))
    try:
        result = relative.invoke(make_spec("relative", "def handler(event, context):\n    return 'found'\n"), b"{}")
    finally:
        relative.shutdown()
    assert result.function_error is None, result.payload
    assert body(result) == "found"
