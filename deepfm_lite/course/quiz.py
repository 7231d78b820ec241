"""Multiple-choice quizzes for the course notebooks, in English and Chinese.

Every notebook asks before it explains: a question with four options, and after an answer the
explanation of why that option is right or wrong. The questions live as data in
``deepfm_lite/course/quiz_bank/<notebook>.json``; :mod:`deepfm_lite.course.quiz_core` loads
them and checks answers, and this module shows them in a notebook (every name below is
reachable as ``quiz.<name>``).

Usage in a notebook::

    from deepfm_lite.course import quiz

    quiz.ask("01.core_challenge")      # the question, and answer buttons where widgets render
    quiz.answer("B")                   # answers the question asked last, in code

API
---
``ask(question_id: str, lang: str | None = None) -> Quiz``
    Shows the question and returns its handle (``answer`` then refers to it). Two outputs:
    the question and its options as plain text and HTML (what a terminal, a static render on
    GitHub or nbconvert, and nbval see), then, inside a Jupyter kernel, an ipywidgets answer
    panel: radio buttons A-D, a Check button and the feedback in words ("Right: ..." /
    "Not quite: ..." plus that option's explanation; no meaning carried by colour).
``Quiz.answer(choice) -> Feedback`` and ``answer(choice) -> Feedback``
    Check a choice for this question (module level: for the question asked last), show the
    feedback and return it. ``Quiz.show()`` displays the question again; ``Quiz.widget()``
    is the answer panel.
``check(question_id: str, choice, lang: str | None = None) -> Feedback``
    The plain checking function, with no display. ``choice`` may be ``"c"``, ``" C "``,
    ``"C)"``, ``"(C)"``, ``"C."``, a full-width letter, an option's full text, or a letter
    followed by its option's text. Anything else gives ``Feedback(correct=False, text=<how to
    answer>, choice=None)``: a learner's wrong or malformed answer never raises. An unknown
    id raises ``KeyError`` naming the nearest ids; a bad ``lang`` raises ``ValueError``.
``Feedback(correct: bool, text: str, choice: str | None)``
    ``choice`` is the letter understood, or None for an invalid answer; ``show()`` displays it.
``questions(notebook: str | None = None) -> list[str]``
    Question ids, all or one notebook's (``"01"`` or ``"01_ctr_basics"``), in course order.
``get(question_id: str) -> Question``
    One question (``id``, ``notebook``, ``question``, ``options``, ``answer``, ``seed``).
``reveal(question_id: str, lang: str | None = None) -> str``
    The question with its answer and every option's explanation (what instructor mode shows).

Language comes from the ``lang`` argument, else ``deepfm_lite.settings.language`` ("en" by
default, or "zh"). With ``deepfm_lite.settings.instructor = True``, ``ask`` shows the answer
and all explanations at once, for teaching in class.

Strict nbval: every output of ``ask``, ``answer`` and ``check`` is deterministic text and
HTML, except the widget view (``application/vnd.jupyter.widget-view+json``, a random model
id), which is a key nbval never compares. A quiz cell therefore needs no
``# NBVAL_IGNORE_OUTPUT`` marker and no sanitize pattern, as long as it runs in the saved
notebook's language and instructor setting.
"""

from __future__ import annotations

import html
from typing import Any

from .. import settings
from .quiz_core import (
    LANGUAGES,
    LETTERS,
    NOTEBOOKS,
    UI,
    Feedback,
    Option,
    Question,
    check,
    display_bundle,
    execution_count,
    get,
    in_kernel,
    parse_bank_file,
    parse_choice,
    parse_question,
    question_html,
    question_text,
    questions,
    resolve_language,
    reveal,
)


class Quiz:
    """The handle ``ask`` returns: one question in one language, shown once per cell."""

    def __init__(self, question_id: str, lang: str | None = None):
        self.question = get(question_id)
        self.lang = resolve_language(lang)
        self.instructor = bool(settings.instructor)
        self.last_feedback: Feedback | None = None
        self._widget: Any = None
        self._choices: Any = None
        self._feedback_box: Any = None
        self._shown_in: Any = None

    def __repr__(self) -> str:
        return f"Quiz({self.question.id!r}, lang={self.lang!r})"

    def text(self) -> str:
        """The question and options as plain text (with the answer in instructor mode)."""
        return question_text(self.question, self.lang, reveal_all=self.instructor)

    def mimebundle(self) -> dict[str, str]:
        """The question as plain text and HTML: what every front end can show (deterministic)."""
        return {
            "text/plain": self.text(),
            "text/html": question_html(self.question, self.lang, reveal_all=self.instructor),
        }

    def answer(self, choice: Any) -> Feedback:
        """Check ``choice``, show the feedback (also in the widget, if any) and return it."""
        feedback = self._record(choice)
        if self._choices is not None and feedback.choice is not None:
            self._choices.value = feedback.choice
        return feedback.show()

    def _record(self, choice: Any) -> Feedback:
        feedback = check(self.question.id, choice, self.lang)
        self.last_feedback = feedback
        if self._feedback_box is not None:
            self._feedback_box.value = _feedback_html(feedback)
        return feedback

    def widget(self) -> Any:
        """The ipywidgets answer panel (built on first use): A-D, a Check button, feedback."""
        if self._widget is None:
            self._widget = self._build_widget()
        return self._widget

    def _build_widget(self) -> Any:
        import ipywidgets as widgets

        words = UI[self.lang]
        self._choices = widgets.RadioButtons(
            options=list(LETTERS),
            value=None,
            description=words["your_answer"],
            style={"description_width": "initial"},
        )
        button = widgets.Button(description=words["check"])
        button.on_click(self._on_check)
        self._feedback_box = widgets.HTML("")
        self._choices.add_class("deepfm-quiz-choices")
        button.add_class("deepfm-quiz-check")
        self._feedback_box.add_class("deepfm-quiz-feedback")
        box = widgets.VBox([self._choices, button, self._feedback_box])
        box.add_class("deepfm-quiz")
        return box

    def _on_check(self, _button: Any = None) -> None:
        """The Check button's handler: feedback for the selected letter, in words."""
        if self._choices.value is None:
            self._feedback_box.value = f"<p>{html.escape(UI[self.lang]['pick_first'])}</p>"
            return
        self._record(self._choices.value)

    def widget_mimebundle(self) -> dict[str, Any]:
        """The widget's view plus a plain-text stand-in for front ends without widgets."""
        key = "application/vnd.jupyter.widget-view+json"
        return {
            "text/plain": UI[self.lang]["widget_stand_in"],
            key: self.widget()._repr_mimebundle_()[key],
        }

    def show(self) -> Quiz:
        """Display the question, and in a Jupyter kernel the answer widget below it."""
        self._shown_in = execution_count()
        display_bundle(self.mimebundle())
        if in_kernel():
            display_bundle(self.widget_mimebundle())
        return self

    def _ipython_display_(self) -> None:
        if self._shown_in is None or self._shown_in != execution_count():
            self.show()


def _feedback_html(feedback: Feedback) -> str:
    return f"<p>{html.escape(feedback.text)}</p>"


_last_asked: Quiz | None = None


def ask(question_id: str, lang: str | None = None) -> Quiz:
    """Show a question (text, plus a widget in Jupyter) and return its handle."""
    global _last_asked
    handle = Quiz(question_id, lang)
    _last_asked = handle
    return handle.show()


def answer(choice: Any) -> Feedback:
    """Answer the question asked last with ``ask`` and show the feedback."""
    if _last_asked is None:
        return Feedback(False, UI[resolve_language()]["nothing_asked"], None).show()
    return _last_asked.answer(choice)


__all__ = ["LANGUAGES", "LETTERS", "NOTEBOOKS", "UI", "Feedback", "Option", "Question", "Quiz",
           "answer", "ask", "check", "get", "parse_bank_file", "parse_choice", "parse_question",
           "question_html", "question_text", "questions", "resolve_language", "reveal"]
