"""Writing articles: each URL's upsert planned against what is stored (added, unchanged, or updated with its
replaced text archived), the bulk request that carries the plans with one error per failed document, and
the wait between the retries of an optimistic-concurrency conflict (409)."""

from __future__ import annotations

import random
import time

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from pipelines.models import Article, UpsertResult, same_content, with_chain_of
from pipelines.stores import es_mapping as m
from pipelines.stores.es_client import error_reason, translate_errors


class UpsertPlan:
    """What to write for one URL of a bulk: the new document (None: unchanged) and texts to archive."""

    def __init__(self, url: str, stored: dict | None) -> None:
        self.url = url
        self.stored = stored  # the hit read (for if_seq_no), or None for a new URL
        self.source: dict | None = stored["_source"] if stored else None
        self.doc: dict | None = None
        self.versions: list[dict] = []
        self.outcome = UpsertResult()

    def apply(self, article: Article) -> None:
        """The same rules as SqliteStore._upsert_one, against the stored or already planned document."""
        if self.source is None:
            self.doc = self.source = m.to_document(article, [], 0)
            self.outcome += UpsertResult(added=1)
            return
        old = m.from_document(self.source)
        article = with_chain_of(article, old)
        if same_content(old, article):
            self.outcome += UpsertResult(unchanged=1)
            return
        versions = self.source.get(m.VERSIONS, 0)
        if old.text_hash != article.text_hash:
            versions += 1
            self.versions.append(m.version_document(old, versions))
        self.doc = self.source = m.to_document(article, self.source.get(m.FINGERPRINTS) or [], versions)
        self.outcome += UpsertResult(updated=1)

    def action(self, alias: str) -> dict:
        action = {"_index": alias, "_id": m.doc_id(self.url), "_source": self.doc}
        if self.stored is None:
            return {**action, "_op_type": "create"}
        return {**action, "_op_type": "index", "if_seq_no": self.stored["_seq_no"],
                "if_primary_term": self.stored["_primary_term"]}


def plan_upserts(articles: list[Article], stored: dict[str, dict]) -> dict[str, UpsertPlan]:
    """One plan per URL of a bulk against its stored hit (from mget), if any."""
    plans: dict[str, UpsertPlan] = {}
    for article in articles:  # the same URL twice in a batch: the second applies on top of the first
        plan = plans.setdefault(article.url, UpsertPlan(article.url, stored.get(article.url)))
        plan.apply(article)
    return plans


def conflict_backoff(attempt: int) -> None:
    """Random wait before retry `attempt` after a 409, growing to 0.5 s: two writers hammering one article
    would otherwise keep colliding (the faster one starves the other; seen in the contract test)."""
    if attempt:
        time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))


def bulk_write(client: Elasticsearch, actions: list[dict], retries: int, where: str) -> dict[str, str]:
    """Run the actions (429s retried `retries` times, with backoff); {url: reason} for each one that failed
    ("409 ..." for a version conflict)."""
    if not actions:
        return {}
    urls = {a["_id"]: a["_source"]["url"] for a in actions}
    errors: dict[str, str] = {}
    with translate_errors(where, "index articles"):
        for ok, item in streaming_bulk(
            client, actions, chunk_size=len(actions), max_retries=retries,
            initial_backoff=1, max_backoff=30, raise_on_error=False, raise_on_exception=False,
        ):
            if not ok:
                info = next(iter(item.values()))
                errors[urls.get(info.get("_id"), info.get("_id"))] = f"{info.get('status')} {error_reason(info.get('error'))}"
    return errors
