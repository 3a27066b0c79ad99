"""deploy/: the systemd units pass `systemd-analyze verify`, and install.sh, run in a clean Debian 12 root,
leaves the user, paths, settings, units and a working `storytrail` command.

The clean root (debootstrap --variant=minbase) and a wheelhouse of the pinned dependencies are built once by
deploy/prepare-test-root.sh (.ci/run calls it; it takes minutes) and cached under /var/cache/storytrail-ci;
without them, or without root, the install test is skipped and says why.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import sys
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import REPO

from crawlers.sources import load_sources

CACHE = Path(os.environ.get("STORYTRAIL_CI_CACHE", "/var/cache/storytrail-ci"))
CLEAN_ROOT = CACHE / "bookworm-minbase"
WHEELS = CACHE / "wheels"
UNITS = ("storytrail.service", "storytrail.timer", "storytrail-schedule.service")
INSTALLED_BIN = "/opt/storytrail/venv/bin/storytrail"


def test_the_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    # The units run /opt/storytrail/venv/bin/storytrail, which exists only once installed: point them at this
    # checkout's command, which verify then checks like any other.
    for unit in UNITS:
        text = (REPO / "deploy" / unit).read_text(encoding="utf-8")
        (tmp_path / unit).write_text(text.replace(INSTALLED_BIN, str(REPO / ".venv" / "bin" / "storytrail")))
    result = subprocess.run([analyze, "verify", *(str(tmp_path / u) for u in UNITS)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_timer_is_persistent_on_a_calendar_and_cron_relies_on_the_lock():
    timer = "\n".join(line for line in (REPO / "deploy" / "storytrail.timer").read_text().splitlines()
                      if not line.startswith("#"))
    assert "Persistent=true" in timer and "OnCalendar=" in timer, "Persistent= only acts on OnCalendar= timers"
    assert "OnUnitActiveSec" not in timer and "OnBootSec" not in timer
    cron = [line for line in (REPO / "deploy" / "storytrail.cron").read_text().splitlines()
            if line and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(cron) == 1 and cron[0].split()[5] == "storytrail" and " run " in cron[0]
    assert "flock" not in cron[0]


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def installed_root(tmp_path_factory) -> Iterator[tuple[Path, subprocess.CompletedProcess, float]]:
    """A copy of the clean Debian root (an overlay on the cached one) after `install.sh --mode timer`."""
    if os.geteuid() != 0:
        pytest.skip("the install test needs root (chroot, mount)")
    if not (CLEAN_ROOT / "usr" / "bin" / "python3").exists() or not WHEELS.is_dir():
        pytest.skip(f"no clean Debian root in {CACHE}: deploy/prepare-test-root.sh builds it (2-4 minutes, once)")
    work = tmp_path_factory.mktemp("debian-root")
    root = work / "root"
    for name in ("upper", "work", "root"):
        (work / name).mkdir()
    mounts: list[Path] = []
    try:
        try:
            _mount("-t", "overlay", "overlay", "-o",
                   f"lowerdir={CLEAN_ROOT},upperdir={work / 'upper'},workdir={work / 'work'}", str(root))
            mounts.append(root)
        except subprocess.CalledProcessError:  # no overlayfs here: a plain copy (slower)
            subprocess.run(["cp", "-a", f"{CLEAN_ROOT}/.", str(root)], check=True, timeout=600)
        for inside, args in (("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"]),
                             ("tmp/wheels", ["--bind", str(WHEELS)])):
            (root / inside).mkdir(parents=True, exist_ok=True)
            _mount(*args, str(root / inside))
            mounts.append(root / inside)
        _copy_checkout(root / "tmp" / "src")
        started = time.monotonic()
        result = subprocess.run(["chroot", str(root), "/bin/bash", "/tmp/src/deploy/install.sh", "--mode", "timer",
                                 "--source", "/tmp/src", "--wheelhouse", "/tmp/wheels"],
                                capture_output=True, text=True, timeout=900, env=_clean_env())
        yield root, result, time.monotonic() - started
    finally:
        for mount in reversed(mounts):
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=60)


def _copy_checkout(target: Path) -> None:
    """The checkout's files (tracked and new, not ignored), as a release would ship them."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _clean_env() -> dict[str, str]:
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}


def _in_root(root: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["chroot", str(root), *command], capture_output=True, text=True, timeout=300, env=_clean_env())


def _owner(path: Path, passwd: dict[int, str]) -> tuple[str, str]:
    info = path.lstat()
    return passwd.get(info.st_uid, str(info.st_uid)), oct(stat.S_IMODE(info.st_mode))


def test_install_makes_the_user_paths_settings_units_and_a_working_command(installed_root):
    root, result, seconds = installed_root
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    print(f"install.sh in a clean Debian 12 root: {seconds:.0f} s")
    users = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
    user = users["storytrail"]
    assert int(user[2]) < 1000 and user[5] == "/var/lib/storytrail" and user[6] == "/usr/sbin/nologin", user
    assert "storytrail" in {line.split(":")[0] for line in (root / "etc/group").read_text().splitlines()}
    names = {int(u[2]): name for name, u in users.items()}
    assert _owner(root / "var/lib/storytrail", names) == ("storytrail", "0o750")
    assert _owner(root / "var/log/storytrail", names) == ("storytrail", "0o750")
    assert _owner(root / "etc/storytrail", names) == ("root", "0o750")
    assert _owner(root / "etc/storytrail/env", names) == ("root", "0o640")
    assert _owner(root / "opt/storytrail/venv/bin/python", names)[0] == "root", "the service cannot change its code"
    for path in ("etc/storytrail/storytrail.toml", "etc/storytrail/sources.yaml", "etc/logrotate.d/storytrail",
                 "usr/local/bin/storytrail", *(f"etc/systemd/system/{u}" for u in UNITS)):
        assert (root / path).is_file(), path
    assert os.readlink(root / "var/lib/storytrail/storytrail.toml") == "/etc/storytrail/storytrail.toml"
    assert not (root / "etc/cron.d/storytrail").exists()
    assert "systemctl enable --now storytrail.timer" in result.stdout

    # The installed command works, as the storytrail user, on the installed settings and data dir.
    status = _in_root(root, "/usr/local/bin/storytrail", "status", "--json")
    assert status.returncode == 0, status.stderr[-3000:]
    report = json.loads(status.stdout)
    assert report["data_dir"] == "/var/lib/storytrail"
    assert [s["key"] for s in report["sources"]] == [s.key for s in load_sources()]
    rotate = _in_root(root, "logrotate", "--debug", "/etc/logrotate.d/storytrail")
    assert rotate.returncode == 0, rotate.stderr[-2000:]


def test_install_again_upgrades_keeps_the_operators_settings_and_switches_to_cron(installed_root):
    root, first, _ = installed_root
    assert first.returncode == 0
    settings = root / "etc/storytrail/storytrail.toml"
    settings.write_text(settings.read_text() + "\n# edited by the operator\n")
    again = _in_root(root, "/bin/bash", "/tmp/src/deploy/install.sh", "--mode", "cron", "--source", "/tmp/src",
                     "--wheelhouse", "/tmp/wheels")
    assert again.returncode == 0, again.stderr[-3000:]
    assert settings.read_text().endswith("# edited by the operator\n")
    assert (root / "etc/cron.d/storytrail").read_text() == (REPO / "deploy" / "storytrail.cron").read_text()
    assert [line for line in (root / "etc/passwd").read_text().splitlines() if line.startswith("storytrail:")].__len__() == 1
    assert pwd.getpwnam("root").pw_uid == 0  # the host's users were not touched


# ==== Scale-out (deploy/SCALING.md): two crawl workers sharing one Redis queue ==================
WORKER = '''
import json, sys
import feedparser
from scrapy import Request
from scrapy.crawler import CrawlerProcess
from scrapy_redis.spiders import RedisSpider

name, redis_url, replay, out = sys.argv[1:5]


def on_replay(url):
    scheme, rest = url.split("://", 1)
    return f"{replay}/{scheme}/{rest}"


class Worker(RedisSpider):
    name = "storytrail-worker"
    redis_key = "storytrail:feeds"

    def parse(self, response):
        if response.meta.get("page"):
            yield {"url": response.url, "worker": name}
            return
        for entry in feedparser.parse(response.body).entries:
            yield Request(on_replay(entry.link), meta={"page": True})


process = CrawlerProcess({
    "SCHEDULER": "scrapy_redis.scheduler.Scheduler", "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
    "SCHEDULER_PERSIST": True, "REDIS_URL": redis_url, "REDIS_START_URLS_BATCH_SIZE": 2,
    "MAX_IDLE_TIME_BEFORE_CLOSE": 3, "DOWNLOAD_DELAY": 0.2, "ROBOTSTXT_OBEY": False,
    "LOG_LEVEL": "WARNING", "FEEDS": {out: {"format": "jsonlines"}},
})
process.crawl(Worker)
process.start()
'''


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    """A private redis-server on a free loopback port, nothing saved to disk."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    redis = pytest.importorskip("redis", reason="the redis client comes with the test extra (scrapy-redis)")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.skip(f"redis-server did not answer on 127.0.0.1:{port}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_two_crawl_workers_share_one_redis_queue(tmp_path, redis_url, replay):
    """scrapy-redis: the request queue and the seen-request set live in Redis; each page is fetched once, by
    whichever worker takes it. Every feed is queued twice, so the second copy's pages are all duplicates."""
    pytest.importorskip("scrapy_redis", reason="scrapy-redis comes with the test extra")
    import redis

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    feeds = [f"{replay.base_url}/{url.replace('://', '/', 1)}" for s in load_sources() for url in s.feeds]
    redis.Redis.from_url(redis_url).lpush("storytrail:feeds", *feeds, *feeds)
    # About 90 requests 0.2 s apart per worker: long enough for the second worker to start and take a share.
    workers = []
    for name in ("a", "b"):
        with (tmp_path / f"{name}.log").open("w") as log:
            workers.append(subprocess.Popen([sys.executable, str(script), name, redis_url, replay.base_url,
                                             str(tmp_path / f"{name}.jsonl")], cwd=REPO, stdout=subprocess.DEVNULL, stderr=log))
    for worker in workers:
        assert worker.wait(timeout=120) == 0, (tmp_path / "a.log").read_text()[-2000:] + (tmp_path / "b.log").read_text()[-2000:]
    fetched = [json.loads(line) for n in "ab" for line in (tmp_path / f"{n}.jsonl").read_text().splitlines()]
    truth = json.loads((REPO / "crawlers/replay/corpus/truth.json").read_text(encoding="utf-8"))["articles"]
    in_feeds = {url for url, fact in truth.items() if fact["in_feed"]}
    urls = [row["url"] for row in fetched]
    assert len(urls) == len(set(urls)), "a page was fetched twice"
    assert {u.split("/", 4)[-1] for u in urls} == {u.split("://", 1)[1] for u in in_feeds}
    assert {row["worker"] for row in fetched} == {"a", "b"}, "one worker did all the work"
