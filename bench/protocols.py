"""Evaluation protocols: everything a published table depends on, named.

Papers compute "FID" and "colourfulness" in different ways and rarely say which, so their numbers
cannot be put side by side unless the rules are the same. A :class:`Protocol` fixes the rules of one
paper's table: which splits fit it (builder, level, references), how outputs and ground truths are
resized before the metrics, the metric list and every metric setting (FID backbone, colourfulness
form, FID infinity sizes, classifier crop, ...), and the table it reproduces, with the source file
that defines each choice. ``bench.score(..., protocol="ct2-imagenet-val5k")`` (``colorbench score
--protocol``) applies one; the summary records its name and every resolved setting.

Adding a protocol is one :func:`register_protocol` call here, citing its source; where the source is
ambiguous, ``notes`` say what was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import ScoreConfig
from .core.errors import ColorbenchError
from .core.registry import Registry

__all__ = ["PROTOCOLS", "RULE_SETTINGS", "Protocol", "get_protocol", "list_protocols", "register_protocol"]

#: The settings that make one protocol's numbers differ from another's (what :meth:`Protocol.differences`
#: compares); seeds, bootstrap resamples and batching never enter a number's definition.
RULE_SETTINGS = ("image_transform", "image_size", "gt_roundtrip", "fid_backbone", "fid_input_range",
                 "fid_drop_partial_batch", "colorfulness_form", "ssim_window", "ssim_data_range", "classifier_resize",
                 "classifier_crop", "lpips_r_layers", "lpips_r_h", "lpips_r_side", "lpips_r_direction",
                 "lpips_r_layer_reduction", "his_bins", "his_width", "psnr_ab_data_range")


@dataclass(frozen=True)
class Protocol:
    """The rules of one published table.

    Attributes:
        name: ``colorbench score --protocol NAME``.
        reproduces: the paper and table(s) whose numbers these rules give.
        source: the file(s) (repository and path, or the paper's section) that define the rules.
        metrics: the metrics the table reports, by colorbench name.
        settings: :class:`~bench.config.ScoreConfig` fields that differ from the defaults, as
            ``(name, value)`` pairs (a tuple, so the protocol stays hashable).
        level: what is scored on a fitting split: ``image`` or ``object``.
        builders: the split builders whose splits fit (empty: any).
        references: True: the split must have references (exemplar-based); False: the table is of
            automatic colorization, and a split with references is scored on its targets alone.
        notes: the choices made where the source is silent or ambiguous.
    """

    name: str
    reproduces: str
    source: str
    metrics: tuple[str, ...]
    settings: tuple[tuple[str, object], ...] = ()
    level: str = "image"
    builders: tuple[str, ...] = ()
    references: bool = True
    notes: tuple[str, ...] = ()

    def config(self) -> ScoreConfig:
        """The resolved metric settings (defaults + this protocol's)."""
        return ScoreConfig.from_dict(dict(self.settings))

    def check_split(self, split) -> None:
        """A one-line error when ``split`` (a :class:`~bench.core.splits.Split`) does not fit these rules."""
        builder = split.meta.get("builder")
        if self.builders and builder not in self.builders:
            raise ColorbenchError(f"protocol {self.name} scores splits built by {' or '.join(self.builders)}; split "
                                  f"{split.split_id} was built by {builder}: build one with `colorbench pairs "
                                  f"{self.builders[0]} ...`, or score without --protocol")
        if self.level == "object" and split.level != "object":
            raise ColorbenchError(f"protocol {self.name} scores object-level splits; {split.split_id} is image level")
        if self.references and not split.has_references:
            raise ColorbenchError(f"protocol {self.name} needs a split with references; {split.no_references_note()}")

    def differences(self, config: dict) -> list[str]:
        """The rule settings in which a result's recorded ``config`` (``summary.json``'s
        ``meta.config``; absent keys are defaults) differs from this protocol's: ``key: theirs vs ours``."""
        ours = self.config().as_dict()
        defaults = ScoreConfig().as_dict()
        out = []
        for key in RULE_SETTINGS:
            theirs = config.get(key, defaults[key])
            mine = list(ours[key]) if isinstance(ours[key], tuple) else ours[key]
            if (list(theirs) if isinstance(theirs, (tuple, list)) else theirs) != mine:
                out.append(f"{key}: {theirs} vs {mine}")
        return out

    def record(self) -> dict:
        """What a summary records about the protocol (the resolved settings are the summary's config)."""
        return {"name": self.name, "reproduces": self.reproduces, "source": self.source, "level": self.level,
                "metrics": list(self.metrics), "settings": dict(self.settings), "notes": list(self.notes)}


#: Every protocol, by name.
PROTOCOLS: Registry[Protocol] = Registry("protocol", required=("name", "reproduces", "source", "metrics"))


def register_protocol(protocol: Protocol) -> Protocol:
    """Add ``protocol`` (its settings are checked now: a mistyped setting fails at import)."""
    protocol.config()
    return PROTOCOLS.add(protocol.name, protocol)


def get_protocol(name: str) -> Protocol:
    """The protocol ``name``; an unknown name is a one-line error with the closest names."""
    return PROTOCOLS.get(name)


def list_protocols() -> list[str]:
    return PROTOCOLS.names()


_MSA_NOTES = ("The paper names no FID implementation and no evaluation size: the TF-FID Inception (torch-fidelity) "
              "on the images at their size, as colorbench's default.",
              "Which of a target's references is scored is not stated: every pair of the split is scored.")

register_protocol(Protocol(
    "msa-image", reproduces="MSA (Carrillo et al. 2023) Tables I and III: full-image level on COCO",
    source="MSA paper Sec. V-B (../shared/papers/msa-object-guided-attention.txt); metric anchors in each "
           "metric's `matches`",
    metrics=("ssim", "lpips", "fid", "lpips_r", "delta_his"), builders=("image-level",), notes=_MSA_NOTES))

register_protocol(Protocol(
    "msa-object", reproduces="MSA (Carrillo et al. 2023) Tables II and IV: object level on COCO (crops to the objects)",
    source="MSA paper Sec. V-C (../shared/papers/msa-object-guided-attention.txt): FID infinity at 300 and 600",
    metrics=("lpips", "fid", "fid_inf", "lpips_r", "delta_his"), settings=(("fid_inf_min_n", (300, 600)),),
    level="object", builders=("object-level",), notes=_MSA_NOTES))

register_protocol(Protocol(
    "spcolor-imagenet10k", reproduces="SPColor (Chen et al. 2023) Tables I-III: ImageNet ctest10k",
    source="SPColor paper Sec. IV (../shared/papers/spcolor-semantic-prior.txt); resize 224 / crop 224 as the "
           "authors' evaluation code",
    metrics=("fid", "top1", "top5"), settings=(("classifier_resize", 224), ("classifier_crop", 224)),
    builders=("imagenet10k",),
    notes=("FID on the TF-FID Inception (the paper cites Heusel et al.; its code is not public).",)))

register_protocol(Protocol(
    "ct2-imagenet-val5k", reproduces="CT2 (Weng et al., ECCV 2022) ImageNet val5k table (automatic colorization)",
    source="shuchenweng/CT2: segm/data/coco.py load_filenames + get_img (the 5,000 files, CenterCrop(min side) + "
           "Resize(256)); segm/metrics.py avg_ssim_psnr, avg_lpips, calculate_fid (INCEPTION_V3_FID, [-1, 1] input); "
           "segm/eval_colorfullness.py image_colorfulness",
    metrics=("ssim", "psnr", "lpips_vgg", "fid", "colorfulness", "colorfulness_set_diff"),
    settings=(("image_transform", "center_crop_resize"), ("image_size", 256), ("gt_roundtrip", True),
              ("ssim_window", "uniform"), ("ssim_data_range", 225.0), ("fid_backbone", "torchvision"),
              ("fid_input_range", "minus_one_one"), ("colorfulness_form", "abs")),
    builders=("imagenet-val5k",), references=False,
    notes=("CT2's scripts print every metric twice, against the ground truth and against it sent through Lab and "
           "back (`*_convert`); their code does not say which one their table holds: colorbench takes the "
           "round-tripped one (gt_roundtrip); score with --config '{\"gt_roundtrip\": false}' for the other.",
           "SSIM is skimage's default call (7x7 box window) with data_range=225 as in their code (a typo for 255, "
           "kept because it is what produced their numbers).",
           "FID features are computed one image at a time (batch size 1): no partial batch is dropped.",
           "Colourfulness is the abs form of their eval_colorfullness.py; delta CF = |mean CF(outputs) - "
           "mean CF(ground truths)| at set level.")))

register_protocol(Protocol(
    "ddcolor-imagenet-val5k", reproduces="DDColor (Kang et al., ICCV 2023) ImageNet (val5k) table: FID, CF, delta CF",
    source="piddnad/DDColor: options/train/train_ddcolor.yml (val: gt_size 256, metrics fid + cf); "
           "basicsr/data/lab_dataset.py (cv2.resize to 256 x 256); basicsr/models/color_model.py nondist_validation "
           "(INCEPTION_V3_FID on [0, 1] RGB, batch size 1); basicsr/metrics/colorfulness.py calculate_cf",
    metrics=("fid", "colorfulness", "colorfulness_set_diff"),
    settings=(("image_transform", "squash"), ("image_size", 256), ("fid_backbone", "torchvision"),
              ("fid_input_range", "zero_one"), ("colorfulness_form", "abs")),
    builders=("imagenet-val5k",), references=False,
    notes=("DDColor's 5k list (data_list/imagenet_val_5k.txt) is not published: CT2's list of the first 5,000 "
           "validation files is used.",
           "Their validation feeds float images (the Lab model's output and the ground truth through float Lab) to "
           "the Inception; colorbench scores 8-bit files, so each side is rounded to uint8 once.",
           "FID features are computed one image at a time (batch size 1): no partial batch is dropped.")))
