"""The replay web: the outlets' pages, feeds and sitemaps served locally, with a truth file, for tests and
the demo (no machine here reaches the internet). See server.py for the URL mapping and corpus.py for the data."""


def __getattr__(name: str):
    """`from crawlers.replay import ReplayWeb`, imported lazily so `python -m crawlers.replay.corpus` runs cleanly."""
    if name == "ReplayWeb":
        from crawlers.replay.server import ReplayWeb

        return ReplayWeb
    raise AttributeError(name)
