"""Checkpoints written before the model contract changed (issue 18) still load.

The fixtures are manifests of checkpoints that colorbench wrote: ``checkpoints_79cbe95.json`` at
commit 79cbe95 (tiny MSA, SPColor with the k-means prior), ``checkpoints_c6011d6.json`` at c6011d6
(a tiny SA trained here; its config still flat, before the superpixel settings were nested): every
tensor's name, shape and dtype, and the file's metadata (the model's name and config as then
written). The real files are up to 159 MB; what a refactor can break is their format (names,
shapes, the stored config's keys), which the manifest holds exactly. The test writes a file of that
format with random values and loads it.
"""

import json
from pathlib import Path

import pytest
import torch

import reference_models

FIXTURES = Path(__file__).parent / "fixtures"
DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "BOOL": torch.bool}


#: (fixture, model, what the stored config must come back as)
CASES = [("79cbe95", "msa", {"input_size": 32, "widths": (8, 16, 32, 64)}),
         ("79cbe95", "spcolor", {"num_classes": 4, "prior": "kmeans"}),
         ("c6011d6", "sa", {"input_size": 32, "official_compat": False})]


@pytest.mark.parametrize(("commit", "model", "expected"), CASES, ids=[f"{c}-{m}" for c, m, _ in CASES])
def test_a_checkpoint_written_before_the_refactor_loads(commit, model, expected, random_weights, tmp_path):
    from safetensors.torch import save_file

    random_weights("vgg19", "vgg19_bn")
    manifest = json.loads((FIXTURES / f"checkpoints_{commit}.json").read_text())[model]
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for name, (shape, dtype) in manifest["tensors"].items():
        value = torch.rand(shape, generator=generator) if DTYPES[dtype].is_floating_point else torch.zeros(shape)
        tensors[name] = value.to(DTYPES[dtype])
    path = tmp_path / "step-00000001.safetensors"
    save_file(tensors, str(path), metadata=manifest["metadata"])
    network = reference_models.load(path)
    assert network.model_name.lower() == model
    assert {key: getattr(network.config, key) for key in expected} == expected
    stored = json.loads(manifest["metadata"]["model_config"])
    if "superpixel_segments" in stored:  # the flat form: read into the nested superpixel settings
        assert network.config.superpixels.base_segments == stored["superpixel_segments"]
    state = network.checkpoint_state_dict()
    assert set(state) == set(tensors)
    for name, value in tensors.items():
        assert torch.equal(state[name].cpu(), value), name
