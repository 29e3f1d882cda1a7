"""BUCC bitext mining: hand-checked margins / candidates / threshold / F1, XTREME equivalence, the split, the CLI."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import FIXTURES, run_cli
from xling.metrics.bitext import pair_scores
from xling.retrieval.bucc import BuccConfig, Portion, load_portion, mine_portion, run_bucc, split_portion, summary
from xling.retrieval.embed import Representation
from xling.retrieval.mining import extract, mine, optimise_threshold
from xling.errors import ConfigError, DataError, MissingDataError
from xling.reporting.tables import load_runs, render
from xling.reporting.results import Results
from xling.tasks import get_task

BUCC_DIR = FIXTURES / "bucc"

# Made-up cosine matrices of the hand-made mini set (tests/fixtures/bucc). Rows: zh sentences, columns: English.
# dev (the threshold is chosen here): s0 猫在睡觉 = t0 "The cat is sleeping.", s1 我喜欢喝茶 = t1 "I like drinking
# tea."; s2 明天会下雨 has no translation; t2 "This is a very common sentence." is a hub close to every zh sentence.
DEV_COS = [[0.8, 0.2, 0.5, 0.1],   # s0    columns: t0, t1, t2 (hub), t3 "The train leaves at noon."
           [0.1, 0.6, 0.7, 0.2],   # s1    (its nearest by plain cosine is the hub t2, not t1)
           [0.2, 0.1, 0.6, 0.3]]   # s2
DEV_ZH = ["猫在睡觉。", "我喜欢喝茶。", "明天会下雨。"]
DEV_EN = ["The cat is sleeping.", "I like drinking tea.", "This is a very common sentence.", "The train leaves at noon."]
# test (the threshold is applied here): r0 他在看书 = u0 "He is reading a book.", r1 这家饭店很好 = u1 "This
# restaurant is good."; r2 我们去公园吧 and u2 "Prices rose sharply last year." have no translation.
TEST_COS = [[0.9, 0.3, 0.2],
            [0.3, 0.5, 0.4],
            [0.2, 0.45, 0.8]]
TEST_ZH = ["他在看书。", "这家饭店很好。", "我们去公园吧。"]
TEST_EN = ["He is reading a book.", "This restaurant is good.", "Prices rose sharply last year."]


def vectors_with_cosines(cos: list[list[float]], dim: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors whose cosine matrix is ``cos``: y_j = e_j, x_i = (cos_i, sqrt(1 - |cos_i|^2)), zero-padded."""
    c = np.array(cos)
    x = np.hstack([c, np.sqrt(1 - (c ** 2).sum(axis=1, keepdims=True))])
    y = np.hstack([np.eye(c.shape[1]), np.zeros((c.shape[1], 1))])
    return (np.pad(x, ((0, 0), (0, dim - x.shape[1]))), np.pad(y, ((0, 0), (0, dim - y.shape[1]))))


class FixedEncoder:
    """Stands in for :class:`xling.retrieval.embed.SentenceEncoder`: one fixed vector per sentence, no model."""

    name = "fixed-vectors"
    representation = Representation("fixed")
    encoder = SimpleNamespace(describe=lambda: {"architecture": "none"})

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors
        self.calls: list[list[str]] = []

    def embed(self, sentences, desc="embed"):
        self.calls.append(list(sentences))
        return np.array([self.vectors[s] for s in sentences])


def mini_set_encoder() -> FixedEncoder:
    vectors = {}
    for cos, zh, en in ((DEV_COS, DEV_ZH, DEV_EN), (TEST_COS, TEST_ZH, TEST_EN)):
        x, y = vectors_with_cosines(cos)
        vectors.update(zip(zh, x))
        vectors.update(zip(en, y))
    return FixedEncoder(vectors)


def rounded(candidates: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    return [(i, j, round(score, 6)) for i, j, score in candidates]


def test_hand_checked_margins_candidates_threshold_and_f1():
    x, y = vectors_with_cosines(DEV_COS)
    assert x @ y.T == pytest.approx(np.array(DEV_COS))
    assert int(np.argmax(DEV_COS[1])) == 2  # plain cosine would pair s1 with the hub
    # k = 2. Forward means (each s's 2 best cosines): s0 (.8+.5)/2 = .65, s1 (.7+.6)/2 = .65, s2 (.6+.3)/2 = .45.
    # Backward means (each t's 2 best): t0 (.8+.2)/2 = .5, t1 (.6+.2)/2 = .4, t2 (.7+.6)/2 = .65, t3 (.3+.2)/2 = .25.
    # Ratio margin cos / ((fwd + bwd) / 2) over each sentence's 2 nearest:
    #   s0: t0 .8/.575 = 1.391304, t2 .5/.65 = 0.769231 -> t0;  s1: t2 .7/.65 = 1.076923, t1 .6/.525 = 1.142857 -> t1
    #   s2: t2 .6/.55 = 1.090909, t3 .3/.35 = 0.857143 -> t2 (the hub's high mean turns s1 away from it)
    #   t0 -> s0 (1.391304; s2 .2/.475 = .421), t1 -> s1 (1.142857; s0 .2/.525 = .381),
    #   t2 -> s2 (1.090909 > s1's 1.076923), t3 -> s2 (0.857143; s1 .2/.45 = .444)
    assert rounded(mine(x, y, k=2, mode="fwd")) == [(0, 0, 1.391304), (1, 1, 1.142857), (2, 2, 1.090909)]
    assert rounded(mine(x, y, k=2, mode="bwd")) == [(0, 0, 1.391304), (1, 1, 1.142857), (2, 2, 1.090909),
                                                    (2, 3, 0.857143)]
    # intersect: forward choices confirmed backward: all three. max: the 7 choices sorted, s0-t0 (twice), s1-t1
    # (twice), s2-t2 (twice), then s2-t3, dropped because s2 is taken.
    assert mine(x, y, k=2, mode="intersect") == mine(x, y, k=2, mode="fwd")
    dev = mine(x, y, k=2)
    assert rounded(dev) == [(0, 0, 1.391304), (1, 1, 1.142857), (2, 2, 1.090909)]
    # Threshold: prefixes of the sorted candidates against gold {s0-t0, s1-t1}: F1 2/3, 1, 0.8. The best ends at
    # s1-t1, so the threshold is the midpoint (1.142857 + 1.090909) / 2 = 1.116883.
    dev_candidates = {(f"s{i}", f"t{j}"): score for i, j, score in dev}
    threshold = optimise_threshold(dev_candidates, {("s0", "t0"), ("s1", "t1")})
    assert threshold == pytest.approx(1.116883, abs=1e-6)
    # Test part. Forward means: r0 (.9+.3)/2 = .6, r1 (.5+.4)/2 = .45, r2 (.8+.45)/2 = .625; backward: u0 (.9+.3)/2
    # = .6, u1 (.5+.45)/2 = .475, u2 (.8+.4)/2 = .6. Best margins: r0-u0 .9/.6 = 1.5, r1-u1 .5/.4625 = 1.081081,
    # r2-u2 .8/.6125 = 1.306122 (u0..u2 choose the same partners back).
    x, y = vectors_with_cosines(TEST_COS)
    test = {(f"r{i}", f"u{j}"): score for i, j, score in mine(x, y, k=2)}
    assert test == pytest.approx({("r0", "u0"): 1.5, ("r2", "u2"): 1.306122, ("r1", "u1"): 1.081081})
    # At 1.116883 r0-u0 (right) and r2-u2 (wrong) are extracted, r1-u1 (1.081) is missed: P = R = F1 = 50 %.
    assert set(extract(test, threshold)) == {("r0", "u0"), ("r2", "u2")}
    assert pair_scores(extract(test, threshold), {("r0", "u0"), ("r1", "u1")}) == {"precision": 50.0,
                                                                                   "recall": 50.0, "f1": 50.0}
    # other margins: distance = cos - mean (s1: t1 .6 - .525 = .075 beats t2 .7 - .65 = .05), absolute = cos
    x, y = vectors_with_cosines(DEV_COS)
    assert rounded(mine(x, y, k=2, mode="fwd", margin="distance"))[1] == (1, 1, 0.075)
    assert rounded(mine(x, y, k=2, mode="fwd", margin="absolute"))[1] == (1, 2, 0.7)


def test_hand_checked_mini_set_end_to_end(tmp_path):
    out = tmp_path / "bucc"
    encoder = mini_set_encoder()
    cfg = BuccConfig(data_dir=str(BUCC_DIR), neighbourhood=2, output_dir=str(out), quiet=True)
    results = run_bucc(cfg, encoder=encoder)
    zh = results.languages["zh"]
    # dev and test portions both have gold: threshold on dev (1.116883, dev F1 100), applied to test (F1 50)
    assert zh.metrics == pytest.approx({"precision": 50.0, "recall": 50.0, "f1": 50.0, "threshold": 1.116883,
                                        "selection_f1": 100.0, "f1_dev_oracle": 100.0}, abs=1e-6)
    assert zh.primary == 50.0 and zh.split == "test" and (zh.examples, zh.total_examples) == (2, 2)
    assert "zh-en.test.{zh,en,gold}" in zh.source and "threshold from dev (3 zh / 4 en sentences" in zh.source
    assert sorted(map(len, encoder.calls)) == [6, 7]  # every sentence of both portions embedded once
    saved = Results.load(out)
    assert saved.task["name"] == "bucc" and saved.task["primary_metric"] == "f1"
    assert saved.config["neighbourhood"] == 2 and saved.averages["all"] == 50.0
    # predictions: the extracted test pairs by id, best first, with their gold flag
    assert (out / "predictions" / "zh.tsv").read_text().splitlines() == [
        "zh-000000011\ten-000000012\t1.500000\t1", "zh-000000013\ten-000000011\t1.306122\t0"]
    assert summary(results).startswith("zh: F1 50.00, P 50.00, R 50.00, threshold 1.1169")
    table = render(load_runs([out]))  # what xling report prints
    assert "### bucc" in table and "| zh | 50.0 |" in table
    assert "| zh | 50.0 |" in render(load_runs([out]), metric="precision")
    with pytest.raises(ConfigError, match="already holds results"):
        run_bucc(cfg, encoder=encoder)


# ---------------------------------------------------------------- XTREME equivalence


def xtreme_style_scores(src_ids, src_texts, trg_ids, trg_texts, x, y, k, mode, margin):
    """An independent, loop-by-loop reading of XTREME's mine_bitext + read_candidate2score (no numpy vectorising)."""
    def unify(texts, vectors):  # identical lines embedded once
        seen: dict[str, int] = {}
        for text, vector in zip(texts, vectors):
            seen.setdefault(text, len(seen))
        out = [None] * len(seen)
        for text, vector in zip(texts, vectors):
            out[seen[text]] = [float(v) / float(np.sqrt(sum(w * w for w in vector))) for v in vector]
        return list(seen), out

    xs_text, xs = unify(src_texts, x)
    ys_text, ys = unify(trg_texts, y)

    def dot(a, b):
        return sum(p * q for p, q in zip(a, b))

    def nearest(queries, keys):
        found = []
        for q in queries:
            sims = [dot(q, key) for key in keys]
            order = sorted(range(len(keys)), key=lambda j: -sims[j])[:min(k, len(keys))]
            found.append([(sims[j], j) for j in order])
        return found

    fwd, bwd = nearest(xs, ys), nearest(ys, xs)
    fwd_mean = [sum(s for s, _ in row) / len(row) for row in fwd]
    bwd_mean = [sum(s for s, _ in row) / len(row) for row in bwd]
    ratio = {"ratio": lambda a, b: a / b, "distance": lambda a, b: a - b, "absolute": lambda a, b: a}[margin]

    def best(neighbours, own_mean, other_mean, i):
        scored = [(ratio(dot(*(((xs[i], ys[j]) if own_mean is fwd_mean else (ys[i], xs[j])))),
                         (own_mean[i] + other_mean[j]) / 2), j) for _, j in neighbours[i]]
        top = max(s for s, _ in scored)
        return next(j for s, j in scored if s == top), top

    fwd_best = [best(fwd, fwd_mean, bwd_mean, i) for i in range(len(xs))]
    bwd_best = [best(bwd, bwd_mean, fwd_mean, j) for j in range(len(ys))]
    lines = []  # (score, src text, trg text), as the candidates file
    if mode == "fwd":
        lines = [(s, xs_text[i], ys_text[j]) for i, (j, s) in enumerate(fwd_best)]
    elif mode == "bwd":
        lines = [(s, xs_text[i], ys_text[j]) for j, (i, s) in enumerate(bwd_best)]
    elif mode == "intersect":
        lines = [(s, xs_text[i], ys_text[j]) for i, (j, s) in enumerate(fwd_best) if bwd_best[j][0] == i]
    else:
        pool = [(s, i, j) for i, (j, s) in enumerate(fwd_best)] + [(s, i, j) for j, (i, s) in enumerate(bwd_best)]
        taken_x, taken_y = set(), set()
        for s, i, j in sorted(pool, key=lambda item: -item[0]):
            if i not in taken_x and j not in taken_y:
                taken_x.add(i)
                taken_y.add(j)
                if s > 0:
                    lines.append((s, xs_text[i], ys_text[j]))

    def sent2id(ids, texts):
        repeated = {t for t in texts if texts.count(t) > 1}
        return {t: i for i, t in zip(ids, texts) if t not in repeated}

    src_map, trg_map = sent2id(src_ids, src_texts), sent2id(trg_ids, trg_texts)
    scores = {}
    for s, a, b in lines:
        if a in src_map and b in trg_map:
            pair = (src_map[a], trg_map[b])
            scores[pair] = max(s, scores.get(pair, s))
    return scores


def xtreme_style_threshold(scores, gold):
    items = sorted(scores.items(), key=lambda item: -item[1])
    threshold, best_f1, correct = 0, 0, 0
    for n in range(len(items)):
        if items[n][0] in gold:
            correct += 1
        if correct:
            f1 = 2 * (correct / (n + 1)) * (correct / len(gold)) / (correct / (n + 1) + correct / len(gold))
            if f1 > best_f1:
                best_f1 = f1
                threshold = (items[n][1] + items[n + 1][1]) / 2 if n + 1 < len(items) else items[n][1]
    return threshold


def random_corpus(seed: int, n_src: int = 30, n_trg: int = 45, n_gold: int = 12, dim: int = 8):
    """Random sentences (a few repeated texts) whose gold translations are noisy copies of their vectors."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n_src, dim)), rng.normal(size=(n_trg, dim))
    y[:n_gold] = x[:n_gold] + rng.normal(scale=0.6, size=(n_gold, dim))
    src_texts, trg_texts = [f"src {i}" for i in range(n_src)], [f"trg {j}" for j in range(n_trg)]
    for i, j in ((n_src - 1, n_src - 2), (n_gold - 1, n_src - 3)):  # repeated texts share their vector
        src_texts[i], x[i] = src_texts[j], x[j]
    trg_texts[n_trg - 1], y[n_trg - 1] = trg_texts[n_trg - 2], y[n_trg - 2]
    order = rng.permutation(n_trg)  # gold pairs are not on the diagonal
    y, trg_texts = y[order], [trg_texts[j] for j in order]
    src_ids, trg_ids = [f"s{i}" for i in range(n_src)], [f"t{j}" for j in range(n_trg)]
    where = {j: n for n, j in enumerate(order)}
    gold = {(src_ids[i], trg_ids[where[i]]) for i in range(n_gold)}
    return Portion("xx", src_ids, src_texts, trg_ids, trg_texts, gold, "random"), x, y


@pytest.mark.parametrize("mode", ["max", "intersect", "fwd", "bwd"])
@pytest.mark.parametrize("margin", ["ratio", "distance", "absolute"])
def test_same_candidates_threshold_and_f1_as_xtreme(mode, margin):
    for seed, k in ((0, 4), (1, 4), (2, 50)):  # k = 50 is more than either side has
        portion, x, y = random_corpus(seed)
        ours = mine_portion(portion, x, y, k=k, mode=mode, margin=margin)
        theirs = xtreme_style_scores(portion.source_ids, portion.source, portion.target_ids, portion.target,
                                     x, y, k, mode, margin)
        assert set(ours) == set(theirs) and ours == pytest.approx(theirs, rel=1e-9)
        repeated = {i for ids, texts in ((portion.source_ids, portion.source), (portion.target_ids, portion.target))
                    for i, text in zip(ids, texts) if texts.count(text) > 1}
        assert len(repeated) == 6 and not repeated & {i for pair in ours for i in pair}  # never proposed
        threshold = optimise_threshold(ours, portion.gold)
        assert threshold == pytest.approx(xtreme_style_threshold(theirs, portion.gold), rel=1e-9)
        extracted = {pair for pair, score in theirs.items() if score >= threshold}
        assert set(extract(ours, threshold)) == extracted
        correct = len(extracted & portion.gold)
        f1 = 200 * correct / (len(extracted) + len(portion.gold))  # 2PR / (P + R) in counts
        assert pair_scores(extract(ours, threshold), portion.gold)["f1"] == pytest.approx(f1)


def test_margin_mining_finds_the_noisy_translations():
    portion, x, y = random_corpus(3, n_src=60, n_trg=90, n_gold=30, dim=16)
    candidates = mine_portion(portion, x, y)
    scores = pair_scores(extract(candidates, optimise_threshold(candidates, portion.gold)), portion.gold)
    assert scores["f1"] > 80  # sanity: the method works on an easy synthetic corpus


# ---------------------------------------------------------------- the seeded split


def test_split_is_seeded_disjoint_and_keeps_gold_pairs_whole():
    portion, _, _ = random_corpus(0, n_src=40, n_trg=60, n_gold=20)
    selection, held_out = split_portion(portion, 0.5, seed=7)
    assert not set(selection.source_ids) & set(held_out.source_ids)
    assert not set(selection.target_ids) & set(held_out.target_ids)
    assert sorted(selection.source_ids + held_out.source_ids) == sorted(portion.source_ids)
    assert sorted(selection.target_ids + held_out.target_ids) == sorted(portion.target_ids)
    assert selection.gold | held_out.gold == portion.gold and len(selection.gold) == len(held_out.gold) == 10
    for part in (selection, held_out):
        assert all(s in part.source_ids and t in part.target_ids for s, t in part.gold)
        assert dict(zip(part.source_ids, part.source)).items() <= dict(zip(portion.source_ids, portion.source)).items()
    assert (len(selection.source), len(selection.target)) == (20, 30)  # 10 + round(.5 * 20), 10 + round(.5 * 40)
    again, _ = split_portion(portion, 0.5, seed=7)
    other, _ = split_portion(portion, 0.5, seed=8)
    assert again.source_ids == selection.source_ids and other.source_ids != selection.source_ids
    assert len(split_portion(portion, 0.25, seed=7)[0].gold) == 5
    with pytest.raises(ConfigError, match="without gold pairs"):
        split_portion(portion, 0.01, seed=7)


def write_portion(directory, portion: Portion, split: str = "dev") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{portion.lang}-en.{split}"
    (directory / f"{stem}.{portion.lang}").write_text(
        "".join(f"{i}\t{s}\n" for i, s in zip(portion.source_ids, portion.source)), encoding="utf-8")
    (directory / f"{stem}.en").write_text(
        "".join(f"{i}\t{s}\n" for i, s in zip(portion.target_ids, portion.target)), encoding="utf-8")
    (directory / f"{stem}.gold").write_text("".join(f"{s}\t{t}\n" for s, t in sorted(portion.gold)))


def test_dev_only_data_is_split_into_a_selection_and_a_held_out_part(tmp_path):
    portion, x, y = random_corpus(4, n_src=40, n_trg=60, n_gold=20)
    portion.lang = "zh"
    write_portion(tmp_path / "data" / "bucc2018", portion)
    vectors = {**dict(zip(portion.source, x)), **dict(zip(portion.target, y))}
    cfg = BuccConfig(data_dir=str(tmp_path / "data"), seed=3, selection_share=0.5, output_dir=str(tmp_path / "s3"),
                     quiet=True)
    results = run_bucc(cfg, encoder=FixedEncoder(vectors))
    zh = results.languages["zh"]
    loaded = load_portion(get_task("bucc"), "zh", "dev", tmp_path / "data")
    selection, held_out = split_portion(loaded, 0.5, seed=3)

    def candidates(part):
        return mine_portion(part, np.array([vectors[s] for s in part.source]),
                            np.array([vectors[t] for t in part.target]))

    threshold = optimise_threshold(candidates(selection), selection.gold)
    expected = pair_scores(extract(candidates(held_out), threshold), held_out.gold)
    whole = candidates(loaded)
    oracle = pair_scores(extract(whole, optimise_threshold(whole, loaded.gold)), loaded.gold)["f1"]
    assert zh.metrics["threshold"] == threshold and zh.primary == expected["f1"]
    assert {k: zh.metrics[k] for k in expected} == expected and zh.metrics["f1_dev_oracle"] == oracle
    assert zh.split == "dev" and (zh.examples, zh.total_examples) == (10, 20)
    assert "held-out part, seed 3" in zh.source and "seeded 0.5 share of dev (20 zh / 30 en" in zh.source
    # the split's seed is the run's seed: runs of several seeds are one configuration in xling report
    other = run_bucc(dataclasses.replace(cfg, seed=4, output_dir=str(tmp_path / "s4")), encoder=FixedEncoder(vectors))
    assert (results.seed, other.seed) == (3, 4) and other.languages["zh"].source != zh.source
    mean = (zh.primary + other.languages["zh"].primary) / 2
    assert f"| zh | {mean:.1f} ± " in render(load_runs([tmp_path / "s3", tmp_path / "s4"]))


# ---------------------------------------------------------------- data and config errors


def test_bad_files_and_options_name_what_is_wrong(tmp_path):
    task = get_task("bucc")
    good = load_portion(task, "zh", "dev", BUCC_DIR)
    assert good.source_ids[0] == "zh-000000001" and good.target[1] == "The cat is sleeping."
    assert good.gold == {("zh-000000001", "en-000000002"), ("zh-000000002", "en-000000004")}
    for name in ("zh-en.dev.zh", "zh-en.dev.en", "zh-en.dev.gold"):
        (tmp_path / name).write_bytes((BUCC_DIR / name).read_bytes())
    (tmp_path / "zh-en.dev.gold").write_text("zh-000000001\ten-000000002\nzh-000000009\ten-000000001\n")
    with pytest.raises(DataError, match=r"zh-en.dev.gold:2: expected <xx id><TAB><en id>"):
        load_portion(task, "zh", "dev", tmp_path)
    (tmp_path / "zh-en.dev.gold").write_text("zh-000000001\ten-000000002\nzh-000000002\ten-000000002\n")
    with pytest.raises(DataError, match=r"zh-en.dev.gold:2: .*each in one pair only"):
        load_portion(task, "zh", "dev", tmp_path)
    (tmp_path / "zh-en.dev.gold").write_bytes((BUCC_DIR / "zh-en.dev.gold").read_bytes())
    (tmp_path / "zh-en.dev.zh").write_text("zh-000000001\t一\nno tab here\n")
    with pytest.raises(DataError, match=r"zh-en.dev.zh:2: expected <id><TAB><sentence> with a new id"):
        load_portion(task, "zh", "dev", tmp_path)
    (tmp_path / "zh-en.dev.gold").unlink()
    with pytest.raises(MissingDataError, match="no gold pairs: .*zh-en.dev.gold is missing"):
        load_portion(task, "zh", "dev", tmp_path)
    assert load_portion(task, "zh", "test", tmp_path, required=False) is None
    with pytest.raises(MissingDataError, match=r"(?s)no bucc dev data for 'de'.*Tried:.*de-en.dev.de"):
        load_portion(task, "de", "dev", tmp_path)
    with pytest.raises(ConfigError, match="give --data-dir"):
        BuccConfig()
    with pytest.raises(ConfigError, match="candidates must be one of max, intersect, fwd, bwd"):
        BuccConfig(data_dir=".", candidates="both")
    with pytest.raises(ConfigError, match="selection_share"):
        BuccConfig(data_dir=".", selection_share=1.0)
    with pytest.raises(MissingDataError, match="no BUCC dev portion"):
        run_bucc(BuccConfig(data_dir=str(FIXTURES / "tatoeba")), encoder=mini_set_encoder())


def test_metric_and_task_declaration():
    from xling.config import TrainConfig
    from xling.metrics import METRICS
    from xling.training.run import run_training

    task = get_task("bucc")
    assert task.kind == "retrieval" and task.languages == ("de", "fr", "ru", "zh")
    assert METRICS.get(task.metric).compute([("a", "x"), ("b", "z")], [("a", "x"), ("b", "y"), ("c", "w")]) == \
        pytest.approx({"precision": 50.0, "recall": 100 / 3, "f1": 40.0})
    with pytest.raises(ConfigError, match="xling retrieve --task bucc"):
        run_training(TrainConfig(task="bucc", model="unused", output_dir="unused"))


# ---------------------------------------------------------------- with an encoder: CLI, raw model and a run


def test_cli_with_a_raw_model_and_a_fine_tuned_run(tiny_bert, tmp_path):
    import torch

    from xling.config import TrainConfig
    from xling.models import save_model
    from xling.models.build import build_run_model, load_tokenizer

    out = tmp_path / "raw"
    result = run_cli("retrieve", "--task", "bucc", "--model", tiny_bert, "--data-dir", BUCC_DIR, "--layer", "1",
                     "--neighbourhood", "2", "--output-dir", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "| zh |" in result.stdout and "zh: F1 " in result.stdout and "threshold" in result.stdout
    data = json.loads((out / "results.json").read_text())
    assert data["task"]["name"] == "bucc" and data["config"]["fusion"] == "layer"
    assert set(data["languages"]["zh"]["metrics"]) == {"f1", "precision", "recall", "threshold", "selection_f1",
                                                       "f1_dev_oracle"}
    assert "| zh |" in render(load_runs([out]))
    # a fine-tuned run: its encoder and trained fusion embed the sentences
    torch.manual_seed(0)
    model = build_run_model(get_task("xnli"), TrainConfig(task="xnli", model=str(tiny_bert), fusion="aif",
                                                         fusion_layer=1))
    save_model(model, tmp_path / "run" / "model", load_tokenizer(str(tiny_bert)))
    results = run_bucc(BuccConfig(run=str(tmp_path / "run"), data_dir=str(BUCC_DIR), neighbourhood=2, quiet=True))
    assert results.fusion["method"] == "aif" and results.model["name_or_path"] == str(tmp_path / "run")
    assert 0 <= results.languages["zh"].primary <= 100


def test_options_of_the_other_task_are_refused(tmp_path, capsys):
    from xling.cli import main

    yaml_file = tmp_path / "bucc.yaml"
    yaml_file.write_text(f"task: bucc\ndata_dir: {BUCC_DIR}\nmax_sentences: 3\n")
    for args, message in ((["--task", "bucc", "--max-sentences", "5"], "--max-sentences: not an option of --task bucc"),
                          (["--neighbourhood", "2"], "--neighbourhood: not an option of --task tatoeba"),
                          (["--config", str(yaml_file), "--source", "hub"], "--source: not an option of --task bucc"),
                          (["--config", str(yaml_file)], "unknown option 'max_sentences'")):
        assert main(["retrieve", "--model", "unused", "--data-dir", str(BUCC_DIR), *args]) == 2
        assert message in capsys.readouterr().err
