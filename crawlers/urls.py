"""URL identity and URL safety.

`normalize_url` gives every article one identity, whatever variant of its address a feed, a sitemap, a
republisher's link or a web archive used: tracking parameters, AMP and mobile variants, `www.`, trailing
slashes, http/https and web-archive wrappers all map to the same string.

`get_unsafe_reason` keeps storytrail from being steered by a feed into reading its own host or a cloud
provider's metadata endpoint: loopback, private, link-local and reserved addresses are never fetched.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crawlers.address_guard import non_public_reason, parse_address

# Parameters that say who sent the reader, never which article it is.
TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|yclid|mc_cid|mc_eid|_ga|_gl|ocid|cmpid|ref|ref_src|"
    r"amp|outputtype|at_\w+|hss_channel|igshid|s_cid|wt\.\w+|__twitter_impression)$",
    re.IGNORECASE,
)
# Host prefixes that serve the same article as the bare host.
MIRROR_HOST_PREFIX = re.compile(r"^(www\d?|m|mobile|amp)\.")
AMP_PATH_SUFFIX = re.compile(r"/amp/?$|\.amp(?=\.html?$)|\.amp$")
# https://web.archive.org/web/20160212000000/https://theantimedia.org/slug/ (also id_ / im_ flavours)
WEB_ARCHIVE = re.compile(r"^https?://web\.archive\.org/web/\d{1,14}[a-z_]*/(?P<original>.+)$", re.IGNORECASE)

HOSTS_KEPT = 10_000  # hosts' registered domains and sources kept


@lru_cache(maxsize=1)
def _domain_extractor():
    """The bundled public-suffix snapshot: storytrail never downloads the list at run time. Built on first
    use: importing tldextract (and requests with it) would double a read command's start-up."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def unwrap_web_archive(url: str) -> str:
    """The original URL inside a web-archive capture URL, or `url` unchanged."""
    match = WEB_ARCHIVE.match(url.strip())
    if not match:
        return url
    original = match.group("original")
    return original if re.match(r"^https?://", original, re.IGNORECASE) else "http://" + original


def normalize_url(url: str) -> str:
    """The identity of the article at `url` (an absolute http(s) URL)."""
    from w3lib.url import safe_url_string  # imported on first use, like tldextract above

    url = unwrap_web_archive(safe_url_string(url.strip()))
    parts = urlsplit(url)
    host = MIRROR_HOST_PREFIX.sub("", (parts.hostname or "").lower().rstrip("."))
    if parts.scheme.lower() not in ("http", "https") or not host:  # a host of dots alone ("http://.") is none
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    if ":" in host:  # an IPv6 address keeps its brackets, or the URL would not parse again
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    path = AMP_PATH_SUFFIX.sub("", path) or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)))
    return urlunsplit(("https", host + port, path, query, ""))


def registered_domain(url_or_host: str) -> str:
    """`www.sott.net` -> `sott.net`; `news.bbc.co.uk` -> `bbc.co.uk`; an IP address stays as it is."""
    host = urlsplit(url_or_host).hostname if "://" in url_or_host else url_or_host
    return _registered_domain_of((host or "").lower().rstrip("."))


@lru_cache(maxsize=HOSTS_KEPT)
def _registered_domain_of(host: str) -> str:
    """Kept by host: every page's URL and every link it cites asks, and a crawl sees few hosts."""
    parts = _domain_extractor()(host)
    return parts.top_domain_under_public_suffix or host


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def get_unsafe_reason(url: str, resolve: bool = True) -> str | None:
    """Why `url` must not be fetched, or None when it may be.

    Literal addresses are always checked. With `resolve`, a host name is looked up and refused if any of
    its addresses is not public (a name that does not resolve is left to the fetcher to report). The
    replay web runs without DNS, so it checks literal addresses only.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        return f"scheme {parts.scheme or '(none)'!r} is not fetched"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "no host"
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return f"host {host} is this machine"
    address = parse_address(host)
    if address is not None:
        return non_public_reason(address)
    if not resolve:
        return None
    for found in _resolve(host):
        reason = non_public_reason(found)
        if reason:
            return f"host {host} resolves to {found}, which is not public ({reason})"
    return None


@lru_cache(maxsize=4096)
def _resolve(host: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return ()
    found = {parse_address(info[4][0]) for info in infos}
    return tuple(a for a in found if a is not None)
