"""The quiz without its widget: the question bank, checking an answer, the texts shown.

The questions live as data in ``deepfm_lite/course/quiz_bank/<notebook>.json``. This module
loads and validates them (:func:`questions`, :func:`get`), checks a learner's choice
(:func:`check`) and renders a question as plain text and HTML (:func:`question_text`,
:func:`question_html`, :func:`reveal`); :mod:`deepfm_lite.course.quiz` shows them in a notebook
and is the module a notebook imports.
"""

from __future__ import annotations

import difflib
import html
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from .. import settings

LETTERS = ("A", "B", "C", "D")
LANGUAGES = ("en", "zh")
NOTEBOOKS = (
    "00_course_map",
    "01_ctr_basics",
    "02_fm_math",
    "03_embeddings",
    "04_deep_part",
    "05_deepfm",
    "06_experiments",
    "07_hyperparameters",
    "08_review",
    "09_full_criteo",
)

# Interface words in both languages; every learner-facing sentence of this module is here.
UI = {
    "en": {
        "quiz": "Quiz",
        "check": "Check",
        "right": "Right: {letter}. {why}",
        "not_quite": "Not quite: {letter}. {why} Try another option.",
        "answer_is": "Answer: {letter}",
        "how_to": 'Answer in code with quiz.answer("X"), X = A, B, C or D, or with the buttons.',
        "your_answer": "Your answer:",
        "widget_stand_in": "(Answer buttons A-D and Check appear here when widgets are shown.)",
        "pick_first": "Pick an option first, then press Check.",
        "empty": "No answer given: answer with one letter, A, B, C or D.",
        "invalid": "{given} is not one of the options: answer with one letter, A, B, C or D.",
        "not_text": "Answer with a letter in quotes, e.g. \"B\" (got {given} of type {kind}).",
        "nothing_asked": "No question asked yet: run a cell with quiz.ask(...) first, then answer.",
    },
    "zh": {
        "quiz": "小测",
        "check": "核对答案",
        "right": "答对了：{letter}。{why}",
        "not_quite": "还不对：{letter}。{why}再试试别的选项。",
        "answer_is": "答案：{letter}",
        "how_to": "在代码里写 quiz.answer(\"X\") 作答（X 为 A、B、C 或 D），或使用作答按钮。",
        "your_answer": "你的答案：",
        "widget_stand_in": "（在能显示 widget 的环境中，这里会出现 A-D 选项和“核对答案”按钮。）",
        "pick_first": "请先选一个选项，再点“核对答案”。",
        "empty": "还没有作答：请用一个字母作答，A、B、C 或 D。",
        "invalid": "{given} 不是本题的选项：请用一个字母作答，A、B、C 或 D。",
        "not_text": "请用带引号的字母作答，例如 \"B\"（收到的是 {kind} 类型的 {given}）。",
        "nothing_asked": "还没有提问：请先运行含 quiz.ask(...) 的单元格，再作答。",
    },
}


# --------------------------------------------------------------------------- the bank


@dataclass(frozen=True)
class Option:
    """One of the four options: its letter, its text and why it is right or wrong."""

    letter: str
    text: dict[str, str]
    why: dict[str, str]


@dataclass(frozen=True)
class Question:
    """A question of the bank; ``seed`` is its number in the learner's seed session, if any."""

    id: str
    notebook: str
    question: dict[str, str]
    options: tuple[Option, ...]
    answer: str
    seed: int | None = None

    def option(self, letter: str) -> Option:
        """The option with this letter (``"A"`` to ``"D"``)."""
        return self.options[LETTERS.index(letter)]


def _require_texts(value: Any, where: str) -> dict[str, str]:
    """A ``{"en": ..., "zh": ...}`` dict with both texts non-empty, or a ValueError at ``where``."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object with 'en' and 'zh' texts, got {value!r}")
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: missing or empty '{lang}' text")
    return {lang: value[lang] for lang in LANGUAGES}


def parse_question(raw: dict[str, Any], notebook: str, source: str) -> Question:
    """Validate one bank entry and turn it into a :class:`Question` (ValueError names the field)."""
    qid = raw.get("id")
    if not isinstance(qid, str) or not re.fullmatch(r"\d\d\.[a-z0-9_]+", qid):
        raise ValueError(f"{source}: question id {qid!r} is not of the form '01.some_name'")
    if not notebook.startswith(qid[:2]):
        raise ValueError(f"{source}: question {qid} does not belong to notebook {notebook}")
    where = f"{source}: question {qid}"
    options_raw = raw.get("options")
    if not isinstance(options_raw, dict) or tuple(options_raw) != LETTERS:
        raise ValueError(f"{where}: 'options' must have exactly the keys A, B, C, D in order")
    options = tuple(
        Option(
            letter,
            _require_texts(options_raw[letter].get("text"), f"{where} option {letter} 'text'"),
            _require_texts(options_raw[letter].get("why"), f"{where} option {letter} 'why'"),
        )
        for letter in LETTERS
    )
    if raw.get("answer") not in LETTERS:
        raise ValueError(f"{where}: 'answer' must be one of A, B, C, D, got {raw.get('answer')!r}")
    seed = raw.get("seed")
    if seed is not None and seed not in range(1, 6):
        raise ValueError(f"{where}: 'seed' must be a seed question number 1-5, got {seed!r}")
    question = _require_texts(raw.get("question"), f"{where} 'question'")
    return Question(qid, notebook, question, options, raw["answer"], seed)


def parse_bank_file(data: dict[str, Any], source: str) -> list[Question]:
    """Validate one notebook's bank file (already JSON-decoded) and return its questions."""
    notebook = data.get("notebook")
    if notebook not in NOTEBOOKS:
        raise ValueError(f"{source}: 'notebook' must be one of {NOTEBOOKS}, got {notebook!r}")
    _require_texts(data.get("title"), f"{source}: 'title'")
    entries = data.get("questions")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{source}: 'questions' must be a non-empty list")
    return [parse_question(entry, notebook, source) for entry in entries]


@lru_cache(maxsize=1)
def _bank() -> dict[str, Question]:
    """All questions, keyed by id, in course order (loaded once from the package data)."""
    folder = resources.files("deepfm_lite") / "course" / "quiz_bank"
    bank: dict[str, Question] = {}
    for notebook in NOTEBOOKS:
        source = f"quiz_bank/{notebook}.json"
        data = json.loads((folder / f"{notebook}.json").read_text(encoding="utf-8"))
        for question in parse_bank_file(data, source):
            if question.id in bank:
                raise ValueError(f"{source}: duplicate question id {question.id}")
            bank[question.id] = question
    return bank


def questions(notebook: str | None = None) -> list[str]:
    """Question ids in course order; ``notebook`` like ``"01"`` or ``"01_ctr_basics"``."""
    ids = list(_bank())
    if notebook is None:
        return ids
    matches = [name for name in NOTEBOOKS if name == notebook or name[:2] == str(notebook)]
    if not matches:
        raise ValueError(f"notebook {notebook!r} is not one of {', '.join(NOTEBOOKS)}")
    return [qid for qid in ids if _bank()[qid].notebook == matches[0]]


def get(question_id: str) -> Question:
    """The question with this id; an unknown id raises KeyError naming the nearest ids."""
    bank = _bank()
    if question_id in bank:
        return bank[question_id]
    near = difflib.get_close_matches(str(question_id), list(bank), n=3, cutoff=0.6)
    prefix = str(question_id)[:2]
    same_notebook = [qid for qid in bank if qid.startswith(prefix + ".")]
    hints = list(dict.fromkeys(near + same_notebook))[:8] or list(bank)[:8]
    raise KeyError(f"no quiz question {question_id!r}; nearest ids: {', '.join(hints)}")


# --------------------------------------------------------------------------- checking


def resolve_language(lang: str | None = None) -> str:
    """``lang`` or the course setting, as ``"en"`` or ``"zh"`` (``"zh-CN"`` etc. accepted)."""
    chosen = settings.language if lang is None else lang
    normal = str(chosen).strip().lower().replace("_", "-")
    for code in LANGUAGES:
        if normal == code or normal.startswith(code + "-"):
            return code
    source = "lang" if lang is not None else "deepfm_lite.settings.language"
    raise ValueError(f"{source} must be 'en' or 'zh', got {chosen!r}")


@dataclass
class Feedback:
    """The verdict on one answer: ``correct``, the words shown, and the letter understood."""

    correct: bool
    text: str
    choice: str | None = None
    _shown_in: Any = field(default=None, init=False, repr=False, compare=False)

    def __str__(self) -> str:
        return self.text

    def mimebundle(self) -> dict[str, str]:
        """Plain text and HTML of the feedback (deterministic)."""
        return {"text/plain": self.text, "text/html": f"<p>{html.escape(self.text)}</p>"}

    def show(self) -> Feedback:
        """Display the feedback now; as the same cell's value it is then not shown again."""
        self._shown_in = execution_count()
        display_bundle(self.mimebundle())
        return self

    def _ipython_display_(self) -> None:
        # Shown once per cell: answer() displays it, so the same object as the cell's value
        # must not appear a second time.
        if self._shown_in is None or self._shown_in != execution_count():
            display_bundle(self.mimebundle())


_LETTER = re.compile(r"[\(\[【]?\s*([A-Da-d])\s*[\)\]】]?\s*[\.:。、,，]?")


def parse_choice(choice: Any, question: Question) -> str | None:
    """The letter a learner meant by ``choice``, or None when it names no single option.

    Accepted: a letter with optional brackets or a trailing dot/colon (``"c"``, ``" C "``,
    ``"C)"``, ``"(C)"``, ``"C."``, full-width forms too), an option's full text, or a letter
    followed by that option's text (``"C. <text of C>"``).
    """
    if not isinstance(choice, str):
        return None
    text = unicodedata.normalize("NFKC", choice).strip()
    match = _LETTER.match(text)
    if match and match.end() == len(text):
        return match.group(1).upper()
    for option in question.options:
        for option_text in option.text.values():
            wanted = unicodedata.normalize("NFKC", option_text).strip().casefold()
            if text.casefold() == wanted:
                return option.letter
            if match and match.group(1).upper() == option.letter:
                if text[match.end():].strip().casefold() == wanted:
                    return option.letter
    return None


def _invalid_message(choice: Any, lang: str) -> str:
    words = UI[lang]
    if choice is None or (isinstance(choice, str) and not choice.strip()):
        return words["empty"]
    if not isinstance(choice, str):
        return words["not_text"].format(given=repr(choice)[:40], kind=type(choice).__name__)
    shown = choice.strip() if len(choice.strip()) <= 40 else choice.strip()[:40] + "…"
    return words["invalid"].format(given=repr(shown))


def check(question_id: str, choice: Any, lang: str | None = None) -> Feedback:
    """Check ``choice`` against the question: right or not, with that option's explanation.

    Never raises for a learner's choice (an invalid one gives a message on how to answer);
    an unknown ``question_id`` raises KeyError, a bad ``lang`` ValueError.
    """
    question = get(question_id)
    lang = resolve_language(lang)
    letter = parse_choice(choice, question)
    if letter is None:
        return Feedback(False, _invalid_message(choice, lang), None)
    why = question.option(letter).why[lang]
    verdict = "right" if letter == question.answer else "not_quite"
    text = UI[lang][verdict].format(letter=letter, why=why)
    return Feedback(letter == question.answer, text, letter)


# --------------------------------------------------------------------------- renditions


def question_text(question: Question, lang: str, reveal_all: bool = False) -> str:
    """The question and its options as plain text; with ``reveal_all`` the answer and reasons."""
    words = UI[lang]
    lines = [f"{words['quiz']} {question.id}", question.question[lang], ""]
    for option in question.options:
        lines.append(f"  {option.letter}. {option.text[lang]}")
    lines.append("")
    if reveal_all:
        lines.append(words["answer_is"].format(letter=question.answer))
        for option in question.options:
            mark = "✓" if option.letter == question.answer else "✗"
            lines.append(f"  {mark} {option.letter}. {option.why[lang]}")
    else:
        lines.append(words["how_to"])
    return "\n".join(lines)


def question_html(question: Question, lang: str, reveal_all: bool = False) -> str:
    """The same content as :func:`question_text`, as simple HTML for static renders."""
    words = UI[lang]
    esc = html.escape
    parts = [
        '<div class="deepfm-quiz-question">',
        f"<p><b>{esc(words['quiz'])} {esc(question.id)}</b></p>",
        f"<p>{esc(question.question[lang])}</p>",
        "<p>" + "<br>\n".join(
            f"<b>{o.letter}.</b> {esc(o.text[lang])}" for o in question.options
        ) + "</p>",
    ]
    if reveal_all:
        parts.append(f"<p><b>{esc(words['answer_is'].format(letter=question.answer))}</b></p><ul>")
        for option in question.options:
            mark = "✓" if option.letter == question.answer else "✗"
            parts.append(f"<li>{mark} <b>{option.letter}.</b> {esc(option.why[lang])}</li>")
        parts.append("</ul>")
    else:
        parts.append(f"<p><i>{esc(words['how_to'])}</i></p>")
    parts.append("</div>")
    return "\n".join(parts)


def reveal(question_id: str, lang: str | None = None) -> str:
    """The question, its answer and every option's explanation, as plain text."""
    return question_text(get(question_id), resolve_language(lang), reveal_all=True)


# --------------------------------------------------------------------------- IPython


def ipython_shell() -> Any:
    """The running IPython shell, or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    return get_ipython()


def execution_count() -> int | None:
    """The number of the cell running now (None outside IPython)."""
    shell = ipython_shell()
    return None if shell is None else shell.execution_count


def in_kernel() -> bool:
    """True inside a Jupyter kernel, the only place a widget can reach a front end."""
    shell = ipython_shell()
    return shell is not None and getattr(shell, "kernel", None) is not None


def display_bundle(bundle: dict[str, Any]) -> None:
    """Show a mime bundle in IPython, or print its plain text anywhere else."""
    if ipython_shell() is None:
        print(bundle["text/plain"])
        return
    from IPython.display import display

    display(bundle, raw=True)


__all__ = ["LANGUAGES", "LETTERS", "NOTEBOOKS", "UI", "Feedback", "Option", "Question", "check",
           "display_bundle", "execution_count", "get", "in_kernel", "ipython_shell",
           "parse_bank_file", "parse_choice", "parse_question", "question_html", "question_text",
           "questions", "resolve_language", "reveal"]
