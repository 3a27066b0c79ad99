"""`storytrail import FILE.jsonl`: documents gathered elsewhere enter the pipeline after the fetch step.

Each line is `{"url", "title", "text", "published", "html"?}`. With `html`, the page is archived and
extracted like a fetched one; without, the given fields are the article. Every line stands alone: a bad
one (not UTF-8, not JSON, nested too deep, a lone surrogate, a missing or wrong field, over
`importer.max_document_bytes`) is one error naming the file, the line number and the reason, and the rest
of the file goes on; `storytrail import` then exits 1 with the count. An oversized line is skipped as it
is read, a block at a time, never held whole in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO
from datetime import datetime, timezone
from pathlib import Path

from loguru import logger
from pydantic import BaseModel, ValidationError, field_validator

from crawlers.sources import first_error
from crawlers.state import ArchivedPage
from crawlers.urls import normalize_url, registered_domain
from pipelines.models import Article
from pipelines.processing import ArticleProcessor

# A line holds a whole page (bench/pipeline.py's: 190 kB on average): with the default 8 kB buffer, readline
# refills it some 25 times a line. Reading the bench's 347 MB took 0.36-0.49 s of CPU so, 0.10-0.18 s with 1 MB.
READ_BUFFER_BYTES = 1 << 20


class ImportedDocument(BaseModel):
    url: str
    title: str | None = None
    text: str = ""
    published: datetime | None = None
    html: bytes | None = None  # UTF-8, as the page is archived and extracted
    authors: list[str] = []

    @field_validator("published")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value

    @field_validator("url", "title", "text")
    @classmethod
    def _encodable(cls, value: str | None) -> str | None:
        """JSON may spell a lone surrogate (\\ud800); no store can keep it, so the line is refused here."""
        if value is not None:
            value.encode("utf-8")  # UnicodeEncodeError is a ValueError: pydantic reports it for this field
        return value

    @field_validator("html", mode="before")
    @classmethod
    def _encoded(cls, value: object) -> object:
        """The page's HTML encoded once, here (a lone surrogate refuses the line, as in `_encodable`)."""
        return value.encode("utf-8") if isinstance(value, str) else value


def read_documents(path: Path, max_bytes: int) -> Iterator[tuple[int, ImportedDocument | str]]:
    """(line number, document) for good lines, (line number, error message) for bad ones."""
    with path.open("rb", buffering=READ_BUFFER_BYTES) as lines:
        for number, raw in enumerate(_lines(lines, max_bytes), start=1):
            if raw is None:
                yield number, f"document over importer.max_document_bytes ({max_bytes} bytes), not read"
            elif raw.strip():
                yield number, _document(raw)


def _lines(file: BinaryIO, max_bytes: int) -> Iterator[bytes | None]:
    """Each line, or None for one longer than `max_bytes`, whose rest is read past in blocks and dropped."""
    while line := file.readline(max_bytes + 1):
        if len(line) <= max_bytes or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = file.readline(1 << 20)
        yield None


def _document(raw: bytes) -> ImportedDocument | str:
    try:
        return ImportedDocument.model_validate(json.loads(raw.decode("utf-8")))
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte {exc.start})"
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return "not JSON storytrail can read: nested too deeply"
    except ValidationError as exc:
        field, message = first_error(exc)
        return f"field '{field}': {message}"


def import_file(path: Path, processor: ArticleProcessor, max_bytes: int) -> tuple[int, int]:
    """Feed every document of `path` through the pipeline (pages extracted in the processor's worker pool,
    when it has one, in file order); returns (imported, rejected)."""
    rejected: list[int] = []
    items = _items(path, processor, rejected, max_bytes)
    imported = sum(article is not None for _, article in processor.process_pages(items))
    return imported, len(rejected)


def _items(path: Path, processor: ArticleProcessor, rejected: list[int], max_bytes: int) -> Iterator[ArchivedPage | Article]:
    """Each good line as an archived page (with `html`) or an article (without); bad lines reported."""
    for number, document in read_documents(path, max_bytes):
        if isinstance(document, str):
            rejected.append(number)
            logger.bind(source="import").error("{}:{}: skipped: {}", path, number, document)
            continue
        try:
            url = normalize_url(document.url)
        except ValueError as exc:
            rejected.append(number)
            logger.bind(source="import").error("{}:{}: skipped: {}", path, number, exc)
            continue
        yield _item(url, document, processor)


def _item(url: str, document: ImportedDocument, processor: ArticleProcessor) -> ArchivedPage | Article:
    now = datetime.now(timezone.utc)
    if document.html:
        page = ArchivedPage(
            url=url,
            fetch_url=document.url,
            final_url=document.url,
            source=processor.outlet_of(url),
            html=document.html,
            encoding="utf-8",
            fetched_at=now,
            hint={"title": document.title, "published": document.published.isoformat() if document.published else None},
        )
        processor.state.record_fetched(page)  # archived before it is extracted: a killed import loses nothing
        return page
    return Article(
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
