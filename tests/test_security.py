"""Untrusted checkpoints and folders: only safetensors load, mismatched configs are refused, and the
app's model picker never reaches outside its folders."""
import json
import os
import sys

import pytest
import torch


@pytest.fixture()
def saved(tiny_model, tmp_path):
    return tiny_model.save_pretrained(tmp_path / "models" / "good", dtype="float32")


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pkl", ".ckpt", ".pth"])
def test_pickled_weights_are_refused(saved, suffix):
    from vae_core.encoders import CheckpointError
    from vae_core.modeling import TextVAE

    (saved / "model.safetensors").unlink()
    torch.save({"x": torch.zeros(1)}, saved / f"pytorch_model{suffix}")
    with pytest.raises(CheckpointError, match="Pickle files can run code when loaded, so they are refused"):
        TextVAE.from_pretrained(saved)


def test_a_pickle_beside_safetensors_is_never_read(saved, monkeypatch):
    from vae_core.modeling import TextVAE

    (saved / "pytorch_model.bin").write_bytes(b"not even a pickle")
    monkeypatch.setattr("pickle.load", lambda *a, **k: pytest.fail("a pickle was loaded"))
    monkeypatch.setattr("torch.load", lambda *a, **k: pytest.fail("torch.load was called"))
    TextVAE.from_pretrained(saved)


@pytest.mark.parametrize("field,value,pattern", [
    ("labels", ["a", "b"], r"classifier\.(weight|bias) has shape .* but config\.json implies"),
    ("latent_size", 6, r"has shape|does not match"),
    ("decoder_vocab_size", 10, r"decoder vocabulary|has shape|does not match"),
    ("decoder_layers", 3, r"missing decoder\.blocks\.1|does not match"),
])
def test_config_that_does_not_match_its_weights_is_refused(saved, field, value, pattern):
    from vae_core.encoders import CheckpointError
    from vae_core.modeling import TextVAE

    cfg = json.loads((saved / "config.json").read_text())
    cfg[field] = value
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=pattern):
        TextVAE.from_pretrained(saved)


def test_corrupt_safetensors_and_bad_config_are_messages(saved):
    from vae_core.encoders import CheckpointError
    from vae_core.modeling import TextVAE

    (saved / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        TextVAE.from_pretrained(saved)
    (saved / "config.json").write_text(json.dumps({"unknown_field": 1}))
    with pytest.raises(CheckpointError, match="unknown field"):
        TextVAE.from_pretrained(saved)


def test_model_picker_stays_inside_its_folders(saved, tmp_path, monkeypatch):
    from app_ui import resources

    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("config.json", "model.safetensors"):
        (outside / name).write_bytes((saved / name).read_bytes())
    root = saved.parent
    os.symlink(outside, root / "escape")  # a symlink that leaves the models folder
    (root / "dots").mkdir()
    os.symlink(tmp_path / "outside", root / "dots" / "..hidden")
    monkeypatch.setenv("VAE_MODELS_DIR", str(root))
    monkeypatch.setattr(sys, "argv", ["app.py"])
    found = resources.list_models()
    mine = {k: v for k, v in found.items() if k.startswith(resources.USER_PREFIX)}
    assert list(mine) == [resources.USER_PREFIX + "good"]
    assert all(root.resolve() in p.parents or p == root.resolve() for p in mine.values())
    monkeypatch.setenv("VAE_MODELS_DIR", str(root / ".." / "outside" / ".." / "models"))
    assert [p.name for p in resources.list_models().values() if "good" in str(p)] == ["good"]
