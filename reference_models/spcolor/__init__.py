"""SPColor (Chen et al. 2023): semantic-prior guided exemplar-based colorization.

Modules, one concept each:

* :mod:`.config` — :class:`SPColorConfig` and the ``paper`` / ``released-code`` / ``tiny`` presets;
* :mod:`.prior` — the :class:`SemanticPrior` interface, :class:`KMeansPrior`;
* :mod:`.stego` — :class:`StegoPrior` (STEGO, DINO ViT-B/8) and the safe checkpoint reader;
* :mod:`.vgg` — the VGG19 the correspondence and losses read (torchvision or Caffe convention);
* :mod:`.correspondence` — the semantic correspondence (SPC: batched, or dispatched to the loop by
  device) and its feature network; :mod:`.class_loop` — the SPC one (sample, class) at a time (CPUs);
* :mod:`.colornet`, :mod:`.discriminator` — the released colour network and discriminator;
* :mod:`.losses`, :mod:`.optim`, :mod:`.data` — training: losses, optimisers, per-sample preprocessing;
* :mod:`.model` — :class:`SPColor`, with ``forward`` (training tensors) and ``colorize`` (images).
"""

from reference_models.spcolor.colornet import ColorNet
from reference_models.spcolor.config import PRESETS, SPColorConfig, preset
from reference_models.spcolor.correspondence import Correspondence, CorrespondenceNet, semantic_correspondence
from reference_models.spcolor.data import make_training_sample
from reference_models.spcolor.discriminator import Discriminator
from reference_models.spcolor.losses import LossTerms, SPColorLoss
from reference_models.spcolor.model import SPColor, SPColorOutput
from reference_models.spcolor.optim import build_optimizers, build_schedulers
from reference_models.spcolor.prior import KMeansPrior, PriorOutput, SemanticPrior
from reference_models.spcolor.stego import StegoPrior, load_stego_prior, read_stego_checkpoint
from reference_models.spcolor.vgg import SPColorVGG

__all__ = [
    "PRESETS",
    "ColorNet",
    "Correspondence",
    "CorrespondenceNet",
    "Discriminator",
    "KMeansPrior",
    "LossTerms",
    "PriorOutput",
    "SPColor",
    "SPColorConfig",
    "SPColorLoss",
    "SPColorOutput",
    "SPColorVGG",
    "SemanticPrior",
    "StegoPrior",
    "build_optimizers",
    "build_schedulers",
    "load_stego_prior",
    "make_training_sample",
    "preset",
    "read_stego_checkpoint",
    "semantic_correspondence",
]
