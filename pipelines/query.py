"""Search queries: one Lucene-style syntax for both stores.

    "air strike" AND outlet:sputnik NOT title:ukraine
    authors:"John Miles" published:[2024-01-01 TO 2024-02-01] ukrain*

A query is parsed once with luqum into a small tree of our own (`parse`), which `to_sqlite` turns into an
FTS5 MATCH plus SQL conditions and `to_es` into Elasticsearch DSL, so both stores answer the same
question. Words next to each other must all match (implicit AND); a bare word or phrase is looked up in
title, text and authors. Fields:

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

import re
from dataclasses import dataclass
from decimal import InvalidOperation
from datetime import datetime, timedelta, timezone

from luqum import tree as lq
from luqum.exceptions import ParseError
from luqum.thread import parse as luqum_parse

TEXT_FIELDS = ("title", "text", "authors")
KEYWORD_FIELDS = ("outlet", "domain", "language", "story_id", "url", "parent", "role")
DATE_FIELDS = ("published", "fetched_at")
FLAG_FIELDS = ("is_origin",)
KNOWN_FIELDS = TEXT_FIELDS + KEYWORD_FIELDS + DATE_FIELDS + FLAG_FIELDS

# Relative weights of title, text and authors: the same in the SQLite bm25() call and the ES query.
TEXT_WEIGHTS = {"title": 4.0, "text": 1.0, "authors": 2.0}
PREFIX_EXPANSIONS = 1000
# Deepest nesting of parentheses accepted; real queries use two or three levels.
MAX_DEPTH = 50


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
    """The query as a tree of Text/Keyword/DateRange/Flag leaves under And/Or/Not; '' and '*' match all."""
    stripped = query.strip()
    if stripped in ("", "*", "*:*"):
        return MatchAll()
    offset = len(query) - len(query.lstrip())
    control = re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", query)
    if control:  # SQLite ends a string at NUL; no query needs these
        raise QueryError(query, control.start(), f"control character {control.group()!r}")
    _check_depth(query)
    try:
        tree = luqum_parse(stripped)
    except ParseError as exc:
        raise QueryError(query, offset + _error_position(str(exc), len(stripped)), _error_reason(str(exc))) from exc
    except InvalidOperation as exc:  # luqum reads a boost with Decimal: "word^." fails there, not in its grammar
        raise QueryError(query, offset + max(stripped.find("^"), 0), "a boost (^) takes a number, e.g. word^2") from exc
    return _Builder(query, offset).build(tree, None)


def _check_depth(query: str) -> None:
    """Refuse groups nested deeper than MAX_DEPTH: the parser and both stores recurse once per level."""
    depth = 0
    for position, char in enumerate(re.sub(r'"(?:[^"\\]|\\.)*"|\\.', lambda m: "_" * len(m.group()), query)):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth > MAX_DEPTH:
            raise QueryError(query, position, f"groups nested more than {MAX_DEPTH} deep")


def _error_position(message: str, end: int) -> int:
    found = re.search(r"at position (\d+)", message)
    return int(found.group(1)) if found else end


def _error_reason(message: str) -> str:
    reason = re.sub(r"\s*at (position \d+|the end)!?$", "", message)
    reason = reason.replace("Syntax error in input : ", "").replace("unexpected  ", "unexpected ")
    if reason.startswith("Illegal character '\""):
        return "unclosed quote"
    return reason


class _Builder:
    """luqum tree -> our tree, refusing what both stores cannot answer the same way."""

    def __init__(self, query: str, offset: int) -> None:
        self.query = query
        self.offset = offset

    def fail(self, item: lq.Item, reason: str) -> QueryError:
        return QueryError(self.query, self.offset + (item.pos or 0), reason)

    def build(self, item: lq.Item, field: str | None) -> Node:
        if isinstance(item, (lq.AndOperation, lq.UnknownOperation)):
            return And(_flatten(And, [self.build(op, field) for op in item.operands]))
        if isinstance(item, lq.OrOperation):
            return Or(_flatten(Or, [self.build(op, field) for op in item.operands]))
        if isinstance(item, (lq.Not, lq.Prohibit)):
            return Not(self.build(item.a, field))
        if isinstance(item, lq.Plus):
            return self.build(item.a, field)
        if isinstance(item, (lq.Group, lq.FieldGroup)):
            return self.build(item.expr, field)
        if isinstance(item, lq.SearchField):
            return self.search_field(item, field)
        if isinstance(item, lq.Range):
            return self.date_range(item, field, item.low, item.high, item.include_low, item.include_high)
        if isinstance(item, (lq.From, lq.To)):
            low, high = (item.a, None) if isinstance(item, lq.From) else (None, item.a)
            return self.date_range(item, field, low, high, item.include, item.include)
        if isinstance(item, (lq.Word, lq.Phrase)):
            return self.term(item, field)
        if isinstance(item, lq.Fuzzy):
            raise self.fail(item, "fuzzy search (~) is not supported")
        if isinstance(item, lq.Proximity):
            raise self.fail(item, "proximity search (\"...\"~N) is not supported")
        if isinstance(item, lq.Boost):
            raise self.fail(item, "boosts (^) are not supported")
        if isinstance(item, lq.Regex):
            raise self.fail(item, "regular expressions (/.../) are not supported")
        raise self.fail(item, f"unsupported query part {str(item).strip()!r}")

    def search_field(self, item: lq.SearchField, outer: str | None) -> Node:
        if outer is not None:
            raise self.fail(item, f"field {item.name!r} inside field {outer!r}")
        name = item.name
        if name not in KNOWN_FIELDS:
            raise self.fail(item, f"unknown field {name!r}; known fields: {', '.join(KNOWN_FIELDS)}")
        return self.build(item.expr, name)

    def term(self, item: lq.Word | lq.Phrase, field: str | None) -> Node:
        is_phrase = isinstance(item, lq.Phrase)
        value = _unescape(item.value[1:-1] if is_phrase else item.value)
        prefix = False
        if not is_phrase:
            if item.value == "*":
                if field is None:
                    return MatchAll()
                raise self.fail(item, f"'{field}:*' is not supported")
            prefix = item.value.endswith("*") and not item.value.endswith("\\*")
            body = item.value[:-1] if prefix else item.value
            if re.search(r"(?<!\\)[*?]", body):
                raise self.fail(item, "only a trailing * wildcard is supported")
            value = _unescape(body)
        if field in DATE_FIELDS:
            return self.date_range(item, field, item, item, True, True)
        if field in FLAG_FIELDS:
            if value.lower() not in ("true", "false"):
                raise self.fail(item, f"{field} takes true or false, not {value!r}")
            return Flag(field, value.lower() == "true")
        if field in KEYWORD_FIELDS:
            return Keyword(field, value, prefix)
        return Text(field, value, prefix)

    def date_range(
        self, item: lq.Item, field: str | None, low: lq.Item | None, high: lq.Item | None, inc_low: bool, inc_high: bool
    ) -> Node:
        if field not in DATE_FIELDS:
            raise self.fail(item, f"ranges work on dates only ({', '.join(DATE_FIELDS)}), not on {field or 'free text'}")
        low_iso = self.date_bound(low, after=not inc_low)
        high_iso = self.date_bound(high, after=inc_high)
        return DateRange(field, low_iso, high_iso)

    def date_bound(self, item: lq.Item | None, after: bool) -> str | None:
        """The start of the bound's day/month/year (or instant), or of the next one when `after`."""
        if item is None:
            return None
        if not isinstance(item, (lq.Word, lq.Phrase)):
            raise self.fail(item, "a date must be a plain value like 2024-01-31")
        raw = item.value.strip('"') if isinstance(item, lq.Phrase) else item.value
        if raw == "*":
            return None
        try:
            start, step = _parse_date(_unescape(raw))
            moment = step(start) if after else start
        except (ValueError, OverflowError):
            raise self.fail(item, f"not a date: {raw!r} (use 2024, 2024-01, 2024-01-31 or 2024-01-31T12:00:00Z, "
                                  "before 9999-12-31)") from None
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _flatten(kind: type, nodes: list[Node]) -> tuple[Node, ...]:
    """a AND (b AND c) -> a AND b AND c, so the top level can be split into MATCH and SQL parts."""
    flat: list[Node] = []
    for node in nodes:
        flat.extend(node.items if isinstance(node, kind) else (node,))
    return tuple(flat)


def _parse_date(raw: str) -> tuple[datetime, object]:
    """(start in naive UTC, function giving the start of the next unit) for a year, month, day or instant."""
    if re.fullmatch(r"\d{4}", raw):
        start = datetime(int(raw), 1, 1)
        return start, lambda d: d.replace(year=d.year + 1)
    if re.fullmatch(r"\d{4}-\d{2}", raw):
        start = datetime.strptime(raw, "%Y-%m")
        return start, lambda d: (d.replace(year=d.year + 1, month=1) if d.month == 12 else d.replace(month=d.month + 1))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return datetime.strptime(raw, "%Y-%m-%d"), lambda d: d + timedelta(days=1)
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return moment, lambda d: d + timedelta(milliseconds=1)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


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
