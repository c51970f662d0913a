"""Property tests of ``classifier.normalize``: any input gives a short, clean, lower-case string."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.normalize import MAX_CHARS, normalize

PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(st.one_of(st.text(max_size=500), st.none(), st.integers(), st.floats(allow_nan=True)))
def test_normalize_never_raises_and_gives_clean_text(value):
    text = normalize(value)
    assert isinstance(text, str)
    assert len(text) <= MAX_CHARS
    assert text == text.strip() and "  " not in text
    assert not any(unicodedata.category(ch)[0] == "C" for ch in text)
    assert not any(ch in text for ch in "\u200b\u200c\u200d\u2060\ufeff\u00ad")


@PROPERTY
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_full_width_and_upper_case_fold_to_their_plain_forms(text):
    upper = text.upper().replace("a", "ａ")
    assert normalize(upper) == normalize(normalize(text.upper()).replace("a", "ａ"))


@settings(max_examples=20, deadline=None)
@given(st.text(alphabet="补习班数学", min_size=1, max_size=10))
def test_a_very_long_ad_is_cut_to_the_limit(word):
    assert len(normalize(word * (MAX_CHARS * 3))) <= MAX_CHARS
