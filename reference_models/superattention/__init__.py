"""The super-attention family (Carrillo, Clement, Bugeau): SA (ACCV 2022; the released generator that
loads the official ``checkpoint.pt`` strictly, and its test-time preprocessing) and MSA (2023; masked
super-attention inside the encoder), with their shared blocks, views, loss and training task."""

from reference_models.superattention.config import MSAConfig, SAConfig
from reference_models.superattention.losses import LOSS_PRESETS, ColorizationLoss, LossConfig
from reference_models.superattention.msa import MSAGenerator
from reference_models.superattention.sa import SAGenerator, load_sa_checkpoint
from reference_models.superattention.views import SuperAttentionBatch, ViewSpec, collate, prepare_pair

__all__ = ["LOSS_PRESETS", "ColorizationLoss", "LossConfig", "MSAConfig", "MSAGenerator", "SAConfig", "SAGenerator",
           "SuperAttentionBatch", "ViewSpec", "collate", "load_sa_checkpoint", "prepare_pair"]
