"""English-only tasks: extra training data and intermediate tasks (no zero-shot languages)."""

from __future__ import annotations

from xling.tasks.task import HubSource, LocalPattern, Task
from xling.tasks.xtreme import NLI_LABELS

SICK = Task(
    name="sick",
    kind="pair_classification",
    description="English NLI on SICK (Marelli et al. 2014): intermediate task or NLI training data",
    languages=("en",),
    labels=NLI_LABELS,
    metric="accuracy",
    local=(
        LocalPattern("**/SICK.txt", split_column="SemEval_set",
                     split_values={"train": "TRAIN", "dev": "TRIAL", "test": "TEST"}),
        LocalPattern("**/{split}-{lang}.tsv"),
    ),
    hub=(
        HubSource("RobZamp/sick", None, {"train": "train", "dev": "validation", "test": "test"},
                  {"text_a": "sentence_A", "text_b": "sentence_B", "label": "label"}),
    ),
    reference="Marelli et al. 2014, LREC",
    options={"label_case": "lower", "epochs": 3},
)

TASKS = (SICK,)
