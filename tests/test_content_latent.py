"""A content part of z for the decoder, added after joint training; the classifier never reads it."""
import pytest
import torch

from vae_core.changes import add_content_latent, add_prototype_decoder, apply_changes
from vae_core.config import ModelChanges

from conftest import tiny_config


@pytest.fixture
def model(tiny_encoder_dir):
    from vae_core.modeling import TextVAE

    torch.manual_seed(0)
    m = TextVAE(tiny_config(tiny_encoder_dir, pretrained_encoder=True))
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_encoder_dir)
    m.set_special_ids(tok)
    m.tokenizer = tok
    return m.eval()


def test_adding_content_dims_changes_neither_predictions_nor_decoding(model):
    texts = ["market stock shares", "goal team season coach", "chip phone data"]
    before_probs = model.predict_proba(texts)
    z = model.encode_corpus(texts).mu
    before_text = model.decode_text(z, candidates=1)
    add_content_latent(model, 3)
    assert model.config.latent_size == 4 + 3 and model.config.content_latent_size == 3
    post = model.encode_corpus(texts)
    assert post.mu.shape == (3, 7)
    assert torch.allclose(post.mu[:, :4], z, atol=1e-6)
    assert torch.allclose(model.predict_proba(texts), before_probs, atol=1e-6)
    # the new dimensions start with zero weight in the decoder: decoding reads only what it read before
    assert model.decode_text(post.mu, candidates=1) == before_text
    with pytest.raises(Exception, match="already"):
        add_content_latent(model, 2)


def test_classifier_ignores_the_content_part(model):
    add_content_latent(model, 2)
    z = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    moved = z.clone()
    moved[:, 4:] += 10.0
    assert torch.equal(model.classify(z), model.classify(moved))


def test_checkpoint_with_content_latent_roundtrips(model, tmp_path):
    from vae_core.modeling import TextVAE

    add_content_latent(model, 2)
    with torch.no_grad():
        model.content_posterior.weight.normal_()
    model.save_pretrained(tmp_path / "m", dtype="float32")
    loaded = TextVAE.from_pretrained(tmp_path / "m")
    assert loaded.config.content_latent_size == 2
    texts = ["market stock shares", "goal team"]
    assert torch.allclose(loaded.encode_corpus(texts).mu, model.encode_corpus(texts).mu, atol=1e-5)
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in model.named_parameters()]


def test_config_refuses_a_content_part_as_large_as_the_latent():
    from vae_core.config import ConfigError, VAEConfig

    with pytest.raises(ConfigError, match="content_latent_size"):
        VAEConfig(latent_size=4, content_latent_size=4)


def test_explorer_counterfactuals_and_directions_work_with_a_content_latent(model):
    import numpy as np

    from vae_core.inference import Explorer

    add_content_latent(model, 2)
    ex = Explorer(model)
    W, b = ex.classifier_weights()
    assert W.shape == (3, 6) and not W[:, 4:].any()
    mu = model.encode_corpus(["market stock shares"]).mu[0].numpy()
    z = mu.copy()
    z[4:] += 5.0
    assert np.allclose(W @ mu + b, W @ z + b)
    assert ex.class_direction(0, 1).shape == (6,)
    cf = ex.counterfactual(mu, target=1)
    assert cf.boundary_distance > 0
    # the classifier does not read the content part, so the smallest move that flips the class leaves it alone
    assert cf.flip is not None and np.allclose(cf.flip[4:], mu[4:]) and not np.allclose(cf.flip[:4], mu[:4])


def test_a_longer_decoder_keeps_its_trained_positions_and_decodes_as_before(model):
    z = model.encode_corpus(["market stock shares", "goal team season coach"]).mu
    short = model.config.decoder_max_length
    before = model.decode_text(z, candidates=1, readable=False)
    trained = model.decoder.pos.weight.detach().clone()
    apply_changes(model, ModelChanges(decoder_max_length=short + 8, word_dropout=0.2))
    assert model.config.decoder_max_length == short + 8 and model.config.word_dropout == 0.2
    assert model.decoder.pos.num_embeddings == short + 8
    assert torch.equal(model.decoder.pos.weight[:short], trained)
    # the first `short` tokens are decoded as before; only texts that ran to the old end may go on
    after = model.decode_text(z, candidates=1, readable=False)
    for a, b in zip(before, after):
        assert b.startswith(a)
    with pytest.raises(Exception, match="word_dropout"):
        ModelChanges(word_dropout=1.5)
    # the decoder's own dropout: every dropout inside the decoder, attention included; the encoder's stays
    enc_p = [m.p for m in model.encoder.modules() if isinstance(m, torch.nn.Dropout)]
    apply_changes(model, ModelChanges(decoder_dropout=0.3))
    assert model.config.dropout == 0.3
    assert {m.p for m in model.decoder.modules() if isinstance(m, torch.nn.Dropout)} == {0.3}
    assert {b.dropout for b in model.decoder.blocks} == {0.3}
    assert [m.p for m in model.encoder.modules() if isinstance(m, torch.nn.Dropout)] == enc_p
    with pytest.raises(Exception, match="dropout"):
        ModelChanges(decoder_dropout=-0.1)


def test_prototype_decoder_reads_the_nearest_bank_document_and_roundtrips(model, tmp_path):
    from vae_core.config import ConfigError
    from vae_core.modeling import TextVAE

    texts = ["market stock shares", "goal team season coach", "chip phone data"]
    z = model.encode_corpus(texts).mu
    before = model.decode_text(z, candidates=1, readable=False)
    with pytest.raises(ConfigError, match="does not read prototypes"):
        model.set_prototypes(z, torch.zeros(3, 5, dtype=torch.long))
    add_prototype_decoder(model, 6, torch.Generator().manual_seed(0))
    assert model.decode_text(z, candidates=1, readable=False) == before, "no bank: decoding as before"
    ids = model.tokenize(texts)["input_ids"][:, 1:7]
    model.set_prototypes(z, ids)
    assert model.nearest_prototypes(z).tolist() == [0, 1, 2]
    with torch.no_grad():
        model.decoder.proto_pos.weight.normal_()  # make the prototypes matter
    dec_in, _ = model.decoder_io(**model.tokenize(texts))
    own = model.decode_logits(z, dec_in)
    other = model.decode_logits(z, dec_in, prototype_rows=torch.tensor([1, 2, 0]))
    assert not torch.allclose(own, other), "the decoder reads the prototype"
    model.save_pretrained(tmp_path / "m", dtype="float32")
    loaded = TextVAE.from_pretrained(tmp_path / "m")
    assert torch.equal(loaded.prototypes.ids, model.prototypes.ids)
    assert torch.allclose(loaded.decode_logits(z, dec_in), own, atol=1e-5)
    assert loaded.decode_text(z, candidates=1, readable=False) == model.decode_text(z, candidates=1, readable=False)
