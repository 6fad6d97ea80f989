"""Progress of a long command on a terminal (the coverage study's fits)."""

from __future__ import annotations

import math
import sys
import time


class Progress:
    """Fits done and time left, redrawn in place on a terminal; silent when stderr is a log file."""

    def __init__(self, label: str, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.label = label
        self.start = time.monotonic()  # for the display only; never written to a result

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        elapsed = time.monotonic() - self.start
        left = elapsed / done * (total - done) if done else math.nan
        left_text = "?" if math.isnan(left) else f"{int(left) // 60}:{int(left) % 60:02d}"
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{self.label}: {done}/{total} fits, {left_text} left   {end}")
        self.stream.flush()
