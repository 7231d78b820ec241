"""Reading a learner's answer and showing a card: what both interviews do the same way.

* reading: :func:`normalise` an answer, find a key word in it (:func:`contains`), tell an
  unanswered cell (:func:`is_unanswered`);
* showing: :class:`Card`, text shown as plain text in terminals and nbval and as Markdown in
  Jupyter, built by :func:`card`; :class:`Shown` gives any such dataclass that behaviour.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from .interview_data import PLACEHOLDERS


def normalise(text: str) -> str:
    """``text`` in NFKC form (full-width letters as ASCII) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def contains(text: str, word: str) -> bool:
    """Is ``word`` in normalised ``text``? ASCII words must start at a word boundary."""
    word = normalise(word)
    if word.isascii():
        return re.search(r"(?<![a-z0-9])" + re.escape(word), text) is not None
    return word in text


def is_unanswered(answer: str) -> bool:
    """True for an empty answer (white space only) or one of the :data:`PLACEHOLDERS`."""
    stripped = normalise(answer).strip()
    return not stripped or stripped in {normalise(p) for p in PLACEHOLDERS}


class Shown:
    """Shown as its ``text`` in terminals and nbval, as its ``markdown`` in Jupyter.

    Subclasses are dataclasses with ``text`` and ``markdown`` fields, declared with
    ``repr=False`` so that this ``__repr__`` stays theirs.
    """

    text: str
    markdown: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"text/plain": self.text, "text/markdown": self.markdown}


@dataclass(repr=False)
class Card(Shown):
    """Text shown in a notebook: plain text for terminals and nbval, Markdown for Jupyter."""

    text: str
    markdown: str
    found: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def mentioned(self) -> list[str]:
        """Names of the checklist points the checked answer mentions (empty if none checked)."""
        return [name for name, words in self.found.items() if words]


def card(lines: list[str], heading_lines: Sequence[int] = (0,),
         found: dict[str, tuple[str, ...]] | None = None) -> Card:
    """Plain text as is; in Markdown the heading lines in bold and the rest kept as written."""
    escaped = [html.escape(line, quote=False) for line in lines]
    marked = [f"**{line}**" if index in heading_lines else line
              for index, line in enumerate(escaped)]
    markdown = "\n".join(line if line.strip() else "" for line in marked)
    # Keep the model answer's own line breaks: Markdown joins single newlines otherwise.
    markdown = markdown.replace("\n", "  \n")
    return Card("\n".join(lines), markdown, found or {})


__all__ = ["Card", "Shown", "card", "contains", "is_unanswered", "normalise"]
