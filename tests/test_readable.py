"""Decoded text made readable: WordPiece spacing undone, sentence case, the corpus' casing."""
import numpy as np
import pytest

from vae_core.evaluate import reader_fidelity
from vae_core.readable import CasingTable, Readable, wordpiece_artefacts

CORPUS = [
    "Iran Stresses Nuclear Freeze TEHRAN (Reuters) - Iran said on Monday its nuclear work was frozen.",
    "Delta Cuts Jobs ATLANTA (AP) - Delta Air Lines Inc. said on Tuesday it would cut jobs in New York, AP said.",
    "Oil Rises NEW YORK (Reuters) - new oil prices rose in New York as the U.S. dollar fell, Delta Air Lines said.",
    "Qaeda Threat LONDON (AFP) - officials said al-Qaeda posted a new e-mail, Acme Inc. said on Monday.",
    "Phones Sell Well apple sold more iPod players to the players union, Acme Corp. said in New York.",
    "Budget Talks - lawmakers said the new budget and new taxes start in a new year, far from New York.",
    "Market Report - new shares of eBay rose under new rules; eBay and AT&T gained while Iran talks went on in the U.S.",
]


@pytest.fixture(scope="module")
def readable():
    return Readable(CasingTable.learn(CORPUS))


def test_table_learns_names_acronyms_and_mixed_case_outside_headlines():
    table = CasingTable.learn(CORPUS)
    assert table.forms["iran"] == "Iran"
    assert table.forms["ap"] == "AP" and table.forms["u.s"] == "U.S"
    assert table.forms["ebay"] == "eBay" and table.forms["ipod"] == "iPod"
    # headline words ("Stresses", "Nuclear", "Freeze") say nothing about a word's casing
    assert "stresses" not in table.forms and "nuclear" not in table.forms
    assert "al-qaeda" in table.joined and "e-mail" in table.joined
    assert table.pairs["new york"] == "New York"
    assert "inc" in table.abbreviations


def test_wordpiece_spacing_is_undone(readable):
    raw = ("ivan ' s $ 50 loan rose 1. 5 percent to 10, 000 at 3 : 30 p. m. ( ap ) , the u. s. said "
           "\" it is fine \" while al - qaeda sent an e - mail ; 5 % of the players ' union don ' t agree !")
    out = readable(raw)
    assert out == ("Ivan's $50 loan rose 1.5 percent to 10,000 at 3:30 p.m. (AP), the U.S. said "
                   "\"it is fine\" while al-Qaeda sent an e-mail; 5% of the players' union don't agree!")
    assert wordpiece_artefacts(raw) and not wordpiece_artefacts(out)


def test_overlapping_numbers_are_joined_too(readable):
    assert readable("quake of 1. 7. 2 on the scale") == "Quake of 1.7.2 on the scale"


def test_sentence_case_and_abbreviations(readable):
    out = readable("delta air lines inc. said on monday it would cut jobs. oil rose in new york .")
    assert out == "Delta Air Lines Inc. said on Monday it would cut jobs. Oil rose in New York."


def test_without_a_table_only_spacing_and_sentence_case_change():
    assert Readable()("the cost ' s up 1. 5 % . then it fell") == "The cost's up 1.5%. Then it fell"


def test_table_roundtrips_through_a_checkpoint_folder(tmp_path):
    table = CasingTable.learn(CORPUS)
    table.save(tmp_path)
    again = CasingTable.load(tmp_path)
    assert again.to_dict() == table.to_dict()
    assert CasingTable.load(tmp_path / "missing") is None
    (tmp_path / "casing.json").write_text("not json")
    assert CasingTable.load(tmp_path) is None


def test_decode_text_is_readable_and_raw_stays_available(tiny_model):
    import torch

    tiny_model.readable = Readable(CasingTable.learn(CORPUS))
    z = torch.randn(3, tiny_model.config.latent_size, generator=torch.Generator().manual_seed(0))
    raw = tiny_model.decode_text(z, readable=False)
    assert tiny_model.decode_text(z) == [tiny_model.readable(t) for t in raw]


def test_checkpoint_carries_the_casing_table(tiny_model, tmp_path):
    from vae_core.modeling import TextVAE

    tiny_model.readable = Readable(CasingTable.learn(CORPUS))
    tiny_model.save_pretrained(tmp_path / "m")
    loaded = TextVAE.from_pretrained(tmp_path / "m")
    assert loaded.readable.casing.to_dict() == tiny_model.readable.casing.to_dict()


def test_reader_fidelity_counts_ranks_against_every_source():
    rng = np.random.default_rng(0)
    sources = rng.normal(size=(20, 8))
    sources /= np.linalg.norm(sources, axis=1, keepdims=True)
    decoded = sources[:5].copy()
    decoded[4] = sources[7]  # the fifth decoded text reads like another document
    fid = reader_fidelity(decoded, sources)
    assert fid["reader_top1"] == pytest.approx(0.8)
    assert fid["reader_rank"][:4] == [0, 0, 0, 0] and fid["reader_rank"][4] >= 1
    assert fid["reader_candidates"] == 20
    assert fid["reader_cosine"] == pytest.approx(float(np.mean([1, 1, 1, 1, sources[4] @ sources[7]])))
