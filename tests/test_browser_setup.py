"""The browser tests' Chromium (tests/browser_fixtures.py): which one is found, the errors when none is,
how a machine installs one, and a real launch that loads a page served over HTTP and sees the page's
console errors and uncaught exceptions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from browser_fixtures import (
    CHROMIUM_ENV,
    DEBIAN_PACKAGE,
    ChromiumNotFound,
    PageProblems,
    find_chromium,
    install_commands,
)

DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n'
UBUNTU_OS_RELEASE = 'PRETTY_NAME="Ubuntu 24.04.3 LTS"\nNAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def not_there(tmp_path: Path) -> Callable[[], str]:
    return lambda: str(tmp_path / "ms-playwright" / "chrome")


@pytest.fixture()
def machine(tmp_path):
    """Two system Chromiums and a Playwright download, all present, as paths the finder is given."""
    headless_shell = executable(tmp_path / "chromium-headless-shell")
    full = executable(tmp_path / "chromium")
    downloaded = executable(tmp_path / "playwright-chrome")
    return headless_shell, full, downloaded


def test_the_environment_variable_wins_over_every_installed_chromium(tmp_path, machine):
    chosen = executable(tmp_path / "my-chrome")
    found = find_chromium(lambda: str(machine[2]), {CHROMIUM_ENV: str(chosen)}, machine[:2])
    assert found == chosen


@pytest.mark.parametrize("kind", ["missing", "not executable", "a directory"])
def test_an_environment_path_that_is_not_an_executable_is_an_error_not_another_browser(tmp_path, machine, kind):
    chosen = tmp_path / "my-chrome"
    if kind == "not executable":
        chosen.write_text("#!/bin/sh\n")
    elif kind == "a directory":
        chosen.mkdir()
    with pytest.raises(ChromiumNotFound) as error:
        find_chromium(lambda: str(machine[2]), {CHROMIUM_ENV: str(chosen)}, machine[:2])
    assert str(error.value) == (
        f"{CHROMIUM_ENV}={chosen} is not an executable file: point it at a Chromium or Chrome executable, "
        "or unset it to use the one `make test` finds or installs."
    )


def test_the_headless_shell_then_the_full_chromium_then_playwrights_download(tmp_path, machine):
    headless_shell, full, downloaded = machine
    assert find_chromium(lambda: str(downloaded), {}, (headless_shell, full)) == headless_shell
    headless_shell.unlink()
    assert find_chromium(lambda: str(downloaded), {}, (headless_shell, full)) == full
    full.unlink()
    assert find_chromium(lambda: str(downloaded), {CHROMIUM_ENV: ""}, (headless_shell, full)) == downloaded


def test_playwright_is_asked_only_when_no_system_chromium_is_there(machine):
    def never_asked() -> str:
        raise AssertionError("Playwright asked although a system Chromium was there")

    assert find_chromium(never_asked, {}, machine[:2]) == machine[0]


def test_no_chromium_anywhere_says_where_it_looked_and_how_to_install_one(tmp_path):
    missing = (tmp_path / "chromium-headless-shell", tmp_path / "chromium")
    with pytest.raises(ChromiumNotFound) as error:
        find_chromium(not_there(tmp_path), {}, missing)
    message = str(error.value)
    assert all(str(path) in message for path in (*missing, tmp_path / "ms-playwright" / "chrome"))
    assert "apt-get install chromium-headless-shell" in message
    assert "playwright install chromium" in message
    assert f"point {CHROMIUM_ENV} at" in message


def test_root_on_debian_installs_debians_package_and_everything_else_playwrights_download():
    assert install_commands(0, DEBIAN_OS_RELEASE) == [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", DEBIAN_PACKAGE],
    ]
    # Ubuntu (GitHub's runners) has no such package; not root, apt-get cannot install.
    for euid, os_release in [(0, UBUNTU_OS_RELEASE), (1001, DEBIAN_OS_RELEASE), (0, "")]:
        (command,) = install_commands(euid, os_release)
        assert command[1:] == ["-m", "playwright", "install", "--no-shell", "chromium"], (euid, os_release)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A page and its module served by the standard library's HTTP server on a free local port."""
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Browser check</title>'
        '<script type="module" src="main.js"></script></head>'
        '<body><main><h1>Loading</h1><ul id="labels"></ul></main></body></html>'
    )
    (root / "main.js").write_text(
        'const labels = ["Beach", "Horse"];\n'
        'document.querySelector("h1").textContent = "Labels";\n'
        'for (const name of labels) {\n'
        '  const item = document.createElement("li");\n'
        '  item.textContent = name;\n'
        '  document.getElementById("labels").append(item);\n'
        '}\n'
    )
    (root / "console-error.html").write_text(
        '<!doctype html><title>Console error</title><script>console.error("search failed: 500");</script>'
    )
    (root / "uncaught.html").write_text(
        '<!doctype html><title>Uncaught</title><script>null.textContent = "x";</script>'
    )

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 (the standard library's name)
            pass  # the test output is for the tests

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_real_chromium_runs_the_pages_module_and_shows_its_dom(page, site):
    page.goto(f"{site}/index.html")
    page.locator("#labels li").nth(1).wait_for()
    assert page.locator("h1").text_content() == "Labels"
    assert page.locator("#labels li").all_text_contents() == ["Beach", "Horse"]


def watched_page(browser, url: str) -> PageProblems:
    """What the page fixture's check would see on the page at url (on a page of its own, so that this
    test checks the collector instead of failing itself)."""
    context = browser.new_context()
    try:
        opened = context.new_page()
        problems = PageProblems(opened)
        opened.goto(url)
        opened.wait_for_load_state("load")
    finally:
        context.close()
    return problems


def test_a_console_error_in_the_page_fails_the_page_fixtures_check(browser, site):
    problems = watched_page(browser, f"{site}/console-error.html")
    assert [problem.split(": ", 1)[1] for problem in problems.problems] == ["search failed: 500"]
    assert problems.problems[0].startswith(f"console.error at {site}/console-error.html:")
    with pytest.raises(AssertionError, match="search failed: 500"):
        problems.assert_none()


def test_an_uncaught_exception_and_a_missing_file_fail_the_page_fixtures_check(browser, site):
    uncaught = watched_page(browser, f"{site}/uncaught.html")
    assert len(uncaught.problems) == 1 and uncaught.problems[0].startswith("uncaught TypeError: ")
    missing = watched_page(browser, f"{site}/no-such-page.html")
    assert len(missing.problems) == 1 and "404" in missing.problems[0]
    for problems in (uncaught, missing):
        with pytest.raises(AssertionError, match="The page reported"):
            problems.assert_none()


def test_a_page_that_reports_nothing_passes_the_check(browser, site):
    problems = watched_page(browser, f"{site}/index.html")
    assert problems.problems == []
    problems.assert_none()
