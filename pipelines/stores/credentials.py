"""Where Elasticsearch credentials come from, and keeping them out of log lines and error messages.

Credentials are read from STORYTRAIL_ES_* environment variables or the `store` section of the settings
file, never from the command line: a password on a command line is visible to every user of the machine
(ps, shell history). For the same reason a store URL with a user or password in it is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.settings import StoreSettings

ENV_USERNAME = "STORYTRAIL_ES_USERNAME"
ENV_PASSWORD = "STORYTRAIL_ES_PASSWORD"
ENV_API_KEY = "STORYTRAIL_ES_API_KEY"
ENV_CA_CERTS = "STORYTRAIL_ES_CA_CERTS"


@dataclass(frozen=True)
class EsAuth:
    """How to authenticate to a cluster; repr() never shows the secrets."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    ca_certs: Path | None = None

    @classmethod
    def resolve(cls, settings: StoreSettings, environ: Mapping[str, str] | None = None) -> EsAuth:
        """Environment variables first, then the settings file's `store` section."""
        env = os.environ if environ is None else environ
        password = env.get(ENV_PASSWORD) or (settings.password.get_secret_value() if settings.password else None)
        api_key = env.get(ENV_API_KEY) or (settings.api_key.get_secret_value() if settings.api_key else None)
        ca_certs = env.get(ENV_CA_CERTS) or settings.ca_certs
        return cls(
            username=env.get(ENV_USERNAME) or settings.username,
            password=password,
            api_key=api_key,
            ca_certs=Path(ca_certs) if ca_certs else None,
        )


# user:password@ in any URL, and secret-looking query parameters (password=, api_key=, token=, ...).
_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)[^/@\s'\"]+@", re.IGNORECASE)
_SECRET_PARAM = re.compile(r"(?P<name>[?&;](?:password|passwd|pwd|secret|api_key|apikey|token|access_token)=)[^&#\s'\"]*",
                           re.IGNORECASE)


def redact_url(url: str) -> str:
    """The URL with any user:password@ replaced by ***@ and secret query values by ***, for log lines,
    error messages and `storytrail config`."""
    return mask_secrets(url)


def mask_secrets(text: str) -> str:
    """`text` (an error message, a log line) with every URL's credentials masked."""
    text = _USERINFO.sub(lambda m: m.group("scheme") + "***@", text)
    return _SECRET_PARAM.sub(lambda m: m.group("name") + "***", text)
