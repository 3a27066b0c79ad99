"""The replay web: the outlets' pages, feeds and sitemaps served locally, with a truth file, for tests and
the demo (no machine here reaches the internet).

corpus.py reads the outlets' data (articles.py is its model), render.py renders it into pages, feeds and
sitemaps, web.py answers for them by URL (wayback.py for the archive's captures), truth.py says what the
pipeline should find, and server.py serves it all over HTTP."""


def __getattr__(name: str):
    """`from crawlers.replay import ReplayWeb`, imported lazily so `python -m crawlers.replay.corpus` runs cleanly."""
    if name == "ReplayWeb":
        from crawlers.replay.server import ReplayWeb

        return ReplayWeb
    raise AttributeError(name)
