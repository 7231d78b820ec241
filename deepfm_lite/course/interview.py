"""Review and interview practice for notebook 08: Table 1 of the paper, checked against the code,
and a structural interview question with a model answer and a rough self-check.

Part 1: Table 1 of Guo et al. (2017) compares the deep models on four properties: no
pre-training, high-order interactions, low-order interactions, no feature engineering. Here each
cell is derived from the models themselves by probes that run in milliseconds:

* pre-training: does the model's class define ``prepare_fit`` (a stage run before training)?
* high-order: is the order-3 mixed difference of its logit over three fields non-zero? A sum of
  terms that each involve at most two fields (LR, FM) gives exactly zero;
* low-order: with the MLP's output layer set to zero, does anything still reach the output
  (an order-1 or FM term beside the deep part)?
* feature engineering: if such a path exists, can it model a pair of fields on its own (a
  non-zero order-2 mixed difference)? A linear wide part cannot: someone must add crosses.

The probes use a float64 copy with random weights: the question is which functions an
architecture can represent, and a trained model's weights are just one choice of values (the
zero start of the order-1 weights would otherwise hide the linear path).

Part 2: the interview questions (the mock interview of several rounds, which builds on them, is
:class:`deepfm_lite.mock_interview.MockInterview`). :func:`ask` shows a question,
:func:`model_answer` the model answer with its checklist, and :func:`self_check` marks which
checklist points a written answer mentions, by keyword matching in English and Chinese. That
is a rough self-check, never a grade. Usage::

    from deepfm_lite import interview

    interview.ask("mock")                       # the question, nothing of the answer
    my_answer = "DeepFM has an FM part and ..."
    interview.self_check("mock", my_answer)     # ticked points, then the model answer

The language follows ``deepfm_lite.settings.language`` (or ``lang=``); every output is
deterministic text, so a notebook cell showing it needs no ``NBVAL_IGNORE_OUTPUT``.
"""

from __future__ import annotations

import copy
import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import pandas as pd
import torch
from torch import nn

from .. import settings
from ..models import build_model
from .quiz import resolve_language

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
        "pre-training stage": hasattr(type(model), "prepare_fit"),
        "order-3 difference": float(mixed_difference(random_model, ids, values, fields, high,
                                                     low).abs().mean()),
        "output around the MLP": float(around_output.std()),
        "pairs around the MLP": float(mixed_difference(around, ids, values, fields[:2],
                                                       high[:2], low[:2]).abs().mean()),
    }


def table1_from_probes(probes: Mapping[str, Mapping[str, Any]],
                       tolerance: float = PROBE_TOLERANCE) -> pd.DataFrame:
    """Table 1's yes/no cells derived from :func:`probe_structure` results, one row per model.

    no pre-training: no ``prepare_fit``; high-order: order-3 difference above ``tolerance``;
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

PLACEHOLDERS = ("Write your answer here.", "在这里写下你的回答。")


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


@dataclass(frozen=True)
class InterviewQuestion:
    """A question, what it asks the candidate to cover, a model answer and its checklist."""

    id: str
    question: dict[str, str]
    covers: dict[str, tuple[str, ...]]
    model_answer: dict[str, str]
    checklist: tuple[KeyPoint, ...]


FM_WORDS = ("fm", "factorization machine", "factorisation machine", "因子分解机")
DEEP_WORDS = ("deep part", "deep component", "dnn", "mlp", "neural network", "multi-layer",
              "multilayer", "深度部分", "深度网络", "神经网络", "多层感知机")
POINTS: dict[str, KeyPoint] = {point.name: point for point in (
    KeyPoint("two_parts",
             {"en": "Two parts side by side: an FM part and a deep part (an MLP).",
              "zh": "两个并列的部分：FM 部分和深度部分（MLP）。"},
             (FM_WORDS, DEEP_WORDS)),
    KeyPoint("embedding",
             {"en": "Sparse one-hot fields become dense vectors through an embedding layer.",
              "zh": "稀疏的 one-hot 字段经嵌入层（embedding 层）变成稠密向量。"},
             (("embedding", "embed", "dense vector", "latent vector", "嵌入", "稠密", "隐向量"),)),
    KeyPoint("per_field",
             {"en": "One vector of the same size k per field, looked up, not multiplied out.",
              "zh": "每个字段一个同样长度 k 的向量，靠查表得到，而不是做矩阵乘法。"},
             (("field", "字段", "域"),)),
    KeyPoint("low_order",
             {"en": "Low order: FM's order-1 weights plus pairwise inner products of the vectors.",
              "zh": "低阶：FM 的一阶权重，加上向量两两之间的内积。"},
             (("pairwise", "pair", "second-order", "second order", "order-2", "order 2",
               "2nd order", "inner product", "dot product", "二阶", "内积", "两两"),)),
    KeyPoint("high_order",
             {"en": "High order: the MLP over the concatenated vectors.",
              "zh": "高阶：在拼接起来的向量上运行的 MLP。"},
             (("high-order", "higher-order", "high order", "higher order", "高阶"),)),
    KeyPoint("shared",
             {"en": "Both parts read one shared embedding table.",
              "zh": "两部分读取同一张共享的 embedding 表。"},
             (("shar", "same embedding", "one embedding", "single embedding", "same vectors",
               "共享", "同一套", "同一张", "同一组"),)),
    KeyPoint("why_shared",
             {"en": "What sharing buys: one table instead of two (fewer parameters) and a joint "
                    "gradient, each vector trained by both parts. No hand-made crosses comes from "
                    "the FM part, no pre-training from end-to-end training.",
              "zh": "共享带来什么：只要一张表而不是两张（参数更少），以及联合的梯度，"
                    "每个向量同时由两部分训练。不需要人工交叉特征靠的是 FM 部分，"
                    "不需要预训练靠的是端到端训练。"},
             (("one table", "single table", "fewer parameters", "half the parameters",
               "gradient from both", "gradients from both", "trained by both", "joint gradient",
               "一张表", "参数更少", "两部分的梯度", "两个部分的梯度", "联合的梯度",
               "同时从 fm 部分和深度部分"),)),
    KeyPoint("output",
             {"en": "Output: the two logits are added and passed through a sigmoid.",
              "zh": "输出：两部分的结果相加，再经过 sigmoid。"},
             (("sigmoid", "σ", "logistic function"),
              ("add", "sum", "plus", "相加", "之和", "加起来", "求和"))),
    KeyPoint("joint",
             {"en": "Joint training: one log loss, back-propagated end to end into every part.",
              "zh": "联合训练：一个对数损失，端到端地反向传播到所有部分。"},
             (("joint", "end-to-end", "end to end", "together", "联合", "端到端", "一起"),
              ("loss", "cross-entropy", "cross entropy", "损失", "交叉熵"))),
)}

DESIGN_ANSWER_EN = """\
I would build a DeepFM-style model: two parts that read the same embeddings, trained as one.

1. Components. An FM part for low-order interactions and a deep part, an MLP, for high-order
   ones. Their outputs are added into one logit.
2. Sparse input. Every categorical field goes through an embedding layer: the id of its active
   value selects one dense vector of size k (about 10) from a table, so the millions of one-hot
   columns never appear. Each field gives exactly one vector; a numeric field can enter as its
   value times a vector, or as a bucket id. An out-of-vocabulary id per field handles values
   never seen in training.
3. Low order and high order. The FM part is y_FM = <w, x> + sum over field pairs of
   <V_i, V_j> x_i x_j: order-1 weights plus the inner product of every pair of field vectors,
   computed in O(k m) with the square-of-sums trick. Because a pair is scored by two vectors,
   it generalises to pairs never seen together. The deep part concatenates the m vectors and
   passes them through a few fully connected layers (for example 3 x 200 to 400 units, relu,
   dropout), which can represent interactions of three or more fields.
4. Why one shared embedding. Both parts read the same table, so there is one table instead of
   two (fewer parameters), and each vector gets gradient from the FM part and from the deep
   part. The paper's abstract lists two more benefits with it, but they come from elsewhere: the
   FM's pairwise terms replace the hand-made cross features that Wide & Deep's linear wide part
   needs (Wide & Deep also trains jointly; its wide part reads separate, hand-made inputs), and
   end-to-end training from random vectors removes pre-training (FNN needs an FM trained
   first). FM & DNN, with separate tables, needs neither. Whether sharing also improves
   accuracy depends on the data and its scale.
5. Joint training. y_hat = sigmoid(y_FM + y_DNN), trained end to end with one log loss
   (binary cross-entropy) and Adam; back-propagation updates the FM weights, the MLP and the
   shared embeddings together. Evaluate with AUC and log loss on a held-out split.

In one sentence: an FM and an MLP over one shared embedding layer, trained end to end, give low-
and high-order interactions from raw features, with no feature engineering and no pre-training."""

DESIGN_ANSWER_ZH = """\
我会采用 DeepFM 这样的结构：两个部分读取同一套 embedding，作为一个整体来训练。

1. 组成部分。FM 部分负责低阶交互，深度部分（一个 MLP）负责高阶交互，两者的输出相加成一个 logit。
2. 稀疏输入。每个类别字段都经过嵌入层（embedding 层）：激活取值的 id 从表中取出一个
   长度为 k（约 10）的稠密向量，上百万列的 one-hot 根本不需要展开。每个字段恰好给出一个向量；
   数值字段可以用“数值乘以一个向量”的方式输入，也可以先分桶再当作 id。
   每个字段留一个 OOV id，用来接住训练中没见过的取值。
3. 低阶与高阶。FM 部分是 y_FM = <w, x> + 所有字段对上的 <V_i, V_j> x_i x_j：一阶权重，
   加上每一对字段向量的内积，用“和的平方减平方的和”可以在 O(k m) 内算完。由于一对特征由两个向量
   打分，没有一起出现过的组合也能得到合理的分数。深度部分把 m 个向量拼接起来，经过几层全连接
   （比如 3 层、每层 200 到 400 个神经元、relu、dropout），可以表示三个及以上字段之间的交互。
4. 为什么共享 embedding。两部分读取同一张表，所以只要一张表而不是两张（参数更少），而且每个向量
   同时从 FM 部分和深度部分得到梯度。论文摘要把另外两个好处和它列在一起，但它们另有来源：FM 的
   两两交互项取代了 Wide & Deep 的线性 wide 部分所依赖的人工交叉特征（Wide & Deep 同样是联合训练的，
   只是它的 wide 部分读的是单独的、人工构造的输入）；从随机向量出发的端到端训练免去了预训练
   （FNN 需要先训练一个 FM）。各用一套表的 FM & DNN 这两样也都不需要。共享能否提高准确率，
   则取决于数据及其规模。
5. 联合训练。y_hat = sigmoid(y_FM + y_DNN)，用一个对数损失（二分类交叉熵）和 Adam 端到端地训练；
   反向传播同时更新 FM 权重、MLP 和共享的 embedding。在留出的数据上用 AUC 和对数损失评估。

一句话总结：FM 和 MLP 共享一个嵌入层并端到端训练，直接从原始特征学到低阶和高阶交互，既不需要
特征工程，也不需要预训练。"""

MOCK_ANSWER_EN = """\
DeepFM has two parts that share one embedding layer, and their outputs are added and passed
through a sigmoid: y_hat = sigmoid(y_FM + y_DNN).

The input is a record of m fields, most of them categorical with huge vocabularies, so the
one-hot vector is very long and almost all zeros. DeepFM never builds it: each field's active
id looks up one dense vector of size k in a shared embedding table, so a record becomes m
vectors of k numbers.

The FM part uses those vectors for low-order interactions: an order-1 weight per feature and,
for every pair of fields, the inner product of their two vectors. The deep part concatenates
the same vectors and feeds them to an MLP, which learns high-order interactions. Both parts
read the same table, so each vector is trained by both. The FM part's pairwise terms replace
hand-made cross features, and since everything is trained jointly, end to end, on one log loss,
no pre-trained FM is needed."""

MOCK_ANSWER_ZH = """\
DeepFM 由两个部分组成，它们共享同一个嵌入层（embedding 层）；两部分的输出相加后经过 sigmoid：
y_hat = sigmoid(y_FM + y_DNN)。

输入是一条由 m 个字段组成的记录，大多数字段是词表很大的类别特征，所以 one-hot 向量很长且几乎全是零。
DeepFM 从不真正构造这个向量：每个字段用激活的 id 在共享的 embedding 表里查出一个长度为 k 的
稠密向量，一条记录就变成 m 个 k 维向量。

FM 部分用这些向量刻画低阶交互：每个特征一个一阶权重，再加上每一对字段的两个向量的内积。深度部分把
同样的向量拼接起来送进 MLP，学习高阶交互。两部分读同一张表，每个向量同时被两部分训练。FM 部分
的两两交互项取代了人工交叉特征；整个模型用一个对数损失端到端地联合训练，所以也不需要预训练的 FM。"""

QUESTIONS: dict[str, InterviewQuestion] = {q.id: q for q in (
    InterviewQuestion(
        "design",
        {"en": "You are designing a click-through-rate model. The user and item features are very "
               "sparse and high-dimensional. How would you design the model so that it captures "
               "both low-order and high-order feature interactions?",
         "zh": "你在设计一个 CTR 预估模型，用户和物品的特征非常稀疏且维度很高。你会如何设计这个"
               "模型，让它同时捕捉低阶和高阶特征交互？"},
        {"en": ("the main components of the model",
                "how you handle the sparse categorical input",
                "how the low-order and the high-order interactions are each modelled",
                "why sharing the embedding is an important design choice",
                "how the whole model is trained jointly"),
         "zh": ("模型的主要组成部分",
                "如何处理稀疏的类别特征输入",
                "低阶和高阶交互分别如何实现",
                "为什么共享 embedding 是一个重要的设计选择",
                "整个模型如何联合训练")},
        {"en": DESIGN_ANSWER_EN, "zh": DESIGN_ANSWER_ZH},
        tuple(POINTS[name] for name in ("two_parts", "embedding", "per_field", "low_order",
                                        "high_order", "shared", "why_shared", "output",
                                        "joint")),
    ),
    InterviewQuestion(
        "mock",
        {"en": "Interviewer: In two or three minutes, describe DeepFM's overall architecture and "
               "how it deals with sparse, high-dimensional features.",
         "zh": "面试官：请用两三分钟介绍一下 DeepFM 的整体架构，以及它是如何处理稀疏高维特征的。"},
        {"en": ("the parts and how their outputs are combined",
                "what happens to a sparse record before any part sees it",
                "what each part learns"),
         "zh": ("由哪些部分组成，输出如何组合",
                "一条稀疏记录在进入各部分之前经历了什么",
                "每个部分各自学到什么")},
        {"en": MOCK_ANSWER_EN, "zh": MOCK_ANSWER_ZH},
        tuple(POINTS[name] for name in ("two_parts", "embedding", "per_field", "low_order",
                                        "high_order", "shared", "output", "joint")),
    ),
)}

UI = {
    "en": {
        "question": "Interview question ({qid})",
        "covers": "Cover in your answer:",
        "model_answer": "Model answer",
        "checklist": "Checklist: a good answer makes these points",
        "self_check": "Rough self-check by keyword matching, not a grade",
        "self_check_note": "A point is marked [x] when your answer contains one of its key words "
                           "(English or Chinese). Words are not understanding: read the model "
                           "answer and judge each point yourself.",
        "mentioned": "{count} of {total} points mentioned",
        "matched": "found: {words}",
        "no_answer": "Nothing to check yet: put your answer in the string above (replace the "
                     "placeholder), run that cell, then run this one again. The model answer and "
                     "the checklist appear once you have written yours.",
        "not_text": "Your answer should be a string, like my_answer = \"\"\"...\"\"\" "
                    "(got {kind}).",
        "how_to": "Write your answer first, then run interview.self_check(\"{qid}\", my_answer).",
    },
    "zh": {
        "question": "面试题（{qid}）",
        "covers": "回答中请涵盖：",
        "model_answer": "示范答案",
        "checklist": "要点清单：好的回答会讲到这些",
        "self_check": "基于关键词匹配的粗略自查，不是评分",
        "self_check_note": "只要你的回答包含某一要点的关键词（中文或英文），该要点就标为 [x]。"
                           "出现关键词不等于真正理解：请对照示范答案，自己逐条判断。",
        "mentioned": "提到了 {total} 个要点中的 {count} 个",
        "matched": "匹配到：{words}",
        "no_answer": "还没有可以检查的内容：请把上面字符串里的占位文字换成你的回答，"
                     "运行那个单元格，再重新运行这一个。写好之后才会显示示范答案和要点清单。",
        "not_text": "回答应当是一个字符串，例如 my_answer = \"\"\"...\"\"\"（收到的是 {kind}）。",
        "how_to": "先写下你的回答，再运行 interview.self_check(\"{qid}\", my_answer)。",
    },
}


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


def questions() -> list[str]:
    """The interview question ids."""
    return list(QUESTIONS)


def lookup(table: dict, question_id: str, what: str):
    """``table[question_id]``; an unknown id raises KeyError naming ``what`` and listing the ids."""
    if question_id not in table:
        raise KeyError(f"no {what} {question_id!r}; choose one of {', '.join(table)}")
    return table[question_id]


def get(question_id: str) -> InterviewQuestion:
    """The interview question with this id; an unknown id raises KeyError listing the ids."""
    return lookup(QUESTIONS, question_id, "interview question")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _contains(text: str, word: str) -> bool:
    """Is ``word`` in normalised ``text``? ASCII words must start at a word boundary."""
    word = _normalise(word)
    if word.isascii():
        return re.search(r"(?<![a-z0-9])" + re.escape(word), text) is not None
    return word in text


def find_points(question_id: str, answer: str) -> dict[str, tuple[str, ...]]:
    """For each checklist point, the key words found in ``answer`` (empty: not mentioned).

    A point with several keyword groups counts only when every group matches; then the first
    match of each group is reported.
    """
    text = _normalise(answer)
    found = {}
    for point in get(question_id).checklist:
        hits = [next((w for w in group if _contains(text, w)), None) for group in point.keywords]
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


def _card(lines: list[str], heading_lines: Sequence[int] = (0,),
          found: dict[str, tuple[str, ...]] | None = None) -> Card:
    """Plain text as is; in Markdown the heading lines in bold and the rest kept as written."""
    escaped = [html.escape(line, quote=False) for line in lines]
    marked = [f"**{line}**" if index in heading_lines else line
              for index, line in enumerate(escaped)]
    markdown = "\n".join(line if line.strip() else "" for line in marked)
    # Keep the model answer's own line breaks: Markdown joins single newlines otherwise.
    markdown = markdown.replace("\n", "  \n")
    return Card("\n".join(lines), markdown, found or {})


def ask(question_id: str, lang: str | None = None) -> Card:
    """The question and what the answer should cover (nothing of the answer itself)."""
    lang = resolve_language(lang)
    question = get(question_id)
    lines = _question_lines(question, lang)
    lines += ["", UI[lang]["how_to"].format(qid=question_id)]
    return _card(lines, heading_lines=(0,))


def model_answer(question_id: str, lang: str | None = None) -> Card:
    """The model answer and the checklist of points, for grading one's own answer."""
    lang = resolve_language(lang)
    lines = _answer_lines(get(question_id), lang)
    return _card(lines, heading_lines=(0, len(lines) - len(get(question_id).checklist) - 1))


def _is_unanswered(answer: str) -> bool:
    stripped = _normalise(answer).strip()
    return not stripped or stripped in {_normalise(p) for p in PLACEHOLDERS}


def self_check(question_id: str, answer: Any, lang: str | None = None) -> Card:
    """Mark which checklist points ``answer`` mentions, then show the model answer.

    A rough self-check by keyword matching (both languages), never a grade. An empty answer,
    the placeholder or a non-string gives a short message instead (in instructor mode the
    model answer is shown anyway); a learner's answer never raises.
    """
    lang = resolve_language(lang)
    question = get(question_id)
    words = UI[lang]
    if not isinstance(answer, str) or _is_unanswered(answer):
        message = (words["not_text"].format(kind=type(answer).__name__)
                   if not isinstance(answer, str) else words["no_answer"])
        if not settings.instructor:
            return _card([message], heading_lines=())
        lines = [message, "", *_answer_lines(question, lang)]
        return _card(lines, heading_lines=(2, len(lines) - len(question.checklist) - 1))
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
    return _card(lines, heading_lines=(0, heading, checklist_heading), found=found)


__all__ = ["Card", "InterviewQuestion", "KeyPoint", "PAPER_TABLE1", "PLACEHOLDERS", "POINTS",
           "QUESTIONS", "TABLE1_COLUMNS", "TABLE1_MODELS", "ask", "find_points", "get",
           "mixed_difference", "model_answer", "paper_table1", "probe_structure", "questions",
           "self_check", "silence_deep_part", "table1_from_probes", "with_random_weights"]
