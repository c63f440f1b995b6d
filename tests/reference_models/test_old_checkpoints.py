"""Checkpoints written before the model contract changed (issue 18) still load.

The fixture ``fixtures/checkpoints_79cbe95.json`` is the manifest of checkpoints that colorbench wrote
at commit 79cbe95 (tiny MSA, SPColor with the k-means prior): every tensor's name, shape and dtype, and
the file's metadata (the model's name and config as then written). The real files are 15 and 159 MB;
what a refactor can break is their format (names, shapes, the stored config's keys), which the
manifest holds exactly. The test writes a file of that format with random values and loads it.
"""

import json
from pathlib import Path

import pytest
import torch

import reference_models

FIXTURE = Path(__file__).parent / "fixtures" / "checkpoints_79cbe95.json"
DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "BOOL": torch.bool}


@pytest.mark.parametrize("model", ["msa", "spcolor"])
def test_a_checkpoint_written_before_the_refactor_loads(model, random_weights, tmp_path):
    from safetensors.torch import save_file

    random_weights("vgg19")
    manifest = json.loads(FIXTURE.read_text())[model]
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for name, (shape, dtype) in manifest["tensors"].items():
        value = torch.rand(shape, generator=generator) if DTYPES[dtype].is_floating_point else torch.zeros(shape)
        tensors[name] = value.to(DTYPES[dtype])
    path = tmp_path / "step-00000001.safetensors"
    save_file(tensors, str(path), metadata=manifest["metadata"])
    network = reference_models.load(path)
    assert network.model_name.lower() == model
    state = network.checkpoint_state_dict()
    assert set(state) == set(tensors)
    for name, value in tensors.items():
        assert torch.equal(state[name].cpu(), value), name
