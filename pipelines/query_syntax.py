"""Reading a query's Lucene syntax (with luqum) into the tree of pipelines/query.py.

Apart from the tree and its translations so that luqum (and ply, which it builds its parser with) is
imported only when a query is parsed: `stats` and `story` start without it. What is refused here (fuzzy
`~`, boosts `^`, regular expressions, inner wildcards, unknown fields) is what both stores cannot answer the
same way; every refusal is a QueryError naming the position.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import InvalidOperation

from luqum import tree as lq
from luqum.exceptions import ParseError
from luqum.thread import parse as luqum_parse

from pipelines.query import (DATE_FIELDS, FLAG_FIELDS, KEYWORD_FIELDS, KNOWN_FIELDS, And, DateRange, Flag, Keyword,
                             MatchAll, Node, Not, Or, QueryError, Text)

# Deepest nesting of parentheses accepted; real queries use two or three levels.
MAX_DEPTH = 50


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
