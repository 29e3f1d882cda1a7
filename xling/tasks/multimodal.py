"""Image-text tasks (intermediate tasks with images): Multi30K, one declaration."""

from __future__ import annotations

from xling.tasks.task import LocalPattern, Parallel, Task

# Multi30K task 1: captions in raw/{split}.{lang}.gz, image file names line-aligned in image_splits/{split}.txt.
_MULTI30K_TEST = "test_2016_flickr"  # the only test set with all four languages
MULTI30K = Task(
    name="multi30k",
    kind="image_text",
    description="Image-caption alignment on Multi30K (Flickr30K images; en de fr cs captions); "
                "needs --image-features FILE; scored by caption->image recall@1",
    languages=("en", "de", "fr", "cs"),
    metric="image_recall",
    local=tuple(
        pattern
        for root in ("task1/", "")
        for pattern in (
            LocalPattern(f"{root}raw/{_MULTI30K_TEST}.{{lang}}", splits=("test",),
                         label_file=f"{root}image_splits/{_MULTI30K_TEST}.txt"),
            LocalPattern(f"{root}raw/{{split}}.{{lang}}", label_file=f"{root}image_splits/{{split}}.txt"),
        )
    ),
    max_seq_length=64,
    reference="Elliott et al. 2016 (Multi30K); captions joined to image features given by the user",
    options={"epochs": 3, "image_dim": 512},  # image_dim: the head's size when no feature file is given
    # Captions of one image in en, de, fr and cs lie on the same line of every split.
    parallel=(Parallel(("train",), "row"), Parallel(("dev",), "row"), Parallel(("test",), "row")),
)

TASKS = (MULTI30K,)
