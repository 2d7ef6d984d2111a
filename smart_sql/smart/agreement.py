"""When two answers agree: the one comparison used by the SMART engine and the SQL layer."""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

_TRAILING_PUNCTUATION = re.compile(r"[\s.,;:!?。！？'\"`]+$")
_LEADING_PUNCTUATION = re.compile(r"^[\s'\"`]+")


def normalize(answer: str | None) -> str | None:
    """Trim, case-fold and drop trailing punctuation and surrounding quotes."""
    if answer is None:
        return None
    text = unicodedata.normalize("NFKC", answer).strip()
    text = _LEADING_PUNCTUATION.sub("", text)
    text = _TRAILING_PUNCTUATION.sub("", text)
    return " ".join(text.casefold().split())


def to_label(answer: str | None, labels: Sequence[str]) -> str | None:
    """Map an answer onto one of `labels` (exact after normalization, else the single label it
    mentions as a word); None when it names no label or several."""
    norm = normalize(answer)
    if norm is None:
        return None
    by_norm = {normalize(label): label for label in labels}
    if norm in by_norm:
        return by_norm[norm]
    mentioned = [label for key, label in by_norm.items()
                 if re.search(rf"(?<!\w){re.escape(key)}(?!\w)", norm)]
    return mentioned[0] if len(mentioned) == 1 else None


def canonical(answer: str | None, labels: Sequence[str] | None = None) -> str | None:
    """The form in which answers are compared and stored: a label, or the normalized text."""
    return to_label(answer, labels) if labels else normalize(answer)


def agree(a: str | None, b: str | None, labels: Sequence[str] | None = None) -> bool:
    ca, cb = canonical(a, labels), canonical(b, labels)
    return ca is not None and ca == cb
