"""The replay web: a local HTTP server that answers for the outlets' real URLs, so tests and the demo crawl
without the internet.

`GET /<scheme>/<host>/<path>?<query>` is answered as `<scheme>://<host>/<path>?<query>` would be on the real
web; redirects carry real absolute URLs in `Location`; an unknown URL is a 404, and a host the corpus does not serve is a 502 marked `X-Replay-Unknown-Host`,
which the replay transport reports as a failed DNS lookup. Every response carries `ETag`
and `Last-Modified`, and conditional GETs are answered 304. `ReplayWeb.hits` counts requests per real URL.

    with ReplayWeb() as base_url:
        urlopen(f"{base_url}/https/www.wsws.org/en/rss.xml")

    python -m crawlers.replay [--port N]      # serve in the foreground

Besides the corpus (see corpus.py), the server answers for a bad-input test host, `www.badnews.example`
(not in config/sources.yaml; tests pass their own sources file). All its URLs are https://www.badnews.example/...:

    /robots.txt               Disallow: /private/
    /feed.xml                 good RSS; its items link to every page below, to https://evil.example.net/article.html
                              (off-domain, served), and to http://127.0.0.1:9/admin, http://169.254.169.254/latest/meta-data/,
                              http://10.0.0.7/internal and http://[::1]/x (private addresses, never served: 404)
    /feed-atom.xml            Atom with one good entry
    /broken-feed.xml          truncated XML (an unclosed tag, undefined entities) with two recoverable items
    /feed-429.xml             429 Too Many Requests, Retry-After: 120
    /articles/good-1.html     a good article (good-2.html too, from the broken feed)
    /articles/missing.html    404
    /articles/error.html      500
    /articles/slow.html       answers after 30 s (the wait ends at once when the server stops)
    /articles/loop-a.html     301 to loop-b.html, which 301s back to loop-a.html
    /articles/huge.html       about 12 MB of valid HTML, generated while it is sent
    /articles/latin1.html     windows-1252 bytes (curly quotes, accents) labelled charset=utf-8, header and meta
    /private/secret.html      a page robots.txt disallows
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from crawlers.fetching import UNKNOWN_HOST_HEADER
from crawlers.replay.corpus import load_corpus
from crawlers.replay.render import render_web
from crawlers.replay.web import Page, Web

BAD_HOST = "www.badnews.example"
SLOW_PAGE_S = 30.0
HUGE_PAGE_PARAGRAPHS = 13_000  # about 950 bytes each: some 12 MB, over any sane page-size cap
HTML = "text/html; charset=utf-8"



@dataclass
class Response:
    """What the handler sends: status, headers, and a body given whole or as chunks."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""

    @classmethod
    def of(cls, status: int, body: bytes, content_type: str = HTML, **headers: str) -> Response:
        return cls(status, {"Content-Type": content_type, "Content-Length": str(len(body)), **headers}, body)

    def chunks(self) -> Iterable[bytes]:
        return [self.body] if isinstance(self.body, bytes) else self.body


def real_url(request_path: str) -> str | None:
    """`/https/www.wsws.org/en/rss.xml?x=1` -> `https://www.wsws.org/en/rss.xml?x=1`; None when not mapped."""
    scheme, _, rest = request_path.lstrip("/").partition("/")
    host, _, path = rest.partition("/")
    if scheme not in ("http", "https") or not host:
        return None
    return f"{scheme}://{host}/{path}"


class ReplayWeb:
    """The whole replay web, served from a daemon thread on 127.0.0.1."""

    def __init__(self, corpus_dir: Path | None = None) -> None:
        self.web: Web = render_web(load_corpus(corpus_dir))
        self.hits: Counter[str] = Counter()
        self._hits_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (a free port unless one is given) and return the base URL."""
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(("127.0.0.1", port), _Handler, self)
            self._thread = threading.Thread(target=self._server.serve_forever, name="replay-web", daemon=True)
            self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the replay web is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving; requests still waiting (the slow page) are released at once."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def respond(self, request_path: str, headers: Message) -> Response | None:
        """The response for one request; None when the connection should just be closed (server stopping)."""
        url = real_url(request_path)
        if url is None:
            return _not_found()
        with self._hits_lock:
            self.hits[url] += 1
        parts = urlsplit(url)
        if parts.netloc != BAD_HOST and not self.web.has_host(parts.netloc):
            return Response.of(502, b"", **{UNKNOWN_HOST_HEADER: parts.hostname or ""})
        special = BAD_ROUTES.get(parts.path) if parts.netloc == BAD_HOST else None
        if special:
            return special(self._stopping)
        page = self.web.get(url)
        if page:
            return _page_response(page, headers)
        redirect = self.web.redirect_for(url)
        if redirect:
            status, location = redirect
            return Response.of(status, b"", Location=location)
        return _not_found()


def _page_response(page: Page, headers: Message) -> Response:
    validators = {"ETag": page.etag, "Last-Modified": format_datetime(page.last_modified, usegmt=True)}
    if _is_not_modified(page, headers):
        return Response(304, validators)
    return Response.of(200, page.body, page.content_type, **validators)


def _is_not_modified(page: Page, headers: Message) -> bool:
    """RFC 9110: If-None-Match decides when present; otherwise If-Modified-Since."""
    etags = headers.get("If-None-Match")
    if etags is not None:
        candidates = [tag.strip().removeprefix("W/") for tag in etags.split(",")]
        return page.etag in candidates or "*" in candidates
    since = headers.get("If-Modified-Since")
    if not since:
        return False
    try:
        return page.last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def _not_found() -> Response:
    return Response.of(404, b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n")


# ----------------------------------------------------------------------------------------------- bad-input host


def _server_error(_: threading.Event) -> Response:
    return Response.of(500, b"<!DOCTYPE html>\n<html><head><title>500</title></head><body><h1>Internal Server Error</h1></body></html>\n")


def _slow(stopping: threading.Event) -> Response | None:
    """Waits SLOW_PAGE_S before answering, unless the server stops first."""
    if stopping.wait(SLOW_PAGE_S):
        return None
    return Response.of(200, b"<!DOCTYPE html>\n<html><head><title>Slow</title></head><body><p>Finally.</p></body></html>\n")


def _loop_to(target: str) -> Callable[[threading.Event], Response]:
    return lambda _: Response.of(301, b"", Location=f"https://{BAD_HOST}/articles/{target}")


def _huge(_: threading.Event) -> Response:
    """About 12 MB of valid HTML, generated while it is sent, with an exact Content-Length."""
    head = b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Huge</title></head><body><article>\n"
    tail = b"</article></body></html>\n"
    paragraph = (b"<p>" + b"This paragraph repeats to make a page far larger than any article. " * 14 + b"</p>\n")

    def chunks() -> Iterable[bytes]:
        yield head
        for _ in range(HUGE_PAGE_PARAGRAPHS // 100):
            yield paragraph * 100
        yield tail

    length = len(head) + len(paragraph) * (HUGE_PAGE_PARAGRAPHS // 100) * 100 + len(tail)
    return Response(200, {"Content-Type": HTML, "Content-Length": str(length)}, chunks())


LATIN1_PAGE = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Café « crème » – l’été à Montréal</title></head>
<body><article><h1>“Smart quotes”, accents and the euro sign</h1>
<p>Les élèves ont déjà noté : « l’été sera chaud » … la crème brûlée coûte 20 €.</p>
<p>‘Single quotes’, an en dash – and an em dash — in a naïve résumé, all in windows-1252.</p>
</article></body></html>
"""


def _latin1(_: threading.Event) -> Response:
    """windows-1252 bytes that the header and the meta tag both wrongly call utf-8."""
    return Response.of(200, LATIN1_PAGE.encode("cp1252"))


def _too_many_requests(_: threading.Event) -> Response:
    return Response.of(429, b"Too Many Requests\n", "text/plain; charset=utf-8", **{"Retry-After": "120"})


BAD_ROUTES: dict[str, Callable[[threading.Event], Response | None]] = {
    "/articles/error.html": _server_error,
    "/articles/slow.html": _slow,
    "/articles/loop-a.html": _loop_to("loop-b.html"),
    "/articles/loop-b.html": _loop_to("loop-a.html"),
    "/articles/huge.html": _huge,
    "/articles/latin1.html": _latin1,
    "/feed-429.xml": _too_many_requests,
}


# ----------------------------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for the slow page's thread

    def __init__(self, address: tuple[str, int], handler: type, replay: ReplayWeb) -> None:
        super().__init__(address, handler)
        self.replay = replay

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer (size caps, timeouts) is expected; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ReplayWeb/1.0"
    server: _Server

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        response = self.server.replay.respond(self.path, self.headers)
        if response is None:
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            for chunk in response.chunks():
                self.wfile.write(chunk)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: tests and the demo would drown in access-log lines."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m crawlers.replay", description="Serve the replay web.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    replay = ReplayWeb()
    base_url = replay.start(args.port)
    print(f"Replay web at {base_url}, e.g. {base_url}/https/www.wsws.org/en/rss.xml (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        replay.stop()
