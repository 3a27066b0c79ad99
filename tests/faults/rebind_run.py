"""Runs `storytrail run` with a DNS server the test controls (see test_address_safety.py).

    python rebind_run.py HOST ANSWERS REPORT storytrail-args...

The system resolver is replaced for HOST only: the n-th lookup answers ANSWERS[n] (comma-separated; the last
one repeats). Whatever resolves it, storytrail's check or its connection, asks this resolver. No connection
leaves loopback: one to any other address is sent to a closed loopback port instead, and every address a
connection was attempted to is written to REPORT (JSON) at exit.
"""

from __future__ import annotations

import atexit
import json
import socket
import sys

from twisted.internet import posixbase

def install(host: str, answers: list[str], report: str) -> None:
    lookups: list[str] = []
    attempts: list[str] = []
    real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname
    real_connect_tcp = posixbase.PosixReactorBase.connectTCP
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    def answer() -> str:
        lookups.append(answers[min(len(lookups), len(answers) - 1)])
        return lookups[-1]

    def getaddrinfo(name, port, *args, **kwargs):
        if name != host:
            return real_getaddrinfo(name, port, *args, **kwargs)
        ip = answer()
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port or 0))]

    def gethostbyname(name):
        return answer() if name == host else real_gethostbyname(name)

    def connect_tcp(self, address, port, factory, timeout=30, bindAddress=None):  # noqa: N803
        attempts.append(address)
        if address not in ("127.0.0.1", "::1"):
            address, port = "127.0.0.1", closed_port
        return real_connect_tcp(self, address, port, factory, timeout, bindAddress)

    socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname
    posixbase.PosixReactorBase.connectTCP = connect_tcp
    atexit.register(lambda: open(report, "w").write(json.dumps({"lookups": lookups, "connections": attempts})))


if __name__ == "__main__":  # not in the extraction workers, which import this module again
    from pipelines.cli import main

    install(sys.argv[1], sys.argv[2].split(","), sys.argv[3])
    sys.argv = ["storytrail", *sys.argv[4:]]
    main()
