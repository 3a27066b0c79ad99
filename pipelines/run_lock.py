"""One writer per data dir: an OS file lock (`fcntl.flock`) on `<data-dir>/storytrail.lock`.

Every command that writes the crawl state or the store (`run`, `demo`, `import`, `schedule`, ...) holds it
while it works; a second one on the same data dir stops at once with `DataDirLocked`, whose message names the
holder (pid, command, since when) as the holder wrote it into the lock file. The kernel drops the lock when
the holder's process dies, however it dies, so a killed run never leaves it stuck; the file's contents are
only a description, overwritten by the next holder.

The scheduler daemon holds the lock for as long as it runs and hands the locked file to each child cycle it
starts (`child_environment`): the child finds the inherited descriptor, checks that it is this data dir's
lock and that it holds it, and goes on. Anything else, a second daemon or a manual `run`, is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

LOCK_FILE = "storytrail.lock"
# The inherited descriptor of a held lock, set by the daemon for its child cycles only.
LOCK_FD_VARIABLE = "STORYTRAIL_LOCK_FD"

# Locks this process holds, by lock file: a command that calls another one's code holding the lock goes on.
_held: dict[Path, int] = {}


class DataDirLocked(Exception):
    """Another process holds the data dir; the message says which."""


@dataclass(frozen=True)
class Holder:
    """What the holder wrote into the lock file."""

    pid: int | None
    command: str
    since: str
    host: str

    def describe(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "an unknown process"
        return f"{pid} on {self.host or 'this host'} ({self.command or 'command unknown'}), since {self.since or 'an unknown time'}"


def lock_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOCK_FILE


@contextmanager
def hold_data_dir(data_dir: Path, command: str | None = None) -> Iterator[int]:
    """Hold the data dir's lock for the block; yields the locked file's descriptor (for `child_environment`).

    Raises DataDirLocked at once, without waiting, when another process holds it; within the process that holds
    it (or a child it was handed to), a nested hold just goes on."""
    path = lock_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path = path.resolve()
    held = _held[path] if path in _held else _inherited_lock(path)
    if held is not None:
        yield held
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirLocked(f"the data dir {data_dir} is in use by {_written_holder(path).describe()}; "
                                "storytrail runs one writing command per data dir at a time") from None
        _write_holder(fd, command or _this_command())
        _held[path] = fd
        yield fd
    finally:
        _held.pop(path, None)
        os.close(fd)  # closing the last descriptor of the open file releases the lock


def read_holder(path: Path) -> Holder:
    """The holder as described in the lock file (empty fields when it was not written yet)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        data = {}
    return Holder(pid=data.get("pid"), command=data.get("command", ""), since=data.get("since", ""),
                  host=data.get("host", ""))


def _written_holder(path: Path, wait_seconds: float = 1.0) -> Holder:
    """The holder, waiting a moment for its details: a process that has just taken the lock writes them next."""
    deadline = time.monotonic() + wait_seconds
    holder = read_holder(path)
    while holder.pid is None and time.monotonic() < deadline:
        time.sleep(0.02)
        holder = read_holder(path)
    return holder


def child_environment(fd: int) -> dict[str, str]:
    """Environment entries that let a child process (started with `pass_fds=(fd,)`) use this held lock."""
    return {LOCK_FD_VARIABLE: str(fd)}


def _inherited_lock(path: Path) -> int | None:
    """The descriptor handed down by the daemon, when it is this data dir's lock file and holds the lock."""
    value = os.environ.get(LOCK_FD_VARIABLE, "")
    if not value.isdigit():
        return None
    fd = int(value)
    try:
        same_file = os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return None
    if not same_file:
        return None
    try:
        # On the descriptor that already holds the lock this succeeds at once; on any other it would fail.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return None
    return fd


def _write_holder(fd: int, command: str) -> None:
    since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = json.dumps({"pid": os.getpid(), "command": command, "since": since, "host": socket.gethostname()})
    data = (text + "\n").encode()
    os.pwrite(fd, data, 0)  # written, then cut to length: a reader never sees an empty file mid-write
    os.ftruncate(fd, len(data))


def _this_command() -> str:
    args = [Path(sys.argv[0]).name if sys.argv else "storytrail", *sys.argv[1:]]
    if args[0] in ("__main__.py", "-m", "-c"):
        args[0] = "storytrail"
    return shlex.join(args)
