"""A real OpenSearch node for the store tests: a stronger peer than osmem-server, started by the tests.

OpenSearch publishes a minimal distribution on Maven Central (`integ-test-zip`: `bin/opensearch`, the core and
the HTTP transport, no security plugin). storytrail's mapping uses the English analyzer, which lives in the
`analysis-common` module, published there too as a jar: it is laid into `modules/` beside the transport, with
the descriptor OpenSearch's own build writes for it. Both come through Maven (`mvn dependency:get`) into
~/.m2, are unpacked once into a cache folder, and the node runs on free loopback ports with a throwaway data
folder. OpenSearch refuses to run as root, so as root it runs as `nobody`.

Anything missing (Java, Maven, the artifacts, a node that does not start) is a skip with the reason, never an
error: the osmem-server run still covers the store.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.request import urlopen

VERSION = "2.19.6"  # the newest 2.x on Maven Central; 3.x needs Java 21 and this machine has Java 17
M2 = Path.home() / ".m2" / "repository" / "org" / "opensearch"
DISTRIBUTION = M2 / "distribution" / "integ-test-zip" / "opensearch" / VERSION / f"opensearch-{VERSION}.zip"
ANALYSIS = M2 / "plugin" / "analysis-common" / VERSION / f"analysis-common-{VERSION}.jar"
ARTIFACTS = {
    DISTRIBUTION: f"org.opensearch.distribution.integ-test-zip:opensearch:{VERSION}:zip",
    ANALYSIS: f"org.opensearch.plugin:analysis-common:{VERSION}",
}
CACHE = Path(os.environ.get("STORYTRAIL_OPENSEARCH_CACHE", Path(tempfile.gettempdir()) / "storytrail-opensearch"))
START_TIMEOUT_S = 120
DESCRIPTOR = f"""description=Adds "built in" analyzers to OpenSearch.
version={VERSION}
name=analysis-common
classname=org.opensearch.analysis.common.CommonAnalysisPlugin
java.version=11
opensearch.version={VERSION}
"""


class NodeUnavailable(Exception):
    """Why no node could be had here; the tests skip with this message."""


class OpenSearchNode:
    """One node on 127.0.0.1; `url` is its HTTP address. Stop it with `stop()`."""

    def __init__(self, process: subprocess.Popen, url: str, data: Path) -> None:
        self.process, self.url, self.data = process, url, data

    @classmethod
    def start(cls) -> OpenSearchNode:
        java = shutil.which("java")
        if java is None:
            raise NodeUnavailable("no Java on this machine: the real OpenSearch node run is skipped")
        home = _unpacked()
        data = Path(tempfile.mkdtemp(prefix="storytrail-opensearch-data-"))
        http_port, transport_port = _free_port(), _free_port()
        command = [
            str(home / "bin" / "opensearch"), "-Ediscovery.type=single-node", "-Enetwork.host=127.0.0.1",
            f"-Ehttp.port={http_port}", f"-Etransport.port={transport_port}", f"-Epath.data={data}",
            f"-Epath.logs={data / 'logs'}", "-Ecluster.routing.allocation.disk.threshold_enabled=false",
        ]
        env = {**os.environ, "OPENSEARCH_JAVA_HOME": str(Path(os.path.realpath(java)).parents[1]),
               "OPENSEARCH_JAVA_OPTS": "-Xms512m -Xmx512m", "HOME": str(data)}
        if os.geteuid() == 0:
            shutil.chown(data, "nobody", "nogroup")
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
        log = (data / "console.log").open("wb")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        node = cls(process, f"http://127.0.0.1:{http_port}", data)
        node._wait_until_up(log.name)
        return node

    def _wait_until_up(self, console_log: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urlopen(f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=3):
                    return
            except OSError:
                time.sleep(1)
        last = Path(console_log).read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        self.stop()
        raise NodeUnavailable(f"the OpenSearch {VERSION} node did not start in {START_TIMEOUT_S} s: {last[0][:300]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        shutil.rmtree(self.data, ignore_errors=True)


def _unpacked() -> Path:
    """The distribution unpacked once into the cache, with analysis-common among its modules."""
    home = CACHE / f"opensearch-{VERSION}"
    if (home / "modules" / "analysis-common" / "plugin-descriptor.properties").exists():
        return home
    _fetch_artifacts()
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=CACHE))
    with zipfile.ZipFile(DISTRIBUTION) as archive:
        for member in archive.infolist():  # ZipFile.extractall drops the execute bits bin/ needs
            target = archive.extract(member, staging)
            mode = member.external_attr >> 16
            if mode:
                os.chmod(target, mode & 0o777)
    module = staging / f"opensearch-{VERSION}" / "modules" / "analysis-common"
    module.mkdir()
    shutil.copy(ANALYSIS, module)
    (module / "plugin-descriptor.properties").write_text(DESCRIPTOR)
    shutil.rmtree(home, ignore_errors=True)
    (staging / f"opensearch-{VERSION}").rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    if os.geteuid() == 0:  # the node, run as nobody, writes its keystore and temp files under config/
        for path in [home, *home.rglob("*")]:
            shutil.chown(path, "nobody", "nogroup")
    return home


def _fetch_artifacts() -> None:
    missing = [coordinates for path, coordinates in ARTIFACTS.items() if not path.exists()]
    if not missing:
        return
    if shutil.which("mvn") is None:
        raise NodeUnavailable(f"no Maven to fetch {', '.join(missing)}: the real OpenSearch node run is skipped")
    for coordinates in missing:
        result = subprocess.run(["mvn", "-q", "-B", "dependency:get", f"-Dartifact={coordinates}", "-Dtransitive=false"],
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise NodeUnavailable(f"Maven could not fetch {coordinates}: the real OpenSearch node run is skipped")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
