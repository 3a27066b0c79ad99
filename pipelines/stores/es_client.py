"""Talking to Elasticsearch: the client as storytrail configures it, and its errors in plain words.

Every call the store makes goes through `translate_errors`, so a failure says where (the cluster's URL,
without credentials), what storytrail was doing, and what to do about it; "cannot be reached" is
StoreUnreachable, so that a run keeps its articles for the next one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from elastic_transport import HttpHeaders, Urllib3HttpNode
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    SSLError,
    TransportError,
)

from pipelines.settings import StoreSettings
from pipelines.stores.base import StoreError
from pipelines.stores.credentials import EsAuth
from pipelines.stores.errors import StoreUnreachable


class PlainJsonNode(Urllib3HttpNode):
    """TEST ONLY: speaks to OpenSearch-compatible servers (osmem-server, the real OpenSearch node of the tests).

    They answer 406 to the 9.x client's compatibility media type
    (`application/vnd.elasticsearch+json; compatible-with=9`), so this node sends plain application/json; and
    OpenSearch does not send the `X-Elastic-Product: Elasticsearch` header without which the 9.x client refuses
    every answer, so this node adds it. Chosen with `?compat=off` on the store URL; Elasticsearch itself needs
    neither, and the default node sends the compatibility headers and checks the product."""

    _COMPAT = re.compile(r"application/vnd\.elasticsearch\+([\w-]+);\s*compatible-with=\d+")

    def perform_request(self, method: str, target: str, body: bytes | None = None,
                        headers: HttpHeaders | None = None, **kwargs: Any) -> Any:
        if headers:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                if headers.get(name):
                    headers[name] = self._COMPAT.sub(r"application/\1", headers[name])
        response = super().perform_request(method, target, body=body, headers=headers, **kwargs)
        response.meta.headers.setdefault("X-Elastic-Product", "Elasticsearch")
        return response


def make_client(url: str, settings: StoreSettings, auth: EsAuth, compat_headers: bool) -> Elasticsearch:
    """The client, retrying dropped connections, timeouts and 502-504 from a proxy or a restarting node."""
    kwargs: dict[str, Any] = {
        "request_timeout": settings.timeout_s,
        "max_retries": settings.retries,
        "retry_on_timeout": True,
        "retry_on_status": (502, 503, 504),
    }
    if auth.api_key:
        kwargs["api_key"] = auth.api_key
    elif auth.username:
        kwargs["basic_auth"] = (auth.username, auth.password or "")
    if auth.ca_certs:
        kwargs["ca_certs"] = str(auth.ca_certs)
    if not compat_headers:
        kwargs["node_class"] = PlainJsonNode
    return Elasticsearch(url, **kwargs)


@contextmanager
def translate_errors(where: str, what: str) -> Iterator[None]:
    """Turn the client's exceptions into StoreErrors that say what failed, where, and what to do."""
    try:
        yield
    except SSLError as exc:
        raise StoreUnreachable(
            f"Elasticsearch at {where}: TLS failed ({what}): {short_cause(exc)}; "
            "set STORYTRAIL_ES_CA_CERTS to the CA certificate that signed the cluster's certificate"
        ) from exc
    except ConnectionTimeout as exc:
        raise StoreUnreachable(f"Elasticsearch at {where} did not answer in time ({what})") from exc
    except ConnectionError as exc:
        raise StoreUnreachable(f"Elasticsearch at {where} is not reachable ({what}): {short_cause(exc)}") from exc
    except AuthenticationException as exc:
        raise StoreError(
            f"Elasticsearch at {where} refused the credentials ({what}); set STORYTRAIL_ES_USERNAME and "
            "STORYTRAIL_ES_PASSWORD, or STORYTRAIL_ES_API_KEY"
        ) from exc
    except AuthorizationException as exc:
        raise StoreError(f"Elasticsearch at {where}: not allowed to {what}: {error_reason(exc.body)}") from exc
    except ApiError as exc:
        raise StoreError(f"Elasticsearch at {where}: {what} failed: {exc.status_code} {error_reason(exc.body)}") from exc
    except TransportError as exc:
        raise StoreError(f"Elasticsearch at {where}: {what} failed: {short_cause(exc)}") from exc


def error_reason(error: object) -> str:
    """'type: reason (caused by: ...)' from an Elasticsearch error body or bulk item error."""
    if isinstance(error, dict) and "error" in error and not {"type", "reason"} & error.keys():
        error = error["error"]
    if not isinstance(error, dict):
        return " ".join(str(error).split())[:300]
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason"):
        text += f" (caused by: {cause['reason']})"
    return " ".join(text.split())[:300]


def short_cause(exc: Exception) -> str:
    """The root cause of a transport error, without the urllib3 object reprs."""
    text = str(getattr(exc, "message", "") or exc)
    found = re.search(r"\[Errno -?\d+\] [^'\")]+|timed out|certificate verify failed[^'\")]*", text)
    return found.group(0).strip() if found else text[:200]
