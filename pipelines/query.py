"""Search queries: one Lucene-style syntax for both stores.

Placeholder translation for the SQLite store (every word must match); the luqum-based translation for
both stores replaces it (issue 4).
"""

from __future__ import annotations


def to_sqlite(query: str) -> tuple[str | None, str | None, list[object]]:
    """(FTS5 MATCH expression or None, extra SQL condition on `a.` columns or None, its parameters)."""
    words = query.split()
    if not words or words == ["*"]:
        return None, None, []
    return " ".join('"' + w.replace('"', '""') + '"' for w in words), None, []
