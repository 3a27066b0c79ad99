"""Stories and syndication chains: which copy is the origin, and which copy each one took its text from.

A story is an origin and the copies linked to it. The origin is chosen, in this order, by attribution
evidence (an article credited by another member's attribution line, credit sentence, canonical or link came
first), by dates that can be trusted, by the outlet's role in config (an origin outlet before a republisher),
by how well each is dated (a timed date over a day-only one, any date over none: republishers' pages are the
ones that lose the time or the date), and last by containment asymmetry (the more complete text: teasers and
excerpts are the commonest undated copies). A date is an interval (`date_bounds`): a date without a time
(read as midnight) covers its whole day, and an archive capture's time bounds the publication from above (a
page dated after its own capture has a wrong date, and only the capture counts). Two dates decide only when
their intervals do not overlap. Each copy's parent is the member its evidence credits (a crosspost of a crosspost points at the
copy it took from), else an earlier copy whose own additions it carries, else the origin.

Confidence says how much to trust a placement: for a copy 0.55 plus 0.35 x the share of the smaller text
found in the other (origin or parent), plus 0.1 when its own evidence credits its parent, less 0.2 without a
date on either side and 0.05 without a title; for the origin 0.6, plus 0.3 when a copy credits it and 0.1
when its date interval ends before every copy's begins, less the same for a missing date or title, and less
0.15 when the choice rests on weak ground (`ChainInfo.basis` "weak": neither credited nor decisively dated).

Story ids are derived from the origin's URL (`story_id_for`): the same origin always gives the same id,
whatever order articles arrived in, so `relink_all` reproduces them. When a late origin arrives, the story
is rebuilt under the new origin's id (its members move, nothing is duplicated).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import networkx as nx

from crawlers.sources import Role, SourceRegistry
from pipelines.alignment import Alignment
from pipelines.models import Article, ChainInfo, Evidence
from pipelines.settings import LinkSettings

AlignFn = Callable[[Article, Article], Alignment]  # align(a, b): A = a, B = b

ROLE_RANK = {Role.ORIGIN: 0, Role.BOTH: 1, None: 2, Role.REPUBLISHER: 3}  # None: a site not in config
# Up to this many members every earlier copy is a parent candidate (at most 300 alignments, about 0.3 s);
# in larger stories only the credited ones, the previous parent and those the linker verified.
MAX_PAIRWISE_MEMBERS = 25
ASYMMETRY_MARGIN = 0.05  # closer containments than this say nothing about direction
URL_CREDIT, OUTLET_CREDIT = 2, 1
LATEST = datetime.max.replace(tzinfo=timezone.utc)
EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Member:
    """A story member with what is needed to place it."""

    article: Article
    evidence: tuple[Evidence, ...]
    role_rank: int
    cited_urls: frozenset[str]  # links and credited URLs, on every domain of their outlet

    @property
    def url(self) -> str:
        return self.article.url

    @classmethod
    def of(cls, article: Article, evidence: Iterable[Evidence], sources: SourceRegistry) -> Member:
        source = sources.get(article.outlet)
        evidence = tuple(evidence)
        cited = [*article.links, *(e.url for e in evidence if e.url)]
        return cls(article, evidence, ROLE_RANK[source.role if source else None], frozenset(_identities(cited, sources)))


@dataclass(frozen=True)
class Placement:
    """Where one article sits: what `Store.set_chain` records."""

    url: str
    story_id: str
    is_origin: bool
    parent: str | None
    chain: ChainInfo

    def differs_from(self, article: Article) -> bool:
        stored = (article.story_id, article.is_origin, article.parent, article.chain)
        return stored != (self.story_id, self.is_origin, self.parent, self.chain)


def story_id_for(origin_url: str) -> str:
    return "s" + hashlib.sha1(origin_url.encode("utf-8")).hexdigest()[:16]


def credit(member: Member, other: Article) -> int:
    """How strongly `member` says it took its text from `other`: URL_CREDIT when it links or credits the
    URL, OUTLET_CREDIT when an attribution names its outlet, else 0. Plain body links to an outlet's other
    pages are not counted: they cite facts, not the text."""
    if other.url in member.cited_urls:
        return URL_CREDIT
    label = _domain_label(other.domain)
    for item in member.evidence:
        if item.kind == "body_link":
            continue
        if item.outlet in (other.outlet, other.domain):
            return OUTLET_CREDIT
        if item.outlet is None and item.kind == "attribution_line" and len(label) >= 4 and label in _letters(item.text):
            return OUTLET_CREDIT  # "Reclaim The Net | July 8, 2025" and an article from reclaimthenet.org
    return 0


def precedes(x: Member, y: Member, align: AlignFn) -> bool:
    """True when `x` is the earlier of the two in the syndication chain (the one copied from)."""
    x_credited, y_credited = credit(y, x.article), credit(x, y.article)
    if x_credited != y_credited:
        return x_credited > y_credited
    decided = dated_before(x.article, y.article)
    if decided is not None:
        return decided
    if x.role_rank != y.role_rank:
        return x.role_rank < y.role_rank
    x_documented, y_documented = _date_precision(x.article), _date_precision(y.article)
    if x_documented != y_documented:
        return x_documented > y_documented  # an undated or day-only page against a timed one: the better documented
    alignment = align(x.article, y.article)
    if abs(alignment.containment_b - alignment.containment_a) > ASYMMETRY_MARGIN:
        return alignment.containment_b > alignment.containment_a  # x holds more of y than y of x
    return x.url < y.url


def _date_precision(article: Article) -> int:
    """2 for a date with a time, 1 for a day (or only a capture's upper bound), 0 for nothing."""
    bounds = date_bounds(article)
    return 0 if bounds is None else 2 if bounds[0] == bounds[1] else 1


def date_bounds(article: Article) -> tuple[datetime, datetime] | None:
    """The interval the article was published in, or None when nothing bounds it: a date without a time
    covers its day, and an archive capture bounds it from above (a date after the capture is wrong)."""
    published, captured = article.published, article.captured_at
    if published is None:
        return (EARLIEST, captured) if captured else None
    low, high = (published, published + DAY) if published.time() == datetime.min.time() else (published, published)
    if captured and captured < low:
        return EARLIEST, captured  # dated after its own capture: the date is wrong, the capture is not
    return low, min(high, captured) if captured else high


def dated_before(x: Article, y: Article) -> bool | None:
    """True when x was surely published before y, False when surely after, None when dates cannot tell."""
    x_bounds, y_bounds = date_bounds(x), date_bounds(y)
    if x_bounds is None or y_bounds is None:
        return None
    if x_bounds[1] < y_bounds[0]:
        return True
    if y_bounds[1] < x_bounds[0]:
        return False
    return None


def lag_seconds(copy: Article, origin: Article) -> float | None:
    """Seconds from the origin's publication to the copy's; None when either is undated. Where a day-only date
    makes the two intervals overlap, the dates cannot order them, so the lag is never below 0: a republisher
    that prints only "June 11" is not 9 h earlier than an origin timed 09:30 that day."""
    if copy.published is None or origin.published is None:
        return None
    lag = (copy.published - origin.published).total_seconds()
    return max(lag, 0.0) if dated_before(origin, copy) is None else lag


def choose_origin(members: list[Member], align: AlignFn, graph: nx.DiGraph | None = None) -> Member:
    """The member no other one credits first, then the earliest, then the more complete (`graph`: the
    members' credit graph, when the caller has it)."""
    graph = graph if graph is not None else _credit_graph(members)
    roots = [m for m in members if graph.in_degree(m.url) == 0] or members
    roots.sort(key=lambda m: m.url)
    best = roots[0]
    for member in roots[1:]:
        if precedes(member, best, align):
            best = member
    return best


def build_chain(
    members: list[Member],
    align: AlignFn,
    settings: LinkSettings,
    to_place: set[str] | None = None,
    hints: dict[str, set[str]] | None = None,
) -> list[Placement]:
    """Placements of a story's members. With `to_place`, other copies keep their stored placement (a copy
    joined a story whose origin did not change); `hints` add parent candidates per member in stories of
    more than MAX_PAIRWISE_MEMBERS (the members a new article was verified against)."""
    graph = _credit_graph(members)
    origin = choose_origin(members, align, graph)
    sid = story_id_for(origin.url)
    ordered = _ordered(members, origin, graph)
    placements = [_place_origin(origin, ordered, sid)]
    by_url = {m.url: m for m in ordered}
    for position, member in enumerate(ordered[1:], start=1):
        if to_place is not None and member.url not in to_place and member.article.story_id == sid:
            continue
        earlier = {m.url for m in ordered[:position]}
        if len(ordered) <= MAX_PAIRWISE_MEMBERS:
            wanted = earlier
        else:
            wanted = {c.url for c in ordered[:position] if credit(member, c.article)}
            wanted |= {member.article.parent} | (hints or {}).get(member.url, set())
        candidates = [by_url[u] for u in sorted(wanted & earlier) if u != origin.url]
        placements.append(_place_copy(member, origin, candidates, align, settings, sid))
    return placements


def classify(coverage: float, added_share: float, settings: LinkSettings) -> str:
    """full: the whole origin and little else; extended: the whole origin with commentary or an intro;
    excerpt: part of the origin (a teaser, a cut ending); partial: part of the origin inside other text."""
    if coverage >= settings.full_coverage:
        return "full" if added_share <= settings.added_share else "extended"
    return "excerpt" if added_share <= settings.added_share else "partial"


def _place_origin(origin: Member, ordered: list[Member], sid: str) -> Placement:
    article, copies = origin.article, [m.article for m in ordered[1:]]
    credited = any(credit(m, article) for m in ordered[1:])
    earliest = bool(copies) and all(dated_before(article, copy) for copy in copies)
    basis = None if not copies else "credited" if credited else "dated" if earliest else "weak"
    confidence = (0.6 + 0.3 * credited + 0.1 * earliest - 0.15 * (basis == "weak")
                  - 0.2 * (article.published is None) - 0.05 * (not article.title))
    chain = ChainInfo(coverage=1.0, added_share=0.0, lag_seconds=0.0, kind="origin", confidence=_clamp(confidence),
                      evidence=list(origin.evidence), shared_sources=_shared_sources(article), basis=basis)
    return Placement(origin.url, sid, True, None, chain)


def _place_copy(
    member: Member, origin: Member, candidates: list[Member], align: AlignFn, settings: LinkSettings, sid: str
) -> Placement:
    to_origin = align(origin.article, member.article)
    parent, credited = _parent(member, origin, to_origin, candidates, align, settings)
    coverage = round(to_origin.containment_a, 4)
    added = round(1.0 - to_origin.containment_b, 4)
    article, first = member.article, origin.article
    lag = lag_seconds(article, first)
    text_strength = min(1.0, max(to_origin.coverage_of_smaller, align(parent.article, article).coverage_of_smaller))
    confidence = (0.55 + 0.35 * text_strength + 0.1 * credited
                  - 0.2 * (lag is None) - 0.05 * (not article.title))
    chain = ChainInfo(coverage=coverage, added_share=added, lag_seconds=lag, kind=classify(coverage, added, settings),
                      confidence=_clamp(confidence), evidence=list(member.evidence),
                      shared_sources=_shared_sources(article))
    return Placement(member.url, sid, False, parent.url, chain)


def _parent(
    member: Member, origin: Member, to_origin: Alignment, candidates: list[Member], align: AlignFn, settings: LinkSettings
) -> tuple[Member, bool]:
    """(parent, whether the member's own evidence credits it)."""
    credits = {m.url: credit(member, m.article) for m in [origin, *candidates]}
    strongest = max(credits.values())
    if strongest:
        # Several credited: the latest is the one it took from (the others' credits came with the copied text,
        # as Global Research's "... where this article was originally published" does).
        credited = [m for m in [origin, *candidates] if credits[m.url] == strongest]
        return max(credited, key=lambda m: ((m.article.published or EARLIEST).isoformat(), m.url)), True
    best, best_extra = origin, 0
    for candidate in candidates:
        alignment = align(candidate.article, member.article)
        if not alignment.is_copy(settings):
            continue
        # words the member shares with this copy but not with the origin: the copy's own additions
        extra = _only_in(alignment.covered_b, to_origin.covered_b)
        if extra >= settings.min_shared_words and extra > best_extra:
            best, best_extra = candidate, extra
    return best, False


def _only_in(here: bytearray, there: bytearray) -> int:
    """How many words are flagged (1) in `here` and not in `there`, counted on the flags read as two integers."""
    n = min(len(here), len(there))
    return (int.from_bytes(here[:n], "big") & ~int.from_bytes(there[:n], "big")).bit_count()


def _credit_graph(members: list[Member]) -> nx.DiGraph:
    """Edge u -> v when v credits u; mutual credits are dropped (they say nothing about direction)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(m.url for m in members)
    for member in members:
        for other in members:
            if other is not member and credit(member, other.article):
                graph.add_edge(other.url, member.url)
    while True:
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return graph
        graph.remove_edges_from(cycle)


def _ordered(members: list[Member], origin: Member, credits: nx.DiGraph) -> list[Member]:
    """The origin, then the copies: credited before crediting, then by publication."""
    graph = credits.copy()
    graph.remove_node(origin.url)
    by_url = {m.url: m for m in members}
    key = {m.url: ((m.article.published or LATEST).isoformat(), m.url) for m in members}
    rest = nx.lexicographical_topological_sort(graph, key=lambda url: key[url])
    return [origin, *(by_url[u] for u in rest)]


@lru_cache(maxsize=10_000)
def _domain_label(domain: str) -> str:
    return _letters(domain.rsplit(".", 1)[0])


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _identities(urls: Iterable[str], sources: SourceRegistry) -> Iterable[str]:
    """Each URL under every domain of its outlet: a link to journal-neo.org credits the copy stored at .su."""
    for url in urls:
        yield from _variants(sources, url)


@lru_cache(maxsize=10_000)
def _variants(sources: SourceRegistry, url: str) -> tuple[str, ...]:
    """`sources.url_variants(url)`, none for what is not a URL; kept, as copies of a story cite the same pages."""
    try:
        return tuple(sources.url_variants(url))
    except ValueError:
        return ()


def _shared_sources(article: Article) -> list:
    """The shared-source relations a placement keeps (pipelines/shared_sources.py records them)."""
    return list(article.chain.shared_sources) if article.chain else []


def _clamp(value: float) -> float:
    return round(min(1.0, max(0.05, value)), 3)
