"""Masked super-attention (MSA, Carrillo et al. 2023): the generator, its per-sample preprocessing
and its training loss."""

from reference_models.msa.config import MSAConfig
from reference_models.msa.losses import LOSS_PRESETS, ColorizationLoss, LossConfig
from reference_models.msa.model import MSAGenerator
from reference_models.msa.preprocess import MSABatch, collate, prepare_sample

__all__ = ["LOSS_PRESETS", "ColorizationLoss", "LossConfig", "MSABatch", "MSAConfig", "MSAGenerator", "collate",
           "prepare_sample"]
