"""A mock interview of several rounds: a question, the learner's answer, feedback, a follow-up.

The seed session ends with an interviewer who asks, waits for the answer and follows up. This
module plays that interviewer, deterministically. Round 1 asks the opening question (DeepFM's
structure and why its two parts share one embedding). Each answer is checked against the
round's checklist by keyword matching in English and Chinese (the same rough check as
:func:`deepfm_lite.interview.self_check`, never a grade), and the feedback lists the points
covered and the points missed. The next question digs into the weak point: it is the first
follow-up not yet asked that is attached to the most important missed point (checklists are in
order of importance); when nothing was missed, or every such follow-up was asked already, the
next question comes from :data:`DEFAULT_FOLLOW_UPS`. Usage::

    from deepfm_lite import interview

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

from dataclasses import dataclass, field
from typing import Any

from .. import settings
from .interview import (
    POINTS,
    Card,
    KeyPoint,
    Shown,
    _card,
    _contains,
    _is_unanswered,
    _normalise,
    lookup,
)
from .quiz import resolve_language


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


def _point(name: str, en: str, zh: str, *groups: tuple[str, ...]) -> KeyPoint:
    return KeyPoint(name, {"en": en, "zh": zh}, tuple(groups))


FOLLOW_UP_POINTS: dict[str, KeyPoint] = {point.name: point for point in (
    _point("fm_trick",
           "Rewrite the sum over pairs as half of (square of the sum minus sum of squares), for "
           "each of the k latent dimensions.",
           "把对所有特征对的求和改写成“和的平方减平方的和”的一半，k 个隐向量维度各算一次。",
           ("square of the sum", "square of sum", "squared sum", "sum of squares", "和的平方",
            "平方的和", "平方和")),
    _point("fm_linear",
           "That costs O(k n): linear in the number of features (only the non-zero ones count).",
           "这样的代价是 O(k n)：与特征个数成线性关系（只有非零特征才参与计算）。",
           ("o(kn)", "o(k n)", "o(nk)", "o(n k)", "linear", "线性")),
    _point("fm_naive",
           "The direct double loop over all pairs costs O(k n^2).",
           "直接对所有特征对做二重循环，代价是 O(k n^2)。",
           ("o(kn^2)", "o(k n^2)", "o(kn2)", "o(k n2)", "n^2", "quadratic", "平方级", "二次方")),
    _point("ws_one_table",
           "One table instead of two: half the embedding parameters, which matters at Criteo "
           "scale.",
           "只要一张表而不是两张：embedding 参数少一半，在 Criteo 这样的规模上很重要。",
           ("one table", "single table", "one embedding table", "fewer parameters",
            "half the parameters", "一张表", "参数更少", "更少的参数", "参数少")),
    _point("ws_attribution",
           "What it does not buy: no feature engineering comes from the FM part, no pre-training "
           "from end-to-end training (FM & DNN, with two tables, has both as well).",
           "它没有带来的：不需要特征工程靠的是 FM 部分，不需要预训练靠的是端到端训练"
           "（用两张表的 FM & DNN 这两点也都具备）。",
           ("fm part", "fm component", "the fm", "fm 部分", "fm 组件"),
           ("end-to-end", "end to end", "端到端")),
    _point("ws_gradient",
           "A joint gradient: each vector is trained by the FM part and the deep part at once.",
           "联合的梯度：每个向量同时由 FM 部分和深度部分训练。",
           ("gradient", "梯度")),
    _point("wd_joint",
           "Wide & Deep is trained jointly, end to end, too: joint training is not the "
           "difference.",
           "Wide & Deep 同样是端到端联合训练的：联合训练并不是两者的区别。",
           ("joint", "together", "end-to-end", "end to end", "联合", "一起", "端到端")),
    _point("wd_inputs",
           "Wide & Deep's wide part reads its own, separate inputs; DeepFM's two parts read one "
           "shared embedding.",
           "Wide & Deep 的 wide 部分读取自己单独的输入；DeepFM 的两部分读取同一套共享的 "
           "embedding。",
           ("separate input", "separate feature", "own input", "different input", "shar",
            "单独的输入", "各自的输入", "不同的输入", "共享")),
    _point("wd_crosses",
           "Wide & Deep's wide part is linear over hand-made cross features; DeepFM's FM part "
           "learns every pair from the embeddings.",
           "Wide & Deep 的 wide 部分是作用在人工交叉特征上的线性模型；DeepFM 的 FM 部分从"
           " embedding "
           "中学到每一对特征的交互。",
           ("cross", "交叉"),
           ("hand", "manual", "engineer", "人工", "手工", "特征工程")),
    _point("so_sum",
           "The two outputs are added: y_FM + y_DNN.",
           "两部分的输出相加：y_FM + y_DNN。",
           ("add", "sum", "plus", "y_fm + y_dnn", "相加", "之和", "加起来", "求和")),
    _point("so_once",
           "One sigmoid, applied once to the sum: y_hat = sigmoid(y_FM + y_DNN).",
           "只有一个 sigmoid，作用在和上一次：y_hat = sigmoid(y_FM + y_DNN)。",
           ("sigmoid", "σ"),
           ("once", "one sigmoid", "single sigmoid", "a single", "sigmoid(y_fm", "一次",
            "一个 sigmoid")),
    _point("so_logits",
           "y_FM and y_DNN are logits, raw scores with no sigmoid of their own: averaging two "
           "probabilities would be a different model.",
           "y_FM 和 y_DNN 都是 logit，即各自不经过 sigmoid 的原始分数；把两个概率取平均是"
           "另一个模型。",
           ("logit", "raw score", "原始分数")),
    _point("so_loss",
           "One log loss on that probability, so one backward pass reaches both parts.",
           "在这个概率上算一个对数损失，一次反向传播就同时到达两部分。",
           ("loss", "cross-entropy", "cross entropy", "损失", "交叉熵")),
    _point("dk_keep",
           "In the paper, \"dropout\" is the probability of keeping a neuron.",
           "论文里的“dropout”指的是保留一个神经元的概率。",
           ("keep", "kept", "retain", "保留")),
    _point("dk_convert",
           "PyTorch's nn.Dropout(p) takes the probability of dropping: p = 1 - keep, so the "
           "paper's 0.9 is nn.Dropout(p=0.1).",
           "PyTorch 的 nn.Dropout(p) 接收的是丢弃概率：p = 1 - 保留概率，所以论文的 0.9 就是 "
           "nn.Dropout(p=0.1)。",
           ("1 - ", "1-", "p=0.1", "p = 0.1", "p=0.5", "p = 0.5", "丢弃概率")),
    _point("dk_where",
           "Dropout acts on the deep part's hidden layers during training only; evaluation "
           "(model.eval()) uses every neuron.",
           "dropout 只在训练时作用于深度部分的隐藏层；评估时（model.eval()）所有神经元都参与。",
           ("training only", "only during training", "only in training", "eval", "inference",
            "训练时", "评估", "推理")),
)}


def _checklist(*names: str) -> tuple[KeyPoint, ...]:
    return tuple(POINTS[name] if name in POINTS else FOLLOW_UP_POINTS[name] for name in names)


OPENING_ANSWER_EN = """\
DeepFM has two parts side by side, an FM part and a deep part (an MLP), and both read one
shared embedding layer. Each sparse field's active id looks up one dense vector of size k.

The FM part models low order: an order-1 weight per feature plus the inner product of every
pair of field vectors. The deep part concatenates the same vectors and learns high-order
interactions. The two outputs are added and one sigmoid gives the probability; the whole
model is trained jointly, end to end, on one log loss.

Sharing buys one table instead of two (fewer parameters) and a joint gradient: each vector is
trained by both parts. No feature engineering comes from the FM part and no pre-training from
end-to-end training, not from the sharing."""

OPENING_ANSWER_ZH = """\
DeepFM 由两个并列的部分组成：FM 部分和深度部分（一个 MLP），两者读取同一个共享的嵌入层
（embedding 层）。每个稀疏字段用激活的 id 查出一个长度为 k 的稠密向量。

FM 部分负责低阶：每个特征一个一阶权重，加上每一对字段向量的内积。深度部分把同样的向量拼接起来，
学习高阶交互。两部分的输出相加，再经过一个 sigmoid 得到概率；整个模型用一个对数损失
端到端地联合训练。

共享带来的是：只要一张表而不是两张（参数更少），以及联合的梯度，每个向量同时由两部分训练。
不需要特征工程靠的是 FM 部分，不需要预训练靠的是端到端训练，都不是共享带来的。"""

MOCK_QUESTIONS: dict[str, MockQuestion] = {q.id: q for q in (
    MockQuestion(
        "opening",
        {"en": "Interviewer: Walk me through DeepFM's structure, and tell me why its FM part and "
               "its deep part share one embedding.",
         "zh": "面试官：请讲一讲 DeepFM 的结构，并说明为什么它的 FM 部分和深度部分共享同一个 "
               "embedding。"},
        {"en": OPENING_ANSWER_EN, "zh": OPENING_ANSWER_ZH},
        _checklist("two_parts", "shared", "why_shared", "output", "low_order", "high_order",
                   "embedding", "joint"),
        {"two_parts": ("wide_deep",), "shared": ("why_shared",), "why_shared": ("why_shared",),
         "output": ("sigmoid_once",), "low_order": ("fm_cost",), "high_order": ("dropout_keep",),
         "embedding": ("why_shared", "fm_cost"), "joint": ("wide_deep", "sigmoid_once")},
    ),
    MockQuestion(
        "why_shared",
        {"en": "Interviewer: You mentioned the shared embedding. What exactly does the sharing "
               "buy, and which benefits often credited to it come from elsewhere?",
         "zh": "面试官：你提到了共享 embedding。共享到底带来了什么？常被归功于它的好处里，"
               "哪些其实另有来源？"},
        {"en": "Sharing buys one table instead of two, so fewer parameters, and a joint gradient: "
               "every vector the batch uses gets gradient from the FM part and from the deep part "
               "at once. No feature engineering comes from the FM part, which models every pair; "
               "no pre-training comes from end-to-end training from random vectors. FM & DNN, with "
               "two tables, has both of those too.",
         "zh": "共享带来的是：只要一张表而不是两张，所以参数更少；以及联合的梯度：一个批"
               "次用到的每个"
               "向量同时从 FM 部分和深度部分得到梯度。不需要特征工程靠的是 FM 部分（它为每一对特征"
               "建模）；不需要预训练靠的是从随机向量出发的端到端训练。用两张表的 FM & DNN "
               "这两点也都具备。"},
        _checklist("ws_one_table", "ws_attribution", "ws_gradient"),
        {"ws_one_table": ("wide_deep",), "ws_attribution": ("wide_deep",),
         "ws_gradient": ("sigmoid_once",)},
        (Pitfall(("feature engineering", "hand-made", "pre-train", "pretrain", "特征工程",
                  "预训练"),
                 {"en": "Check: sharing is often credited with \"no feature engineering\" and \"no "
                        "pre-training\". Those come from the FM part and from end-to-end "
                        "training; FM & DNN, with two tables, has them too.",
                  "zh": "注意：常有人把“不需要特征工程”和“不需要预训练”归功于共享。它们分别来自 FM "
                        "部分和端到端训练；用两张表的 FM & DNN 也具备这两点。"},
                 unless="ws_attribution"),),
    ),
    MockQuestion(
        "wide_deep",
        {"en": "Interviewer: Wide & Deep also has a shallow part and a deep part. What is the real "
               "difference between it and DeepFM?",
         "zh": "面试官：Wide & Deep 也有一个浅层部分和一个深度部分。它和 DeepFM 真正的区"
               "别是什么？"},
        {"en": "Not the training: Wide & Deep is trained jointly, end to end, too. The difference "
               "is the wide part's input. It reads its own, separate inputs, and being linear it "
               "can only model a pair through hand-made cross features that someone has to choose. "
               "DeepFM replaces it with an FM part that learns every pair from the embeddings, "
               "and both of its parts share one table.",
         "zh": "区别不在训练方式：Wide & Deep 同样是端到端联合训练的。区别在 wide 部分的"
               "输入：它读取"
               "自己单独的输入，而且作为线性模型，只能靠人工交叉特征来刻画特征对，需要有"
               "人去挑选这些"
               "交叉。DeepFM 用 FM 部分取而代之，从 embedding 中学到每一对特征的交互，两部分共享"
               "同一张表。"},
        _checklist("wd_joint", "wd_inputs", "wd_crosses"),
        {"wd_joint": ("sigmoid_once",), "wd_inputs": ("why_shared",), "wd_crosses": ("fm_cost",)},
        (Pitfall(("trained separately", "separately trained", "train separately",
                  "trains separately", "ensemble", "分开训练", "单独训练", "分别训练"),
                 {"en": "Check: Wide & Deep is not trained separately. Its wide and deep parts are "
                        "trained jointly on one loss, like DeepFM's.",
                  "zh": "注意：Wide & Deep 并不是分开训练的，它的 wide 部分和 deep 部分和 DeepFM "
                        "一样，在一个损失上联合训练。"}),),
    ),
    MockQuestion(
        "sigmoid_once",
        {"en": "Interviewer: How do the two parts' outputs become one click probability? Where "
               "exactly is the sigmoid applied?",
         "zh": "面试官：两部分的输出怎样变成一个点击概率？sigmoid 具体作用在哪里？"},
        {"en": "y_FM and y_DNN are logits, raw scores with no sigmoid of their own. They a"
               "re added, "
               "and one sigmoid is applied once to the sum: y_hat = sigmoid(y_FM + y_DNN). One log "
               "loss on that probability means one backward pass reaches both parts.",
         "zh": "y_FM 和 y_DNN 都是 logit，即各自不经过 sigmoid 的原始分数。两者相加，再对"
               "和只用一次 "
               "sigmoid：y_hat = sigmoid(y_FM + y_DNN)。在这个概率上算一个对数损失，一次反向传播就"
               "同时到达两部分。"},
        _checklist("so_sum", "so_once", "so_logits", "so_loss"),
        {"so_sum": ("fm_cost",), "so_once": ("why_shared",), "so_logits": ("fm_cost",),
         "so_loss": ("why_shared",)},
        (Pitfall(("averag", "mean of the two", "two sigmoids", "平均", "两个 sigmoid"),
                 {"en": "Check: the two parts' probabilities are not averaged; the logits are "
                        "added and a single sigmoid follows.",
                  "zh": "注意：不是把两部分的概率取平均，而是先把 logit 相加，再经过一个"
                        " sigmoid。"},
                 unless="so_logits"),),
    ),
    MockQuestion(
        "fm_cost",
        {"en": "Interviewer: The FM part scores every pair of features. With n features, h"
               "ow do you "
               "compute its order-2 term without looping over all pairs, and at what cost?",
         "zh": "面试官：FM 部分要给每一对特征打分。有 n 个特征时，怎样不逐对循环就算出二阶项？"
               "代价是多少？"},
        {"en": "For each latent dimension f, the sum over pairs equals half of the square "
               "of the sum "
               "minus the sum of squares: 0.5 * [(sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2]. That "
               "costs O(k n), linear in the number of non-zero features, where the direct double "
               "loop over pairs costs O(k n^2).",
         "zh": "对每个隐向量维度 f，所有特征对之和等于“和的平方减平方的和”的一半："
               "0.5 * [(sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2]。代价是 O(k n)，与非零特征个数成"
               "线性关系；而直接对所有特征对做二重循环，代价是 O(k n^2)。"},
        _checklist("fm_trick", "fm_linear", "fm_naive"),
        {"fm_trick": ("wide_deep",), "fm_linear": ("wide_deep",), "fm_naive": ("wide_deep",)},
    ),
    MockQuestion(
        "dropout_keep",
        {"en": "Interviewer: The paper trains its deep part with \"dropout 0.5\" and finds 0.6 to "
               "0.9 works best. What does that number mean, and how do you set it in PyTorch?",
         "zh": "面试官：论文给深度部分设置了“dropout 0.5”，并发现 0.6 到 0.9 效果最好。这个数字是"
               "什么意思？在 PyTorch 里怎么设置？"},
        {"en": "In the paper, \"dropout\" is the probability of keeping a neuron. PyTorch's "
               "nn.Dropout(p) takes the probability of dropping one, so p = 1 - keep: the paper's "
               "0.9 is nn.Dropout(p=0.1) and its 0.5 is p=0.5. Dropout acts on the hidden layers "
               "during training only; model.eval() switches it off for evaluation.",
         "zh": "论文里的“dropout”指的是保留一个神经元的概率。PyTorch 的 nn.Dropout(p) 接收的是丢弃"
               "概率，所以 p = 1 - 保留概率：论文的 0.9 就是 nn.Dropout(p=0.1)，0.5 则是 p=0.5。"
               "dropout 只在训练时作用于隐藏层；model.eval() 在评估时把它关掉。"},
        _checklist("dk_keep", "dk_convert", "dk_where"),
        {"dk_keep": ("why_shared",), "dk_convert": ("why_shared",), "dk_where": ("sigmoid_once",)},
    ),
)}

OPENING = "opening"
DEFAULT_FOLLOW_UPS = ("why_shared", "wide_deep", "sigmoid_once", "fm_cost", "dropout_keep")
DEFAULT_ROUNDS = 4
MAX_ROUNDS = 1 + len(DEFAULT_FOLLOW_UPS)

UI = {
    "en": {
        "round": "Round {number} of {total}",
        "check": "Rough keyword check, not a grade: a point counts when your answer uses one of "
                 "its key words (English or Chinese).",
        "covered": "Covered ({count} of {total}):",
        "missed": "Missed ({count}):",
        "none": "- none",
        "follow_up": "Follow-up, digging into the first point you missed:",
        "follow_up_later": "Follow-up, digging into another point you missed (the first ones "
                           "were followed up already):",
        "follow_up_default": "Nothing missed. Next question:",
        "follow_up_after": "Next question (the follow-ups of your missed points were asked "
                           "already):",
        "last": "That was the last round. mock.transcript() shows the whole interview.",
        "model_answer": "Model answer (instructor mode)",
        "no_answer": "Nothing to check yet: write your answer in the string (replace the "
                     "placeholder) and run the cell again. The question is still open.",
        "not_text": "Your answer should be a string, like answer_1 = \"\"\"...\"\"\" (got {kind}). "
                    "The question is still open.",
        "over": "The interview is over ({total} rounds). Start a new one with "
                "interview.MockInterview().",
        "transcript": "Mock interview transcript",
        "your_answer": "Your answer:",
        "waiting": "(waiting for your answer)",
    },
    "zh": {
        "round": "第 {number} 轮，共 {total} 轮",
        "check": "基于关键词匹配的粗略检查，不是评分：回答中出现某一要点的关键词（中文或"
                 "英文）即算讲到。",
        "covered": "讲到的要点（{total} 个中的 {count} 个）：",
        "missed": "遗漏的要点（{count} 个）：",
        "none": "- 无",
        "follow_up": "追问，针对你遗漏的第一个要点：",
        "follow_up_later": "追问，针对你遗漏的另一个要点（前面几个已经追问过了）：",
        "follow_up_default": "没有遗漏。下一个问题：",
        "follow_up_after": "下一个问题（针对遗漏要点的追问已经问过了）：",
        "last": "这是最后一轮。mock.transcript() 可以查看整场面试。",
        "model_answer": "示范答案（教师模式）",
        "no_answer": "还没有可以检查的内容：请把字符串里的占位文字换成你的回答，再运行这个单元格。"
                     "这一轮的问题仍然有效。",
        "not_text": "回答应当是一个字符串，例如 answer_1 = \"\"\"...\"\"\"（收到的是 {kind}）。"
                    "这一轮的问题仍然有效。",
        "over": "面试已经结束（共 {total} 轮）。用 interview.MockInterview() 重新开始。",
        "transcript": "模拟面试记录",
        "your_answer": "你的回答：",
        "waiting": "（等待你的回答）",
    },
}


def mock_questions() -> list[str]:
    """The ids of the mock interview's questions, the opening first."""
    return list(MOCK_QUESTIONS)


def get_mock(question_id: str) -> MockQuestion:
    """One mock interview question; an unknown id raises KeyError listing the ids."""
    return lookup(MOCK_QUESTIONS, question_id, "mock interview question")


def _flat(answer: str) -> str:
    """Normalised text with every run of whitespace (line breaks too) as one space."""
    return " ".join(_normalise(answer).split())


def check_points(question_id: str, answer: str) -> tuple[list[str], list[str]]:
    """The names of the checklist points ``answer`` covers and misses, in checklist order."""
    text = _flat(answer)
    covered, missed = [], []
    for point in get_mock(question_id).checklist:
        hit = all(any(_contains(text, word) for word in group) for group in point.keywords)
        (covered if hit else missed).append(point.name)
    return covered, missed


def pitfall_notes(question_id: str, answer: str, covered: list[str], lang: str) -> list[str]:
    """The notes of the pitfalls ``answer`` falls into (key word found, ``unless`` not covered)."""
    text = _flat(answer)
    return [pitfall.note[lang] for pitfall in get_mock(question_id).pitfalls
            if any(_contains(text, word) for word in pitfall.keywords)
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
            return _card([UI[lang]["over"].format(total=self.rounds)], heading_lines=())
        lines = [UI[lang]["round"].format(number=self.round, total=self.rounds), "",
                 self.question, *_model_answer_lines(self.question_id, lang)]
        return _card(lines, heading_lines=(0,) + ((4,) if settings.instructor else ()))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return self.ask()._repr_mimebundle_()

    def _not_checked(self, message: str) -> RoundFeedback:
        card = _card([message], heading_lines=())
        return RoundFeedback(self.round, self.asked[-1], [], [], None, self.question_id,
                             self.question, card.text, card.markdown, accepted=False)

    def answer(self, text: Any) -> RoundFeedback:
        """Check an answer to the open question, record it and move to the next round."""
        words = UI[self.lang]
        if self._finished:
            return self._not_checked(words["over"].format(total=self.rounds))
        if not isinstance(text, str):
            return self._not_checked(words["not_text"].format(kind=type(text).__name__))
        if _is_unanswered(text):
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
        card = _card(lines, heading_lines=tuple(headings))
        next_question = None if next_id is None else get_mock(next_id).question[lang]
        return RoundFeedback(self.round, question_id, covered, missed, target, next_id,
                             next_question, card.text, card.markdown, notes=notes)

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
        return _card(lines, heading_lines=tuple(headings))


__all__ = ["DEFAULT_FOLLOW_UPS", "FOLLOW_UP_POINTS", "MOCK_QUESTIONS", "MockInterview",
           "MockQuestion", "Pitfall", "RoundFeedback", "check_points", "choose_follow_up",
           "get_mock", "mock_questions", "pitfall_notes"]
