"""The probability of a label answer, from the log probabilities a server sends with it.

A chat completion asked for `logprobs` (with `top_logprobs`) says, for each token of its answer, the
token chosen and the most likely tokens at that position with their log probabilities. The label's
probability is read where the label is written (after `{"label": "` in a structured answer, else
where the answer first names it), given the text before it:

- Each label's probability is that of the tokens that set it apart from the other labels. The
  chosen label's is the product of the probabilities of its tokens, from its first to the first one
  after which no other label can still be spelled (for "very positive" against "very negative",
  the tokens "very" and " positive"; for "unsubscribe" against "billing", the first token "uns"
  alone); so labels sharing their first tokens are told apart where they part, and a label of
  several tokens has the joint probability of the tokens it needs.
- An alternative token at one of those positions is credited, times the probability of the chosen
  tokens before it, to the label it goes on to spell (its continuation counts as certain). One that
  spells a whole label belongs to that label; one that spells the start of several is shared evenly
  among them; one that spells none, or adds nothing, is left out.
- Tokens that differ from a chosen one only in case (and, for the label's first token, in leading
  spaces) are the same token, as the label matching takes them: their probabilities are added.
- The result is normalized over the labels: probability mass on text that names no label, and on
  tokens beyond the `top_logprobs` listed, is left out.

This reduces to normalizing the first-token probabilities of the labels when their first tokens
differ, and stays faithful where those alone cannot tell labels apart. A label that begins another
("pos" against "positive") written at the very end of the answer, where no next token is listed,
misses the chance that the answer would have gone on to the longer one. An answer whose tokens do
not spell its text, or in which the label cannot be found, has no probability (None).
"""

from __future__ import annotations

import math
import re
from typing import Iterable, NamedTuple, Sequence


class Token(NamedTuple):
    text: bytes
    logprob: float
    alternatives: list[tuple[bytes, float]]


def label_probability(content: str, label: str, labels: Sequence[str], token_logprobs: Iterable | None,
                      field: str | None = None) -> float | None:
    """The probability of `label`, the answer `content` names, among `labels`; `token_logprobs` are
    the completion's `choices[0].logprobs.content`, `field` the JSON field a structured answer holds
    the label in. None when the logprobs are missing or do not match the content."""
    items = list(token_logprobs or ())
    texts = [_token_bytes(item) for item in items]
    logprobs = [getattr(item, "logprob", None) for item in items]
    if (label not in labels or not items or None in texts or not all(map(_is_number, logprobs))
            or b"".join(texts) != content.encode("utf-8", "surrogatepass")):
        return None
    start = _label_start(content, label, field)
    if start is None:
        return None
    first, prefix = _token_at(texts, len(content[:start].encode("utf-8", "surrogatepass")))
    tokens = (Token(text, float(logprob), _alternatives(item))
              for item, text, logprob in zip(items[first:], texts[first:], logprobs[first:]))
    mass = _label_masses(tokens, prefix, label, labels)
    total = sum(mass.values())
    return mass[label] / total if total > 0 else None


def _alternatives(item) -> list[tuple[bytes, float]]:
    return [(alternative, float(logprob)) for entry in getattr(item, "top_logprobs", None) or ()
            if (alternative := _token_bytes(entry)) is not None
            and _is_number(logprob := getattr(entry, "logprob", None))]


def _token_bytes(item) -> bytes | None:
    """A token's UTF-8 bytes: its `bytes` where sent (a character may be split over tokens), else its text."""
    raw = getattr(item, "bytes", None)
    if raw:
        return bytes(raw)
    token = getattr(item, "token", None)
    return token.encode("utf-8", "surrogatepass") if isinstance(token, str) else None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _label_start(content: str, label: str, field: str | None) -> int | None:
    """Where the label is written: as the value of `field` in a structured answer, else its first mention."""
    if field is not None:
        value = re.search(rf'"{re.escape(field)}"\s*:\s*"', content)
        if value and content[value.end():value.end() + len(label)].casefold() == label.casefold():
            return value.end()
    mention = re.search(rf"(?<!\w){re.escape(label)}(?!\w)", content, re.IGNORECASE)
    return mention.start() if mention else None


def _token_at(texts: list[bytes], offset: int) -> tuple[int, bytes]:
    """The index of the token holding byte `offset`, and its bytes before that offset."""
    position = 0
    for index, text in enumerate(texts):
        if position + len(text) > offset:
            return index, text[:offset - position]
        position += len(text)
    raise ValueError("offset beyond the tokens")


def _label_masses(tokens: Iterable[Token], prefix: bytes, label: str, labels: Sequence[str]) -> dict[str, float]:
    """The probability credited to each label, walking the chosen tokens from the label's first."""
    mass = dict.fromkeys(labels, 0.0)
    others = [other for other in labels if other != label]
    path, written = 1.0, b""
    for position, token in enumerate(tokens):
        first = position == 0
        own = token.text[len(prefix):] if first else token.text
        before, chosen = _spelled(written, first), _spelled(written + own, first)
        step = math.exp(token.logprob)
        for alternative, logprob in token.alternatives:
            if alternative == token.text:
                continue
            rest = _after_prefix(alternative, prefix) if first else alternative
            if rest is None:
                continue
            spelled = _spelled(written + rest, first)
            if spelled.casefold() == chosen.casefold():
                step += math.exp(logprob)
            elif len(spelled) > len(before):
                _credit(mass, spelled, labels, path * math.exp(logprob))
        path *= step
        written += own
        if not any(_can_spell(chosen, other) for other in others):
            break
    mass[label] += path
    return mass


def _after_prefix(alternative: bytes, prefix: bytes) -> bytes | None:
    """An alternative first token without the text the chosen one holds before the label (a space
    or a quote), or None when it does not start so; a prefix of spaces may be left out."""
    if alternative.startswith(prefix):
        return alternative[len(prefix):]
    return alternative if not prefix.strip() else None


def _spelled(written: bytes, first: bool) -> str:
    """The label text written so far (an unfinished character left out); leading spaces dropped."""
    text = written.decode("utf-8", "ignore")
    return text.lstrip() if first else text


def _can_spell(text: str, label: str) -> bool:
    """Whether `text` is the start of `label`, or `label` followed by no more of a word."""
    text, label = text.casefold(), label.casefold()
    if label.startswith(text):
        return True
    return text.startswith(label) and not _is_word_character(text[len(label)])


def _is_word_character(character: str) -> bool:
    return character.isalnum() or character == "_"


def _credit(mass: dict[str, float], spelled: str, labels: Sequence[str], probability: float) -> None:
    """Give `probability` to the whole label `spelled` writes (the longest), else share it among
    the labels it starts."""
    candidates = [label for label in labels if _can_spell(spelled, label)]
    whole = [label for label in candidates if spelled.casefold().startswith(label.casefold())]
    if whole:
        mass[max(whole, key=len)] += probability
        return
    for label in candidates:
        mass[label] += probability / len(candidates)
