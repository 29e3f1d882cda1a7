"""Tiny offline checkpoints: a WordPiece tokenizer trained on the fly and a random BERT or mT5 encoder.

They are ordinary Hugging Face checkpoint folders, so everything downstream
(``--model DIR``) runs exactly as with a real model. Used by ``xling demo``
and the tests; far too small to measure anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tokenizer(texts: Iterable[str], vocab_size: int = 2000):
    """A cased WordPiece tokenizer with BERT's ``[CLS] a [SEP] b [SEP]`` template."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def tiny_config(architecture: str, vocab_size: int, layers: int = 4, hidden: int = 64):
    """A random-init config: ``bert`` or ``mt5`` (encoder only is used)."""
    if architecture == "bert":
        from transformers import BertConfig

        return BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                          num_attention_heads=4, intermediate_size=2 * hidden, max_position_embeddings=512,
                          pad_token_id=0)
    if architecture == "mt5":
        from transformers import MT5Config

        return MT5Config(vocab_size=vocab_size, d_model=hidden, num_layers=layers, num_decoder_layers=1,
                         num_heads=4, d_kv=hidden // 4, d_ff=2 * hidden, pad_token_id=0, decoder_start_token_id=0)
    raise ValueError(f"unknown tiny architecture {architecture!r}; use bert or mt5")


def build_tiny_checkpoint(directory: str | Path, texts: Iterable[str], *, architecture: str = "bert",
                          layers: int = 4, hidden: int = 64, vocab_size: int = 2000, seed: int = 0) -> Path:
    """Write a tokenizer and a randomly initialised encoder to ``directory``; return it."""
    import torch

    from xling.models.encoder import Encoder

    directory = Path(directory)
    tokenizer = build_tokenizer(texts, vocab_size)
    config = tiny_config(architecture, len(tokenizer), layers, hidden)
    torch.manual_seed(seed)
    encoder = Encoder.from_config(config)
    encoder.model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
