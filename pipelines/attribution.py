"""Attribution evidence: what a page itself says about where its text came from.

Republishers credit their source in a handful of shapes (../shared/reference/outlets.md): an attribution line
("The Cradle | February 3, 2024", "By John Miles – Sputnik – 28.01.2024", "Claire Bernish, Antimedia"), a
sentence ("originally published at ...", "The original source of this article is ...", "... where this
article was originally published", "Here from ... Claire Bernish of Anti Media"), a "Read more >>" or "Full
article" ending that links to the original, a cross-domain rel=canonical, and links into a configured outlet.
Outlet names are matched through the aliases in config; a credited site not in config is kept as its
registered domain when the page names a domain, else as the credit's words alone (`outlet` None).
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache

from crawlers.sources import SourceRegistry
from crawlers.urls import host_of, normalize_url, registered_domain
from pipelines.models import Article, Evidence

URLS_KEPT = 10_000  # normalised link URLs kept (about 300 bytes each)
MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?"
DATE = re.compile(
    WEEKDAY + r"(?:\d{1,2}\s+" + MONTH + r",?\s+\d{4}|" + MONTH + r"\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|"
    r"\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{4}-\d{2}-\d{2})",
    re.IGNORECASE,
)
# "A | B", "A – B", "A - B", "A / B", "A, B" (but not the comma inside "February 3, 2024").
SEPARATOR = re.compile(r"\s*[|·]\s*|\s+[–—/-]\s+|,\s+(?!\d)")
SEPARATOR_NOT_COMMA = re.compile(r"[|·–—/]|\s-\s")
NAME_WORD = re.compile(r"^(?:[A-Z][\w'’.-]*|al|el|de|del|da|du|van|von|bin|la|le|of|the|and|for|on|&)$")
DOMAIN = re.compile(
    r"(?<![\w@.-])(?:[a-z0-9-]+\.)+(?:com|org|net|info|news|co|ca|su|ru|uk|de|fr|io|tv|us|eu)(?![\w-])", re.IGNORECASE
)
CREDITED_BY = r"(?:Submitted |Written |Posted )?By\s+"
BYLINE = re.compile(CREDITED_BY + r"(?P<name>[^|–—,]{2,60}?)(?:\s*[|–—,]\s*" + DATE.pattern + ")?", re.I)
VIA_LINE = re.compile(CREDITED_BY + r"[^|–—]{2,60}?\s+via\s+(?P<name>[^|–—]{2,60})", re.I)
MAX_ATTRIBUTION_LINE_WORDS = 16  # the longest credit line in the seeds has 11 words

# Phrases that credit an earlier publication: (kind, phrase, whether the outlet is named before the phrase).
ARTICLE = r"(?:article|piece|post)"
CREDIT_PHRASES: tuple[tuple[str, str, bool], ...] = (
    ("originally_published", r"(?:originally (?:published|appeared|posted)|first (?:appeared|posted)) (?:at|on|by|in)\b", False),
    ("originally_published", rf"\bwhere (?:this|the) {ARTICLE} (?:was )?(?:originally|first) (?:published|appeared)", True),
    ("original_source", rf"original source of this {ARTICLE} is\b", False),
    ("first_published", r"first published (?:on|at|by|in)\b", False),
    ("credited", r"^(?:Source|Via|Republished from|Reprinted from)\s*:?(?=\s)", False),
    ("credited", r"\bHere from\b", False),  # a blogger's intro: text of its own, so not in CREDIT_SENTENCE
)
CREDIT_PATTERNS = tuple((kind, re.compile(phrase, re.I), before) for kind, phrase, before in CREDIT_PHRASES)
CREDIT_SENTENCE = re.compile("|".join(phrase for _, phrase, _ in CREDIT_PHRASES[:-1]), re.I)
CREDIT_WORDS = ("publish", "appeared", "posted", "source", "here from", "reprint")  # or a line opening "via"
CREDIT_WORDS_PATTERN = re.compile("|".join(CREDIT_WORDS) + "|^via", re.I)
# İ, ı, ſ and the Kelvin sign: the only non-ASCII letters a case-insensitive ASCII letter matches (and the only
# ones str.lower() makes ASCII); tests/test_attribution.py checks this over every code point.
CASE_TWINS = "\u0130\u0131\u017f\u212a"
CREDIT_WINDOW_CHARS = (160, 100)  # how far before / after the phrase the outlet's name is looked for
# A teaser's ending: the phrase alone on its line, or after a sentence's end, an ellipsis or a dash ("... here.
# Read more >>", "…continue"), never a sentence's own last word ("talks will continue", "you can read more").
READ_MORE = re.compile(
    r"(?:(?:^|(?<=[.!?…:)\]»\"”])\s*|\s[-–—|]\s*)"
    r"(?:Read (?:more|the full (?:article|story|post))|Full (?:article|story)|Continue reading|Continue|Keep reading)"
    r"|\s*\(\.\.\.\)|\s*\[(?:…|\.\.\.)\])[\s.:…»>→]*$",
    re.I,
)


class AttributionParser:
    """Finds the credits a page gives; built once from the source registry."""

    def __init__(self, sources: SourceRegistry) -> None:
        self.sources = sources  # its host lookups are kept: every copy of a story carries the same links

    @cached_property
    def _alias_pattern(self) -> re.Pattern[str]:
        """Every credited name, longest first; short all-capital names (NEO, SOTT) must match their case."""
        parts = []
        for name in self.sources.alias_names():
            escaped = re.escape(name)
            parts.append(f"(?-i:{escaped})" if name.isupper() and len(name) <= 5 else escaped)
        return re.compile(r"(?<![\w.-])(?:" + "|".join(parts) + r")(?![\w-])", re.IGNORECASE)

    # -- the whole page ---------------------------------------------------------------------------
    def evidence(self, article: Article) -> list[Evidence]:
        """Every credit `article` gives to another outlet or page, in page order, without duplicates."""
        found: list[Evidence] = []
        lines = [line.strip() for line in article.text.splitlines()]
        for line in filter(None, lines):
            outlet = self.attribution_outlet(line)
            if outlet is not None:
                found.append(Evidence(kind="attribution_line", text=line, outlet=outlet or None))
            found.extend(self._credit_sentences(line))
        found.extend(self._read_more(article, lines))
        found.extend(self._canonical(article))
        found.extend(self._body_links(article))
        own = {article.outlet, article.domain}
        unique: dict[tuple, Evidence] = {}
        for item in found:
            if item.outlet in own or (item.url and registered_domain(item.url) == article.domain):
                continue  # a site's credit to itself ("The original source of this article is Global Research")
            unique.setdefault((item.kind, item.outlet, item.url, item.text), item)
        return list(unique.values())

    # -- attribution lines ------------------------------------------------------------------------
    def attribution_outlet(self, line: str) -> str | None:
        """For a credit line, the outlet it names ("" for a site not in config and named without a domain);
        None when the line is not a credit line."""
        line = line.strip().strip("*_ ,").rstrip(".,")
        if not line or len(line) > 140 or len(line.split()) > MAX_ATTRIBUTION_LINE_WORDS:
            return None
        via = VIA_LINE.fullmatch(line)
        if via:  # "Submitted by Nadia Prentiss via TheAntiMedia.org"
            return self._outlet_named(via.group("name").strip(" .,")) or ""
        by = bool(re.match(r"^by\s+", line, re.I))
        parts = [p.strip() for p in SEPARATOR.split(re.sub(r"^by\s+", "", line, flags=re.I)) if p and p.strip()]
        if len(parts) == 1 and DOMAIN.fullmatch(parts[0]):
            return self._outlet_of_host(parts[0].lower())  # a reprint ending with its source's bare domain
        if len(parts) < 2:
            return None
        outlets, names, dates = [], [], 0
        for part in parts:
            if DATE.fullmatch(part):
                dates += 1
            elif (outlet := self._outlet_named(part)) is not None:
                outlets.append(outlet)
            elif _is_name(part):
                names.append(part)
            else:
                return None
        if outlets:
            return outlets[0]
        # A site not in config: "Press TV – July 6, 2020", "By Cindy Harper | Reclaim The Net | July 8, 2025".
        if dates and len(names) == 1 + by and SEPARATOR_NOT_COMMA.search(line):
            return ""
        return None

    def is_credit_line(self, line: str) -> bool:
        """A credit line or a bare byline ("By Trita Parsi | December 25, 2023", "By Jesse Corbin"): page
        furniture, not text."""
        if self.attribution_outlet(line) is not None:
            return True
        match = BYLINE.fullmatch(line.strip().strip("*_ ,").rstrip(".,"))
        return bool(match and _is_name(match.group("name")))

    def _outlet_named(self, part: str) -> str | None:
        """Source key for a credited name or domain, the registered domain of another domain, else None."""
        source = self.sources.find_by_alias(part)
        if source is not None and self._alias_pattern.fullmatch(part):
            return source.key
        if DOMAIN.fullmatch(part):
            return self._outlet_of_host(part.lower())
        return None

    def _outlet_of_host(self, host: str) -> str:
        source = self.sources.find_by_host(host)
        return source.key if source else registered_domain(host)

    # -- credit sentences ---------------------------------------------------------------------------
    def _credit_sentences(self, line: str) -> list[Evidence]:
        if not mentions_credit(line):
            return []
        found = []
        for kind, pattern, before in CREDIT_PATTERNS:
            for match in pattern.finditer(line):
                if before:
                    words = line[max(0, match.start() - CREDIT_WINDOW_CHARS[0]) : match.start()]
                else:
                    words = line[match.end() : match.end() + CREDIT_WINDOW_CHARS[1]]
                outlet = self._outlet_in(words, last=before)
                if outlet is not None:
                    found.append(Evidence(kind=kind, text=_sentence_around(line, match), outlet=outlet))
        return found

    def _outlet_in(self, words: str, last: bool) -> str | None:
        """The outlet named in a credit's words: a configured alias, else a domain; the one nearest the phrase."""
        aliases = list(self._alias_pattern.finditer(words))
        if aliases:
            match = aliases[-1] if last else aliases[0]
            source = self.sources.find_by_alias(match.group())
            return source.key if source else None
        domains = list(DOMAIN.finditer(words))
        if domains:
            return self._outlet_of_host((domains[-1] if last else domains[0]).group().lower())
        return None

    # -- links ------------------------------------------------------------------------------------------
    def _read_more(self, article: Article, lines: list[str]) -> list[Evidence]:
        """A truncated post ending "Read more >>" / "Full article": the last link off the site is the original."""
        tail = [line for line in lines if line][-3:]
        ending = next((line for line in reversed(tail) if READ_MORE.search(line)), None)
        if ending is None:
            return []
        phrase = READ_MORE.search(ending).group().strip()
        away = [u for u in (_normalized(link) for link in article.links) if u and registered_domain(u) != article.domain]
        if not away:
            return [Evidence(kind="read_more", text=phrase)]
        url = away[-1]
        return [Evidence(kind="read_more", text=phrase, url=url, outlet=self._outlet_of_host(host_of(url)))]

    def _canonical(self, article: Article) -> list[Evidence]:
        url = _normalized(article.canonical_url) if article.canonical_url else None
        if not url or registered_domain(url) == article.domain:
            return []
        return [Evidence(kind="canonical", text=article.canonical_url, url=url, outlet=self._outlet_of_host(host_of(url)))]

    def _body_links(self, article: Article) -> list[Evidence]:
        found = []
        for link in article.links:
            url = _normalized(link)
            source = self.sources.find_by_host(host_of(url)) if url else None
            if source is not None:
                found.append(Evidence(kind="body_link", text=link, url=url, outlet=source.key))
        return found


def mentions_credit(line: str) -> bool:
    """A cheap first look for a credit (every credit phrase holds one of CREDIT_WORDS): `CREDIT_WORDS_PATTERN`
    found in `line`. Searched in the lowered line, which is what the case-insensitive pattern does unless the
    line holds one of the four letters `re` equates with ASCII ones (CASE_TWINS): those go through the pattern."""
    if any(twin in line for twin in CASE_TWINS):
        return CREDIT_WORDS_PATTERN.search(line) is not None
    lowered = line.lower()
    return lowered.startswith("via") or any(word in lowered for word in CREDIT_WORDS)


def _is_name(part: str) -> bool:
    """A person's or a publication's name: up to six capitalised words (particles allowed), no digits."""
    words = part.split()
    return 0 < len(words) <= 6 and all(NAME_WORD.match(w) for w in words) and any(w[0].isupper() for w in words)


def _sentence_around(line: str, match: re.Match[str]) -> str:
    """The sentence holding a credit phrase, for showing as evidence."""
    start = max(line.rfind(". ", 0, match.start()) + 2, 0) if ". " in line[: match.start()] else 0
    end = line.find(". ", match.end())
    return line[start : end + 1 if end >= 0 else len(line)].strip()


@lru_cache(maxsize=URLS_KEPT)
def _normalized(url: str | None) -> str | None:
    """`url` normalised (kept: copies of a story carry the same links), None when it is not a URL."""
    try:
        return normalize_url(url) if url else None
    except ValueError:
        return None
