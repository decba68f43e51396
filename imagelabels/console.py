"""Where the command writes (results on stdout; progress, summaries of --json runs and errors on
stderr) and the status it ends with."""

from __future__ import annotations

from typing import TextIO

from imagelabels.progress import ProgressBar

EXIT_OK = 0
EXIT_FAILED = 1  # a user error, or some of the work did not succeed
EXIT_INTERRUPTED = 130
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: the status a shell reports for a tool that `| head` stopped


class Output:
    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout = stdout
        self.stderr = stderr

    def print(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def summary(self, text: str, *, as_json: bool) -> None:
        """A run's closing line: on stdout, or on stderr when stdout carries JSON."""
        print(text, file=self.stderr if as_json else self.stdout)

    def progress(self, *, total: int, label: str, wanted: bool | None, in_bytes: bool = False) -> ProgressBar:
        enabled = wanted if wanted is not None else _is_tty(self.stderr)
        return ProgressBar(total=total, label=label, stream=self.stderr, enabled=enabled, in_bytes=in_bytes)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
