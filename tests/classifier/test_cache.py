"""The tables kept between runs (``classifier.cache``) are the tables built from their sources."""

from __future__ import annotations

import marshal
import os

from classifier import cache, normalize, tokenize


def test_a_table_is_built_once_then_read_back_and_built_again_for_other_sources(
    tmp_path, monkeypatch,
):
    monkeypatch.setenv("TUTORWATCH_CACHE_DIR", str(tmp_path / "cache"))
    built = []

    def build():
        built.append(1)
        return {"數": "数", "x": None, "n": 1.5}

    assert cache.cached("t", [b"a"], build) == {"數": "数", "x": None, "n": 1.5}
    assert cache.cached("t", [b"a"], build) == {"數": "数", "x": None, "n": 1.5}
    assert len(built) == 1
    cache.cached("t", [b"b"], build)
    assert len(built) == 2
    assert oct(os.stat(tmp_path / "cache").st_mode & 0o777) == oct(0o700)


def test_a_damaged_or_foreign_file_is_built_again(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORWATCH_CACHE_DIR", str(tmp_path))
    cache.cached("t", [b"a"], lambda: {"a": 1})
    (path,) = tmp_path.glob("t-*.marshal")
    path.write_bytes(marshal.dumps(("another key", {"a": 2})))
    assert cache.cached("t", [b"a"], lambda: {"a": 1}) == {"a": 1}
    path.write_bytes(b"\x00garbage")
    assert cache.cached("t", [b"a"], lambda: {"a": 1}) == {"a": 1}


def test_a_directory_that_cannot_be_written_only_costs_the_build(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("TUTORWATCH_CACHE_DIR", str(blocker / "cache"))
    assert cache.cached("t", [b"a"], lambda: {"a": 1}) == {"a": 1}


def test_the_kept_jieba_and_opencc_tables_are_the_ones_built(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORWATCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tokenize, "_log_probs", {})
    tokenize._load_log_probs()  # built and kept
    built = (dict(tokenize._log_probs), tokenize._log_unknown)
    monkeypatch.setattr(tokenize, "_log_probs", {})
    monkeypatch.setattr(tokenize, "_log_unknown", 0.0)
    tokenize._load_log_probs()  # read back
    assert (tokenize._log_probs, tokenize._log_unknown) == built
    normalize._t2s_table.cache_clear()
    try:
        table = normalize._t2s_table()  # built and kept
        normalize._t2s_table.cache_clear()
        assert normalize._t2s_table() == table  # read back
        assert table["數"] == "数"
    finally:
        normalize._t2s_table.cache_clear()
    assert len(list(tmp_path.glob("*.marshal"))) == 2
