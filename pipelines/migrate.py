"""Copying one store into another (`storytrail migrate --to URL`): SQLite -> Elasticsearch and back.

Articles are copied in URL order with their chain fields and fingerprints, a batch at a time. After each
batch is written, the last URL copied goes to the checkpoint file, so an interrupted migration resumes
after it; copying is an upsert by URL, so running it again (or resuming a little early) adds nothing
twice. The checkpoint is removed when the copy completes, so the next run copies everything again
(cheaply: unchanged articles are not rewritten).

Not copied: the history of earlier texts (the Store interface has no way to write it); the target starts
its own history from the texts copied.
"""

from __future__ import annotations

import json
import os
from itertools import islice
from pathlib import Path

from loguru import logger
from pydantic import BaseModel, Field

from pipelines.models import Article, UpsertResult
from pipelines.stores.base import Store


class MigrateResult(BaseModel):
    """What one migrate run did."""

    copied: int = 0
    written: UpsertResult = Field(default_factory=UpsertResult)
    fingerprinted: int = 0
    resumed_after: str | None = None
    complete: bool = False


def migrate(source: Store, target: Store, batch_size: int = 500, checkpoint: Path | None = None) -> MigrateResult:
    """Copy every article of `source` into `target`; resume after the URL in `checkpoint` when present.

    Raises what the target raises (StoreError, PartialWriteError) with the checkpoint at the last batch
    written in full, so the next run starts there."""
    resumed_after = _read_checkpoint(checkpoint)
    result = MigrateResult(resumed_after=resumed_after)
    log = logger.bind(source=type(source).__name__, target=type(target).__name__)
    if resumed_after:
        log.info("migrate: resuming after {}", resumed_after)
    articles = source.iter_articles(batch_size=batch_size, after=resumed_after)
    while batch := list(islice(articles, batch_size)):
        result.written += target.upsert(batch)
        result.fingerprinted += _copy_fingerprints(source, target, batch)
        result.copied += len(batch)
        _write_checkpoint(checkpoint, batch[-1].url, result.copied)
        log.info("migrate: {} articles copied, up to {}", result.copied, batch[-1].url)
    result.complete = True
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    log.info("migrate: complete: {} articles ({} added, {} updated, {} unchanged), {} fingerprint sets",
             result.copied, result.written.added, result.written.updated, result.written.unchanged, result.fingerprinted)
    return result


def _copy_fingerprints(source: Store, target: Store, batch: list[Article]) -> int:
    """Fingerprint sets that differ in the target; returns how many were written."""
    written = 0
    for article in batch:
        hashes = source.get_fingerprints(article.url)
        if hashes and hashes != target.get_fingerprints(article.url):
            target.put_fingerprints(article.url, sorted(hashes))
            written += 1
    return written


def _read_checkpoint(path: Path | None) -> str | None:
    if path is None or not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))["last_url"]


def _write_checkpoint(path: Path | None, last_url: str, copied: int) -> None:
    """Write-then-rename, so a crash mid-write leaves the previous checkpoint, never half of one."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps({"last_url": last_url, "copied_this_run": copied}), encoding="utf-8")
    os.replace(partial, path)
