"""Table 1 probes and the interview self-check (deepfm_lite.interview)."""

import pytest
import torch
from torch import nn

from deepfm_lite import interview, settings
from deepfm_lite.layers import fm_second_order
from deepfm_lite.models import build_model

FIELD_DIMS = [6, 5, 7, 4]
FIELDS, HIGH, LOW = (0, 1, 2), (2, 3, 4), (3, 2, 5)


@pytest.fixture(autouse=True)
def english_student_mode(monkeypatch):
    monkeypatch.setattr(settings, "language", "en")
    monkeypatch.setattr(settings, "instructor", False)


@pytest.fixture(scope="module")
def rows():
    generator = torch.Generator().manual_seed(0)
    ids = torch.stack([torch.randint(0, d, (64,), generator=generator) for d in FIELD_DIMS], 1)
    return ids, torch.ones(64, len(FIELD_DIMS))


class ProductOfIds(nn.Module):
    """A model whose logit is id_0 * id_1 * id_2: its order-3 difference is known exactly."""

    def forward(self, ids, values):
        return (ids[:, 0] * ids[:, 1] * ids[:, 2]).double()


def test_mixed_difference_of_a_known_product(rows):
    ids, values = rows
    result = interview.mixed_difference(ProductOfIds(), ids, values, FIELDS, HIGH, LOW)
    expected = (2 - 3) * (3 - 2) * (4 - 5)  # (h0 - l0)(h1 - l1)(h2 - l2)
    assert torch.equal(result, torch.full((64,), float(expected), dtype=torch.float64))


def test_pairwise_models_have_no_order3_difference_and_lr_no_order2(rows):
    ids, values = rows
    fm = interview.with_random_weights(build_model("fm", FIELD_DIMS, seed=0, embed_dim=4))
    lr = interview.with_random_weights(build_model("lr", FIELD_DIMS, seed=0))
    deepfm = interview.with_random_weights(build_model("deepfm", FIELD_DIMS, seed=0, embed_dim=4,
                                                       hidden=(8,), dropout=0.0))
    values = values.double()
    assert interview.mixed_difference(fm, ids, values, FIELDS, HIGH, LOW).abs().max() < 1e-12
    assert interview.mixed_difference(lr, ids, values, FIELDS[:2], HIGH[:2],
                                      LOW[:2]).abs().max() < 1e-12
    assert interview.mixed_difference(fm, ids, values, FIELDS[:2], HIGH[:2],
                                      LOW[:2]).abs().min() > 1e-6
    assert interview.mixed_difference(deepfm, ids, values, FIELDS, HIGH,
                                      LOW).abs().mean() > 1e-6


def test_with_random_weights_copies_and_leaves_the_model_alone():
    model = build_model("lr", FIELD_DIMS, seed=0)
    probe = interview.with_random_weights(model, seed=1)
    assert torch.count_nonzero(model.linear.weight) == 0  # the original keeps its zero start
    assert probe.linear.weight.dtype == torch.float64
    assert torch.count_nonzero(probe.linear.weight) == probe.linear.weight.numel()
    again = interview.with_random_weights(model, seed=1)
    assert torch.equal(probe.linear.weight, again.linear.weight)  # seeded


def test_silenced_deepfm_computes_its_fm_part_alone(rows):
    ids, values = rows
    model = interview.with_random_weights(build_model("deepfm", FIELD_DIMS, seed=0, embed_dim=4,
                                                      hidden=(8,), dropout=0.0))
    values = values.double()
    silent = interview.silence_deep_part(model)
    with torch.no_grad():
        y_fm = model.linear(ids, values) + fm_second_order(model.embedding(ids, values))
        torch.testing.assert_close(silent(ids, values), y_fm)
        assert not torch.allclose(model(ids, values), y_fm)  # the original still has its MLP


def test_probes_rebuild_the_papers_table1(rows):
    ids, values = rows
    probes = {label: interview.probe_structure(name, FIELD_DIMS, ids, values, FIELDS, HIGH, LOW)
              for label, name in interview.TABLE1_MODELS.items()}
    rebuilt = interview.table1_from_probes(probes)
    assert rebuilt.equals(interview.paper_table1())


@pytest.mark.parametrize("name, expected", [
    ("lr", ["yes", "no", "yes", "no"]),
    ("fm", ["yes", "no", "yes", "yes"]),
    ("opnn", ["yes", "yes", "no", "yes"]),
    ("pnn_star", ["yes", "yes", "no", "yes"]),
    ("fm_dnn", ["yes", "yes", "yes", "yes"]),
    ("dnn", ["yes", "yes", "no", "yes"]),
])
def test_probes_of_the_other_models(rows, name, expected):
    ids, values = rows
    probe = interview.probe_structure(name, FIELD_DIMS, ids, values, FIELDS, HIGH, LOW)
    assert interview.table1_from_probes({name: probe}).loc[name].tolist() == expected


def test_paper_table1_as_printed():
    table = interview.paper_table1()
    assert list(table.index) == ["FNN", "PNN", "Wide & Deep", "DeepFM"]
    assert list(table.columns) == list(interview.TABLE1_COLUMNS)
    assert (table.loc["DeepFM"] == "yes").all()
    assert table.loc["FNN"].tolist() == ["no", "yes", "no", "yes"]
    assert table.loc["Wide & Deep", "no feature engineering"] == "no"


@pytest.mark.parametrize("fields, high, low, message", [
    ((0, 1), (2, 2, 2), (3, 3, 3), "same non-zero length"),
    ((0, 0, 1), (2, 2, 2), (3, 3, 3), "distinct"),
    ((0, 1, 9), (2, 2, 2), (3, 3, 3), "field 9 is out of range"),
])
def test_mixed_difference_names_bad_arguments(rows, fields, high, low, message):
    ids, values = rows
    with pytest.raises(ValueError, match=message):
        interview.mixed_difference(ProductOfIds(), ids, values, fields, high, low)


def test_probe_structure_needs_three_fields(rows):
    ids, values = rows
    with pytest.raises(ValueError, match="three fields"):
        interview.probe_structure("fm", FIELD_DIMS, ids, values, (0, 1), (2, 2), (3, 3))


# ---- the interview ----------------------------------------------------------------------------


@pytest.mark.parametrize("qid", interview.questions())
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_model_answers_mention_every_point(qid, lang):
    question = interview.get(qid)
    found = interview.find_points(qid, question.model_answer[lang])
    assert [name for name, hits in found.items() if not hits] == []
    assert len(found) == len(question.checklist)


def test_an_off_topic_answer_mentions_nothing():
    answer = "I would run a CNN over the click history, then an RNN, and tune the learning rate."
    for qid in interview.questions():
        assert interview.self_check(qid, answer).mentioned == []


def test_a_partial_answer_gets_exactly_its_points():
    answer = "DeepFM 有 FM 和 DNN 两部分，共享 embedding，两者相加后过 sigmoid。"
    assert interview.self_check("mock", answer).mentioned == ["two_parts", "embedding", "shared",
                                                               "output"]


def test_english_words_match_at_word_starts_only():
    # "DeepFM" is not an FM part, "transform" holds no "fm", "shared" starts with "shar".
    assert interview.find_points("mock", "DeepFM transforms the input")["two_parts"] == ()
    assert interview.find_points("mock", "an FM and an MLP")["two_parts"] == ("fm", "mlp")
    assert interview.find_points("mock", "Shared vectors")["shared"] == ("shar",)


@pytest.mark.parametrize("answer", ["", "   ", "Write your answer here.", "在这里写下你的回答。",
                                    None, 42, ["FM"]])
def test_no_answer_gives_a_message_and_hides_the_model_answer(answer):
    card = interview.self_check("mock", answer)
    assert card.mentioned == []
    assert "Model answer" not in card.text
    assert interview.get("mock").model_answer["en"] not in card.text
    assert ("string" in card.text) if not isinstance(answer, str) else ("Nothing to check" in
                                                                        card.text)


def test_instructor_mode_shows_the_model_answer_without_an_answer(monkeypatch):
    monkeypatch.setattr(settings, "instructor", True)
    card = interview.self_check("design", "Write your answer here.")
    assert interview.get("design").model_answer["en"] in card.text


def test_self_check_is_labelled_and_shows_the_model_answer():
    card = interview.self_check("design", "An FM part and an MLP.")
    assert card.text.startswith("Rough self-check by keyword matching, not a grade")
    assert "1 of 9 points mentioned" in card.text
    assert "[x] Two parts" in card.text and "[ ] Joint training" in card.text
    assert interview.get("design").model_answer["en"] in card.text


def test_chinese_rendering():
    card = interview.self_check("design", "FM 和 MLP", lang="zh")
    assert card.text.startswith("基于关键词匹配的粗略自查，不是评分")
    assert interview.get("design").model_answer["zh"] in card.text
    assert "面试题" in interview.ask("mock", lang="zh").text


def test_ask_shows_the_question_but_not_the_answer():
    card = interview.ask("design")
    question = interview.get("design")
    assert question.question["en"] in card.text
    assert all(item in card.text for item in question.covers["en"])
    assert question.model_answer["en"] not in card.text


def test_model_answer_card_lists_the_checklist():
    card = interview.model_answer("design")
    assert all(point.text["en"] in card.text for point in interview.get("design").checklist)


def test_card_mime_bundle_escapes_markdown():
    bundle = interview.model_answer("design")._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/markdown"}
    assert "<w, x>" in bundle["text/plain"] and "&lt;w, x&gt;" in bundle["text/markdown"]


def test_unknown_question_and_language():
    with pytest.raises(KeyError, match="design, mock"):
        interview.get("desing")
    with pytest.raises(ValueError, match="'en' or 'zh'"):
        interview.ask("design", lang="fr")


def test_why_shared_credits_sharing_with_one_table_and_a_joint_gradient_only():
    point = interview.POINTS["why_shared"]
    assert "one table" in point.text["en"] and "gradient" in point.text["en"]
    assert "FM part" in point.text["en"] and "end-to-end" in point.text["en"]
    retired = ("feature engineering", "hand-made", "pre-train", "特征工程", "人工", "预训练")
    assert not any(word in group for group in point.keywords for word in retired)
    claim = "Sharing the embedding removes feature engineering and pre-training."
    assert interview.find_points("design", claim)["why_shared"] == ()
    assert interview.find_points("design", "One table for both parts.")["why_shared"]


def test_interview_chinese_uses_the_course_terms():
    texts = [interview.get(q).question["zh"] for q in interview.questions()]
    texts += [interview.get(q).model_answer["zh"] for q in interview.questions()]
    texts += [p.text["zh"] for p in interview.POINTS.values()]
    assert not any("点击率预测" in t for t in texts)
    assert "CTR 预估" in interview.get("design").question["zh"]
    for text in texts:
        assert text.count("embedding 层") <= 1
        if "embedding 层" in text:
            assert "嵌入层（embedding 层）" in text
