"""Copying one store into another (`storytrail migrate --to URL`): SQLite -> Elasticsearch and back.

Articles are copied in URL order with their chain fields and fingerprints, a batch at a time. After each
batch is written, the last URL copied goes to the checkpoint file, so an interrupted migration resumes
after it; copying is an upsert by URL, so running it again (or resuming a little early) adds nothing
twice. The checkpoint is removed when the copy completes, so the next run copies everything again
(cheaply: unchanged articles are not rewritten).

A checkpoint belongs to one copy: (source, target, index prefix, the target's generation id). It is named
after, and holds, that key; one with another key is never used, so a migration to another prefix, or to
a target that was deleted and re-created since, starts from the beginning instead of skipping what an
older, unrelated copy had done.

Not copied: the history of earlier texts (the Store interface has no way to write it); the target starts
its own history from the texts copied.
"""

from __future__ import annotations

import hashlib
import json
import os
from itertools import islice
from pathlib import Path

from loguru import logger
from pydantic import BaseModel, Field

from pipelines.faultpoints import reached
from pipelines.models import Article, UpsertResult
from pipelines.stores.base import Store
from pipelines.stores.credentials import redact_url


class MigrateResult(BaseModel):
    """What one migrate run did."""

    copied: int = 0
    written: UpsertResult = Field(default_factory=UpsertResult)
    fingerprinted: int = 0
    resumed_after: str | None = None
    complete: bool = False


def checkpoint_key(source_url: str, target_url: str, index_prefix: str, target: Store) -> str:
    """What a checkpoint belongs to; credentials never enter it (URLs with them are refused anyway)."""
    return json.dumps([redact_url(source_url), redact_url(target_url), index_prefix, target.generation()])


def checkpoint_path(data_dir: Path, key: str) -> Path:
    return data_dir / f"migrate-{hashlib.sha1(key.encode()).hexdigest()[:16]}.checkpoint"


def migrate(source: Store, target: Store, batch_size: int = 500, checkpoint: Path | None = None,
            key: str = "") -> MigrateResult:
    """Copy every article of `source` into `target`; resume after the URL in `checkpoint` when it was
    written for the same `key` (see `checkpoint_key`).

    Raises what the target raises (StoreError, PartialWriteError) with the checkpoint at the last batch
    written in full, so the next run starts there."""
    resumed_after = _read_checkpoint(checkpoint, key)
    result = MigrateResult(resumed_after=resumed_after)
    log = logger.bind(source=type(source).__name__, target=type(target).__name__)
    if resumed_after:
        log.info("migrate: resuming after {}", resumed_after)
    articles = source.iter_articles(batch_size=batch_size, after=resumed_after)
    while batch := list(islice(articles, batch_size)):
        result.written += target.upsert(batch)
        result.fingerprinted += _copy_fingerprints(source, target, batch)
        result.copied += len(batch)
        _write_checkpoint(checkpoint, key, batch[-1].url, result.copied)
        reached("migrate.after_batch")
        log.info("migrate: {} articles copied, up to {}", result.copied, batch[-1].url)
    result.complete = True
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
        _drop_superseded(checkpoint.parent, key)
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


def _read_checkpoint(path: Path | None, key: str) -> str | None:
    if path is None or not path.exists():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeError):
        logger.warning("migrate: unreadable checkpoint {} ignored, copying from the beginning", path)
        return None
    if saved.get("key") != key:
        logger.info("migrate: checkpoint {} belongs to another copy, ignored", path)
        return None
    return saved.get("last_url")


def _drop_superseded(directory: Path, key: str) -> None:
    """Remove checkpoints of the same copy into an earlier generation of the target: they can never apply."""
    if not key:
        return
    copy = json.loads(key)[:3]
    for path in directory.glob("migrate-*.checkpoint"):
        try:
            saved = json.loads(json.loads(path.read_text(encoding="utf-8")).get("key") or "[]")
        except (ValueError, UnicodeError, AttributeError):
            continue
        if saved[:3] == copy:
            path.unlink(missing_ok=True)


def _write_checkpoint(path: Path | None, key: str, last_url: str, copied: int) -> None:
    """Write-then-rename, so a crash mid-write leaves the previous checkpoint, never half of one."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps({"key": key, "last_url": last_url, "copied_this_run": copied}), encoding="utf-8")
    os.replace(partial, path)
