"""The XTREME extractive-QA tasks: XQuAD, MLQA, TyDiQA-GoldP (SQuAD v1.1 JSON everywhere).

All three train on English and are scored zero-shot with exact match and F1.
XTREME scores MLQA with the official MLQA script (language-specific
normalisation) and XQuAD / TyDiQA-GoldP with the SQuAD v1.1 script; the
declared metric (``qa_mlqa`` / ``qa_squad``) says which, and results.json
records it as ``task.metric``.
"""

from __future__ import annotations

from xling.metrics.qa import QA_METRICS
from xling.tasks.task import HubSource, LocalPattern, Parallel, Task

QA_FIELDS = {"id": "id", "question": "question", "context": "context", "answers": "answers"}
# XTREME's QA settings (max_seq_length 384 is on the declarations); the learning rate there is 3e-5.
# max_tokens_per_batch: the batch of 32 windows of 384 runs as micro-batches of 2 windows (the same
# gradient), so that training fits in 4 GB of RAM with e5-small (docs/speed.md)
QA_OPTIONS = {"epochs": 3, "doc_stride": 128, "max_query_length": 64, "max_answer_length": 30,
              "max_tokens_per_batch": 768}

# English training data: SQuAD v1.1 (what XTREME trains XQuAD and MLQA on), else the
# English TyDiQA-GoldP training set (the only English QA training data in ../shared/data).
# SQuAD's dev-v1.1.json is not declared: a pattern without {lang} would also match for
# the target languages' dev sets (oracle selection); pass it with --file en:dev=PATH.
ENGLISH_TRAIN = (
    LocalPattern("**/train-v1.1.json", splits=("train",)),
    LocalPattern("**/tydiqa.goldp.{lang}.train.json", splits=("train",)),
)
SQUAD = HubSource("rajpurkar/squad", None, {"train": "train", "dev": "validation"}, QA_FIELDS, languages=("en",))

XQUAD = Task(
    name="xquad",
    kind="span_qa",
    description="Cross-lingual extractive QA (XQuAD: 1,190 SQuAD v1.1 dev questions in 12 languages, test only); "
                "train on English SQuAD",
    languages=tuple("ar de el en es hi ro ru th tr vi zh".split()),
    metric=QA_METRICS["squad"],
    local=(LocalPattern("**/xquad.{lang}.json", splits=("test",)), *ENGLISH_TRAIN),
    hub=(
        HubSource("google/xquad", "xquad.{lang}", {"test": "validation"}, QA_FIELDS),
        HubSource("google/xtreme", "XQuAD.{lang}", {"test": "validation"}, QA_FIELDS),
        SQUAD,
    ),
    max_seq_length=384,
    reference="Artetxe et al. 2020 (arXiv 1910.11856); SQuAD v1.1 scoring as in XTREME",
    options=dict(QA_OPTIONS),
    # XQuAD's questions are SQuAD v1.1 dev questions (same ids) in 12 languages; English dev (selection) is
    # SQuAD dev, so it loses the questions that are evaluated.
    parallel=(Parallel(("test", "dev"), "id", drop_from_selection=True,
                       note="XQuAD test ids are SQuAD v1.1 dev ids"),),
)

MLQA = Task(
    name="mlqa",
    kind="span_qa",
    description="Multilingual extractive QA (MLQA, context and question in the same language); "
                "train on English SQuAD",
    languages=tuple("ar de en es hi vi zh".split()),
    metric=QA_METRICS["mlqa"],
    local=(LocalPattern("**/{split}-context-{lang}-question-{lang}.json"), *ENGLISH_TRAIN),
    hub=(
        HubSource("facebook/mlqa", "mlqa.{lang}.{lang}", {"dev": "validation", "test": "test"}, QA_FIELDS),
        HubSource("google/xtreme", "MLQA.{lang}.{lang}", {"dev": "validation", "test": "test"}, QA_FIELDS),
        SQUAD,
    ),
    max_seq_length=384,
    reference="Lewis et al. 2020 (arXiv 1910.07475); MLQA scoring (mlqa_evaluation_v1) as in XTREME",
    options=dict(QA_OPTIONS),
    # MLQA's contexts are parallel: an id names one context-question pair in every language.
    parallel=(Parallel(("dev",), "id", note="MLQA ids name one parallel context-question pair"),
              Parallel(("test",), "id", note="MLQA ids name one parallel context-question pair")),
)

TYDIQA = Task(
    name="tydiqa",
    kind="span_qa",
    description="TyDiQA-GoldP extractive QA (gold passage; XTREME reports the dev set as its test); "
                "train on the English GoldP training set",
    languages=tuple("ar bn en fi id ko ru sw te".split()),
    metric=QA_METRICS["squad"],
    # No hub source: google/xtreme's "tydiqa" config holds every language in one split,
    # with the language only in the id prefix ("finnish-..."); use --data-dir or --file.
    local=(LocalPattern("**/tydiqa.goldp.{lang}.{split}.json"),),
    max_seq_length=384,
    reference="Clark et al. 2020 (TACL); SQuAD v1.1 scoring as in XTREME",
    options=dict(QA_OPTIONS),
)

TASKS = (XQUAD, MLQA, TYDIQA)
