"""Extractive QA: windows over long contexts, span decoding, metric choice, data layouts, a CLI run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import FIXTURES, run_cli
from xling.config import TrainConfig
from xling.kinds import get_kind
from xling.kinds.qa import QAExample, best_span, qa_features
from xling.models import load_model, save_model
from xling.models.build import build_run_model, load_tokenizer
from xling.tasks import TASKS
from xling.data.loading import convert_hub_rows, load_split

QA = FIXTURES / "qa"
SENTENCES = [
    "Nora Lindqvist was born in Milan and grew up in South Africa .",
    "Maria Schmidt met Chloé Bernard in Berlin .",
    "Lukas Hoffmann was born in Cologne and grew up in Ireland .",
    "Hannah Krüger gave a talk on renewable energy in Rio de Janeiro .",
    "Many tourists visit Buenos Aires every spring .",
    "On Monday Lufthansa announced a partnership with Renault .",
    "Camille Laurent moved to Hamburg in 1995 .",
    "Sofia Rossi spent three years in Argentina and then returned to Rome .",
    "Many tourists visit Warsaw every spring .",
    "Porsche opened a new office in Geneva last year .",
]
LONG_CONTEXT = " ".join(SENTENCES)
ANSWERS = ["Nora Lindqvist", "Berlin", "Cologne", "Rio de Janeiro", "Lufthansa", "1995", "Argentina", "Warsaw",
           "Geneva last year"]


def long_examples() -> list[QAExample]:
    return [QAExample(f"q{i}", "Who or where is it ?", LONG_CONTEXT,
                      [{"text": answer, "answer_start": LONG_CONTEXT.index(answer)}])
            for i, answer in enumerate(ANSWERS)]


@pytest.fixture(scope="module")
def tokenizer(tiny_bert):
    return load_tokenizer(str(tiny_bert))


@pytest.fixture(scope="module")
def t5_style_tokenizer(tiny_bert):
    """The tiny tokenizer as mT5 lays out pairs: ``q </s> c </s>``, no CLS, no token_type_ids."""
    from tokenizers import processors

    tok = load_tokenizer(str(tiny_bert))
    sep = tok.convert_tokens_to_ids("[SEP]")
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="$A [SEP]", pair="$A [SEP] $B:1 [SEP]:1", special_tokens=[("[SEP]", sep)])
    tok.model_input_names = ["input_ids", "attention_mask"]
    return tok


def context_tokens(feature) -> np.ndarray:
    return np.flatnonzero(feature["offsets"][:, 0] >= 0)


# ---------------------------------------------------------------- windows


@pytest.mark.parametrize("which", ["tokenizer", "t5_style_tokenizer"])
def test_long_context_windows_overlap_by_stride_and_map_answers_back(which, request):
    tok = request.getfixturevalue(which)
    examples = long_examples()
    features = qa_features(examples, tok, 40, doc_stride=8)
    windows = [f for f in features if f["example"] == 0]
    assert len(windows) >= 4 and all(len(f["input_ids"]) <= 40 for f in features)
    assert ("token_type_ids" in features[0]) == (which == "tokenizer")
    for before, after in zip(windows, windows[1:]):  # each window starts 8 context tokens after the previous
        a, b = before["offsets"][context_tokens(before)], after["offsets"][context_tokens(after)]
        assert b[0].tolist() == a[8].tolist() and a[8:].tolist() == b[: len(a) - 8].tolist()
    covered = np.concatenate([f["offsets"][context_tokens(f)] for f in windows])
    assert covered[:, 0].min() == 0 and covered[:, 1].max() == len(LONG_CONTEXT)
    for index, example in enumerate(examples):
        answer = example.answers[0]
        start_char, end_char = answer["answer_start"], answer["answer_start"] + len(answer["text"])
        mapped = 0
        for feature in (f for f in features if f["example"] == index):
            start, end = feature["start_positions"], feature["end_positions"]
            offsets = feature["offsets"][context_tokens(feature)]
            inside = offsets[0, 0] <= start_char and offsets[-1, 1] >= end_char
            if not inside:  # a window without the answer points at index 0
                assert (start, end) == (0, 0)
                continue
            mapped += 1
            assert LONG_CONTEXT[feature["offsets"][start, 0]:feature["offsets"][end, 1]] == answer["text"]
        assert mapped >= 1, answer["text"]


def run_squad_window_starts(doc_tokens: int, query_tokens: int, max_seq_length: int, doc_stride: int) -> list[int]:
    """BERT's / XTREME's run_squad.py, verbatim in logic: where each window of the document starts."""
    max_tokens_for_doc = max_seq_length - query_tokens - 3  # [CLS] query [SEP] doc [SEP]
    starts, start_offset = [], 0
    while start_offset < doc_tokens:
        length = min(doc_tokens - start_offset, max_tokens_for_doc)
        starts.append(start_offset)
        if start_offset + length == doc_tokens:
            break
        start_offset += min(length, doc_stride)
    return starts


@pytest.mark.parametrize("max_length, doc_stride", [(384, 128), (128, 32), (64, 100)])
def test_windows_are_run_squads_doc_stride_apart(tokenizer, max_length, doc_stride):
    context = " ".join(SENTENCES * 12)  # about 1,500 sub-words
    questions = ["Where ?", "Who was born in Milan and grew up in South Africa ?"]  # two question lengths
    examples = [QAExample(f"q{i}", q, context, [{"text": "Berlin", "answer_start": context.index("Berlin")}])
                for i, q in enumerate(questions)]
    features = qa_features(examples, tokenizer, max_length, doc_stride=doc_stride)
    doc = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    first_char = {start: index for index, (start, _) in enumerate(doc)}
    for index, question in enumerate(questions):
        query = len(tokenizer(question, add_special_tokens=False)["input_ids"])
        expected = run_squad_window_starts(len(doc), query, max_length, doc_stride)
        windows = [f for f in features if f["example"] == index]
        starts = [first_char[int(f["offsets"][context_tokens(f)[0], 0])] for f in windows]
        assert starts == expected and len(expected) > 3
        assert all(len(f["input_ids"]) <= max_length for f in windows)
        last = windows[-1]["offsets"][context_tokens(windows[-1])]
        assert last[-1, 1] == len(context)  # the last window reaches the end of the context
    assert [f["example"] for f in features] == sorted(f["example"] for f in features)


def test_long_questions_are_cut_to_max_query_length(tokenizer):
    question = " ".join(["Where did Maria Schmidt meet Chloé Bernard"] * 20) + " ?"
    example = QAExample("q", question, LONG_CONTEXT, [{"text": "Berlin", "answer_start": LONG_CONTEXT.index("Berlin")}])
    features = qa_features([example], tokenizer, 48, doc_stride=8, max_query_length=12)
    assert len(features) > 1
    for feature in features:
        assert len(feature["input_ids"]) <= 48
        first_context = context_tokens(feature)[0]
        assert first_context - 2 == 12  # [CLS] + 12 question tokens + [SEP]
    assert any(f["start_positions"] > 0 for f in features)


def test_cjk_context_offsets_map_back(tokenizer):
    context = "玛丽亚·施密特在柏林遇见了克洛伊·贝尔纳。她出生于1990年。"
    examples = [QAExample("z1", "在哪里？", context, [{"text": "柏林", "answer_start": context.index("柏林")}]),
                QAExample("z2", "哪一年？", context,
                          [{"text": "1990年", "answer_start": context.index("1990年")}])]
    features = qa_features(examples, tokenizer, 384)
    assert len(features) == 2
    for feature, example in zip(features, examples):
        start, end = feature["start_positions"], feature["end_positions"]
        assert context[feature["offsets"][start, 0]:feature["offsets"][end, 1]] == example.answers[0]["text"]


def test_answer_not_at_its_offset_uses_nearest_occurrence_and_missing_one_points_at_zero(tokenizer):
    context = "Berlin is big . Maria lives in Berlin ."
    shifted = QAExample("a", "Where ?", context, [{"text": "Berlin", "answer_start": 29}])  # really at 31
    absent = QAExample("b", "Where ?", context, [{"text": "Rome", "answer_start": 0}])
    shifted_feature, absent_feature = qa_features([shifted, absent], tokenizer, 64)
    offsets = shifted_feature["offsets"]
    assert offsets[shifted_feature["start_positions"], 0] == 31
    assert (absent_feature["start_positions"], absent_feature["end_positions"]) == (0, 0)


# ---------------------------------------------------------------- decoding


def test_best_span_respects_context_order_and_length():
    # tokens: 0 [CLS], 1 question, 2 [SEP], 3..6 context "aaa bbb ccc ddd", 7 [SEP]
    offsets = np.array([[-1, -1], [-1, -1], [-1, -1], [0, 3], [4, 7], [8, 11], [12, 15], [-1, -1]])
    start = np.array([9.0, 9.0, 0.0, 1.0, 4.0, 0.0, 2.0, 9.0])
    end = np.array([9.0, 9.0, 0.0, 3.0, 0.0, 0.5, 1.0, 9.0])
    # question / special tokens score 18 but are outside the context; (4, 3) has end < start;
    # valid: (4, 5) = 4.5, (4, 6) = 5.0, (3, 3) = 4.0, (6, 6) = 3.0 ...
    assert best_span(start, end, offsets, max_answer_length=30) == (5.0, 4, 6)
    assert best_span(start, end, offsets, max_answer_length=2) == (4.5, 4, 5)
    assert best_span(start, end, offsets, max_answer_length=1) == (4.0, 3, 3)
    assert best_span(start, end, np.full_like(offsets, -1), 30) is None


def test_assemble_picks_the_best_span_over_windows(tokenizer):
    kind = get_kind("span_qa")
    task = TASKS.get("tydiqa")
    example = long_examples()[0]
    features = qa_features([example], tokenizer, 40, doc_stride=8)
    assert len(features) >= 3
    for feature in features:
        feature["max_answer_length"] = 3
    outputs = []
    for feature in features:
        logits = np.full((len(feature["input_ids"]), 2), -10.0)
        logits[0] = 50.0  # [CLS]: never an answer
        inside = context_tokens(feature)
        logits[inside[0], 0] = logits[inside[-1], 1] = 8.0  # 16, but longer than max_answer_length
        outputs.append(logits)
    first = context_tokens(features[0])
    outputs[0][first[5]] = 5.0  # a valid one-token span in window 0: 10
    target = context_tokens(features[2])[3:5]
    outputs[2][target[0], 0] = outputs[2][target[1], 1] = 6.0  # the best valid span: 12, in window 2
    (best,) = kind.assemble([example], features, outputs)
    start, end = features[2]["offsets"][target[0], 0], features[2]["offsets"][target[1], 1]
    assert best == {"text": LONG_CONTEXT[start:end], "start": start, "end": end, "score": pytest.approx(12.0)}
    assert kind.decode(task, [best], [example]) == [LONG_CONTEXT[start:end]]
    outputs[0][first[5]] = 7.0  # now window 0's span wins: 14
    (best,) = kind.assemble([example], features, outputs)
    assert best["start"] == features[0]["offsets"][first[5], 0] and best["score"] == pytest.approx(14.0)


# ---------------------------------------------------------------- metrics, tasks, data


def test_metric_and_normalisation_per_task():
    kind = get_kind("span_qa")
    assert TASKS.get("mlqa").metric == "qa_mlqa"
    assert TASKS.get("xquad").metric == TASKS.get("tydiqa").metric == "qa_squad"
    # MLQA zh: mixed segmentation, characters are tokens:
    # F1("北京大学", "北京") = 2 * (2/4 * 2/2) / (2/4 + 1) = 2/3
    mlqa = kind.score(TASKS.get("mlqa"), ["北京大学", "柏林。"], [["北京"], ["柏林"]], "zh")
    assert mlqa == pytest.approx({"exact_match": 50.0, "f1": 100 * (2 / 3 + 1) / 2})
    # SQuAD v1.1 (XQuAD): whitespace tokens, so "北京大学" vs "北京" share nothing; "。" is not ASCII punctuation
    squad = kind.score(TASKS.get("xquad"), ["北京大学", "柏林。"], [["北京"], ["柏林"]], "zh")
    assert squad == {"exact_match": 0.0, "f1": 0.0}
    # MLQA de removes German articles, SQuAD only English ones
    assert kind.score(TASKS.get("mlqa"), ["die Mauer"], [["Mauer"]], "de")["exact_match"] == 100.0
    assert kind.score(TASKS.get("xquad"), ["die Mauer"], [["Mauer"]], "de")["exact_match"] == 0.0


def test_qa_tasks_declare_xtreme_settings():
    for name in ("xquad", "mlqa", "tydiqa"):
        task = TASKS.get(name)
        assert task.kind == "span_qa" and task.max_seq_length == 384 and task.labels is None
        assert task.options["doc_stride"] == 128 and task.options["max_answer_length"] == 30
    assert len(TASKS.get("xquad").languages) == 12 and len(TASKS.get("tydiqa").languages) == 9


def test_local_layouts():
    xquad, mlqa, tydiqa = (TASKS.get(n) for n in ("xquad", "mlqa", "tydiqa"))
    de = load_split(xquad, "de", "test", data_dir=QA / "xquad")
    assert de.labelled and [e.answers[0]["text"] for e in de.examples] == ["Berlin", "Warschau"]
    zh = load_split(mlqa, "zh", "dev", data_dir=QA / "mlqa")  # dev-context-zh-question-zh.json.gz
    assert zh.labelled and zh.examples[1].answers[0]["text"] == "1990年"
    train = load_split(tydiqa, "en", "train", data_dir=QA / "tydiqa")
    assert train.labelled and len(train) == 13
    # XQuAD / MLQA fall back to the English TyDiQA-GoldP training file when no SQuAD train-v1.1.json exists
    assert load_split(xquad, "en", "train", data_dir=QA).source == train.source
    assert load_split(tydiqa, "fi", "dev", data_dir=QA).labelled
    # stripped answers ({"text": "", "answer_start": 0}, as in XTREME's TyDiQA-GoldP dev copies) are no labels
    assert not load_split(tydiqa, "sw", "dev", data_dir=QA).labelled


def test_hub_field_maps_fit_squad_columns():
    import datasets

    rows = datasets.Dataset.from_dict({
        "id": ["a"], "title": ["t"], "context": ["Maria lives in Berlin ."], "question": ["Where ?"],
        "answers": [{"text": ["Berlin"], "answer_start": [15]}],
    })
    for name in ("xquad", "mlqa"):
        for hub in TASKS.get(name).hub:
            (example,), labelled = convert_hub_rows(TASKS.get(name), hub, rows)
            assert labelled and example.answers == [{"text": "Berlin", "answer_start": 15}] and example.id == "a"


# ---------------------------------------------------------------- model and command line


def test_span_head_model_saves_and_loads(tiny_bert, tmp_path, tokenizer):
    task = TASKS.get("tydiqa")
    torch.manual_seed(0)
    model = build_run_model(task, TrainConfig(task="tydiqa", model=str(tiny_bert), fusion="aif", fusion_layer=1)).eval()
    save_model(model, tmp_path / "model", tokenizer)
    loaded = load_model(tmp_path / "model").eval()
    ids = torch.tensor([[2, 10, 11, 3, 12, 13, 3, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 0]])
    with torch.no_grad():
        a, b = model(ids, mask).logits, loaded(ids, mask).logits
    assert a.shape == (1, 8, 2) and torch.allclose(a, b, atol=1e-6)
    assert a[0, -1].max() < -1e30  # padding can never be an answer


@pytest.mark.slow
def test_train_tydiqa_end_to_end(tiny_bert, tmp_path):
    out = tmp_path / "run"
    result = run_cli("train", "--task", "tydiqa", "--model", tiny_bert, "--data-dir", QA / "tydiqa",
                     "--languages", "en,fi", "--eval-split", "dev", "--epochs", "2", "--batch-size", "8",
                     "--learning-rate", "1e-3", "--max-seq-length", "48", "--quiet", "--output-dir", out)
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "results.json").read_text())
    assert data["task"]["kind"] == "span_qa" and data["task"]["metric"] == "qa_squad"
    assert data["task"]["primary_metric"] == "f1" and data["config"]["max_seq_length"] == 48
    assert {lang: set(s["metrics"]) for lang, s in data["languages"].items()} == {
        "en": {"exact_match", "f1"}, "fi": {"exact_match", "f1"}}
    assert data["languages"]["fi"]["examples"] == 3 and data["languages"]["fi"]["split"] == "dev"
    assert all(0 <= s["primary"] <= 100 for s in data["languages"].values())
    stage = data["stages"][0]
    assert stage["examples"] == 13 and stage["features"] > 13  # long contexts give several windows
    fi = json.loads((QA / "tydiqa/dev/tydiqa.goldp.fi.dev.json").read_text())
    context = fi["data"][0]["paragraphs"][0]["context"]
    records = [json.loads(line) for line in (out / "predictions" / "fi.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["prediction"] in context and r["prediction"] for r in records)
    assert records[0]["gold"] == ["Milanossa"]

    # the same span head scores another QA task (how one English QA model is scored on XQuAD, MLQA, TyDiQA)
    cross = run_cli("evaluate", "--run", out, "--task", "xquad", "--data-dir", QA / "xquad", "--languages", "de",
                    "--eval-split", "test",
                    "--output", tmp_path / "xquad.json", "--quiet")
    assert cross.returncode == 0, cross.stderr
    scored = json.loads((tmp_path / "xquad.json").read_text())
    assert scored["task"]["name"] == "xquad" and list(scored["languages"]) == ["de"]
    assert scored["languages"]["de"]["examples"] > 0 and set(scored["languages"]["de"]["metrics"]) == {"exact_match", "f1"}
    refused = run_cli("evaluate", "--run", out, "--task", "panx", "--languages", "de", "--quiet")
    assert refused.returncode != 0 and "cannot score 'panx'" in refused.stderr
