"""`storytrail import`: every line stands alone; a bad one is one error with its line number and reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cli_runner import REPO, command, environment

from pipelines.stores.sqlite import SqliteStore

TEXT = " ".join(f"Sentence {i} of an imported article about harbour inspections and ferry strikes." for i in range(30))


def good(n: int) -> str:
    return json.dumps({"url": f"https://imported.example.org/a/{n}", "title": f"Imported {n}", "text": TEXT + f" {n}"})


def run_import(tmp_path: Path, lines: list[bytes]) -> tuple[subprocess.CompletedProcess, int]:
    """Import in a fresh wrapper process, so the peak memory measured is the import's alone (KiB)."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(b"\n".join(lines) + b"\n")
    cmd = command("import", str(corpus), data_dir=tmp_path / "data")
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)")
    result = subprocess.run([sys.executable, "-c", wrapper, *cmd], cwd=REPO, env=environment(None),
                            capture_output=True, text=True, timeout=120)
    return result, int(result.stderr.strip().splitlines()[-1])


def test_bad_lines_are_one_error_each_and_the_rest_is_imported(tmp_path):
    lines = [
        good(1).encode(),
        b'{"url": "https://imported.example.org/a/x", "text": "lone \\ud800 surrogate"}',
        b'{"url": "https://imported.example.org/a/y", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"url": 12, "text": "bad field"}',
        b'{"url": "https://imported.example.org/a/z", "text": "caf\xe9 in latin-1"}',
        b'{"url": "https://imported.example.org/a/huge", "text": "' + b"word " * (10 * 1024 * 1024) + b'"}',  # 50 MB
        b'{"url": "not a url", "text": "x"}',
        good(2).encode(),
        b'{"url": "https://imported.example.org/a/h", "html": "<html><body><p>lone \\udc00</p></body></html>"}',
    ]
    result, peak_kib = run_import(tmp_path, lines)
    log = result.stderr
    assert "Traceback" not in log, log[-3000:]
    assert result.returncode == 1, log[-3000:]
    assert "2 document(s) imported, 7 rejected" in log
    for number, reason in [(2, "field 'text'"), (3, "nested too deeply"), (4, "field 'url'"), (5, "not UTF-8"),
                           (6, "max_document_bytes"), (7, "not an absolute http(s) URL"), (9, "field 'html'")]:
        lines_about = [line for line in log.splitlines() if f"corpus.jsonl:{number}:" in line]
        assert len(lines_about) == 1 and reason in lines_about[0], (number, reason, log[-3000:])
    assert peak_kib < 500 * 1024, f"peak memory {peak_kib // 1024} MB for a 50 MB line"
    with SqliteStore(tmp_path / "data" / "storytrail.db") as store:
        assert {a.url for a in store.iter_articles()} == {f"https://imported.example.org/a/{n}" for n in (1, 2)}
