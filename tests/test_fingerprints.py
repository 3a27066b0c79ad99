"""Winnowed shingles: the containment guarantee, stable signed-64-bit hashes, the same in every process."""

import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.fingerprints import fingerprints, shingle_hashes, winnow

K, W = 5, 12
GUARANTEE = K + W - 1
WORDS = st.lists(st.sampled_from([f"w{i}" for i in range(400)]), min_size=0, max_size=120)


@settings(max_examples=200, deadline=None)
@given(before_a=WORDS, before_b=WORDS, after_a=WORDS, after_b=WORDS,
       shared=st.lists(st.sampled_from([f"s{i}" for i in range(50)]), min_size=GUARANTEE, max_size=40))
def test_any_shared_run_of_the_guaranteed_length_shares_a_fingerprint(before_a, before_b, after_a, after_b, shared):
    a = before_a + shared + after_a
    b = before_b + shared + after_b
    assert fingerprints(a, K, W) & fingerprints(b, K, W)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(0, 50), min_size=1, max_size=80), window=st.integers(1, 10))
def test_winnowing_keeps_the_minimum_of_every_window_and_nothing_else(values, window):
    windows = [values[i : i + window] for i in range(max(1, len(values) - window + 1))]
    assert winnow(values, window) == {min(w) for w in windows}


def test_hashes_fit_signed_64_bit_integers_and_short_texts_still_get_one():
    words = "the us military said on monday that it had struck targets in iraq and syria".split()
    hashes = shingle_hashes(words, K)
    assert len(hashes) == len(words) - K + 1
    assert all(0 <= h < 2**63 for h in hashes)
    assert len(fingerprints(words[:6], K, W)) == 1
    assert fingerprints(words[:4], K, W) == set()


def test_fingerprints_are_the_same_in_another_process():
    """No Python hash(): a fingerprint stored by one run must be found by the next."""
    words = "kurdish oil has been exported to israel italy france and greece through a secretive trade".split()
    code = (
        "import sys; from pipelines.fingerprints import fingerprints;"
        f"print(sorted(fingerprints({words!r}, {K}, 3)))"
    )
    root = Path(__file__).resolve().parents[1]
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root,
                           env={"PYTHONHASHSEED": "12345", "PATH": ""})
    assert other.stdout.strip() == str(sorted(fingerprints(words, K, 3)))
