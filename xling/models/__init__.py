"""Models: encoder -> fusion -> head, joined by constructor injection; saving and loading.

- :mod:`~xling.models.encoder`: any Hugging Face encoder, returning every hidden state;
- :mod:`~xling.models.fusion`: layer fusion methods (:data:`FUSIONS`: last, aif, scalar_mix, mean, concat);
- :mod:`~xling.models.heads` and the span / choice / contrastive head modules: task heads (:data:`HEADS`);
- :mod:`~xling.models.model`: :class:`XlingModel`, its spec, save / load;
- :mod:`~xling.models.build`: a run's model (its task kind's head) and tokenizer.

Importing this package registers every head, so a saved model of any kind loads.
"""

from xling.models.encoder import Encoder
from xling.models.fusion import FUSIONS, build_fusion
from xling.models.heads import HEADS, HeadOutput
from xling.models.model import HeadSpec, ModelSpec, XlingModel, build_model, load_model, save_model
from xling.models import choice_head  # noqa: F401,E402 - registers the "multiple_choice" head
from xling.models import contrastive_head  # noqa: F401,E402 - registers the "image_text" head
from xling.models import span_head  # noqa: F401,E402 - registers the "span" head (extractive QA)

__all__ = ["Encoder", "FUSIONS", "HEADS", "HeadOutput", "HeadSpec", "ModelSpec", "XlingModel",
           "build_fusion", "build_model", "load_model", "save_model"]
