"""A mock interview of several rounds: a question, the learner's answer, feedback, a follow-up.

The seed session ends with an interviewer who asks, waits for the answer and follows up. This
module plays that interviewer, deterministically. Round 1 asks the opening question (DeepFM's
structure and why its two parts share one embedding). Each answer is checked against the
round's checklist by keyword matching in English and Chinese (the same rough check as
:func:`deepfm_lite.course.interview.self_check`, never a grade), and the feedback lists the points
covered and the points missed. The next question digs into the weak point: it is the first
follow-up not yet asked that is attached to the most important missed point (checklists are in
order of importance); when nothing was missed, or every such follow-up was asked already, the
next question comes from :data:`DEFAULT_FOLLOW_UPS`. The questions, model answers, follow-up
points, pitfalls and interface words are data, in ``interview_bank/mock_interview.json``.
Usage::

    from deepfm_lite.course import interview

    mock = interview.MockInterview()        # lang="en" / "zh", or deepfm_lite.settings.language
    mock.question                           # the current question, as text
    feedback = mock.answer("DeepFM has an FM part and ...")
    feedback.covered, feedback.missed       # checklist point names
    feedback.next_question                  # the follow-up, or None after the last round
    mock.transcript()                       # every round so far

With ``deepfm_lite.settings.instructor = True`` the question card and each round's feedback
also show the round's model answer. A learner's answer never raises: None, a non-string, an
empty string or the placeholder gives a message and leaves the round open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .. import settings
from .interview_data import (
    POINTS,
    KeyPoint,
    bilingual,
    checklist,
    entries,
    keyed,
    lookup,
    name_of,
    parse_key_points,
    parse_ui,
    read_bank,
    word_list,
)
from .interview_text import Card, Shown, card, contains, is_unanswered, normalise
from .quiz_core import resolve_language


@dataclass(frozen=True)
class Pitfall:
    """A common wrong claim: its key words, and the note shown when an answer makes it.

    The note is skipped when the answer also covers the point named ``unless`` (it then says
    the right thing about the same words).
    """

    keywords: tuple[str, ...]
    note: dict[str, str]
    unless: str | None = None


@dataclass(frozen=True)
class MockQuestion:
    """One interview round: question, model answer, checklist in order of importance.

    ``follow_ups`` maps a checklist point's name to the ids of the questions that dig into it.
    """

    id: str
    question: dict[str, str]
    model_answer: dict[str, str]
    checklist: tuple[KeyPoint, ...]
    follow_ups: dict[str, tuple[str, ...]]
    pitfalls: tuple[Pitfall, ...] = ()


class MockBank(NamedTuple):
    """``mock_interview.json``, parsed: what the module-level constants below hold."""

    points: dict[str, KeyPoint]
    questions: dict[str, MockQuestion]
    default_follow_ups: tuple[str, ...]
    ui: dict[str, dict[str, str]]


OPENING = "opening"
DEFAULT_ROUNDS = 4
UI_KEYS = ("round", "check", "covered", "missed", "none", "follow_up", "follow_up_later",
           "follow_up_default", "follow_up_after", "last", "model_answer", "no_answer",
           "not_text", "over", "transcript", "your_answer", "waiting")


def parse_pitfall(raw: Any, where: str, names: set[str]) -> Pitfall:
    """One pitfall; its ``unless`` must be one of ``names``, its question's checklist."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object with 'keywords' and 'note'")
    unless = raw.get("unless")
    if unless is not None and unless not in names:
        raise ValueError(f"{where} 'unless': {unless!r} is not a point of the checklist")
    return Pitfall(word_list(raw.get("keywords"), f"{where} 'keywords'"),
                   bilingual(raw.get("note"), f"{where} 'note'"), unless)


def parse_follow_ups(value: Any, names: set[str], where: str) -> dict[str, tuple[str, ...]]:
    """``{point name: [question id, ...]}``, each name one of ``names`` (the checklist)."""
    if not isinstance(value, dict):
        raise ValueError(f"{where} 'follow_ups': expected an object of point names")
    for name in value:
        if name not in names:
            raise ValueError(f"{where} 'follow_ups': {name!r} is not a point of the checklist")
    return {name: word_list(ids, f"{where} 'follow_ups' {name}") for name, ids in value.items()}


def parse_mock_question(raw: Mapping[str, Any], source: str, number: int,
                        points: Mapping[str, KeyPoint]) -> MockQuestion:
    """Entry ``number`` (from 1) of ``mock_interview.json``'s questions; its checklist names
    ``points``. A malformed entry raises a one-line ValueError naming ``source`` and the entry."""
    qid = name_of(raw, "id", f"{source}: question {number}")
    where = f"{source}: question {qid}"
    items = checklist(raw.get("checklist"), points, where)
    names = {point.name for point in items}
    pitfalls = raw.get("pitfalls", [])
    if not isinstance(pitfalls, list):
        raise ValueError(f"{where} 'pitfalls': expected a list")
    return MockQuestion(
        qid, bilingual(raw.get("question"), f"{where} 'question'"),
        bilingual(raw.get("model_answer"), f"{where} 'model_answer'"), items,
        parse_follow_ups(raw.get("follow_ups"), names, where),
        tuple(parse_pitfall(pitfall, f"{where} pitfall {index}", names)
              for index, pitfall in enumerate(pitfalls, start=1)))


def check_question_ids(questions: Mapping[str, MockQuestion], default_follow_ups: Sequence[str],
                       source: str) -> None:
    """The opening comes first; every follow-up names a question other than the opening."""
    if next(iter(questions)) != OPENING:
        raise ValueError(f"{source}: the first question must be {OPENING!r}")
    later = set(questions) - {OPENING}
    for question in questions.values():
        for name, ids in question.follow_ups.items():
            for qid in ids:
                if qid not in later:
                    raise ValueError(f"{source}: question {question.id} 'follow_ups' {name}: "
                                     f"{qid!r} is not a follow-up question")
    for qid in default_follow_ups:
        if qid not in later:
            raise ValueError(f"{source}: 'default_follow_ups': {qid!r} is not a follow-up "
                             "question")


def parse_mock_bank(data: Mapping[str, Any], source: str,
                    shared: Mapping[str, KeyPoint] = POINTS) -> MockBank:
    """``mock_interview.json`` (already decoded); checklists name its points or ``shared``."""
    points = parse_key_points(data, source)
    for name in points:
        if name in shared:
            raise ValueError(f"{source}: point {name} is already a shared point")
    known = {**shared, **points}
    items = [parse_mock_question(raw, source, number, known)
             for number, raw in enumerate(entries(data, "questions", source), start=1)]
    questions = keyed(items, "id", "question", source)
    default_follow_ups = word_list(data.get("default_follow_ups"),
                                   f"{source}: 'default_follow_ups'")
    check_question_ids(questions, default_follow_ups, source)
    return MockBank(points, questions, default_follow_ups,
                    parse_ui(data.get("ui"), UI_KEYS, source))


FOLLOW_UP_POINTS, MOCK_QUESTIONS, DEFAULT_FOLLOW_UPS, UI = parse_mock_bank(
    *read_bank("mock_interview"))
MAX_ROUNDS = 1 + len(DEFAULT_FOLLOW_UPS)


def mock_questions() -> list[str]:
    """The ids of the mock interview's questions, the opening first."""
    return list(MOCK_QUESTIONS)


def get_mock(question_id: str) -> MockQuestion:
    """One mock interview question; an unknown id raises KeyError listing the ids."""
    return lookup(MOCK_QUESTIONS, question_id, "mock interview question")


def _flat(answer: str) -> str:
    """Normalised text with every run of whitespace (line breaks too) as one space."""
    return " ".join(normalise(answer).split())


def check_points(question_id: str, answer: str) -> tuple[list[str], list[str]]:
    """The names of the checklist points ``answer`` covers and misses, in checklist order."""
    text = _flat(answer)
    covered, missed = [], []
    for point in get_mock(question_id).checklist:
        hit = all(any(contains(text, word) for word in group) for group in point.keywords)
        (covered if hit else missed).append(point.name)
    return covered, missed


def pitfall_notes(question_id: str, answer: str, covered: list[str], lang: str) -> list[str]:
    """The notes of the pitfalls ``answer`` falls into (key word found, ``unless`` not covered)."""
    text = _flat(answer)
    return [pitfall.note[lang] for pitfall in get_mock(question_id).pitfalls
            if any(contains(text, word) for word in pitfall.keywords)
            and pitfall.unless not in covered]


def choose_follow_up(question_id: str, missed: list[str],
                     asked: list[str]) -> tuple[str | None, str | None]:
    """``(target, next_id)``: the missed point dug into and the next question's id.

    ``target`` is the first (most important) missed point with a follow-up not in ``asked``,
    and ``next_id`` that follow-up. With no such point, ``target`` is None and ``next_id`` the
    first of :data:`DEFAULT_FOLLOW_UPS` not asked (None when all were).
    """
    follow_ups = get_mock(question_id).follow_ups
    for name in missed:
        fresh = [qid for qid in follow_ups.get(name, ()) if qid not in asked]
        if fresh:
            return name, fresh[0]
    return None, next((qid for qid in DEFAULT_FOLLOW_UPS if qid not in asked), None)


@dataclass(repr=False)
class RoundFeedback(Shown):
    """The feedback on one answer, shown as text (and Markdown in Jupyter).

    ``covered`` and ``missed`` are checklist point names in order of importance; ``target`` is
    the missed point the follow-up digs into (None for a default question); ``next_id`` and
    ``next_question`` the next question (None after the last round). ``accepted`` is False
    when the answer was not checked (no text, not a string, interview over): the round stays
    open and ``next_question`` repeats the open question.
    """

    round: int
    question_id: str
    covered: list[str]
    missed: list[str]
    target: str | None
    next_id: str | None
    next_question: str | None
    text: str
    markdown: str
    accepted: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """True when this was the last round's feedback."""
        return self.accepted and self.next_id is None


def _point_text(name: str, lang: str) -> str:
    point = POINTS.get(name) or FOLLOW_UP_POINTS[name]
    return point.text[lang]


def _point_lines(names: list[str], mark: str, lang: str) -> list[str]:
    return [f"[{mark}] {_point_text(name, lang)}" for name in names] or [UI[lang]["none"]]


def _model_answer_lines(question_id: str, lang: str) -> list[str]:
    if not settings.instructor:
        return []
    return ["", UI[lang]["model_answer"], get_mock(question_id).model_answer[lang]]


class MockInterview:
    """A mock interview: the opening question, then follow-ups chosen from the weak points.

    ``lang`` is "en" or "zh" (None: ``deepfm_lite.settings.language``, read at each call);
    ``rounds`` is the number of questions, 1 to :data:`MAX_ROUNDS` (default 4).
    """

    def __init__(self, lang: str | None = None, rounds: int = DEFAULT_ROUNDS) -> None:
        resolve_language(lang)  # a bad language fails here, not at the first answer
        if isinstance(rounds, bool) or not isinstance(rounds, int) or not (
                1 <= rounds <= MAX_ROUNDS):
            raise ValueError(f"rounds must be an integer from 1 to {MAX_ROUNDS}, got {rounds!r}")
        self._lang = lang
        self.rounds = rounds
        self.asked: list[str] = [OPENING]
        self.history: list[tuple[str, str, RoundFeedback]] = []
        self._finished = False

    @property
    def lang(self) -> str:
        """The language in use now."""
        return resolve_language(self._lang)

    @property
    def done(self) -> bool:
        """True once the last round has been answered."""
        return self._finished

    @property
    def round(self) -> int:
        """The number of the open round (1-based; the last round's number once done)."""
        return len(self.asked)

    @property
    def question_id(self) -> str | None:
        """The id of the open question (None once done)."""
        return None if self._finished else self.asked[-1]

    @property
    def question(self) -> str | None:
        """The open question's text (None once done)."""
        qid = self.question_id
        return None if qid is None else get_mock(qid).question[self.lang]

    def ask(self) -> Card:
        """The open question as a card (with its model answer in instructor mode)."""
        lang = self.lang
        if self._finished:
            return card([UI[lang]["over"].format(total=self.rounds)], heading_lines=())
        lines = [UI[lang]["round"].format(number=self.round, total=self.rounds), "",
                 self.question, *_model_answer_lines(self.question_id, lang)]
        return card(lines, heading_lines=(0,) + ((4,) if settings.instructor else ()))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return self.ask()._repr_mimebundle_()

    def _not_checked(self, message: str) -> RoundFeedback:
        rendered = card([message], heading_lines=())
        return RoundFeedback(self.round, self.asked[-1], [], [], None, self.question_id,
                             self.question, rendered.text, rendered.markdown, accepted=False)

    def answer(self, text: Any) -> RoundFeedback:
        """Check an answer to the open question, record it and move to the next round."""
        words = UI[self.lang]
        if self._finished:
            return self._not_checked(words["over"].format(total=self.rounds))
        if not isinstance(text, str):
            return self._not_checked(words["not_text"].format(kind=type(text).__name__))
        if is_unanswered(text):
            return self._not_checked(words["no_answer"])
        feedback = self._feedback(self.asked[-1], text)
        self.history.append((feedback.question_id, text, feedback))
        if feedback.next_id is None:
            self._finished = True
        else:
            self.asked.append(feedback.next_id)
        return feedback

    def _feedback(self, question_id: str, text: str) -> RoundFeedback:
        lang = self.lang
        words = UI[lang]
        covered, missed = check_points(question_id, text)
        notes = pitfall_notes(question_id, text, covered, lang)
        last = self.round >= self.rounds
        target, next_id = (None, None) if last else choose_follow_up(question_id, missed,
                                                                     self.asked)
        total = len(covered) + len(missed)
        lines = [words["round"].format(number=self.round, total=self.rounds), words["check"], "",
                 words["covered"].format(count=len(covered), total=total),
                 *_point_lines(covered, "x", lang), "",
                 words["missed"].format(count=len(missed)), *_point_lines(missed, " ", lang)]
        lines += ["", *notes] if notes else []
        headings = [0, 3, 5 + max(len(covered), 1)]
        headings += [len(lines) + 1] if settings.instructor else []
        lines += _model_answer_lines(question_id, lang)
        if next_id is None:
            lines += ["", words["last"]]
        else:
            key = ("follow_up" if target and target == missed[0] else
                   "follow_up_later" if target else
                   "follow_up_after" if missed else "follow_up_default")
            headings.append(len(lines) + 1)
            lines += ["", words[key], get_mock(next_id).question[lang]]
        rendered = card(lines, heading_lines=tuple(headings))
        next_question = None if next_id is None else get_mock(next_id).question[lang]
        return RoundFeedback(self.round, question_id, covered, missed, target, next_id,
                             next_question, rendered.text, rendered.markdown, notes=notes)

    def transcript(self) -> Card:
        """Every round so far: the question, the answer given and what it covered and missed."""
        lang = self.lang
        words = UI[lang]
        lines, headings = [words["transcript"]], [0]
        for number, (qid, text, feedback) in enumerate(self.history, start=1):
            headings.append(len(lines) + 1)
            lines += ["", words["round"].format(number=number, total=self.rounds),
                      get_mock(qid).question[lang], words["your_answer"], text.strip(),
                      words["covered"].format(count=len(feedback.covered),
                                              total=len(feedback.covered) + len(feedback.missed)),
                      *_point_lines(feedback.covered, "x", lang),
                      words["missed"].format(count=len(feedback.missed)),
                      *_point_lines(feedback.missed, " ", lang)]
        if not self._finished:
            headings.append(len(lines) + 1)
            lines += ["", words["round"].format(number=self.round, total=self.rounds),
                      self.question, words["waiting"]]
        return card(lines, heading_lines=tuple(headings))


__all__ = ["DEFAULT_FOLLOW_UPS", "DEFAULT_ROUNDS", "FOLLOW_UP_POINTS", "MAX_ROUNDS",
           "MOCK_QUESTIONS", "OPENING", "UI", "MockBank", "MockInterview", "MockQuestion",
           "Pitfall", "RoundFeedback", "check_points", "check_question_ids", "choose_follow_up",
           "get_mock", "mock_questions", "parse_follow_ups", "parse_mock_bank",
           "parse_mock_question", "parse_pitfall", "pitfall_notes"]
