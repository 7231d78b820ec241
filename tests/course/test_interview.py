"""Table 1 probes, the interview self-check and the mock interview (deepfm_lite.course.interview
and mock_interview), and the interview bank they read (interview_bank/*.json)."""

import ast
import copy
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from deepfm_lite import settings
from deepfm_lite.course import interview, interview_data, mock_interview
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


# ---- the mock interview -----------------------------------------------------------------------

PARTIAL_OPENING = ("DeepFM has an FM part and a deep part, an MLP. Both read the same embedding "
                   "table, which is shared. The two outputs are added and passed through a "
                   "sigmoid.")


def _full_answer(mock, lang):
    return mock_interview.get_mock(mock.question_id).model_answer[lang]


@pytest.mark.parametrize("qid", mock_interview.mock_questions())
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_mock_model_answers_cover_every_point(qid, lang):
    model_answer = mock_interview.get_mock(qid).model_answer[lang]
    covered, missed = mock_interview.check_points(qid, model_answer)
    assert missed == []
    assert covered == [point.name for point in mock_interview.get_mock(qid).checklist]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_full_answers_cover_everything_and_the_interview_ends(lang):
    mock = mock_interview.MockInterview(lang=lang)
    assert mock.question == mock_interview.get_mock("opening").question[lang]
    feedbacks = []
    while not mock.done:
        feedbacks.append(mock.answer(_full_answer(mock, lang)))
    assert len(feedbacks) == 4
    assert all(f.missed == [] and f.target is None and f.accepted for f in feedbacks)
    # nothing missed: the default follow-ups, in order
    assert [f.question_id for f in feedbacks] == ["opening", *mock_interview.DEFAULT_FOLLOW_UPS[:3]]
    assert feedbacks[-1].done and feedbacks[-1].next_question is None
    assert mock.question is None and mock.question_id is None


def test_a_partial_answer_gets_the_follow_up_of_its_most_important_missed_point():
    feedback = mock_interview.MockInterview().answer(PARTIAL_OPENING)
    assert feedback.covered == ["two_parts", "shared", "output", "embedding"]
    assert feedback.missed == ["why_shared", "low_order", "high_order", "joint"]
    assert feedback.target == "why_shared" and feedback.next_id == "why_shared"
    assert feedback.next_question == mock_interview.get_mock("why_shared").question["en"]
    assert "[ ] What sharing buys" in feedback.text and "[x] Two parts" in feedback.text
    assert "not a grade" in feedback.text


@pytest.mark.parametrize("answer, target, next_id", [
    ("An FM part and an MLP share one embedding; their sum goes through a sigmoid. The FM part "
     "saves one table and sends a joint gradient to each vector.", "low_order", "fm_cost"),
    ("The FM part takes pairwise inner products and the MLP learns high-order interactions over "
     "the shared embedding, one table, a gradient from both.", "output", "sigmoid_once"),
    ("FM and MLP over one shared embedding: one table, a joint gradient. Pairwise inner products "
     "and high-order ones, added, then a sigmoid.", "joint", "wide_deep"),
])
def test_each_weak_point_leads_to_its_own_follow_up(answer, target, next_id):
    feedback = mock_interview.MockInterview().answer(answer)
    assert feedback.target == target == feedback.missed[0]
    assert feedback.next_id == next_id


def test_the_high_order_gap_leads_to_the_dropout_question():
    missed = ["high_order", "joint"]
    assert mock_interview.choose_follow_up("opening", missed, ["opening"]) == ("high_order",
                                                                           "dropout_keep")


def test_a_follow_up_already_asked_is_skipped():
    # why_shared was asked: its weak point moves on to the next missed point with a fresh one
    assert mock_interview.choose_follow_up("wide_deep", ["wd_inputs", "wd_crosses"],
                                      ["opening", "why_shared"]) == ("wd_crosses", "fm_cost")
    asked = ["opening", "why_shared", "sigmoid_once"]
    assert mock_interview.choose_follow_up("why_shared", ["ws_gradient"], asked) == (
        None, "wide_deep")
    every_question = list(mock_interview.MOCK_QUESTIONS)
    assert mock_interview.choose_follow_up("fm_cost", [], every_question) == (None, None)


def test_the_example_session_of_notebook_08():
    mock = mock_interview.MockInterview()
    first = mock.answer(PARTIAL_OPENING + " Sharing means no feature engineering.")
    second = mock.answer("One table instead of two, so fewer parameters. It also removes "
                         "feature engineering.")
    assert (first.next_id, second.target, second.next_id) == ("why_shared", "ws_attribution",
                                                              "wide_deep")
    assert second.notes and "FM part" in second.notes[0]
    third = mock.answer("Wide & Deep needs hand-made cross features, and its parts are trained "
                        "separately.")
    assert third.target == "wd_joint" and third.next_id == "sigmoid_once"
    assert "not trained separately" in third.text
    fourth = mock.answer("The two logits are added and one sigmoid gives the probability.")
    assert fourth.missed == ["so_loss"] and fourth.done and mock.done
    transcript = mock.transcript().text
    assert transcript.count("Your answer:") == 4 and "trained separately" in transcript


def test_a_correct_attribution_gets_no_pitfall_note():
    answer = ("One table, fewer parameters. No feature engineering comes from the FM part, no "
              "pre-training from end-to-end training.")
    covered, missed = mock_interview.check_points("why_shared", answer)
    assert covered == ["ws_one_table", "ws_attribution"] and missed == ["ws_gradient"]
    assert mock_interview.pitfall_notes("why_shared", answer, covered, "en") == []


def test_mock_interview_in_chinese_and_from_the_settings(monkeypatch):
    answer = "DeepFM 有 FM 和 DNN 两部分，共享 embedding，两者相加后过 sigmoid。"
    feedback = mock_interview.MockInterview(lang="zh").answer(answer)
    assert feedback.missed[0] == "why_shared" and feedback.next_id == "why_shared"
    assert feedback.text.startswith("第 1 轮，共 4 轮") and "追问" in feedback.text
    assert feedback.next_question == mock_interview.get_mock("why_shared").question["zh"]
    monkeypatch.setattr(settings, "language", "zh")
    mock = mock_interview.MockInterview()
    assert mock.question.startswith("面试官") and "第 1 轮" in mock.ask().text
    assert mock.answer(answer).text == feedback.text


def test_mock_interview_is_deterministic():
    def session():
        mock = mock_interview.MockInterview()
        texts = [mock.answer(PARTIAL_OPENING).text, mock.answer("one table").text]
        return texts, mock.transcript().text, mock.asked

    assert session() == session()


@pytest.mark.parametrize("answer, message", [
    (None, "should be a string"), (42, "got int"), (["FM"], "got list"), ("", "Nothing to check"),
    ("  \n", "Nothing to check"), ("Write your answer here.", "Nothing to check"),
])
def test_mock_bad_answers_get_a_message_and_keep_the_round_open(answer, message):
    mock = mock_interview.MockInterview()
    feedback = mock.answer(answer)
    assert message in feedback.text and not feedback.accepted and not feedback.done
    assert feedback.covered == feedback.missed == [] and mock.round == 1 and mock.history == []
    assert feedback.next_question == mock.question  # the same question, still open


def test_answering_after_the_end_says_so():
    mock = mock_interview.MockInterview(rounds=1)
    assert mock.answer(PARTIAL_OPENING).done
    late = mock.answer("more")
    assert not late.accepted and "interview is over" in late.text
    assert "interview is over" in mock.ask().text


def test_instructor_mode_reveals_the_model_answer(monkeypatch):
    opening = mock_interview.get_mock("opening").model_answer["en"]
    assert opening not in mock_interview.MockInterview().ask().text
    assert opening not in mock_interview.MockInterview().answer(PARTIAL_OPENING).text
    monkeypatch.setattr(settings, "instructor", True)
    assert opening in mock_interview.MockInterview().ask().text
    assert opening in mock_interview.MockInterview().answer(PARTIAL_OPENING).text


@pytest.mark.parametrize("kwargs, error", [({"lang": "fr"}, "'en' or 'zh'"),
                                           ({"rounds": 0}, "rounds"), ({"rounds": 9}, "rounds"),
                                           ({"rounds": "4"}, "rounds")])
def test_mock_interview_bad_settings(kwargs, error):
    with pytest.raises(ValueError, match=error):
        mock_interview.MockInterview(**kwargs)


def test_mock_feedback_displays_as_markdown():
    bundle = mock_interview.MockInterview().answer(PARTIAL_OPENING)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/markdown"}
    assert bundle["text/markdown"].startswith("**Round 1 of 4**")


def test_follow_ups_cover_the_weak_points_the_course_names():
    questions = mock_interview.MOCK_QUESTIONS
    assert {"fm_cost", "why_shared", "wide_deep", "sigmoid_once", "dropout_keep"} <= set(questions)
    assert "O(k n)" in questions["fm_cost"].model_answer["en"]
    assert "jointly" in questions["wide_deep"].model_answer["en"]
    assert "nn.Dropout(p=0.1)" in questions["dropout_keep"].model_answer["en"]
    # sharing is not credited with no feature engineering or no pre-training
    claim = "Sharing removes feature engineering and pre-training."
    assert mock_interview.check_points("why_shared", claim)[0] == []
    for question in questions.values():
        for name, follow_ups in question.follow_ups.items():
            assert name in {point.name for point in question.checklist}
            assert set(follow_ups) <= set(questions) - {"opening"}


def test_key_words_match_across_line_breaks():
    answer = """It also removes feature
engineering, and there is one
table."""
    covered, _ = mock_interview.check_points("why_shared", answer)
    assert covered == ["ws_one_table"]
    assert mock_interview.pitfall_notes("why_shared", answer, covered, "en")


def test_a_skipped_weak_point_is_said_so():
    mock = mock_interview.MockInterview()
    mock.answer(PARTIAL_OPENING)
    mock.answer("One table instead of two.")
    third = mock.answer("Both are trained jointly.")
    assert third.missed == ["wd_inputs", "wd_crosses"]  # wd_inputs leads to why_shared: asked
    assert (third.target, third.next_id) == ("wd_crosses", "fm_cost")
    assert "another point you missed" in third.text


# ---- interview.MockInterview and the module borders -------------------------------------------

COURSE = Path(interview.__file__).parent
OWN_MODULES = ("interview", "interview_data", "interview_text", "mock_interview", "quiz",
               "quiz_core")


def test_interview_mock_interview_is_the_mock_interview():
    assert interview.MockInterview is mock_interview.MockInterview
    mock = interview.MockInterview(rounds=1)
    assert mock.answer(PARTIAL_OPENING).done
    assert "interview.MockInterview()" in mock.answer("more").text


def test_every_name_a_message_tells_the_learner_to_call_exists():
    texts = [text for ui in (interview.UI, mock_interview.UI) for words in ui.values()
             for text in words.values()]
    called = {name for text in texts for name in re.findall(r"\binterview\.(\w+)\(", text)}
    assert called == {"self_check", "MockInterview"}
    assert all(callable(getattr(interview, name)) for name in called)


def _imports(module: str) -> list[ast.ImportFrom]:
    tree = ast.parse((COURSE / f"{module}.py").read_text(encoding="utf-8"))
    return [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]


def test_no_import_cycle_between_the_interviews():
    for module in ("mock_interview", "interview_data", "interview_text", "quiz_core"):
        assert "interview" not in {node.module for node in _imports(module)}, module
    assert "mock_interview" in {node.module for node in _imports("interview")}


@pytest.mark.parametrize("module", OWN_MODULES)
def test_no_private_name_crosses_a_module_border(module):
    source = (COURSE / f"{module}.py").read_text(encoding="utf-8")
    imported = [alias.name for node in _imports(module) if node.module != "__future__"
                for alias in node.names]
    assert not [name for name in imported if name.startswith("_")]
    modules = {"interview", "interview_data", "interview_text", "mock_interview", "quiz",
               "quiz_core", "settings"}
    assert not re.findall(rf"\b(?:{'|'.join(modules)})\._[a-z]", source)


@pytest.mark.parametrize("module", OWN_MODULES)
def test_modules_stay_short(module):
    assert len((COURSE / f"{module}.py").read_text(encoding="utf-8").splitlines()) <= 450


# ---- the interview bank (interview_bank/*.json) -----------------------------------------------


def _raw(name):
    return interview_data.read_bank(name)[0]


def _broken(data, change):
    copied = copy.deepcopy(data)
    change(copied)
    return copied


def _one_line_error(parse, *args, match):
    with pytest.raises(ValueError) as caught:
        parse(*args)
    message = str(caught.value)
    assert "\n" not in message and re.search(match, message), message


def test_the_bank_files_hold_the_content():
    assert interview.PLACEHOLDERS == interview_data.PLACEHOLDERS == (
        "Write your answer here.", "在这里写下你的回答。")
    assert list(interview.POINTS) == [point["name"] for point in _raw("shared")["points"]]
    assert interview.questions() == ["design", "mock"]
    assert interview.get("design").model_answer["en"].count("\n") > 20  # a list of lines, joined
    assert mock_interview.mock_questions()[0] == mock_interview.OPENING
    assert mock_interview.MAX_ROUNDS == 1 + len(mock_interview.DEFAULT_FOLLOW_UPS)
    assert set(mock_interview.FOLLOW_UP_POINTS).isdisjoint(interview.POINTS)


def test_invalid_json_names_the_file():
    _one_line_error(interview_data.parse_json, '{"points": [}', "interview_bank/x.json",
                    match=r"^interview_bank/x\.json: not valid JSON \(.*line 1")
    _one_line_error(interview_data.parse_json, "[1, 2]", "interview_bank/x.json",
                    match=r"^interview_bank/x\.json: expected a JSON object, got list$")


@pytest.mark.parametrize("change, match", [
    (lambda d: d["points"][0]["keywords"].append([]), r"point two_parts 'keywords': group 3"),
    (lambda d: d["points"][1].update(name="Embedding"), r"point 2: 'name' must be a name"),
    (lambda d: d["points"][2]["text"].pop("zh"), r"point per_field 'text': missing .*'zh'"),
    (lambda d: d["points"].append(d["points"][0]), r"point two_parts is defined twice"),
    (lambda d: d.pop("placeholders"), r"'placeholders': expected an object"),
])
def test_a_broken_shared_entry_is_named(change, match):
    source = "interview_bank/shared.json"
    _one_line_error(interview_data.parse_shared, _broken(_raw("shared"), change), source,
                    match="^" + re.escape(source) + ": " + match)


@pytest.mark.parametrize("change, match", [
    (lambda d: d["questions"][0]["model_answer"].update(zh=""),
     r"question design 'model_answer': missing or empty 'zh' text"),
    (lambda d: d["questions"][1]["checklist"].append("two_part"),
     r"question mock 'checklist': unknown point 'two_part'"),
    (lambda d: d["questions"][0]["covers"].update(en="components"),
     r"question design 'covers' 'en': expected a non-empty list"),
    (lambda d: d["questions"][1].update(id=7), r"question 2: 'id' must be a name"),
    (lambda d: d["questions"][1].update(id="design"), r"question design is defined twice"),
    (lambda d: d["ui"]["zh"].pop("how_to"), r"ui 'zh' is missing the text 'how_to'"),
    (lambda d: d["ui"]["en"].update(howto="x"), r"ui 'en' has unknown texts howto"),
    (lambda d: d.update(questions={}), r"'questions' must be a non-empty list"),
])
def test_a_broken_interview_entry_is_named(change, match):
    source = "interview_bank/interview.json"
    _one_line_error(interview.parse_bank, _broken(_raw("interview"), change), source,
                    match="^" + re.escape(source) + ": " + match)


@pytest.mark.parametrize("change, match", [
    (lambda d: d["questions"][0]["follow_ups"].update(output=["sigmoid"]),
     r"question opening 'follow_ups' output: 'sigmoid' is not a follow-up question"),
    (lambda d: d["questions"][0]["follow_ups"].update(output=["opening"]),
     r"question opening 'follow_ups' output: 'opening' is not a follow-up question"),
    (lambda d: d["questions"][1]["follow_ups"].update(so_sum=["fm_cost"]),
     r"question why_shared 'follow_ups': 'so_sum' is not a point of the checklist"),
    (lambda d: d["questions"][1]["pitfalls"][0].update(unless="ws_gradiant"),
     r"question why_shared pitfall 1 'unless': 'ws_gradiant' is not a point"),
    (lambda d: d["questions"][2]["pitfalls"][0].update(keywords=[]),
     r"question wide_deep pitfall 1 'keywords': expected a non-empty list"),
    (lambda d: d["questions"].reverse(), r"the first question must be 'opening'"),
    (lambda d: d["points"][0].update(name="shared"), r"point shared is already a shared point"),
    (lambda d: d["default_follow_ups"].append("fm_costs"),
     r"'default_follow_ups': 'fm_costs' is not a follow-up question"),
    (lambda d: d["ui"]["en"].pop("over"), r"ui 'en' is missing the text 'over'"),
])
def test_a_broken_mock_interview_entry_is_named(change, match):
    source = "interview_bank/mock_interview.json"
    _one_line_error(mock_interview.parse_mock_bank, _broken(_raw("mock_interview"), change),
                    source, match="^" + re.escape(source) + ": " + match)


def test_the_parsers_rebuild_the_loaded_bank():
    assert interview.parse_bank(_raw("interview"), "x") == (interview.QUESTIONS, interview.UI)
    rebuilt = mock_interview.parse_mock_bank(_raw("mock_interview"), "x")
    assert rebuilt == (mock_interview.FOLLOW_UP_POINTS, mock_interview.MOCK_QUESTIONS,
                       mock_interview.DEFAULT_FOLLOW_UPS, mock_interview.UI)


# ---- the round on multi-valued fields (#26, "what an interviewer asks next") ------------------


def test_the_multi_valued_round_exists_and_is_reached_after_the_default_path():
    question = mock_interview.get_mock("multi_valued")
    assert "Company*" in question.question["en"] and "Company*" in question.question["zh"]
    assert [point.name for point in question.checklist] == ["mv_pool", "mv_one_vector", "mv_mask"]
    # the last default follow-up: a four-round interview never gets there, a full one does
    assert mock_interview.DEFAULT_FOLLOW_UPS[-1] == "multi_valued"
    mock = mock_interview.MockInterview(rounds=mock_interview.MAX_ROUNDS)
    while not mock.done:
        mock.answer(_full_answer(mock, "en"))
    assert mock.asked[-1] == "multi_valued" and mock.history[-1][2].missed == []
    # and the follow-up of a missed embedding point once its other follow-ups were asked
    asked = ["opening", "why_shared", "fm_cost"]
    assert mock_interview.choose_follow_up("opening", ["embedding"], asked) == ("embedding",
                                                                               "multi_valued")


@pytest.mark.parametrize("answer, lang", [
    ("I would sum-pool the embeddings of the downloaded apps, after padding the lists and masking "
     "the padded slots, so the field is still one vector for the FM and the MLP.", "en"),
    ("把每个应用的嵌入向量查出来做平均池化，列表先补齐，"
     "用掩码去掉 padding，这样字段还是一个向量。", "zh"),
])
def test_the_multi_valued_checklist_recognises_a_good_answer(answer, lang):
    covered, missed = mock_interview.check_points("multi_valued", answer)
    assert missed == [] and covered == ["mv_pool", "mv_one_vector", "mv_mask"]
    assert mock_interview.pitfall_notes("multi_valued", answer, covered, lang) == []


def test_the_multi_valued_round_names_a_missed_mask_and_the_concatenation_trap():
    covered, missed = mock_interview.check_points(
        "multi_valued", "Average the apps' vectors into one vector per field.")
    assert covered == ["mv_pool", "mv_one_vector"] and missed == ["mv_mask"]
    answer = "Concatenate the vectors of all the apps."
    covered, _ = mock_interview.check_points("multi_valued", answer)
    assert "width" in mock_interview.pitfall_notes("multi_valued", answer, covered, "en")[0]
