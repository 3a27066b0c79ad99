"""One writing command per data dir: the OS file lock in pipelines/run_lock.py, through the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from cli_runner import REPO, command, environment, sources_subset
from cli_runner import storytrail as run_storytrail

from pipelines.run_lock import child_environment, hold_data_dir, lock_path, read_holder

CHILD = "import sys; from pathlib import Path; from pipelines.run_lock import hold_data_dir\n" \
        "with hold_data_dir(Path(sys.argv[1])): print('got it')"


def test_two_runs_started_at_once_one_works_the_other_exits_75_naming_it(tmp_path, replay):
    # One outlet, 9 pages 0.4 s apart: a cycle of a few seconds.
    env = environment(replay.base_url) | {"STORYTRAIL_FETCH__POLITENESS_SCALE": "0.2", "STORYTRAIL_PROCESS__WORKERS": "1",
                                          "STORYTRAIL_SOURCES_FILE": str(sources_subset(tmp_path, ("wsws",)))}
    data_dir = tmp_path / "data"
    both = [subprocess.Popen(command("run", "--all-feeds", data_dir=data_dir), cwd=REPO, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = {p.pid: (p.wait(timeout=300), p.stderr.read()) for p in both}
    for p in both:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results.values())
    assert codes == [0, 75], {pid: (code, err[-1500:]) for pid, (code, err) in results.items()}
    winner = next(pid for pid, (code, _) in results.items() if code == 0)
    refused = next(err for code, err in results.values() if code == 75)
    assert f"pid {winner}" in refused and "run --all-feeds" in refused and "since" in refused, refused
    assert len(refused.strip().splitlines()) == 1, "one line, no traceback"


def test_a_killed_holder_leaves_no_stuck_lock(tmp_path, replay):
    env = environment(replay.base_url) | {"STORYTRAIL_KILL_AT": "spider.after_page_fetched:3", "STORYTRAIL_PROCESS__WORKERS": "1",
                                          "STORYTRAIL_SOURCES_FILE": str(sources_subset(tmp_path, ("wsws",)))}
    data_dir = tmp_path / "data"
    log = tmp_path / "killed.log"  # a file, not a pipe: nothing the killed process left behind can hold it open
    with log.open("w") as sink:
        killed = subprocess.Popen(command("run", data_dir=data_dir), cwd=REPO, env=env, stdout=sink, stderr=sink)
        assert killed.wait(timeout=300) == -signal.SIGKILL, log.read_text()[-2000:]  # died mid-crawl, holding the lock
    assert read_holder(lock_path(data_dir)).pid == killed.pid
    env.pop("STORYTRAIL_KILL_AT")
    again = subprocess.run(command("run", data_dir=data_dir), cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]


def test_only_the_descriptor_the_holder_hands_down_lets_a_child_through(tmp_path):
    def child(**options) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                              **options)

    with hold_data_dir(tmp_path, "storytrail schedule") as fd:
        handed = child(env=os.environ | child_environment(fd), pass_fds=(fd,))
        assert handed.returncode == 0 and "got it" in handed.stdout, handed.stderr[-2000:]
        # The variable alone is not enough: without the inherited descriptor the child opens its own, and is refused.
        claimed = child(env=os.environ | child_environment(fd))
        assert claimed.returncode != 0 and f"pid {os.getpid()}" in claimed.stderr and "storytrail schedule" in claimed.stderr
        with hold_data_dir(tmp_path) as nested:  # another command's code, called while this one holds the lock
            assert nested == fd
        assert child().returncode != 0, "the nested hold must not release the lock"
    assert child().returncode == 0, "released when the holder let go"


def test_read_commands_do_not_wait_for_the_lock(tmp_path, replay):
    with hold_data_dir(tmp_path, "storytrail schedule"):
        result = run_storytrail("status", "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_migrate_waits_for_no_run_it_exits_75_while_the_data_dir_is_held(tmp_path):
    with hold_data_dir(tmp_path, "storytrail schedule"):
        result = run_storytrail("migrate", "--to", f"sqlite:///{tmp_path / 'copy.db'}", data_dir=tmp_path)
    assert result.returncode == 75, result.stderr[-2000:]
    assert "storytrail schedule" in result.stderr and not (tmp_path / "copy.db").exists()


def test_a_refused_process_waits_for_the_details_the_new_holder_is_about_to_write(tmp_path):
    # The lock is taken before its holder's details are written: a process refused in that moment names the
    # holder once they appear, instead of "an unknown process".
    import threading

    from pipelines import run_lock

    path = lock_path(tmp_path)
    path.write_text("")
    fd = os.open(path, os.O_RDWR)
    writer = threading.Timer(0.2, run_lock._write_holder, (fd, "storytrail run"))
    writer.start()
    try:
        holder = run_lock._written_holder(path)
    finally:
        writer.join()
        os.close(fd)
    assert holder.pid == os.getpid() and holder.command == "storytrail run"
