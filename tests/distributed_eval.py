"""Run under ``torchrun --nproc_per_node 2`` by tests/test_distributed.py: evaluation split across processes.

Each process predicts its share of the batches through a model that counts the rows it is given; every
process writes ``OUT/rank-R.json`` with that count and the gathered outputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch


def main(model_dir: str, out: str, count: int, batch_size: int) -> None:
    from xling.distributed import rank, start_processes
    from xling.evaluation.evaluator import predict_features
    from xling.models.build import build_run_model, load_tokenizer
    from tests.test_distributed import eval_features, eval_config, TASK

    start_processes()
    tokenizer = load_tokenizer(model_dir)
    torch.manual_seed(0)
    model = build_run_model(TASK, eval_config(model_dir))
    seen = {"rows": 0}
    forward = model.forward

    def counting(*args, **kwargs):
        seen["rows"] += int(kwargs["input_ids"].shape[0])
        return forward(*args, **kwargs)

    model.forward = counting
    outputs = predict_features(model, eval_features(tokenizer, count), TASK, pad_token_id=tokenizer.pad_token_id,
                               batch_size=batch_size, device=torch.device("cpu"))
    record = {"rows": seen["rows"], "outputs": [o.tolist() for o in outputs]}
    Path(out, f"rank-{rank()}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
