"""Evidence highlighting: terms, character spans, and both mixed; never markup."""

from review_ui.highlight import evidence_terms, segments


def marked(parts) -> list[str]:
    return [text for text, hit in parts if hit]


def joined(parts) -> str:
    return "".join(text for text, _hit in parts)


def test_terms_highlight_every_occurrence_longest_first():
    parts = segments("一对一辅导，一对一", ["一对一", "一对一辅导"])
    assert marked(parts) == ["一对一辅导", "一对一"]
    assert joined(parts) == "一对一辅导，一对一"


def test_a_span_highlights_exactly_its_characters():
    parts = segments("提分提分", [{"start": 2, "end": 4, "text": "提分", "weight": 0.4}])
    assert parts == [("提分", False), ("提分", True)]


def test_spans_counted_in_title_plus_text_are_shifted_onto_the_text():
    title, text = "标题", "正文里有补课"
    scored = f"{title}\n{text}"
    start = scored.index("补课")
    span = {"start": start, "end": start + 2, "text": "补课", "weight": 1.0}
    assert marked(segments(text, [span], prefix=f"{title}\n")) == ["补课"]


def test_a_span_whose_offsets_do_not_fit_falls_back_to_its_text():
    parts = segments("周末补课", [{"start": 50, "end": 52, "text": "补课"}])
    assert marked(parts) == ["补课"]


def test_spans_and_terms_mix_and_bad_entries_are_ignored():
    parts = segments("周末一对一补课", ["周末", {"start": 5, "end": 7}, {"start": "x"}, 42, None,
                                  {"start": 3, "end": 1}])
    assert marked(parts) == ["周末", "补课"]
    assert joined(parts) == "周末一对一补课"


def test_markup_in_text_stays_plain_text():
    parts = segments("<b>补课</b>", ["补课"])
    assert parts == [("<b>", False), ("补课", True), ("</b>", False)]


def test_evidence_terms_lists_words_of_both_forms():
    evidence = ["提分", {"text": "一对一", "start": 0, "end": 3}, {"start": 1}, "提分"]
    assert evidence_terms(evidence) == ["提分", "一对一"]
