"""Winnowed word shingles: the fingerprints that let a new article find its copies with an index lookup.

Every run of `k` words is hashed (a rolling polynomial hash over per-word hashes, so it is the same in every
process and on every machine: no Python `hash()`), and winnowing keeps the smallest hash of each window of
`w` consecutive shingles. Winnowing's guarantee (Schleimer, Wilkerson, Aiken 2003): two texts that share a
run of at least `k + w - 1` words share at least one fingerprint. Hashes are below 2**61, so they fit the
stores' signed 64-bit integers.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from functools import lru_cache

MODULUS = (1 << 61) - 1  # a Mersenne prime: the rolling hash stays below 2**61
BASE = 1_000_003


@lru_cache(maxsize=200_000)
def word_hash(word: str) -> int:
    """A stable 61-bit hash of one normalised word."""
    return stable_hash(word)


def stable_hash(text: str) -> int:
    """A stable 61-bit hash of a string."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big") % MODULUS


def shingle_hashes(words: Sequence[str], k: int) -> list[int]:
    """The hash of every run of `k` consecutive words, in order (empty when there are fewer words):
    a rolling polynomial over the words' hashes, modulo a Mersenne prime."""
    if len(words) < k:
        return []
    hashes = list(map(word_hash, words))
    top = pow(BASE, k - 1, MODULUS)
    h = 0
    for value in hashes[:k]:
        h = (h * BASE + value) % MODULUS
    out = [h]
    for old, new in zip(hashes, hashes[k:]):  # the word leaving the run, the word entering it
        h = ((h - old * top) * BASE + new) % MODULUS
        out.append(h)
    return out


def winnow(hashes: Sequence[int], window: int) -> set[int]:
    """The smallest hash of every window of `window` consecutive hashes; a text shorter than one window
    keeps its smallest, so short texts still get a fingerprint."""
    if len(hashes) <= window:
        return {min(hashes)} if hashes else set()
    chosen: set[int] = set()
    candidates: deque[int] = deque()  # positions with increasing hashes: the front is the window's minimum
    for i, value in enumerate(hashes):
        while candidates and hashes[candidates[-1]] >= value:
            candidates.pop()
        candidates.append(i)
        if candidates[0] <= i - window:
            candidates.popleft()
        if i >= window - 1:
            chosen.add(hashes[candidates[0]])
    return chosen


def fingerprints(words: Sequence[str], k: int, window: int) -> set[int]:
    """The winnowed fingerprint set of a word sequence."""
    return winnow(shingle_hashes(words, k), window)
