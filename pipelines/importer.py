"""`storytrail import FILE.jsonl`: documents gathered elsewhere enter the pipeline after the fetch step.

Each line is `{"url", "title", "text", "published", "html"?}`. With `html`, the page is archived and
extracted like a fetched one; without, the given fields are the article. A bad line is reported with its
file and line number and the rest of the file goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from loguru import logger
from pydantic import BaseModel, ValidationError, field_validator

from crawlers.sources import first_error
from crawlers.state import ArchivedPage
from crawlers.urls import normalize_url, registered_domain
from pipelines.models import Article
from pipelines.processing import ArticleProcessor


class ImportedDocument(BaseModel):
    url: str
    title: str | None = None
    text: str = ""
    published: datetime | None = None
    html: str | None = None
    authors: list[str] = []

    @field_validator("published")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


def read_documents(path: Path) -> Iterator[tuple[int, ImportedDocument | str]]:
    """(line number, document) for good lines, (line number, error message) for bad ones."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, ImportedDocument.model_validate(json.loads(line))
            except json.JSONDecodeError as exc:
                yield number, f"not JSON: {exc.msg} at column {exc.colno}"
            except ValidationError as exc:
                field, message = first_error(exc)
                yield number, f"field '{field}': {message}"


def import_file(path: Path, processor: ArticleProcessor) -> tuple[int, int]:
    """Feed every document of `path` through the pipeline; returns (imported, rejected)."""
    imported = rejected = 0
    for number, document in read_documents(path):
        if isinstance(document, str):
            rejected += 1
            logger.bind(source="import").error("{}:{}: skipped: {}", path, number, document)
            continue
        try:
            url = normalize_url(document.url)
        except ValueError as exc:
            rejected += 1
            logger.bind(source="import").error("{}:{}: skipped: {}", path, number, exc)
            continue
        if _import_one(url, document, processor):
            imported += 1
    return imported, rejected


def _import_one(url: str, document: ImportedDocument, processor: ArticleProcessor) -> bool:
    now = datetime.now(timezone.utc)
    if document.html:
        page = ArchivedPage(
            url=url,
            fetch_url=document.url,
            final_url=document.url,
            source=processor.outlet_of(url),
            html=document.html.encode("utf-8"),
            encoding="utf-8",
            fetched_at=now,
            hint={"title": document.title, "published": document.published.isoformat() if document.published else None},
        )
        processor.state.record_fetched(page)
        return processor.process_page(page) is not None
    article = Article(
        url=url,
        outlet=processor.outlet_of(url),
        domain=registered_domain(url),
        title=document.title,
        authors=document.authors,
        published=document.published,
        text=document.text,
        fetched_at=now,
        fetched_from=document.url,
    )
    return processor.index(article)
