"""encoder -> fusion -> head."""

from xling.models.encoder import Encoder
from xling.models.fusion import FUSIONS, build_fusion
from xling.models.heads import HEADS, HeadOutput
from xling.models.model import HeadSpec, ModelSpec, XlingModel, build_model, load_model, save_model
from xling.models import span_head  # noqa: F401,E402 - registers the "span" head (extractive QA)
from xling.models import contrastive_head  # noqa: F401,E402 - registers the "image_text" head

__all__ = ["Encoder", "FUSIONS", "HEADS", "HeadOutput", "HeadSpec", "ModelSpec", "XlingModel",
           "build_fusion", "build_model", "load_model", "save_model"]
