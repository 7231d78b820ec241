"""Review and interview practice for notebook 08: Table 1 of the paper, checked against the code,
and a structural interview question with a model answer and a rough self-check.

Part 1: Table 1 of Guo et al. (2017) compares the deep models on four properties: no
pre-training, high-order interactions, low-order interactions, no feature engineering. Here each
cell is derived from the models themselves by probes that run in milliseconds:

* pre-training: does a new model need a stage before training (``needs_pretraining``)?
* high-order: is the order-3 mixed difference of its logit over three fields non-zero? A sum of
  terms that each involve at most two fields (LR, FM) gives exactly zero;
* low-order: with the MLP's output layer set to zero, does anything still reach the output
  (an order-1 or FM term beside the deep part)?
* feature engineering: if such a path exists, can it model a pair of fields on its own (a
  non-zero order-2 mixed difference)? A linear wide part cannot: someone must add crosses.

The probes use a float64 copy with random weights: the question is which functions an
architecture can represent, and a trained model's weights are just one choice of values (the
zero start of the order-1 weights would otherwise hide the linear path).

Part 2: the interview questions, kept as data in ``interview_bank/interview.json`` (the mock
interview of several rounds, which builds on them, is :class:`MockInterview`, from
:mod:`deepfm_lite.course.mock_interview`). :func:`ask` shows a question, :func:`model_answer`
the model answer with its checklist, and :func:`self_check` marks which checklist points a
written answer mentions, by keyword matching in English and Chinese. That is a rough
self-check, never a grade. Usage::

    from deepfm_lite.course import interview

    interview.ask("mock")                       # the question, nothing of the answer
    my_answer = "DeepFM has an FM part and ..."
    interview.self_check("mock", my_answer)     # ticked points, then the model answer
    mock = interview.MockInterview()            # the mock interview, round by round

The language follows ``deepfm_lite.settings.language`` (or ``lang=``); every output is
deterministic text, so a notebook cell showing it needs no ``NBVAL_IGNORE_OUTPUT``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import pandas as pd
import torch
from torch import nn

from .. import settings
from ..models import build_model
from .interview_data import (
    PLACEHOLDERS,
    POINTS,
    KeyPoint,
    bilingual,
    bilingual_words,
    checklist,
    entries,
    keyed,
    lookup,
    name_of,
    parse_ui,
    read_bank,
)
from .interview_text import Card, card, contains, is_unanswered, normalise
from .mock_interview import MockInterview
from .quiz_core import resolve_language

# ---- Part 1: Table 1 ---------------------------------------------------------------------------

TABLE1_COLUMNS = ("no pre-training", "high-order", "low-order", "no feature engineering")
# The paper's Table 1 (deep models compared), as printed.
PAPER_TABLE1: dict[str, tuple[bool, bool, bool, bool]] = {
    "FNN": (False, True, False, True),
    "PNN": (True, True, False, True),
    "Wide & Deep": (True, True, True, False),
    "DeepFM": (True, True, True, True),
}
# The course's model behind each row (PNN: the inner-product form; OPNN and PNN* agree).
TABLE1_MODELS: dict[str, str] = {"FNN": "fnn", "PNN": "ipnn", "Wide & Deep": "lr_dnn",
                                 "DeepFM": "deepfm"}
PROBE_NETWORK = {"embed_dim": 4, "hidden": (16, 16), "dropout": 0.0}
PROBE_TOLERANCE = 1e-9  # float64: an exact zero shows up below 1e-12


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def paper_table1() -> pd.DataFrame:
    """Table 1 of the paper as a yes/no DataFrame (rows FNN, PNN, Wide & Deep, DeepFM)."""
    rows = {name: [_yes_no(flag) for flag in flags] for name, flags in PAPER_TABLE1.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE1_COLUMNS))


def with_random_weights(model: nn.Module, seed: int = 0, std: float = 0.5) -> nn.Module:
    """A float64 copy of ``model`` in eval mode, every parameter drawn from N(0, std^2).

    ``std = 0.5`` makes the ReLU units switch on and off across the probe's corners, so an
    order-3 interaction shows up well above float64 rounding (much smaller weights keep a
    ReLU network nearly linear over the corners, and its mixed differences tiny).
    """
    probe = copy.deepcopy(model).double().eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in probe.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator,
                                        dtype=torch.float64) * std)
    return probe


def silence_deep_part(model: nn.Module) -> nn.Module:
    """A copy whose MLP output layer is zero: ``y_DNN = W(H+1) a(H) + b(H+1) = 0``.

    What the copy still computes is the part of the model that reaches the output around the
    deep network: the order-1 and FM terms where a model has them. A model without an MLP
    (LR, FM) is returned as a copy, unchanged.
    """
    silent = copy.deepcopy(model)
    mlp = getattr(silent, "mlp", None)
    if mlp is None:
        return silent
    output_layer = mlp.layers[-1]
    if not isinstance(output_layer, nn.Linear):
        raise TypeError(f"{type(model).__name__}.mlp must end in nn.Linear, "
                        f"got {type(output_layer).__name__}")
    with torch.no_grad():
        output_layer.weight.zero_()
        output_layer.bias.zero_()
    return silent


def _check_probe_fields(ids: torch.Tensor, fields: Sequence[int], high: Sequence[int],
                        low: Sequence[int]) -> None:
    if not (len(fields) == len(high) == len(low)) or not fields:
        raise ValueError(f"fields, high and low must have the same non-zero length; got "
                         f"{len(fields)}, {len(high)}, {len(low)}")
    if len(set(fields)) != len(fields):
        raise ValueError(f"fields must be distinct, got {list(fields)}")
    for field_index in fields:
        if not 0 <= field_index < ids.shape[1]:
            raise ValueError(f"field {field_index} is out of range for {ids.shape[1]} fields")


def mixed_difference(model: nn.Module, ids: torch.Tensor, values: torch.Tensor,
                     fields: Sequence[int], high: Sequence[int],
                     low: Sequence[int]) -> torch.Tensor:
    """Order-m mixed difference of the logit over ``m = len(fields)`` fields, one per row.

    Each row is evaluated at the ``2^m`` corners where field ``fields[j]`` takes id ``high[j]``
    or ``low[j]``, the other fields kept; corners with an odd number of ``low`` ids are
    subtracted. Every term of the logit that leaves out one of the fields cancels, so the
    result is zero for every row unless the model has an interaction of all m fields: for
    m = 2 it is zero for LR, for m = 3 zero for FM (Eq. 2 stops at pairs).
    """
    _check_probe_fields(ids, fields, high, low)
    model.eval()
    total = None
    with torch.no_grad():
        for corner in product((True, False), repeat=len(fields)):
            probe_ids = ids.clone()
            for field_index, use_high, hi, lo in zip(fields, corner, high, low):
                probe_ids[:, field_index] = hi if use_high else lo
            sign = -1.0 if corner.count(False) % 2 else 1.0
            term = sign * model(probe_ids, values)
            total = term if total is None else total + term
    return total


def probe_structure(name: str, field_dims: Sequence[int], ids: torch.Tensor,
                    values: torch.Tensor, fields: Sequence[int], high: Sequence[int],
                    low: Sequence[int], seed: int = 0, **network: Any) -> dict[str, Any]:
    """The four measurements behind one model's row of Table 1 (see the module docstring).

    ``fields``, ``high`` and ``low`` name three fields and two ids in each; the pair
    measurement uses the first two. Returns ``pre-training stage`` (bool), ``order-3
    difference`` (mean absolute order-3 mixed difference), ``output around the MLP`` (standard
    deviation over the rows of the output with the MLP silenced) and ``pairs around the MLP``
    (mean absolute order-2 mixed difference of that output).
    """
    if len(fields) != 3:
        raise ValueError(f"probe_structure needs three fields, got {len(fields)}")
    model = build_model(name, field_dims, seed=seed, **{**PROBE_NETWORK, **network})
    random_model = with_random_weights(model, seed=seed)
    around = silence_deep_part(random_model)
    values = values.double()
    with torch.no_grad():
        around_output = around(ids, values)
    return {
        "pre-training stage": bool(getattr(model, "needs_pretraining", False)),
        "order-3 difference": float(mixed_difference(random_model, ids, values, fields, high,
                                                     low).abs().mean()),
        "output around the MLP": float(around_output.std()),
        "pairs around the MLP": float(mixed_difference(around, ids, values, fields[:2],
                                                       high[:2], low[:2]).abs().mean()),
    }


def table1_from_probes(probes: Mapping[str, Mapping[str, Any]],
                       tolerance: float = PROBE_TOLERANCE) -> pd.DataFrame:
    """Table 1's yes/no cells derived from :func:`probe_structure` results, one row per model.

    no pre-training: no ``needs_pretraining``; high-order: order-3 difference above ``tolerance``;
    low-order: an output around the MLP; no feature engineering: no low-order path, or one
    that models pairs by itself.
    """
    rows = {}
    for label, probe in probes.items():
        low_order = probe["output around the MLP"] > tolerance
        models_pairs = probe["pairs around the MLP"] > tolerance
        rows[label] = [_yes_no(not probe["pre-training stage"]),
                       _yes_no(probe["order-3 difference"] > tolerance),
                       _yes_no(low_order),
                       _yes_no(not low_order or models_pairs)]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE1_COLUMNS))


# ---- Part 2: the interview ---------------------------------------------------------------------


@dataclass(frozen=True)
class InterviewQuestion:
    """A question, what it asks the candidate to cover, a model answer and its checklist."""

    id: str
    question: dict[str, str]
    covers: dict[str, tuple[str, ...]]
    model_answer: dict[str, str]
    checklist: tuple[KeyPoint, ...]


UI_KEYS = ("question", "covers", "model_answer", "checklist", "self_check", "self_check_note",
           "mentioned", "matched", "no_answer", "not_text", "how_to")


def parse_question(raw: Mapping[str, Any], source: str, number: int,
                   points: Mapping[str, KeyPoint] = POINTS) -> InterviewQuestion:
    """Entry ``number`` (from 1) of ``interview.json``'s questions; its checklist names
    ``points``. A malformed entry raises a one-line ValueError naming ``source`` and the entry."""
    qid = name_of(raw, "id", f"{source}: question {number}")
    where = f"{source}: question {qid}"
    return InterviewQuestion(qid, bilingual(raw.get("question"), f"{where} 'question'"),
                             bilingual_words(raw.get("covers"), f"{where} 'covers'"),
                             bilingual(raw.get("model_answer"), f"{where} 'model_answer'"),
                             checklist(raw.get("checklist"), points, where))


def parse_bank(data: Mapping[str, Any], source: str, points: Mapping[str, KeyPoint] = POINTS
               ) -> tuple[dict[str, InterviewQuestion], dict[str, dict[str, str]]]:
    """``interview.json`` (already decoded): the questions by id, and the interface words."""
    items = [parse_question(raw, source, number, points)
             for number, raw in enumerate(entries(data, "questions", source), start=1)]
    return keyed(items, "id", "question", source), parse_ui(data.get("ui"), UI_KEYS, source)


QUESTIONS, UI = parse_bank(*read_bank("interview"))


def questions() -> list[str]:
    """The interview question ids."""
    return list(QUESTIONS)


def get(question_id: str) -> InterviewQuestion:
    """The interview question with this id; an unknown id raises KeyError listing the ids."""
    return lookup(QUESTIONS, question_id, "interview question")


def find_points(question_id: str, answer: str) -> dict[str, tuple[str, ...]]:
    """For each checklist point, the key words found in ``answer`` (empty: not mentioned).

    A point with several keyword groups counts only when every group matches; then the first
    match of each group is reported.
    """
    text = normalise(answer)
    found = {}
    for point in get(question_id).checklist:
        hits = [next((w for w in group if contains(text, w)), None) for group in point.keywords]
        found[point.name] = tuple(hits) if all(hits) else ()
    return found


def _question_lines(question: InterviewQuestion, lang: str) -> list[str]:
    words = UI[lang]
    lines = [words["question"].format(qid=question.id), "", question.question[lang], "",
             words["covers"]]
    lines += [f"- {item}" for item in question.covers[lang]]
    return lines


def _answer_lines(question: InterviewQuestion, lang: str) -> list[str]:
    words = UI[lang]
    lines = [words["model_answer"], "", question.model_answer[lang], "", words["checklist"]]
    lines += [f"- {point.text[lang]}" for point in question.checklist]
    return lines


def ask(question_id: str, lang: str | None = None) -> Card:
    """The question and what the answer should cover (nothing of the answer itself)."""
    lang = resolve_language(lang)
    question = get(question_id)
    lines = _question_lines(question, lang)
    lines += ["", UI[lang]["how_to"].format(qid=question_id)]
    return card(lines, heading_lines=(0,))


def model_answer(question_id: str, lang: str | None = None) -> Card:
    """The model answer and the checklist of points, for grading one's own answer."""
    lang = resolve_language(lang)
    lines = _answer_lines(get(question_id), lang)
    return card(lines, heading_lines=(0, len(lines) - len(get(question_id).checklist) - 1))


def self_check(question_id: str, answer: Any, lang: str | None = None) -> Card:
    """Mark which checklist points ``answer`` mentions, then show the model answer.

    A rough self-check by keyword matching (both languages), never a grade. An empty answer,
    the placeholder or a non-string gives a short message instead (in instructor mode the
    model answer is shown anyway); a learner's answer never raises.
    """
    lang = resolve_language(lang)
    question = get(question_id)
    words = UI[lang]
    if not isinstance(answer, str) or is_unanswered(answer):
        message = (words["not_text"].format(kind=type(answer).__name__)
                   if not isinstance(answer, str) else words["no_answer"])
        if not settings.instructor:
            return card([message], heading_lines=())
        lines = [message, "", *_answer_lines(question, lang)]
        return card(lines, heading_lines=(2, len(lines) - len(question.checklist) - 1))
    found = find_points(question_id, answer)
    count = sum(1 for hits in found.values() if hits)
    lines = [words["self_check"], words["self_check_note"], "",
             words["mentioned"].format(count=count, total=len(found))]
    for point in question.checklist:
        hits = found[point.name]
        detail = f"  ({words['matched'].format(words=', '.join(hits))})" if hits else ""
        lines.append(f"[{'x' if hits else ' '}] {point.text[lang]}{detail}")
    lines.append("")
    heading = len(lines)
    lines += _answer_lines(question, lang)
    checklist_heading = len(lines) - len(question.checklist) - 1
    return card(lines, heading_lines=(0, heading, checklist_heading), found=found)


__all__ = ["Card", "InterviewQuestion", "KeyPoint", "MockInterview", "PAPER_TABLE1",
           "PLACEHOLDERS", "POINTS", "QUESTIONS", "TABLE1_COLUMNS", "TABLE1_MODELS", "UI", "ask",
           "find_points", "get", "mixed_difference", "model_answer", "paper_table1",
           "parse_bank", "parse_question", "probe_structure", "questions", "self_check",
           "silence_deep_part", "table1_from_probes", "with_random_weights"]
