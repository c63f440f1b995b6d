"""Building blocks shared by the reference models: superpixel label maps (SLIC / MaskSLIC, cached by
content), the batched (masked) super-attention layer, the checks of ``colorize``'s inputs, and the
float32 islands inside bf16 autocast (:mod:`.precision`)."""

from reference_models.layers.super_attention import SuperAttention, SuperAttentionOutput
from reference_models.layers.superpixels import SuperpixelConfig, superpixel_levels

__all__ = ["SuperAttention", "SuperAttentionOutput", "SuperpixelConfig",
           "superpixel_levels"]
