"""Super-attention (Carrillo et al., ACCV 2022) as released: the generator that loads the official
``checkpoint.pt`` strictly, and its test-time preprocessing."""

from reference_models.sa.model import SAGenerator, load_sa_checkpoint

__all__ = ["SAGenerator", "load_sa_checkpoint"]
