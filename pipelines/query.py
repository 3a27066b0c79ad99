"""Search queries: one Lucene-style syntax for both stores.

    "air strike" AND outlet:sputnik NOT title:ukraine
    authors:"John Miles" published:[2024-01-01 TO 2024-02-01] ukrain*

A query is parsed once with luqum (pipelines/query_syntax.py) into a small tree of our own (`parse`), which
`to_sqlite` turns into an FTS5 MATCH plus SQL conditions and `to_es` into Elasticsearch DSL, so both stores
answer the same question. Words next to each other must all match (implicit AND); a bare word or phrase is
looked up in title, text and authors. Fields:

- full text: `title`, `text`, `authors` (stemmed English in both stores; a phrase matches its words in order)
- keywords, matched exactly (a trailing `*` makes a prefix): `outlet`, `domain`, `language`, `story_id`,
  `url`, `parent`, `role` (the copy's kind in its chain: origin, full, excerpt, ...)
- dates, as ranges or a single day/month/year: `published`, `fetched_at`
- `is_origin:true|false`

Known differences between the stores: Elasticsearch's English analyzer drops stop words ("the", "of") and
SQLite's porter tokenizer keeps them; scores differ, so only the order of clearly better matches agrees.
Anything the two stores cannot both answer (fuzzy `~`, boosts `^`, regular expressions, `?` and inner
`*` wildcards) is refused with a QueryError rather than answered differently by each.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT_FIELDS = ("title", "text", "authors")
KEYWORD_FIELDS = ("outlet", "domain", "language", "story_id", "url", "parent", "role")
DATE_FIELDS = ("published", "fetched_at")
FLAG_FIELDS = ("is_origin",)
KNOWN_FIELDS = TEXT_FIELDS + KEYWORD_FIELDS + DATE_FIELDS + FLAG_FIELDS

# Relative weights of title, text and authors: the same in the SQLite bm25() call and the ES query.
TEXT_WEIGHTS = {"title": 4.0, "text": 1.0, "authors": 2.0}
PREFIX_EXPANSIONS = 1000


class QueryError(ValueError):
    """A query that cannot be parsed or answered; says what and where (0-based character position)."""

    def __init__(self, query: str, position: int, reason: str) -> None:
        self.query = query
        self.position = position
        self.reason = reason
        shown = query if len(query) <= 200 else query[:200] + "..."
        super().__init__(f"bad query at position {position}: {reason} (query: {shown!r})")


# -- the parsed query ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    """Words that must appear in order; field None means title, text or authors."""

    field: str | None
    value: str
    prefix: bool = False


@dataclass(frozen=True)
class Keyword:
    field: str
    value: str
    prefix: bool = False


@dataclass(frozen=True)
class DateRange:
    """Half-open [low, high) in UTC, as ISO strings with milliseconds ('2024-01-01T00:00:00.000')."""

    field: str
    low: str | None
    high: str | None


@dataclass(frozen=True)
class Flag:
    field: str
    value: bool


@dataclass(frozen=True)
class MatchAll:
    pass


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Text | Keyword | DateRange | Flag | MatchAll | And | Or | Not


def parse(query: str) -> Node:
    """The query as a tree of Text/Keyword/DateRange/Flag leaves under And/Or/Not; '' and '*' match all.
    Raises QueryError saying what and where."""
    from pipelines.query_syntax import parse as parse_syntax  # here: luqum only when a query is parsed

    return parse_syntax(query)


# -- SQLite -----------------------------------------------------------------------------------------
_SQL_COLUMNS = {
    "outlet": "a.outlet",
    "domain": "a.domain",
    "language": "a.language",
    "story_id": "a.story_id",
    "url": "a.url",
    "parent": "a.parent",
    "role": "coalesce(json_extract(a.chain, '$.kind'), CASE WHEN a.is_origin THEN 'origin' END)",
    "published": "a.published",
    "fetched_at": "a.fetched_at",
    "is_origin": "a.is_origin",
}
_FTS_SUBQUERY = "a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)"


def to_sqlite(query: str) -> tuple[str | None, str | None, list[object]]:
    """(FTS5 MATCH expression or None, extra SQL condition on `a.` columns or None, its parameters).

    The top-level AND is split: its full-text parts go into one MATCH (scored by bm25), the rest into SQL.
    A full-text part that cannot live in that MATCH (inside an OR with a keyword, or a NOT with nothing
    positive to subtract from: FTS5's NOT is binary) becomes a rowid subquery on articles_fts.
    """
    node = parse(query)
    if isinstance(node, MatchAll):
        return None, None, []
    conjuncts = node.items if isinstance(node, And) else (node,)
    positive: list[str] = []
    negative: list[str] = []
    rest: list[Node] = []
    for part in conjuncts:
        if isinstance(part, Not) and (match := _fts(part.item)) is not None:
            negative.append(match)
        elif (match := _fts(part)) is not None:
            positive.append(match)
        elif not isinstance(part, MatchAll):
            rest.append(part)
    fts_match = None
    conditions: list[str] = []
    params: list[object] = []
    if positive:
        fts_match = " AND ".join(f"({m})" for m in positive) if len(positive) > 1 else positive[0]
        if negative:
            fts_match = f"({fts_match}) NOT ({' OR '.join(f'({m})' for m in negative)})"
    else:
        for match in negative:
            conditions.append(f"NOT ({_FTS_SUBQUERY})")
            params.append(match)
    for part in rest:
        sql, part_params = _sql(part)
        conditions.append(sql)
        params.extend(part_params)
    return fts_match, (" AND ".join(conditions) or None), params


def _fts(node: Node) -> str | None:
    """The node as an FTS5 expression, or None when FTS5 cannot express it alone."""
    if isinstance(node, Text):
        phrase = '"' + node.value.replace('"', '""') + '"' + (" *" if node.prefix else "")
        return f"{node.field} : {phrase}" if node.field else phrase
    if isinstance(node, And):
        parts = [n for n in node.items if not isinstance(n, MatchAll)]
        positive = [_fts(n) for n in parts if not isinstance(n, Not)]
        negative = [_fts(n.item) for n in parts if isinstance(n, Not)]
        if not positive or None in positive or None in negative:
            return None
        match = " AND ".join(f"({m})" for m in positive) if len(positive) > 1 else positive[0]
        if negative:
            match = f"({match}) NOT ({' OR '.join(f'({m})' for m in negative)})"
        return match
    if isinstance(node, Or):
        parts = [_fts(n) for n in node.items]
        if None in parts:
            return None
        return " OR ".join(f"({m})" for m in parts)
    return None


def _sql(node: Node) -> tuple[str, list[object]]:
    """A condition that is never NULL, so that NOT and OR around it behave like Elasticsearch's bool."""
    match = _fts(node)
    if match is not None:
        return _FTS_SUBQUERY, [match]
    if isinstance(node, Keyword):
        column = _SQL_COLUMNS[node.field]
        if node.prefix:
            return f"coalesce(substr({column}, 1, ?) = ?, 0)", [len(node.value), node.value]
        return f"{column} IS ?", [node.value]
    if isinstance(node, DateRange):
        moment = f"strftime('%Y-%m-%dT%H:%M:%f', {_SQL_COLUMNS[node.field]})"
        bounds, params = [], []
        if node.low is not None:
            bounds.append(f"{moment} >= ?")
            params.append(node.low)
        if node.high is not None:
            bounds.append(f"{moment} < ?")
            params.append(node.high)
        if not bounds:
            return f"{_SQL_COLUMNS[node.field]} IS NOT NULL", []
        return f"coalesce({' AND '.join(bounds)}, 0)", params
    if isinstance(node, Flag):
        return f"{_SQL_COLUMNS[node.field]} = ?", [int(node.value)]
    if isinstance(node, MatchAll):
        return "1", []
    if isinstance(node, Not):
        inner, params = _sql(node.item)
        return f"NOT ({inner})", params
    if isinstance(node, (And, Or)):
        parts = [_sql(n) for n in node.items]
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(p[0] for p in parts) + ")", [x for p in parts for x in p[1]]
    raise TypeError(f"unexpected query node {node!r}")  # pragma: no cover - the tree has no other types


# -- Elasticsearch ---------------------------------------------------------------------------------
def to_es(query: str) -> dict:
    """The query as Elasticsearch DSL for the articles index (see pipelines/stores/es_mapping.py)."""
    return _es(parse(query))


def _es(node: Node) -> dict:
    if isinstance(node, Text):
        return _es_text(node)
    if isinstance(node, Keyword):
        kind = "prefix" if node.prefix else "term"
        return {kind: {node.field: node.value}}
    if isinstance(node, DateRange):
        bounds = {}
        if node.low is not None:
            bounds["gte"] = node.low + "Z"
        if node.high is not None:
            bounds["lt"] = node.high + "Z"
        return {"range": {node.field: bounds}} if bounds else {"exists": {"field": node.field}}
    if isinstance(node, Flag):
        return {"term": {node.field: node.value}}
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [_es(node.item)]}}
    if isinstance(node, Or):
        return {"bool": {"should": [_es(n) for n in node.items], "minimum_should_match": 1}}
    if isinstance(node, And):
        must, filters, must_not = [], [], []
        for item in node.items:
            if isinstance(item, Not):
                must_not.append(_es(item.item))
            elif isinstance(item, (Keyword, DateRange, Flag)):
                filters.append(_es(item))  # no score, cacheable
            elif not isinstance(item, MatchAll):
                must.append(_es(item))
        clauses = {"must": must, "filter": filters, "must_not": must_not}
        return {"bool": {k: v for k, v in clauses.items() if v} or {"must": [{"match_all": {}}]}}
    raise TypeError(f"unexpected query node {node!r}")  # pragma: no cover


def _es_text(node: Text) -> dict:
    fields = [node.field] if node.field else list(TEXT_FIELDS)
    if not node.prefix:
        if node.field:
            return {"match_phrase": {node.field: node.value}}
        weighted = [f"{f}^{TEXT_WEIGHTS[f]:g}" for f in fields]
        return {"multi_match": {"query": node.value, "type": "phrase", "fields": weighted}}
    # A prefix is matched the way FTS5's porter tokenizer does it: the words are analysed (stemmed) first
    # and the last one is a prefix of stemmed terms, so "strikes*" finds "strike" and "striker" in both.
    # max_expansions: FTS5 expands a prefix to every term; 1,000 terms keeps the query bounded.
    if node.field:
        return {"match_phrase_prefix": {node.field: {"query": node.value, "max_expansions": PREFIX_EXPANSIONS}}}
    weighted = [f"{f}^{TEXT_WEIGHTS[f]:g}" for f in fields]
    return {"multi_match": {"query": node.value, "type": "phrase_prefix", "fields": weighted,
                            "max_expansions": PREFIX_EXPANSIONS}}
