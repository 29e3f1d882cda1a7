"""Retrieval without training: sentence embeddings from any layer or fusion, Tatoeba, layer analyses.

- :mod:`~xling.retrieval.embed`: pooled sentence embeddings of a raw or fine-tuned encoder;
- :mod:`~xling.retrieval.tatoeba`: ``xling retrieve`` (bitexts, cosine nearest neighbours, both directions);
- :mod:`~xling.retrieval.analysis`: ``xling analyze layers`` (what each layer knows).
"""
