"""Store errors that carry what was done, so a caller can keep the rest for the next run."""

from __future__ import annotations

from pipelines.models import UpsertResult
from pipelines.stores.base import StoreError

# How many failed URLs the message itself names; `failed` always holds them all.
MESSAGE_URLS = 5


class PartialWriteError(StoreError):
    """Some articles were written and some were not.

    `failed` maps every URL not written to the reason (the server's rejection, or why it was never sent);
    `result` counts what was written. Writes are idempotent, so upserting the failed ones again is safe."""

    def __init__(self, where: str, failed: dict[str, str], result: UpsertResult) -> None:
        self.failed = dict(failed)
        self.result = result
        named = "; ".join(f"{url}: {reason}" for url, reason in list(failed.items())[:MESSAGE_URLS])
        more = f"; and {len(failed) - MESSAGE_URLS} more" if len(failed) > MESSAGE_URLS else ""
        written = result.added + result.updated + result.unchanged
        super().__init__(f"{where}: {len(failed)} article(s) not indexed ({written} indexed): {named}{more}")


class StoreUnreachable(StoreError):
    """The store did not answer (down, network, timeout): nothing was refused, so retry on the next run."""
