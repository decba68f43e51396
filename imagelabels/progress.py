"""A small progress bar on stderr: drawn only when stderr is a terminal (or --progress), so that
logs and pipes never fill with carriage returns."""

from __future__ import annotations

import threading
import time
from typing import TextIO

from imagelabels.output import human_size


class ProgressBar:
    def __init__(self, *, total: int, label: str, stream: TextIO, enabled: bool, width: int = 30,
                 clock=time.monotonic, min_interval: float = 0.1, in_bytes: bool = False) -> None:
        """`in_bytes`: `total` and each advance are bytes (an upload: one film is most of the
        work), shown as sizes with the rate in MB/s; `failed` then counts the calls that said so."""
        self.total = total
        self.label = label
        self.done = 0
        self.failed = 0
        self._in_bytes = in_bytes
        self._stream = stream
        self._enabled = enabled and total > 0
        self._width = width
        self._clock = clock
        self._started = clock()
        self._min_interval = min_interval
        self._last_draw = float("-inf")
        self._lock = threading.Lock()
        self._drawn_width = 0

    def advance(self, count: int = 1, *, failed: bool = False) -> None:
        with self._lock:
            self.done += count
            if failed:
                self.failed += 1 if self._in_bytes else count
            now = self._clock()
            if self.done >= self.total or now - self._last_draw >= self._min_interval:
                self._last_draw = now
                self._draw(now)

    def render(self, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        fraction = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(round(fraction * self._width))
        bar = "#" * filled + "-" * (self._width - filled)
        elapsed = max(now - self._started, 1e-9)
        if self._in_bytes:
            text = f"{self.label} [{bar}] {human_size(self.done)}/{human_size(self.total)}"
        else:
            text = f"{self.label} [{bar}] {self.done}/{self.total}"
        if self.failed:
            text += f" ({self.failed} failed)"
        if self._in_bytes:
            text += f" {self.done / elapsed / 1024 / 1024:.1f} MB/s"
        else:
            text += f" {self.done / elapsed:.1f}/s"
        return text

    def _draw(self, now: float) -> None:
        if not self._enabled:
            return
        text = self.render(now)
        self._stream.write("\r" + text.ljust(self._drawn_width))
        self._stream.flush()
        self._drawn_width = len(text)

    def close(self) -> None:
        """Erase the bar, so that the summary printed next starts on a clean line."""
        with self._lock:
            if self._enabled and self._drawn_width:
                self._stream.write("\r" + " " * self._drawn_width + "\r")
                self._stream.flush()
                self._drawn_width = 0

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
