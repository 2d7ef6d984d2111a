"""What an answer's value is, and when two answers agree: the one comparison used by the SMART
engine, the SQL layer and the stored columns.

A call compares answers in one of three ways (`compare`), or by label when `labels` are given. The
*value* of an answer is what is compared and what is stored in the column:
- labels: the label it names, spelled as the user listed it;
- 'normalized' (default): the text in Unicode NFKC, trimmed, inner whitespace collapsed, surrounding
  quotes and trailing punctuation dropped ("  Acme  Corp." -> "Acme Corp");
- 'casefold': the same, case-folded ("  Acme  Corp." -> "acme corp");
- 'exact': the text exactly as the model wrote it.
An answer without a value (none, empty, only whitespace or punctuation, or naming no label or
several) is *invalid*: stored as NULL and never agreeing with anything.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

COMPARISONS = ("normalized", "casefold", "exact")

_TRAILING_PUNCTUATION = re.compile(r"[\s.,;:!?。！？'\"`]+$")
_LEADING_PUNCTUATION = re.compile(r"^[\s'\"`]+")


def normalize(answer: str | None, *, casefold: bool = True) -> str | None:
    """Trim, collapse whitespace, drop trailing punctuation and surrounding quotes; case-fold unless
    asked not to."""
    if answer is None:
        return None
    text = unicodedata.normalize("NFKC", answer).strip()
    text = _LEADING_PUNCTUATION.sub("", text)
    text = _TRAILING_PUNCTUATION.sub("", text)
    if casefold:
        text = text.casefold()
    return " ".join(text.split())


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


def canonical(answer: str | None, labels: Sequence[str] | None = None, compare: str = "normalized") -> str | None:
    """The answer's value (compared and stored), or None when the answer is invalid."""
    if labels:
        return to_label(answer, labels)
    if compare == "exact":
        return answer if answer is not None and normalize(answer) else None
    if compare not in COMPARISONS:
        raise ValueError(f"compare must be one of {', '.join(COMPARISONS)}, got {compare!r}")
    return normalize(answer, casefold=compare == "casefold") or None


def agree(a: str | None, b: str | None, labels: Sequence[str] | None = None, compare: str = "normalized") -> bool:
    """Whether two answers have the same value; an invalid answer agrees with nothing."""
    ca, cb = canonical(a, labels, compare), canonical(b, labels, compare)
    return ca is not None and ca == cb
