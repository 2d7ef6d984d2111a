import pytest

from smart_sql.smart.agreement import agree, canonical, normalize, to_label


@pytest.mark.parametrize("raw, expected", [
    ("  Positive. ", "positive"),
    ("POSITIVE!!", "positive"),
    ('"negative"', "negative"),
    ("Acme  Corp", "acme corp"),
    ("Ｐｏｓｉｔｉｖｅ", "positive"),
    ("", ""),
    (None, None),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_normalized_agreement_ignores_space_quotes_and_trailing_punctuation_but_not_case():
    assert agree("Acme  Corp.", '  "Acme Corp"')
    assert not agree("Positive.", "positive")
    assert not agree("positive", "negative")
    assert not agree(None, None)


@pytest.mark.parametrize("compare, raw, value", [
    ("normalized", "  Acme  Corp. ", "Acme Corp"),
    ("casefold", "  Acme  Corp. ", "acme corp"),
    ("exact", "  Acme  Corp. ", "  Acme  Corp. "),
    ("normalized", "AbC-12", "AbC-12"),
    ("exact", "AbC-12", "AbC-12"),
])
def test_the_stored_value_is_what_is_compared(compare, raw, value):
    assert canonical(raw, compare=compare) == value
    assert agree(raw, value, compare=compare)


@pytest.mark.parametrize("compare", ["normalized", "casefold", "exact"])
@pytest.mark.parametrize("answer", [None, "", "   ", " . ", '""'])
def test_an_empty_answer_has_no_value_and_agrees_with_nothing(compare, answer):
    assert canonical(answer, compare=compare) is None
    assert not agree(answer, answer, compare=compare)


def test_case_matters_unless_casefolded_and_exact_keeps_every_character():
    assert agree("Yes", "yes", compare="casefold")
    assert not agree("Yes", "yes")
    assert not agree("abc", "abc.", compare="exact")
    assert agree("abc", "abc.")


def test_an_unknown_comparison_is_refused():
    with pytest.raises(ValueError, match="compare must be one of"):
        canonical("x", compare="fuzzy")


def test_labels_map_answers_onto_one_label():
    labels = ["positive", "negative"]
    assert to_label("Negative.", labels) == "negative"
    assert to_label("The sentiment is positive", labels) == "positive"
    assert to_label("positive or negative", labels) is None
    assert to_label("neutral", labels) is None
    assert canonical("NEGATIVE", labels) == "negative"
    assert agree("The review is negative.", "negative", labels)
    assert not agree("neutral", "neutral", labels)
