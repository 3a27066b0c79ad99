"""The production store: Elasticsearch 9, with the chain metadata searchable and linking's lookups on the cluster.

Behaves like SqliteStore (the contract suite in tests/test_store_contract.py runs both). What differs:

- Writes are bulk requests (`streaming_bulk`, 429s retried with backoff). A document the cluster rejects
  does not stop the others: upsert indexes the rest, then raises PartialWriteError naming every URL not
  indexed and why. When the cluster cannot be reached, StoreUnreachable (or PartialWriteError listing every
  article not sent) tells the caller to keep the articles and index them on the next run; document ids
  are sha1(normalised URL), so indexing twice never makes a duplicate.
- Every read-modify-write (upsert of a known URL, set_chain, put_fingerprints) is optimistic: it writes with
  the `if_seq_no`/`if_primary_term` it read, and on a 409 reads again and redoes its change. Two processes
  updating one article (a re-fetch and the linker, say) keep each other's changes.
- Candidate lookup for linking runs on the cluster, in two requests: a terms aggregation over the
  article's fingerprints (restricted to them with `include`) gives each one's document frequency, then a
  terms query over the fingerprints at or under the cap returns the candidates' fingerprints, and the
  shared count is taken here. Cost: the aggregation visits every posting of the article's fingerprints,
  so it grows with the frequency of its commonest fingerprints (boilerplate held by thousands of articles
  costs thousands of postings per lookup); the second request is bounded by (fingerprints x cap).
  A separate fingerprint-frequency index would make the first step constant-time at the price of a
  counter update per fingerprint per write; not needed at the sizes bench/index.py measures.
- Results are collapsed to one hit per story with the server's `collapse` on `story_key` (story_id, else
  url), counting the other copies with inner_hits; a server without collapse gets the SQLite store's
  client-side collapse over a larger page.

The pieces: es_client.py (the client and its errors in plain words), es_index.py (the index's lifecycle),
es_mapping.py (index layout, Article <-> document), es_queries.py (read requests), es_writes.py (bulk
upserts); this module is the Store that puts them together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from itertools import islice
from typing import Any

from elasticsearch import ConflictError, NotFoundError
from loguru import logger

from pipelines.models import Article, ChainInfo, SearchHit, StoreStats, UpsertResult
from pipelines.settings import StoreSettings
from pipelines.stores import es_mapping as m
from pipelines.stores import es_queries as q
from pipelines.stores.base import Store, StoreError
from pipelines.stores.collapse import collapse_hits
from pipelines.stores.credentials import EsAuth, redact_url
from pipelines.stores.errors import PartialWriteError, StoreUnreachable
from pipelines.stores.es_client import make_client, translate_errors
from pipelines.stores.es_index import IndexAdmin
from pipelines.stores.es_writes import bulk_write, conflict_backoff, plan_upserts

PAGE = 1000  # hits per page when reading many documents (search_after)
MGET_CHUNK = 500
TERMS_CHUNK = 10_000  # fingerprints per terms query/aggregation; well under ES's 65,536 limit


class ElasticsearchStore(Store):
    """Articles in an Elasticsearch 9 cluster; connects, checks the version and creates the index at once."""

    def __init__(self, url: str, settings: StoreSettings | None = None, *, auth: EsAuth | None = None,
                 compat_headers: bool = True) -> None:
        self.settings = settings or StoreSettings()
        self.where = redact_url(url)
        self.names = m.IndexNames(self.settings.index_prefix)
        self.log = logger.bind(store=self.where)
        self.client = make_client(url, self.settings, auth or EsAuth(), compat_headers)
        self._dirty = False  # written since the last refresh: refresh before the next search
        self._server_collapse: bool | None = None  # learnt on the first collapsed search
        self.indices = IndexAdmin(self.client, self.names, self.settings, self.where)
        try:
            self.indices.check_server(strict_version=compat_headers)
            self.indices.ensure_index()
        except BaseException:
            self.client.close()
            raise

    def close(self) -> None:
        self.client.close()

    # -- index lifecycle (es_index.py) --------------------------------------------------------------
    def ensure_index(self) -> str:
        return self.indices.ensure_index()

    def generation(self) -> str:
        return self.indices.generation()

    def current_index(self) -> str:
        return self.indices.current_index()

    def reindex_to(self, version: int, delete_old: bool = False) -> str:
        return self.indices.reindex_to(version, delete_old)

    # -- articles -----------------------------------------------------------------------------------
    def upsert(self, articles: Iterable[Article]) -> UpsertResult:
        result = UpsertResult()
        failed: dict[str, str] = {}
        stream = iter(articles)
        while chunk := list(islice(stream, self.settings.bulk_docs)):
            try:
                self._upsert_chunk(chunk, result, failed)
            except StoreUnreachable as exc:
                for article in chunk:
                    failed.setdefault(article.url, str(exc))
                for article in stream:
                    failed[article.url] = f"not sent: {exc}"
            finally:
                self._dirty = True
        for url, reason in failed.items():
            self.log.bind(url=url).warning("not indexed {}: {}", url, reason)
        if failed:
            raise PartialWriteError(f"Elasticsearch at {self.where}", failed, result)
        return result

    def _upsert_chunk(self, chunk: list[Article], result: UpsertResult, failed: dict[str, str]) -> None:
        """Plan every article against what is stored, archive replaced texts, then write; redo on 409."""
        pending = chunk
        for attempt in range(self.settings.conflict_retries):
            conflict_backoff(attempt)
            stored = self._mget_raw([a.url for a in pending])
            plans = plan_upserts(pending, stored)
            version_ops = [
                {"_op_type": "index", "_index": self.names.versions, "_id": m.version_id(p.url, doc["n"]), "_source": doc}
                for p in plans.values() for doc in p.versions
            ]
            for url, reason in self._bulk(version_ops).items():
                failed[url] = f"its earlier version could not be archived: {reason}"
                plans.pop(url, None)
            article_ops = [p.action(self.names.alias) for p in plans.values() if p.doc is not None]
            errors = self._bulk(article_ops)
            conflicted = {url for url, reason in errors.items() if reason.startswith("409 ")}
            for url, reason in errors.items():
                if url not in conflicted:
                    failed[url] = reason
            for url, plan in plans.items():
                if url not in errors:
                    result += plan.outcome
            pending = [a for a in pending if a.url in conflicted]
            if not pending:
                return
            self.log.debug("{} articles changed while being updated; reading them again", len(conflicted))
        for article in pending:
            failed[article.url] = f"changed by other writers {self.settings.conflict_retries} times in a row (409)"

    def _bulk(self, actions: list[dict]) -> dict[str, str]:
        return bulk_write(self.client, actions, self.settings.bulk_retries, self.where)

    def _mget_raw(self, urls: Sequence[str], light: bool = False) -> dict[str, dict]:
        """{url: the stored hit (_source, _seq_no, _primary_term)} for the URLs found; `light` leaves out
        the fingerprints (which a full document carries over on rewrite)."""
        found: dict[str, dict] = {}
        ids = sorted({m.doc_id(u) for u in urls})
        with self._calls("read articles"):
            for start in range(0, len(ids), MGET_CHUNK):
                kwargs: dict[str, Any] = {"source_excludes": q.SOURCE_EXCLUDES} if light else {}
                answer = self.client.mget(index=self.names.alias, ids=ids[start : start + MGET_CHUNK], **kwargs)
                for doc in answer["docs"]:
                    if doc.get("found"):
                        found[doc["_source"]["url"]] = doc
        return found

    def get(self, url: str) -> Article | None:
        with self._calls("read an article"):
            try:
                doc = self.client.get(index=self.names.alias, id=m.doc_id(url), source_excludes=q.SOURCE_EXCLUDES)
            except NotFoundError:
                return None
        return m.from_document(doc["_source"])

    def get_many(self, urls: Iterable[str]) -> dict[str, Article]:
        wanted = list(urls)
        found = self._mget_raw(wanted, light=True)
        return {u: m.from_document(found[u]["_source"]) for u in wanted if u in found}

    def iter_articles(self, batch_size: int = 500, after: str | None = None) -> Iterator[Article]:
        query = {"range": {"url": {"gt": after}}} if after else {"match_all": {}}
        for hit in self._scan(self.names.alias, query, [{"url": "asc"}], page=batch_size):
            yield m.from_document(hit["_source"])

    def indexed_since(self, since: datetime, batch_size: int = 500) -> Iterator[Article]:
        for hit in self._scan(self.names.alias, q.indexed_since_query(since), [{"url": "asc"}], page=batch_size):
            yield m.from_document(hit["_source"])

    def history(self, url: str) -> list[Article]:
        hits = self._scan(self.names.versions, {"term": {"url": url}}, [{"n": "asc"}], excludes=[])
        return [Article.from_dict(hit["_source"]["record"]) for hit in hits]

    def search(self, query: str, limit: int = 20, collapse_stories: bool = False) -> list[SearchHit]:
        body = q.search_body(query, limit)
        self._fresh()
        if collapse_stories and self._server_collapse is not False:
            try:
                with self._calls(f"search {query!r}"):
                    hits = self.client.search(index=self.names.alias, body=q.server_collapsed(body))["hits"]["hits"]
                self._server_collapse = True
                return [q.to_hit(h, copies=h["inner_hits"]["copies"]["hits"]["total"]["value"] - 1) for h in hits]
            except StoreError as exc:
                if self._server_collapse or "collapse" not in str(exc).lower():
                    raise
                self._server_collapse = False
                self.log.info("server cannot collapse results ({}); collapsing here instead", exc)
        if collapse_stories:
            body["size"] = q.client_collapse_size(limit)
        with self._calls(f"search {query!r}"):
            hits = self.client.search(index=self.names.alias, body=body)["hits"]["hits"]
        return collapse_hits([q.to_hit(h) for h in hits], limit, collapse_stories)

    def stats(self) -> StoreStats:
        self._fresh()
        with self._calls("read statistics"):
            answer = self.client.search(index=self.names.alias, size=0, track_total_hits=True, aggs=q.STATS_AGGS)
        return q.stats_from(answer)

    # -- fingerprints -------------------------------------------------------------------------------
    def put_fingerprints(self, url: str, hashes: Sequence[int]) -> None:
        keys = [str(h) for h in sorted(set(hashes))]

        def change(source: dict) -> dict:
            return {**source, m.FINGERPRINTS: keys}

        if not self._modify(url, change, "store fingerprints"):
            raise StoreError(f"cannot fingerprint {url}: not in the store")

    def get_fingerprints(self, url: str) -> set[int]:
        with self._calls("read fingerprints"):
            try:
                doc = self.client.get(index=self.names.alias, id=m.doc_id(url), source_includes=[m.FINGERPRINTS])
            except NotFoundError:
                return set()
        return {int(k) for k in doc["_source"].get(m.FINGERPRINTS) or []}

    def doc_freqs(self, hashes: Sequence[int]) -> dict[int, int]:
        keys = sorted({str(h) for h in hashes})
        found: dict[int, int] = {}
        self._fresh()
        for start in range(0, len(keys), TERMS_CHUNK):
            part = keys[start : start + TERMS_CHUNK]
            aggs = {"df": {"terms": {"field": m.FINGERPRINTS, "include": part, "size": len(part)}}}
            with self._calls("count fingerprints"):
                answer = self.client.search(index=self.names.alias, size=0, query={"terms": {m.FINGERPRINTS: part}}, aggs=aggs)
            found.update({int(b["key"]): b["doc_count"] for b in answer["aggregations"]["df"]["buckets"]})
        return found

    def find_candidates(self, hashes: Sequence[int], max_doc_freq: int, exclude_url: str | None = None) -> dict[str, int]:
        allowed = sorted(str(h) for h, n in self.doc_freqs(hashes).items() if n <= max_doc_freq)
        counts: dict[str, int] = {}
        for start in range(0, len(allowed), TERMS_CHUNK):
            part = allowed[start : start + TERMS_CHUNK]
            query = q.candidates_query(part, exclude_url)
            wanted = set(part)
            for hit in self._scan(self.names.alias, query, [{"url": "asc"}], includes=["url", m.FINGERPRINTS]):
                shared = len(wanted.intersection(hit["_source"].get(m.FINGERPRINTS) or ()))
                url = hit["_source"]["url"]
                counts[url] = counts.get(url, 0) + shared
        return counts

    # -- chains -------------------------------------------------------------------------------------
    def set_chain(self, url: str, story_id: str | None, is_origin: bool, parent: str | None, chain: ChainInfo | None) -> None:
        def change(source: dict) -> dict:
            article = replace(m.from_document(source), story_id=story_id, is_origin=is_origin, parent=parent, chain=chain)
            return m.to_document(article, source.get(m.FINGERPRINTS) or [], source.get(m.VERSIONS, 0), source.get(m.INDEXED_AT))

        self._modify(url, change, "record the chain")  # an unknown URL is ignored, as in SqliteStore

    def story_members(self, story_id: str) -> list[Article]:
        sort = [{"published": {"order": "asc", "missing": "_first"}}, {"url": "asc"}]
        return [m.from_document(h["_source"]) for h in self._scan(self.names.alias, {"term": {"story_id": story_id}}, sort)]

    def list_stories(self, order: str = "size", limit: int = 20) -> list[tuple[str, int]]:
        aggs = q.stories_aggs(order, limit)  # ValueError for an unknown order, whatever the limit
        if limit <= 0:
            return []
        self._fresh()
        with self._calls("list stories"):
            answer = self.client.search(index=self.names.alias, size=0, aggs=aggs)
        return [(b["key"], b["doc_count"]) for b in answer["aggregations"]["stories"]["buckets"]]

    # -- plumbing -----------------------------------------------------------------------------------
    def _modify(self, url: str, change: Callable[[dict], dict], what: str) -> bool:
        """Read, change and write one article with optimistic concurrency; False when it is not stored."""
        for attempt in range(self.settings.conflict_retries):
            conflict_backoff(attempt)
            with self._calls(what):
                try:
                    doc = self.client.get(index=self.names.alias, id=m.doc_id(url))
                except NotFoundError:
                    return False
                try:
                    self.client.index(index=self.names.alias, id=m.doc_id(url), document=change(doc["_source"]),
                                      if_seq_no=doc["_seq_no"], if_primary_term=doc["_primary_term"])
                    self._dirty = True
                    return True
                except ConflictError:
                    self.log.bind(url=url).debug("changed by another writer; reading again (attempt {})", attempt + 1)
        raise StoreError(f"{what} for {url}: changed by other writers {self.settings.conflict_retries} times in a row")

    def _scan(self, index: str, query: dict, sort: list, page: int = PAGE, includes: list[str] | None = None,
              excludes: list[str] | None = None) -> Iterator[dict]:
        """Every hit of a query in `sort` order (which must end on a unique field), a page at a time."""
        self._fresh()
        source = {"includes": includes} if includes else {"excludes": q.SOURCE_EXCLUDES if excludes is None else excludes}
        after = None
        while True:
            with self._calls("read articles"):
                answer = self.client.search(index=index, query=query, sort=sort, size=page, source=source,
                                            search_after=after)
            hits = answer["hits"]["hits"]
            yield from hits
            if len(hits) < page:
                return
            after = hits[-1]["sort"]

    def _calls(self, what: str) -> AbstractContextManager[None]:
        return translate_errors(self.where, what)

    def _fresh(self) -> None:
        """Make this process's own writes visible to search (GET by id sees them already)."""
        if self._dirty and self.settings.refresh_before_read:
            with self._calls("refresh"):
                self.client.indices.refresh(index=[self.names.alias, self.names.versions])
        self._dirty = False
