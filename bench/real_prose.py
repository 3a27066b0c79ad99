"""The linking benchmark's corpus: real article text, copied the way republishers copy it.

What is real: every story's origin text, the wire text and the primary-source passages (a "bulletin" or "court
filing" two different articles both carry) are taken, as long as they last, from real articles: the 181
ground-truth bodies of ../shared/benchmarks/article-extraction, the seed pages in ../shared/seeds and every
page of the real dev set in tests/data/real (trafilatura's text between the first and last sentence a reader
sees there); all read at run time, never copied into the project.
What is generated: the text of articles nobody copies, the intros, outros and own text that republishers and
quoting articles add and, once the real texts are used up (past ~1k articles), further origins and passages.
It comes from `PhraseModel`, a word-trigram model trained on those real texts, so it has real phrase statistics
(two generated articles share "said in a statement on" as two real ones do). Where a two-word context was seen
with only one next word, the model backs off to one word of context, so it does not replay its training texts
verbatim. `CorpusBuilder.real_share` says how much of a corpus is real text.

The copies follow what republishers do (../shared/reference/outlets.md): words edited here and there, sentences
dropped, intros and outros added, cut endings, teasers with "Read more", crossposts of crossposts, copies on
the same outlet as their source, a wire text carried by 20 outlets, long quotations of another article with a
credit line or a link. A third of the copies have a missing or wrong date (a date-only date, a clock off by a
time zone, the date of something else). The negatives: pairs of different articles that both carry one long
primary-source passage WITHOUT quotation marks, and articles quoting a sentence of another with attribution.
Every story (and each negative pair) is put in the tuning or the held-out split by a hash of its id.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT / ".." / "shared"
REAL_DEV_SET = PROJECT_ROOT / "tests" / "data" / "real"
START = datetime(2020, 1, 1, tzinfo=timezone.utc)
OUTLETS = 60
STORY_SHARE = 0.07  # of the articles, origins with 1-4 copies
SHARED_SOURCE_SHARE = 0.015  # of the articles, pairs of different articles carrying one primary-source passage
CITING_SHARE = 0.01  # of the articles, pairs where one quotes a sentence of the other with attribution
WIRE_EVERY = 5000  # one wire story (20 carriers) per this many articles, at least one
WIRE_CARRIERS = 20
BAD_DATE_SHARE = 1 / 3
COPY_KINDS = ("full", "edited", "intro_outro", "trimmed", "teaser", "quoted_excerpt", "crosspost", "same_outlet")
PARTIAL_KINDS = ("trimmed", "teaser", "quoted_excerpt")
EDITS = {"said": "stated", "says": "said", "but": "however", "also": "as well", "about": "around", "US": "U.S.",
         "percent": "per cent", "government": "administration", "people": "residents", "told": "informed"}
PRIMARY_SOURCES = ("The ministry's bulletin reads as follows.", "The court filing states:", "According to the report,",
                   "The statement released on Monday says", "The indictment reads:", "The agency's notice adds")
_QUOTES = re.compile(r"[“”\"«»„]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"])")


def real_texts() -> list[str]:
    """Real article bodies: the shared benchmark's ground truth, the seed pages and the dev set's bodies."""
    truth = json.loads((SHARED / "benchmarks" / "article-extraction" / "ground-truth.json").read_text("utf-8"))
    texts = [entry["articleBody"] for _, entry in sorted(truth.items())]
    texts += [p.read_text("utf-8") for p in sorted((SHARED / "seeds").glob("0*.txt"))]
    texts += dev_set_bodies()
    return [t for t in (_clean(t) for t in texts) if len(t.split()) >= 120]


def dev_set_bodies() -> list[str]:
    """The article bodies of the dev set's saved pages (tests/data/real, pages not from the shared benchmark):
    trafilatura's text from the first to the last sentence a reader sees there (its truth.json); a page where
    either sentence is not found is left out."""
    import gzip

    import trafilatura

    truth_file = REAL_DEV_SET / "truth.json"
    bodies = []
    for entry in json.loads(truth_file.read_text("utf-8")) if truth_file.is_file() else []:
        if not entry.get("file") or not entry.get("first") or not entry.get("last"):
            continue
        html = gzip.decompress((REAL_DEV_SET / entry["file"]).read_bytes()).decode("utf-8", "replace")
        text = trafilatura.extract(html) or ""
        start, end = text.find(entry["first"][:40]), text.rfind(entry["last"][-40:])
        if 0 <= start < end:
            bodies.append(text[start : end + len(entry["last"][-40:])])
    return bodies


def _clean(text: str) -> str:
    return "\n".join(p.strip() for p in text.replace("\r", "").split("\n") if len(p.split()) >= 4)


class PhraseModel:
    """Word trigrams of real text, backing off to bigrams where a context has a single continuation."""

    def __init__(self, texts: list[str], rng: random.Random) -> None:
        self.rng = rng
        self.tri: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.bi: dict[str, list[str]] = defaultdict(list)
        self.starts: list[tuple[str, str]] = []
        for text in texts:
            for sentence in _SENTENCE.split(_QUOTES.sub("", text).replace("\n", " ")):
                words = sentence.split()
                if len(words) < 4:
                    continue
                self.starts.append((words[0], words[1]))
                for a, b, c in zip(words, words[1:], words[2:]):
                    self.tri[(a, b)].append(c)
                for a, b in zip(words, words[1:]):
                    self.bi[a].append(b)
        self.branching = {context for context, followers in self.tri.items() if len(set(followers)) > 1}

    def sentence(self, max_words: int = 45) -> str:
        rng = self.rng
        out = list(rng.choice(self.starts))
        while len(out) < max_words and not out[-1].endswith((".", "?", "!")):
            context = (out[-2], out[-1])
            followers = self.tri[context] if context in self.branching else None
            if not followers:
                followers = self.bi.get(out[-1]) or [w for pair in rng.sample(self.starts, 1) for w in pair[:1]]
            out.append(rng.choice(followers))
        if not out[-1].endswith((".", "?", "!")):
            out[-1] = out[-1].rstrip(",;:—-") + "."
        return " ".join(out)

    def paragraph(self, words: int) -> str:
        out: list[str] = []
        count = 0
        while count < words:
            out.append(self.sentence())
            count += out[-1].count(" ") + 1
        return " ".join(out)

    def paragraphs(self, words: int) -> list[str]:
        out: list[str] = []
        count = 0
        while count < words:
            out.append(self.paragraph(self.rng.randint(30, 110)))
            count += out[-1].count(" ") + 1
        return out

    def title(self) -> str:
        return " ".join(self.sentence(12).split()[:10]).rstrip(".,;:")


@dataclass
class BenchArticle:
    url: str
    outlet: str
    title: str
    published: str | None
    text: str
    story: str  # truth: the story it belongs to (its own URL for an article nobody copies)
    kind: str  # original, single, wire, shared_source, citing, or a copy kind
    origin: str | None = None  # truth: the story's origin, for copies
    group: str | None = None  # the two articles of a shared-source pair
    links: list[str] = field(default_factory=list)
    date_ok: bool = True
    real_words: int = 0

    @property
    def split(self) -> str:
        key = self.group or self.story
        return "tune" if hashlib.sha1(key.encode()).digest()[0] % 2 == 0 else "held"


class CorpusBuilder:
    """`n` articles with planted stories and negatives, in arrival order (publication order, except 3% of
    origins that arrive last, as a backfill would bring them)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.rng = random.Random(seed)
        texts = real_texts()
        self.model = PhraseModel(texts, self.rng)
        self.rng.shuffle(texts)
        split = max(1, len(texts) * 3 // 4)
        self.real_origins = texts[:split]
        self.real_passages = [p for t in texts[split:] for p in _passages(t)]
        self.outlets = [f"bench-news{i}.com" for i in range(OUTLETS)]
        self.footers = {o: f"Follow {o.split('.')[0]} on Telegram. " + self.model.sentence(20) for o in self.outlets}
        self.count = 0
        self.true_dates: dict[str, datetime] = {}  # a copy's date follows its source's true one, shown or not

    def build(self) -> list[BenchArticle]:
        articles: list[BenchArticle] = []
        late: list[BenchArticle] = []
        for _ in range(max(1, self.n // WIRE_EVERY)):
            articles.extend(self._story(wire=True))
        for _ in range(int(self.n * STORY_SHARE)):
            story = self._story()
            (late if self.rng.random() < 0.03 else articles).append(story[0])
            articles.extend(story[1:])
        for _ in range(int(self.n * SHARED_SOURCE_SHARE)):
            articles.extend(self._shared_source_pair())
        for _ in range(int(self.n * CITING_SHARE)):
            articles.extend(self._citing_pair())
        while len(articles) + len(late) < self.n:
            articles.append(self._article("single", self.model.paragraphs(self.rng.randint(200, 900))))
        articles.sort(key=lambda a: a.published or "9999")  # undated ones arrive last
        return articles + late

    @staticmethod
    def real_share(articles: list[BenchArticle]) -> float:
        return sum(a.real_words for a in articles) / max(1, sum(len(a.text.split()) for a in articles))

    # -- pieces -------------------------------------------------------------------------------------
    def _article(self, kind: str, paragraphs: list[str], outlet: str | None = None, not_at: str | None = None,
                 story: str | None = None, real_words: int = 0) -> BenchArticle:
        self.count += 1
        outlet = outlet or self.rng.choice([o for o in self.outlets if o != not_at])
        published = START + timedelta(minutes=self.rng.randint(0, 60 * 24 * 365))
        url = f"https://{outlet}/{published:%Y/%m/%d}/article-{self.count}"
        self.true_dates[url] = published
        text = "\n".join(paragraphs + [self.footers[outlet]])
        return BenchArticle(url, outlet, self.model.title(), published.isoformat(), text, story or url, kind,
                            real_words=real_words)

    def _origin_text(self, words: int) -> tuple[list[str], int]:
        if self.real_origins:
            paragraphs = self.real_origins.pop().split("\n")
            return paragraphs, sum(len(p.split()) for p in paragraphs)
        return self.model.paragraphs(words), 0

    def _story(self, wire: bool = False) -> list[BenchArticle]:
        body, real = self._origin_text(self.rng.randint(250, 1000))
        origin = self._article("wire" if wire else "original", list(body), real_words=real)
        copies: list[BenchArticle] = []
        for _ in range(WIRE_CARRIERS if wire else self.rng.choice((1, 1, 2, 2, 3, 4))):
            kind = "intro_outro" if wire and self.rng.random() < 0.5 else self.rng.choice(COPY_KINDS)
            source = self.rng.choice(copies) if kind == "crosspost" and copies else origin
            if kind == "crosspost" and source is origin:
                kind = "full"
            source_body = source.text.split("\n")[:-1]  # without the source outlet's footer
            same = kind == "same_outlet"
            paragraphs = self._transform(kind, source_body, source)
            copy = self._article(kind, paragraphs, outlet=source.outlet if same else None, not_at=source.outlet,
                                 story=origin.story, real_words=int(real * _share_kept(kind)))
            copy.origin = origin.url
            copy.links = [source.url] if kind in ("teaser", "crosspost", "quoted_excerpt") or self.rng.random() < 0.2 else []
            self._date(copy, source)
            copies.append(copy)
        return [origin, *copies]

    def _date(self, copy: BenchArticle, source: BenchArticle) -> None:
        """A copy after its source; a third without a date or with a wrong one."""
        true = self.true_dates[source.url] + timedelta(minutes=self.rng.randint(20, 4000))
        self.true_dates[copy.url] = true
        copy.published = true.isoformat()
        if self.rng.random() >= BAD_DATE_SHARE:
            return
        copy.date_ok = False
        wrong = self.rng.choice(("missing", "day_only", "timezone", "other"))
        if wrong == "missing":
            copy.published = None
        elif wrong == "day_only":  # the source's date shown without its time, read as midnight: hours before it
            copy.published = self.true_dates[source.url].replace(hour=0, minute=0).isoformat()
        elif wrong == "timezone":  # local time read as UTC
            copy.published = (true - timedelta(hours=self.rng.choice((-12, -8, -5, 5, 8, 12)))).isoformat()
        else:  # a date from elsewhere on the page (a related article's, the site's archive date)
            copy.published = (true - timedelta(days=self.rng.randint(1, 60))).isoformat()

    def _transform(self, kind: str, body: list[str], source: BenchArticle) -> list[str]:
        rng, model = self.rng, self.model
        body = [self._edit(p) for p in body] if kind in ("edited", "intro_outro", "same_outlet", "trimmed") else list(body)
        if kind in ("edited", "intro_outro", "same_outlet"):
            body = self._drop_sentences(body)
        if kind == "intro_outro":
            intro = model.paragraphs(rng.randint(40, 160)) if rng.random() < 0.8 else []
            outro = model.paragraphs(rng.randint(30, 120)) if rng.random() < 0.6 else []
            return intro + body + outro
        if kind == "trimmed":
            return body[: max(2, round(len(body) * rng.uniform(0.55, 0.85)))]
        if kind == "teaser":
            return _words_from(body, 0, rng.randint(30, 90)) + [rng.choice(("Read more >>", "Continue reading", "Read the full article"))]
        if kind == "quoted_excerpt":  # a long passage (60+ words) of another article inside one's own, credited
            start = rng.randrange(max(1, len(body) - 2))
            passage = _words_from(body, start, rng.randint(60, 150))
            credit = rng.choice((f"As {_name(source.outlet)} reported on its website:",
                                 f"{_name(source.outlet)} published the following report, which we reproduce in part."))
            own = model.paragraphs(rng.randint(250, 600))
            return own[:2] + [credit] + passage + own[2:]
        if kind in ("crosspost", "full") and rng.random() < 0.5:
            return [f"{_name(source.outlet)} | {self.true_dates[source.url]:%B %d, %Y}"] + body
        return body

    def _edit(self, paragraph: str) -> str:
        """A republisher's light touch: a word changed, dropped, or a figure rounded, in some paragraphs."""
        if self.rng.random() > 0.4:
            return paragraph
        words = paragraph.split()
        for _ in range(self.rng.randint(1, 2)):
            i = self.rng.randrange(len(words))
            bare = words[i].strip(".,;:")
            if bare in EDITS:
                words[i] = words[i].replace(bare, EDITS[bare])
            elif len(words) > 8:
                del words[i]
        return " ".join(words)

    def _drop_sentences(self, body: list[str]) -> list[str]:
        out = []
        for paragraph in body:
            sentences = _SENTENCE.split(paragraph)
            if len(sentences) > 2 and self.rng.random() < 0.25:
                del sentences[self.rng.randrange(len(sentences))]
            out.append(" ".join(sentences))
        return out

    def _shared_source_pair(self) -> list[BenchArticle]:
        """Two different articles carrying one bulletin or filing without quotation marks, each with its own text."""
        if self.real_passages:
            passage, real = self.real_passages.pop(), True
        else:
            passage, real = self.model.paragraph(self.rng.randint(80, 200)), False
        lead = self.rng.choice(PRIMARY_SOURCES)
        pair = []
        for _ in range(2):
            own = self.model.paragraphs(self.rng.randint(300, 900))
            at = self.rng.randint(1, len(own) - 1)
            article = self._article("shared_source", own[:at] + [lead, self._edit(passage)] + own[at:],
                                    not_at=pair[0].outlet if pair else None, real_words=len(passage.split()) * real)
            article.group = f"shared:{self.count}" if not pair else pair[0].group
            pair.append(article)
        return pair

    def _citing_pair(self) -> list[BenchArticle]:
        """An article, and another that quotes one of its sentences with attribution and a link."""
        cited = self._article("single", self.model.paragraphs(self.rng.randint(250, 700)))
        sentence = self.rng.choice(_SENTENCE.split(cited.text.split("\n")[0]))
        own = self.model.paragraphs(self.rng.randint(250, 700))
        own.insert(1, f"As {_name(cited.outlet)} reported, “{sentence}”")
        citing = self._article("citing", own, not_at=cited.outlet)
        citing.links = [cited.url]
        return [cited, citing]


def _passages(text: str) -> list[str]:
    """Disjoint runs of 80-200 words of a real text (paragraph-aligned), for primary-source passages."""
    out, current = [], []
    for paragraph in text.split("\n"):
        current.append(paragraph)
        if sum(len(p.split()) for p in current) >= 80:
            out.append(" ".join(" ".join(current).split()[:200]))
            current = []
    return out


def _words_from(body: list[str], start: int, words: int) -> list[str]:
    """Whole paragraphs from `start` until at least `words` words."""
    out: list[str] = []
    for paragraph in body[start:]:
        if sum(len(p.split()) for p in out) >= words:
            break
        out.append(paragraph)
    return out


def _share_kept(kind: str) -> float:
    return {"trimmed": 0.7, "teaser": 0.2, "quoted_excerpt": 0.2}.get(kind, 1.0)


def _name(outlet: str) -> str:
    return outlet.split(".")[0].replace("-", " ").title().replace("News", " News")

