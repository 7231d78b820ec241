"""The interview bank: reading ``deepfm_lite/course/interview_bank/*.json`` and checking it.

The interviews keep their content as data, next to the quiz bank. ``interview.json`` holds the
questions of :mod:`deepfm_lite.course.interview`, ``mock_interview.json`` the rounds of
:mod:`deepfm_lite.course.mock_interview`, and ``shared.json`` what both use: the placeholder of
an unanswered cell and the key points of the checklists (:data:`PLACEHOLDERS`, :data:`POINTS`).

The functions below read one part of an entry each and return it as Python values. A malformed
entry raises a one-line ValueError that starts with the file and names the entry and its field,
e.g. ``interview_bank/shared.json: point two_parts 'text': missing or empty 'zh' text``.

Formats: a text is ``{"en": ..., "zh": ...}``, each a string or a list of lines (joined with line
breaks); a key point is ``{"name": ..., "text": <text>, "keywords": [[word, ...], ...]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

from .quiz_core import LANGUAGES

BANK_FOLDER = "interview_bank"
Entry = TypeVar("Entry")


def read_bank(name: str) -> tuple[dict[str, Any], str]:
    """The JSON object in ``interview_bank/<name>.json``, and that file's name for messages."""
    source = f"{BANK_FOLDER}/{name}.json"
    folder = resources.files("deepfm_lite") / "course" / BANK_FOLDER
    text = (folder / f"{name}.json").read_text(encoding="utf-8")
    return parse_json(text, source), source


def parse_json(text: str, source: str) -> dict[str, Any]:
    """The JSON object ``text`` holds; anything else is a one-line ValueError naming ``source``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{source}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object, got {type(data).__name__}")
    return data


def brief_repr(value: Any) -> str:
    """``repr(value)`` cut to 60 characters, for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def bilingual(value: Any, where: str) -> dict[str, str]:
    """``{"en": text, "zh": text}``, both non-empty; a list of lines becomes one text."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object with 'en' and 'zh' texts, "
                         f"got {brief_repr(value)}")
    texts = {}
    for lang in LANGUAGES:
        text = value.get(lang)
        if isinstance(text, list) and all(isinstance(line, str) for line in text):
            text = "\n".join(text)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: missing or empty '{lang}' text")
        texts[lang] = text
    return texts


def word_list(value: Any, where: str) -> tuple[str, ...]:
    """A non-empty list of non-empty strings, as a tuple."""
    if (not isinstance(value, list) or not value
            or not all(isinstance(word, str) and word.strip() for word in value)):
        raise ValueError(f"{where}: expected a non-empty list of non-empty strings, "
                         f"got {brief_repr(value)}")
    return tuple(value)


def bilingual_words(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """``{"en": [...], "zh": [...]}``: a non-empty list of strings in each language."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object with 'en' and 'zh' lists, "
                         f"got {brief_repr(value)}")
    return {lang: word_list(value.get(lang), f"{where} '{lang}'") for lang in LANGUAGES}


def entries(data: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    """``data[key]``, which must be a non-empty list of objects."""
    items = data.get(key)
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"{where}: '{key}' must be a non-empty list of objects")
    return items


def name_of(raw: Mapping[str, Any], key: str, where: str) -> str:
    """``raw[key]``, which must be a name of lower-case letters, digits and underscores."""
    name = raw.get(key)
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"{where}: '{key}' must be a name like 'some_name', "
                         f"got {brief_repr(name)}")
    return name


def keyed(items: Sequence[Entry], key: str, what: str, source: str) -> dict[str, Entry]:
    """``items`` by their ``key`` attribute, in order; a name used twice is a ValueError."""
    table: dict[str, Entry] = {}
    for item in items:
        name = getattr(item, key)
        if name in table:
            raise ValueError(f"{source}: {what} {name} is defined twice")
        table[name] = item
    return table


def lookup(table: Mapping[str, Entry], question_id: str, what: str) -> Entry:
    """``table[question_id]``; an unknown id raises KeyError naming ``what`` and listing the ids."""
    if question_id not in table:
        raise KeyError(f"no {what} {question_id!r}; choose one of {', '.join(table)}")
    return table[question_id]


def parse_ui(value: Any, keys: Sequence[str], source: str) -> dict[str, dict[str, str]]:
    """The interface words: per language, every one of ``keys`` as a non-empty string."""
    if not isinstance(value, dict):
        raise ValueError(f"{source}: 'ui' must be an object with 'en' and 'zh' words")
    ui = {}
    for lang in LANGUAGES:
        table = value.get(lang)
        if not isinstance(table, dict):
            raise ValueError(f"{source}: ui '{lang}' must be an object")
        for key in keys:
            if not isinstance(table.get(key), str) or not table[key].strip():
                raise ValueError(f"{source}: ui '{lang}' is missing the text '{key}'")
        extra = sorted(set(table) - set(keys))
        if extra:
            raise ValueError(f"{source}: ui '{lang}' has unknown texts {', '.join(extra)}")
        ui[lang] = {key: table[key] for key in keys}
    return ui


# ---- key points --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPoint:
    """One point a good answer makes, and the words that show an answer mentions it.

    ``keywords`` is a tuple of groups; the point counts as mentioned when every group has at
    least one of its words in the answer (English words match at the start of a word, ignoring
    case; Chinese words match anywhere).
    """

    name: str
    text: dict[str, str]
    keywords: tuple[tuple[str, ...], ...]


def parse_key_point(raw: Mapping[str, Any], source: str, number: int) -> KeyPoint:
    """Entry ``number`` (from 1) of a ``points`` list, ``{"name", "text", "keywords"}``."""
    name = name_of(raw, "name", f"{source}: point {number}")
    where = f"{source}: point {name}"
    groups = raw.get("keywords")
    if not isinstance(groups, list) or not groups:
        raise ValueError(f"{where} 'keywords': expected a non-empty list of groups of words")
    keywords = tuple(word_list(group, f"{where} 'keywords': group {index}")
                     for index, group in enumerate(groups, start=1))
    return KeyPoint(name, bilingual(raw.get("text"), f"{where} 'text'"), keywords)


def parse_key_points(data: Mapping[str, Any], source: str) -> dict[str, KeyPoint]:
    """The ``points`` list of a bank file, keyed by name."""
    points = [parse_key_point(raw, source, number)
              for number, raw in enumerate(entries(data, "points", source), start=1)]
    return keyed(points, "name", "point", source)


def checklist(names: Any, points: Mapping[str, KeyPoint], where: str) -> tuple[KeyPoint, ...]:
    """The key points ``names`` lists, in its order; an unknown name is a ValueError."""
    for name in word_list(names, f"{where} 'checklist'"):
        if name not in points:
            raise ValueError(f"{where} 'checklist': unknown point {name!r}")
    return tuple(points[name] for name in names)


def parse_shared(data: Mapping[str, Any], source: str) -> tuple[tuple[str, ...],
                                                                dict[str, KeyPoint]]:
    """``shared.json``: the placeholders (English first) and the key points by name."""
    placeholders = bilingual(data.get("placeholders"), f"{source}: 'placeholders'")
    return tuple(placeholders[lang] for lang in LANGUAGES), parse_key_points(data, source)


PLACEHOLDERS, POINTS = parse_shared(*read_bank("shared"))

__all__ = ["BANK_FOLDER", "KeyPoint", "PLACEHOLDERS", "POINTS", "bilingual", "bilingual_words",
           "brief_repr", "checklist", "entries", "keyed", "lookup", "name_of", "parse_json",
           "parse_key_point", "parse_key_points", "parse_shared", "parse_ui", "read_bank",
           "word_list"]
