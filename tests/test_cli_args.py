"""The command's pure parts: arguments, which stack and endpoint it targets, output formats, the
progress bar, and the one-line errors (no AWS needed, except moto for the stack look-up)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from moto import mock_aws

from cli_harness import REGION, create_stack
from imagelabels.cli import main, parse_args
from imagelabels.errors import UserError, describe
from imagelabels.output import render_table, to_json
from imagelabels.progress import ProgressBar
from imagelabels.target import make_session, resolve_target, stack_name_from_cdk_json

ROOT = Path(__file__).resolve().parent.parent


# --- arguments -----------------------------------------------------------------------------------

def test_global_options_work_before_and_after_the_command():
    before = parse_args(["--stack", "S", "--region", "r1", "search", "cat"])
    after = parse_args(["search", "cat", "--stack", "S", "--region", "r1", "--local"])
    assert (before.stack, before.region, before.local) == ("S", "r1", False)
    assert (after.stack, after.region, after.local) == ("S", "r1", True)
    assert parse_args(["labels"]).stack is None and parse_args(["labels"]).endpoint_url is None


def test_each_command_gets_its_options_and_defaults():
    upload = parse_args(["upload", "a", "b/", "--prefix", "p", "--wait", "--timeout", "30"])
    assert ([str(path) for path in upload.paths], upload.prefix, upload.wait, upload.timeout, upload.concurrency, upload.progress) == (
        ["a", "b"], "p", True, 30.0, 8, None)
    search = parse_args(["search", "Cat", "Beach", "--min-confidence", "85.5", "--limit", "3", "--json"])
    assert (search.labels, search.min_confidence, search.limit, search.json) == (["Cat", "Beach"], 85.5, 3, True)
    backfill = parse_args(["backfill", "2026/", "--force", "--concurrency", "2", "--no-progress"])
    assert (backfill.prefix, backfill.force, backfill.concurrency, backfill.progress) == ("2026/", True, 2, False)
    assert parse_args(["backfill"]).prefix == ""
    redrive = parse_args(["redrive", "--dry-run", "--max-messages", "5"])
    assert (redrive.dry_run, redrive.max_messages, redrive.concurrency) == (True, 5, 4)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["search", "cat", "--min-confidence", "101"], "must be 0-100"),
        (["search", "cat", "--min-confidence", "high"], "not a number"),
        (["search", "cat", "--limit", "0"], "must be at least 1"),
        (["upload", "x", "--concurrency", "65"], "at most 64"),
        (["upload", "x", "--timeout", "0"], "must be more than 0"),
        (["search"], "required: LABEL"),
        (["upload"], "required: PATH"),
        (["--local", "--endpoint-url", "http://x", "labels"], "not allowed with argument"),
        (["fly"], "invalid choice"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


# --- stack name and endpoint ---------------------------------------------------------------------

def write_cdk_json(folder: Path, context: dict) -> Path:
    path = folder / "cdk.json"
    path.write_text(json.dumps({"app": "x", "context": context}))
    return path


def test_the_stack_name_follows_cdk_json_as_the_cdk_app_computes_it(tmp_path):
    assert stack_name_from_cdk_json(ROOT / "cdk.json", stage=None) == "ImageLabels-dev"
    assert stack_name_from_cdk_json(ROOT / "cdk.json", stage="prod") == "ImageLabels-prod"
    custom = write_cdk_json(tmp_path, {"stage": "qa", "stages": {"qa": {"stackNamePrefix": "Media"}, "dev": {}}})
    assert stack_name_from_cdk_json(custom, stage=None) == "Media-qa"
    assert stack_name_from_cdk_json(custom, stage="dev") == "ImageLabels-dev"
    override = write_cdk_json(tmp_path, {"stackNamePrefix": "Top", "stages": {"dev": {"stackNamePrefix": "Media"}}})
    assert stack_name_from_cdk_json(override, stage=None) == "Top-dev"
    assert stack_name_from_cdk_json(None, stage="prod") == "ImageLabels-prod"
    with pytest.raises(UserError, match=r"stage 'staging' is not defined in .*cdk.json \(known stages: dev, prod\)"):
        stack_name_from_cdk_json(ROOT / "cdk.json", stage="staging")


def target(tmp_path, environ=None, **options):
    defaults = {"stack": None, "stage": None, "region": None, "endpoint_url": None, "local": False}
    return resolve_target(**{**defaults, **options}, environ=environ or {}, root=tmp_path)


def test_stack_option_beats_the_environment_which_beats_cdk_json(tmp_path):
    write_cdk_json(tmp_path, {"stages": {"dev": {}}})
    assert target(tmp_path).stack_name == "ImageLabels-dev"
    assert target(tmp_path, {"IMAGELABELS_STACK": "FromEnv"}).stack_name == "FromEnv"
    assert target(tmp_path, {"IMAGELABELS_STACK": "FromEnv"}, stack="Given").stack_name == "Given"


def write_endpoint(tmp_path, **data) -> None:
    (tmp_path / ".local-aws").mkdir(exist_ok=True)
    (tmp_path / ".local-aws" / "endpoint.json").write_text(json.dumps(data))


def test_local_reads_the_endpoint_and_region_of_the_running_local_aws(tmp_path):
    write_endpoint(tmp_path, endpoint_url="http://127.0.0.1:4566", region="us-east-2", account_id="123456789012", pid=os.getpid())
    local = target(tmp_path, local=True)
    assert (local.endpoint_url, local.region, local.local) == ("http://127.0.0.1:4566", "us-east-2", True)
    assert target(tmp_path, local=True, region="eu-west-3").region == "eu-west-3"
    assert target(tmp_path, {"IMAGELABELS_LOCAL": "1"}).endpoint_url == "http://127.0.0.1:4566"
    assert target(tmp_path, {"IMAGELABELS_LOCAL": "0"}).endpoint_url is None


def test_local_without_a_running_local_aws_says_how_to_start_it(tmp_path):
    with pytest.raises(UserError, match=r"^local AWS is not running: make demo / python -m local_aws start \(.*endpoint.json not found\)$"):
        target(tmp_path, local=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    write_endpoint(tmp_path, endpoint_url="http://127.0.0.1:4566", region="us-east-2", pid=int(finished.stdout))
    with pytest.raises(UserError, match=r"which has exited"):
        target(tmp_path, local=True)
    with pytest.raises(UserError, match="exclusive"):
        target(tmp_path, {"IMAGELABELS_LOCAL": "1"}, endpoint_url="http://other")


def test_the_local_aws_gets_fake_credentials_only_when_none_are_configured(tmp_path, monkeypatch):
    local = target(tmp_path, endpoint_url=None, region="us-east-2", local=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from dataclasses import replace

    session = make_session(replace(local, local=True))
    assert session.get_credentials().access_key == "testing" and session.region_name == "us-east-2"
    assert make_session(local).get_credentials() is None  # real AWS: never invent credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert make_session(replace(local, local=True)).get_credentials().access_key == "mine"


# --- the stack's outputs ------------------------------------------------------------------------

def run_main(argv, **kwargs):
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(argv, stdout=stdout, stderr=stderr, environ={}, **kwargs)
    return code, stdout.getvalue(), stderr.getvalue()


def test_a_missing_stack_is_one_line_naming_stack_and_region():
    with mock_aws():
        code, out, err = run_main(["--stack", "Nope-dev", "--region", REGION, "labels"])
    assert (code, out) == (1, "")
    assert err == f"imagelabels: stack 'Nope-dev' not found in AWS, Region {REGION}: deploy it (make deploy), or pass --stack / --stage / --region\n"


def test_a_stack_without_the_outputs_says_so():
    with mock_aws():
        create_stack(outputs={"Something": "else"}, name="Other")
        code, _, err = run_main(["--stack", "Other", "--region", REGION, "search", "cat"])
    assert code == 1
    assert err.startswith("imagelabels: stack 'Other' has no output 'TableName' (status CREATE_COMPLETE)")


def test_an_unreachable_endpoint_is_one_line_without_traceback():
    code, _, err = run_main(["--endpoint-url", "http://127.0.0.1:9", "--region", REGION, "labels"])
    assert code == 1
    assert err.startswith('imagelabels: cannot reach http://127.0.0.1:9: Could not connect to the endpoint URL')
    assert len(err.splitlines()) == 1


def test_aws_endpoint_url_from_the_environment_is_honoured(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["--region", REGION, "--stack", "S", "labels"], stdout=stdout, stderr=stderr, environ=dict(os.environ))
    assert code == 1
    assert stderr.getvalue().startswith("imagelabels: cannot reach http://127.0.0.1:9:")


@pytest.mark.parametrize(
    "error, line",
    [
        (NoCredentialsError(), "no AWS credentials found"),
        (EndpointConnectionError(endpoint_url="https://x"), "cannot reach https://x"),
        (ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}}, "Query"), "AWS rejected your credentials (ExpiredToken: expired)"),
        (ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Query"), "access denied for Query: no"),
        (ClientError({"Error": {"Code": "Weird", "Message": "odd"}}, "Scan"), "Scan failed: Weird: odd"),
    ],
)
def test_aws_errors_become_one_line(error, line):
    assert describe(error).startswith(line)
    assert "\n" not in describe(error)


# --- output ---------------------------------------------------------------------------------------

def test_tables_align_columns_and_json_turns_dynamodb_numbers_into_numbers():
    assert render_table(["KEY", "CONFIDENCE"], [["a.png", "97.8"], ["longer/b.jpg", "71.0"]]).splitlines() == [
        "KEY           CONFIDENCE",
        "a.png         97.8",
        "longer/b.jpg  71.0",
    ]
    assert json.loads(to_json({"c": Decimal("97.8123"), "n": Decimal("3"), "s": {"b", "a"}, "é": "ü"})) == {
        "c": 97.8123, "n": 3, "s": ["a", "b"], "é": "ü"}
    assert "ü" in to_json({"k": "ü"})  # readable, not \\u escapes


def test_the_progress_bar_draws_only_when_enabled_and_erases_itself():
    silent = io.StringIO()
    with ProgressBar(total=3, label="up", stream=silent, enabled=False) as bar:
        bar.advance()
    assert silent.getvalue() == ""

    drawn = io.StringIO()
    now = [0.0]
    bar = ProgressBar(total=4, label="up", stream=drawn, enabled=True, width=4, clock=lambda: now[0], min_interval=0)
    now[0] = 2.0
    bar.advance(failed=True)
    assert drawn.getvalue() == "\rup [#---] 1/4 (1 failed) 0.5/s"
    bar.close()
    assert drawn.getvalue().endswith("\r" + " " * len("up [#---] 1/4 (1 failed) 0.5/s") + "\r")


def test_the_progress_bar_follows_the_terminal_unless_told():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    from imagelabels.cli import Output

    out = Output(io.StringIO(), Terminal())
    assert out.progress(total=1, label="x", wanted=None)._enabled is True
    assert out.progress(total=1, label="x", wanted=False)._enabled is False
    assert Output(io.StringIO(), io.StringIO()).progress(total=1, label="x", wanted=None)._enabled is False
    assert Output(io.StringIO(), io.StringIO()).progress(total=1, label="x", wanted=True)._enabled is True


def test_python_dash_m_runs_the_command_and_starts_without_the_cdk():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "imagelabels", "--version"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0 and result.stdout.strip() == "imagelabels 0.1.0"
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert "aws_cdk" not in imported and "jsii" not in imported and "moto" not in imported
