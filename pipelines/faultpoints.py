"""Named points where a test can kill the process mid-work, to prove that a kill there loses nothing.

Production never sets STORYTRAIL_KILL_AT. A test sets it to `name` (or `name:N`, the N-th time the point is
reached) and the process sends itself SIGKILL there, exactly as an OOM killer or a power cut would: no
cleanup, no `finally`. The re-run must then end with the same store as an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

KILL_AT_VARIABLE = "STORYTRAIL_KILL_AT"

_reached: Counter[str] = Counter()


def reached(name: str) -> None:
    """Mark that the process is at the point `name`; dies here when a test asked for it."""
    target = os.environ.get(KILL_AT_VARIABLE)
    if not target:
        return
    point, _, nth = target.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
