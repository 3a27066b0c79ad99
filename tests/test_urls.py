"""URL identity and the address guard."""

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawlers.urls import get_unsafe_reason, normalize_url, registered_domain, unwrap_web_archive

SAME_ARTICLE = [
    "https://www.wsws.org/en/articles/2016/08/09/alep-a09.html",
    "http://wsws.org/en/articles/2016/08/09/alep-a09.html",
    "https://www.wsws.org/en/articles/2016/08/09/alep-a09.html?utm_source=twitter&utm_medium=social",
    "https://m.wsws.org/en/articles/2016/08/09/alep-a09.html#comments",
    "https://www.wsws.org//en/articles/2016/08/09/alep-a09.html",
    "https://web.archive.org/web/20160810000000/https://www.wsws.org/en/articles/2016/08/09/alep-a09.html",
]


def test_variants_of_one_article_share_one_identity():
    assert {normalize_url(u) for u in SAME_ARTICLE} == {"https://wsws.org/en/articles/2016/08/09/alep-a09.html"}


def test_amp_trailing_slash_and_parameter_order():
    assert normalize_url("https://alethonews.com/2024/02/03/isis-exploits/amp/") == "https://alethonews.com/2024/02/03/isis-exploits"
    assert normalize_url("https://amp.example.com/a/") == normalize_url("https://example.com/a")
    assert normalize_url("https://x.com/a?b=2&a=1&fbclid=Z") == "https://x.com/a?a=1&b=2"
    assert normalize_url("https://x.com/a?id=5") != normalize_url("https://x.com/a?id=6")


def test_web_archive_capture_unwraps_to_the_original():
    wrapped = "https://web.archive.org/web/20160212093000/http://theantimedia.org/us-allies-fighting/"
    assert unwrap_web_archive(wrapped) == "http://theantimedia.org/us-allies-fighting/"
    assert normalize_url(wrapped) == "https://theantimedia.org/us-allies-fighting"


def test_registered_domain_uses_the_public_suffix_list():
    assert registered_domain("https://news.bbc.co.uk/a") == "bbc.co.uk"
    assert registered_domain("www.globalresearch.ca") == "globalresearch.ca"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/admin", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/internal",
     "http://[::1]/x", "http://localhost:8080/", "http://192.168.1.1/", "http://[::ffff:10.0.0.1]/", "file:///etc/passwd"],
)
def test_private_loopback_and_link_local_addresses_are_refused(url: str):
    assert get_unsafe_reason(url, resolve=False)


def test_public_addresses_and_names_pass():
    assert get_unsafe_reason("https://www.wsws.org/en/rss.xml", resolve=False) is None
    assert get_unsafe_reason("http://93.184.216.34/", resolve=False) is None


def test_a_name_resolving_to_a_private_address_is_refused():
    """This machine's own host name resolves (through /etc/hosts) to a loopback or private address."""
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    if any(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        pytest.skip(f"{name} resolves to a public address here")
    assert "resolves to" in get_unsafe_reason(f"http://{name}/", resolve=True)
    assert get_unsafe_reason(f"http://{name}/", resolve=False) is None


@given(st.text(max_size=60))
def test_normalize_never_fails_with_anything_but_value_error(text: str):
    try:
        result = normalize_url("https://example.com/" + text)
    except ValueError:
        return
    assert result.startswith("https://")
    assert normalize_url(result) == result


@pytest.mark.parametrize("url", ["HTTP://.", "https://../a", "http://.../"])
def test_a_host_of_dots_alone_is_no_host(url: str):
    # found by tests/faults/test_fuzz.py: "HTTP://." normalised to "https:///", which is not a URL itself
    with pytest.raises(ValueError, match="not an absolute http"):
        normalize_url(url)
