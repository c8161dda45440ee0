"""Progress that shows wherever the output goes: a tqdm bar on a terminal, plain lines in a log file.

A tqdm bar redraws with carriage returns, so a log file or a batch job's output shows nothing readable until
the end; there, a line is printed every ``every_s`` seconds (and at the end) instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


class Progress:
    """``update()`` once per unit of work; ``note`` names the unit just done (e.g. a sequence)."""

    def __init__(self, total: int, desc: str, unit: str = "it", initial: int = 0, enabled: bool = True,
                 every_s: float = 30.0, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        terminal = enabled and self.stream.isatty()
        self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True,
                        file=self.stream) if terminal else None
        self.lines = enabled and not terminal
        self.total, self.done, self.desc, self.unit, self.every_s = total, initial, desc, unit, every_s
        self.started = self.last_line = time.monotonic()

    def update(self, count: int = 1, note: str = "") -> None:
        self.done += count
        if self.bar is not None:
            if note:
                self.bar.set_postfix_str(note, refresh=False)
            self.bar.update(count)
        elif self.lines and (time.monotonic() - self.last_line >= self.every_s or self.done >= self.total):
            self._line(note)

    def _line(self, note: str) -> None:
        self.last_line = time.monotonic()
        elapsed = self.last_line - self.started
        detail = f" ({note})" if note else ""
        print(f"{self.desc}: {self.done}/{self.total} {self.unit}{detail}, {elapsed:.0f} s", file=self.stream,
              flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:  # noqa: PYI034 - not subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
