"""Building blocks shared by the reference models: superpixel label maps (SLIC / MaskSLIC, cached by
content), the batched (masked) super-attention layer, the checks of ``colorize``'s inputs, and the
float32 islands inside bf16 autocast (:mod:`.precision`)."""

from reference_models.layers.super_attention import SuperAttention, SuperAttentionOutput
from reference_models.layers.superpixels import MSA_SUPERPIXELS, SA_SUPERPIXELS, SuperpixelConfig, superpixel_levels

__all__ = ["MSA_SUPERPIXELS", "SA_SUPERPIXELS", "SuperAttention", "SuperAttentionOutput", "SuperpixelConfig",
           "superpixel_levels"]
