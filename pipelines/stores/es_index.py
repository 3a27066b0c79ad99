"""The Elasticsearch index's lifecycle: the server check, the template, the versioned articles index behind
its alias, the versions index, and reindexing into a new mapping version (see es_mapping.py for the layout)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    ConnectionTimeout,
    TransportError,
)
from loguru import logger

from pipelines.settings import StoreSettings
from pipelines.stores import es_mapping as m
from pipelines.stores.base import StoreError
from pipelines.stores.es_client import error_reason, short_cause, translate_errors

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

SUPPORTED_MAJOR = 9


class IndexAdmin:
    """Creates, inspects and migrates one store's indices; every call's failure names `where` and what failed."""

    def __init__(self, client: Elasticsearch, names: m.IndexNames, settings: StoreSettings, where: str) -> None:
        self.client = client
        self.names = names
        self.settings = settings
        self.where = where
        self.log = logger.bind(store=where)

    def check_server(self, strict_version: bool) -> None:
        """Fail with a clear StoreError unless the URL answers like Elasticsearch (of SUPPORTED_MAJOR when strict)."""
        with translate_errors(self.where, "connect"):
            try:
                info = self.client.info()
            except (ApiError, TransportError) as exc:
                if isinstance(exc, (AuthenticationException, AuthorizationException, ConnectionError, ConnectionTimeout)):
                    raise
                detail = f"GET / answered {exc.status_code}" if isinstance(exc, ApiError) else short_cause(exc)
                raise StoreError(f"{self.where} does not answer like Elasticsearch ({detail})") from exc
        number = str(info.get("version", {}).get("number", "?"))
        if strict_version and not number.startswith(f"{SUPPORTED_MAJOR}."):
            raise StoreError(f"Elasticsearch at {self.where} is version {number}; storytrail needs {SUPPORTED_MAJOR}.x")

    def ensure_index(self) -> str:
        """Create the template, the articles index behind its alias and the versions index when missing;
        return the index the alias points at. Safe to run at every start and from two processes at once."""
        with translate_errors(self.where, "create the index"):
            self.client.indices.put_index_template(
                name=self.names.template,
                index_patterns=[self.names.pattern],
                priority=100,
                template={
                    "settings": m.index_settings(self.settings.shards, self.settings.replicas),
                    "mappings": m.ARTICLE_MAPPINGS,
                },
                meta={"mapping_version": m.MAPPING_VERSION, "created_by": "storytrail"},
            )
            if self.client.indices.exists_alias(name=self.names.alias):  # made by an earlier storytrail, maybe
                added = {name: m.ARTICLE_MAPPINGS["properties"][name] for name in m.ADDED_FIELDS}
                self.client.indices.put_mapping(index=self.names.alias, properties=added)
            else:
                index = self.names.index(m.MAPPING_VERSION)
                if self.client.indices.exists(index=index):
                    self.client.indices.put_alias(index=index, name=self.names.alias)
                else:
                    self._create(index, aliases={self.names.alias: {}})
                self.log.info("created index {} behind alias {}", index, self.names.alias)
            if not self.client.indices.exists(index=self.names.versions):
                self._create(
                    self.names.versions,
                    settings=m.index_settings(self.settings.shards, self.settings.replicas),
                    mappings=m.VERSION_MAPPINGS,
                )
        current = self.current_index()
        version = self.names.version_of(current)
        if version is not None and version < m.MAPPING_VERSION:
            self.log.warning("index {} has mapping v{}, this storytrail writes v{}: reindex_to({}) migrates it",
                             current, version, m.MAPPING_VERSION, m.MAPPING_VERSION)
        return current

    def _create(self, index: str, **body: Any) -> None:
        try:
            self.client.indices.create(index=index, **body)
        except ApiError as exc:  # another process created it first
            if "resource_already_exists" not in str(exc.message) + str(exc.body):
                raise

    def generation(self) -> str:
        """The UUID Elasticsearch gave the index behind the alias: a re-created (or reindexed) index has a new one."""
        index = self.current_index()
        with translate_errors(self.where, "read the index settings"):
            found = self.client.indices.get_settings(index=index, name="index.uuid")
        return f"{index}/{found.body[index]['settings']['index']['uuid']}"

    def current_index(self) -> str:
        with translate_errors(self.where, "read the alias"):
            found = self.client.indices.get_alias(name=self.names.alias)
        return max(found.body, key=lambda index: (self.names.version_of(index) or 0, index))

    def reindex_to(self, version: int, delete_old: bool = False) -> str:
        """Copy the articles into `<prefix>-articles-v<version>` (built from the current template) and move
        the alias there in one atomic step. Stop writers first: writes during the copy stay in the old index."""
        old = self.current_index()
        new = self.names.index(version)
        if old == new:
            return new
        with translate_errors(self.where, f"reindex {old} into {new}"):
            self._create(new)
            answer = self.client.options(request_timeout=None).reindex(
                source={"index": old}, dest={"index": new}, wait_for_completion=True, refresh=True
            )
            if answer.get("failures"):
                raise StoreError(f"reindex {old} -> {new} failed for {len(answer['failures'])} documents: "
                                 f"{error_reason(answer['failures'][0])}; alias left on {old}")
            self.client.indices.update_aliases(actions=[
                {"remove": {"index": old, "alias": self.names.alias}},
                {"add": {"index": new, "alias": self.names.alias}},
            ])
            if delete_old:
                self.client.indices.delete(index=old)
        self.log.info("reindexed {} documents from {} into {}; alias {} now on {}",
                      answer.get("total", 0), old, new, self.names.alias, new)
        return new
