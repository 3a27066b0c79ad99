"""A hostile web site on loopback: what an attacker (or a broken server) answers a crawler.

    /robots.txt          allow everything
    /feed.xml            RSS naming every page below (newest item last, to test newest-first reading)
    /entity-feed.xml     a "billion laughs" entity expansion inside a feed
    /bomb.html           gzip bomb: ~200 KB on the wire, 200 MB once inflated
    /drip.html           one byte every half second, for ever (until the server stops); /drip-<n>.html too
    /slow-feed.xml       RSS naming twelve drip pages on http://localhost:<port> (another outlet)
    /chain/<n>.html      a redirect chain: /chain/n -> /chain/n-1 ... -> /chain/0.html (a good page)
    /offsite.html        302 to the same page on http://localhost:<port> (another site)
    /to-private.html     302 to http://10.0.0.7/internal (never served: only its refusal is tested)
    /good-<n>.html       a good article

`hits` counts requests per path. Only ever binds 127.0.0.1.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARTICLE = """<html><head><title>{title}</title><meta property="article:published_time" content="2024-05-0{day}T10:00:00Z">
</head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>"""


def article(n: int) -> bytes:
    words = " ".join(f"word{n}x{i}" for i in range(40))
    paragraphs = "".join(f"<p>Paragraph {k} of hostile test article number {n}: {words}.</p>" for k in range(8))
    return ARTICLE.format(title=f"Hostile test article {n}", day=(n % 9) + 1, paragraphs=paragraphs).encode()


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)


def rss(base: str, paths: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{p}</title><link>{base}{p}</link><pubDate>Mon, 0{(i % 9) + 1} Apr 2024 10:00:00 GMT</pubDate></item>"
        for i, p in enumerate(paths)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>hostile</title>{items}</channel></rss>'.encode()


LAUGHS = "".join(f'<!ENTITY lol{i} "{"&lol%d;" % (i - 1) * 10}">' for i in range(1, 10))
ENTITY_FEED = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">{LAUGHS}]>'
               '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
               "<link>{base}/good-1.html</link></item></channel></rss>")


class HostileSite:
    def __init__(self, feed_paths: list[str]) -> None:
        self.feed_paths = feed_paths
        self.hits: Counter[str] = Counter()
        self.stopping = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                site.hits[self.path] += 1
                site.answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path
        if path == "/robots.txt":
            return self.send(h, 200, b"User-agent: *\nAllow: /\n", "text/plain")
        if path == "/feed.xml":
            return self.send(h, 200, rss(self.base, self.feed_paths), "application/rss+xml")
        if path == "/entity-feed.xml":
            return self.send(h, 200, ENTITY_FEED.replace("{base}", self.base).encode(), "application/rss+xml")
        if path == "/bomb.html":
            return self.send(h, 200, gzip_bomb(), "text/html", {"Content-Encoding": "gzip"})
        if path == "/slow-feed.xml":
            slow_base = f"http://localhost:{self.port}"
            return self.send(h, 200, rss(slow_base, [f"/drip-{n}.html" for n in range(1, 13)]), "application/rss+xml")
        if path.startswith("/drip"):
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.end_headers()
            while not self.stopping.wait(0.5):
                try:
                    h.wfile.write(b" ")
                    h.wfile.flush()
                except OSError:
                    return
            return
        if path.startswith("/chain/"):
            n = int(path.removeprefix("/chain/").removesuffix(".html"))
            if n == 0:
                return self.send(h, 200, article(0), "text/html; charset=utf-8")
            return self.send(h, 301, b"", "text/plain", {"Location": f"{self.base}/chain/{n - 1}.html"})
        if path == "/offsite.html":
            return self.send(h, 302, b"", "text/plain", {"Location": f"http://localhost:{self.port}/good-9.html"})
        if path == "/to-private.html":
            return self.send(h, 302, b"", "text/plain", {"Location": "http://10.0.0.7/internal"})
        if path.startswith("/good-"):
            return self.send(h, 200, article(int(path[6:-5])), "text/html; charset=utf-8")
        return self.send(h, 404, b"not here", "text/plain")

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        try:
            h.wfile.write(body)
        except OSError:
            pass

    def __enter__(self) -> HostileSite:
        gzip_bomb()  # made before serving: compressing 200 MB must not delay an answer
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        time.sleep(0)


def sources_yaml(base_host: str, feeds: list[str], concurrency: int = 1) -> str:
    feed_lines = "".join(f"      - {f}\n" for f in feeds)
    return (
        "sources:\n  - key: hostile\n    name: Hostile Site\n    role: origin\n"
        f"    domains: [{base_host}]\n    feeds:\n{feed_lines}"
        f"    politeness: {{delay_s: 0, concurrency: {concurrency}}}\n"
    )
