import hashlib

import pytest

from bench.core import weights as W
from bench.core.errors import ColorbenchError, MissingWeightsError


def test_registry_names_the_files_the_libraries_expect():
    import torchvision.models as tvm
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    expected = {
        "alexnet": tvm.AlexNet_Weights.IMAGENET1K_V1.url,
        "vgg16": tvm.VGG16_Weights.IMAGENET1K_V1.url,
        "vgg19": tvm.VGG19_Weights.IMAGENET1K_V1.url,
        "vgg19_bn": tvm.VGG19_BN_Weights.IMAGENET1K_V1.url,
        "resnet101": tvm.ResNet101_Weights.IMAGENET1K_V1.url,
        "inception_fid": URL_INCEPTION_V3,
    }
    for name, url in expected.items():
        spec = W.get_weight_spec(name)
        assert spec.url == url
        assert spec.file_name == url.rsplit("/", 1)[-1]
        assert spec.sha256 is None or spec.sha256.startswith(spec.hash_prefix)


def test_files_resolve_under_torch_home(torch_home):
    assert W.checkpoints_dir() == torch_home / "hub" / "checkpoints"
    assert W.weight_path("vgg19") == torch_home / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"


def test_bundled_lpips_heads_are_present_and_verified():
    for name in ("lpips_alex_linear", "lpips_vgg_linear"):
        assert W.is_present(name)
        assert W.verify_weights(name)[0] == "ok"


def test_missing_file_offline_names_file_url_and_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError) as info:
        W.ensure_weights("vgg19")
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert "\n" not in message


def test_failed_download_is_reported_not_raised_raw(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    spec = W.WeightSpec("fake", "fake-12345678.pth", (tmp_path / "nowhere.pth").as_uri(), "torchvision", "a test")
    with W.WEIGHTS.override("fake", spec), pytest.raises(MissingWeightsError, match="download failed"):
        W.ensure_weights("fake", offline=False)
    assert not any((tmp_path / "hub" / "checkpoints").iterdir())  # no partial file left


def test_download_checks_the_hash(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    source = tmp_path / "source.pth"
    source.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    good = W.WeightSpec("good", f"good-{digest[:8]}.pth", source.as_uri(), "torchvision", "a test", sha256=digest)
    bad = W.WeightSpec("bad", "bad-00000000.pth", source.as_uri(), "torchvision", "a test")
    with W.WEIGHTS.override("good", good), W.WEIGHTS.override("bad", bad):
        assert W.ensure_weights("good", offline=False).read_bytes() == b"weights"
        assert W.verify_weights("good") == ("ok", digest)
        with pytest.raises(MissingWeightsError, match="does not match"):
            W.ensure_weights("bad", offline=False)
        assert not W.is_present("bad")


def test_verify_reports_mismatch_for_random_stand_ins(random_weights):
    random_weights("alexnet")
    status, _ = W.verify_weights("alexnet")
    assert status == "mismatch"


def test_verify_reports_missing(empty_torch_home):
    expected = str(empty_torch_home / "hub" / "checkpoints" / "resnet101-63fe2227.pth")
    assert W.verify_weights("resnet101") == ("missing", expected)


def test_offline_switch(monkeypatch):
    monkeypatch.setenv(W.OFFLINE_ENV, "0")
    assert not W.is_offline()
    monkeypatch.setenv(W.OFFLINE_ENV, "yes")
    assert W.is_offline()
    assert W.is_offline(False) is False


def test_unknown_network():
    with pytest.raises(ColorbenchError, match="unknown network 'vgg99'"):
        W.get_weight_spec("vgg99")
