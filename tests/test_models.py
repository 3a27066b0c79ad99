"""The records every stage passes on: what they keep of themselves must follow their fields."""

import hashlib
import json
import pickle
from dataclasses import asdict, replace

from pipelines.models import Article, ChainInfo, Evidence, SharedSource


def test_text_hash_follows_the_text_it_was_taken_of():
    article = Article(url="https://a.example/1", outlet="a", domain="a.example", text="First version.")
    first = article.text_hash
    assert first == hashlib.sha1(b"First version.").hexdigest()

    article.text = "Edited version."  # an edit after the hash was read gives a new hash, not the kept one
    assert article.text_hash == hashlib.sha1(b"Edited version.").hexdigest() != first
    assert replace(article, text="First version.").text_hash == first
    assert pickle.loads(pickle.dumps(article)).text_hash == article.text_hash  # as a worker hands it back
    assert "_text_hash" not in article.to_dict()


def test_chain_json_is_the_fields_as_asdict_gives_them():
    chain = ChainInfo(
        coverage=0.8, added_share=0.1, lag_seconds=3600.0, kind="excerpt", confidence=0.9,
        evidence=[Evidence("attribution_line", "Source: «Näher»", outlet="sputnik", url="https://s.example/a")],
        shared_sources=[SharedSource("https://b.example/2", [(0, 40)], [(10, 50)], words=7)],
        basis="credited",
    )
    assert chain.to_json() == json.dumps(asdict(chain), ensure_ascii=False, separators=(",", ":"))
    assert ChainInfo.from_json(chain.to_json()) == chain
