"""A real Chromium for the page's browser tests: the one place that finds it (for the fixtures and for
`make test`'s install step), installs one where the platform has a way, and the `browser` and `page`
fixtures.

Where a Chromium is looked for, in this order:
1. IMAGELABELS_CHROMIUM, when set: it must be an executable file (nothing else is tried, so a wrong
   path is an error instead of a silently different browser);
2. /usr/bin/chromium-headless-shell (Debian's package of that name), then /usr/bin/chromium (Debian's
   full browser; on GitHub's ubuntu-24.04 runners a link to the Chromium build their image carries);
3. the Chromium Playwright downloads (`python -m playwright install chromium`).

`python tests/browser_fixtures.py install` (run by `make test`) installs one when none is found: as
root on Debian with apt-get, elsewhere with Playwright's download (which needs internet).

A page test takes `page` (a fresh context; the test fails if the page logs a console error or throws
an uncaught exception) or `browser` (one per test process, shared by its tests). tests/conftest.py
registers this module as a plugin: importing the fixtures into two test modules instead would make
two session fixtures, and the second Playwright refuses to start inside the first one's event loop.

    def test_title(page, site_url):
        page.goto(site_url)
        assert page.title() == "Image labels"
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright, sync_playwright

CHROMIUM_ENV = "IMAGELABELS_CHROMIUM"
SYSTEM_CHROMIUMS = (Path("/usr/bin/chromium-headless-shell"), Path("/usr/bin/chromium"))
DEBIAN_PACKAGE = "chromium-headless-shell"

# --no-sandbox: CI machines run the tests as root, where Chromium's sandbox refuses to start. The rest
# keep the browser from calling Google's services, which these machines cannot reach anyway: a test
# must not wait on (or be changed by) an update check, a sync or a QUIC probe.
LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

HOW_TO_INSTALL = (
    "Run `make test` (it installs one: as root on Debian `apt-get install chromium-headless-shell`, "
    "elsewhere `.venv/bin/python -m playwright install chromium`), or point "
    f"{CHROMIUM_ENV} at a Chromium or Chrome executable."
)


class ChromiumNotFound(Exception):
    """No usable Chromium: the message says where it looked and how to get one."""


def is_executable(path: Path) -> bool:
    # A directory is "executable" to os.access too, and root may "execute" any file with one x bit.
    return path.is_file() and os.access(path, os.X_OK)


def find_chromium(
    playwright_chromium: Callable[[], str],
    environ: Mapping[str, str] = os.environ,
    system_chromiums: Sequence[Path] = SYSTEM_CHROMIUMS,
) -> Path:
    """The Chromium the browser tests run, in the module docstring's order. `playwright_chromium`
    gives where Playwright keeps its own download (asked only if nothing else is found)."""
    if environ.get(CHROMIUM_ENV):
        chosen = Path(environ[CHROMIUM_ENV])
        if not is_executable(chosen):
            raise ChromiumNotFound(
                f"{CHROMIUM_ENV}={chosen} is not an executable file: point it at a Chromium or Chrome "
                "executable, or unset it to use the one `make test` finds or installs."
            )
        return chosen
    for path in system_chromiums:
        if is_executable(path):
            return path
    downloaded = Path(playwright_chromium())
    if is_executable(downloaded):
        return downloaded
    looked_at = ", ".join(str(path) for path in (*system_chromiums, downloaded))
    raise ChromiumNotFound(f"No Chromium for the browser tests ({CHROMIUM_ENV} is not set; looked at {looked_at}). {HOW_TO_INSTALL}")


def playwright_chromium_of(playwright: Playwright) -> Callable[[], str]:
    return lambda: playwright.chromium.executable_path


def install_commands(euid: int, os_release: str) -> list[list[str]]:
    """How this machine gets a Chromium: Debian's package as root on Debian, else Playwright's download.
    Ubuntu is not Debian here (ID=ubuntu; it ships Chromium only as a snap), though it has
    /etc/debian_version too."""
    fields = dict(line.split("=", 1) for line in os_release.splitlines() if "=" in line)
    if euid == 0 and fields.get("ID", "").strip("\"'") == "debian":
        return [
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", DEBIAN_PACKAGE],
        ]
    # --no-shell: the tests launch the full build (the path Playwright reports); its headless shell
    # would be a second download of ~100 MB that nothing uses.
    return [[sys.executable, "-m", "playwright", "install", "--no-shell", "chromium"]]


def read_os_release(path: Path = Path("/etc/os-release")) -> str:
    return path.read_text() if path.is_file() else ""


def install() -> Path:
    """Find a Chromium, installing one first when there is none; raises ChromiumNotFound with the way out."""
    with sync_playwright() as playwright:
        try:
            return find_chromium(playwright_chromium_of(playwright))
        except ChromiumNotFound as not_found:
            if os.environ.get(CHROMIUM_ENV):
                raise  # an explicit choice is never replaced by an installed browser
            print(f"{not_found}\nInstalling one.", file=sys.stderr)
        for command in install_commands(os.geteuid(), read_os_release()):
            print("+ " + " ".join(command), file=sys.stderr)
            environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            if subprocess.run(command, env=environment).returncode != 0:
                raise ChromiumNotFound(f"`{' '.join(command)}` failed (output above). {HOW_TO_INSTALL}")
        return find_chromium(playwright_chromium_of(playwright))


@pytest.fixture(scope="session")
def browser() -> Browser:
    """One headless Chromium per test process. No Chromium is an error of every test that uses it,
    never a skip: the page is not tested until a browser is installed."""
    with sync_playwright() as playwright:
        try:
            executable = find_chromium(playwright_chromium_of(playwright))
        except ChromiumNotFound as not_found:
            missing = str(not_found)
        else:
            missing = ""
        if missing:  # failed outside the except block: the message alone, without a chained traceback
            pytest.fail(missing, pytrace=False)
        launched = playwright.chromium.launch(executable_path=str(executable), headless=True, args=list(LAUNCH_ARGS))
        yield launched
        launched.close()


class PageProblems:
    """What a page reports going wrong while a test drives it: console errors (which include the
    resources it failed to load) and uncaught exceptions."""

    def __init__(self, page: Page):
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", self._uncaught)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            self.problems.append(f"console.error at {where['url']}:{where['lineNumber']}: {message.text}")

    def _uncaught(self, error: Error) -> None:
        self.problems.append(f"uncaught {error.name}: {error.message}")

    def assert_none(self) -> None:
        assert not self.problems, "The page reported:\n" + "\n".join(self.problems)


@pytest.fixture()
def page(browser: Browser) -> Page:
    """A page in its own browser context (no cookies or storage from other tests). The test fails at
    teardown if the page logged a console error or threw, whatever the test itself checked."""
    context = browser.new_context()
    opened = context.new_page()
    problems = PageProblems(opened)
    yield opened
    context.close()  # delivers the events still on their way before they are checked
    problems.assert_none()


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit(f"usage: {sys.argv[0]} install")
    try:
        print(f"Chromium for the browser tests: {install()}")
    except ChromiumNotFound as not_found:
        sys.exit(str(not_found))
