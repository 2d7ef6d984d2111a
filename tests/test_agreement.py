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


def test_agreement_ignores_case_space_and_trailing_punctuation():
    assert agree("Positive.", "  positive")
    assert not agree("positive", "negative")
    assert not agree(None, None)


def test_labels_map_answers_onto_one_label():
    labels = ["positive", "negative"]
    assert to_label("Negative.", labels) == "negative"
    assert to_label("The sentiment is positive", labels) == "positive"
    assert to_label("positive or negative", labels) is None
    assert to_label("neutral", labels) is None
    assert canonical("NEGATIVE", labels) == "negative"
    assert agree("The review is negative.", "negative", labels)
    assert not agree("neutral", "neutral", labels)
