from pathlib import Path
import pandas as pd
import pytest

from vae_core.data import (UNLABELLED, DataError, LengthGroupedBatches, build_decoder_vocab, encode_labels,
                           keep_labels_per_class, label_vocabulary, read_corpus,
                           repeat_labelled)


def write(tmp_path, name, content, mode="w"):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def test_reads_csv_jsonl_parquet(tmp_path):
    csv = write(tmp_path, "a.csv", 'text,label\n"hello, world",x\nsecond,y\n')
    c = read_corpus(csv)
    assert c.texts == ["hello, world", "second"] and c.labels == ["x", "y"]
    jl = write(tmp_path, "a.jsonl", '{"body": "one", "cls": 1}\n\n{"body": "two", "cls": 2}\n')
    c = read_corpus(jl, "body", "cls")
    assert c.texts == ["one", "two"] and c.labels == ["1", "2"]
    pq = tmp_path / "a.parquet"
    pd.DataFrame({"t": ["p", "q"], "l": ["a", "b"]}).to_parquet(pq)
    assert read_corpus(pq, "t", "l").labels == ["a", "b"]
    assert read_corpus(csv, label_column=None).labels == [None, None]


@pytest.mark.parametrize("name,content,kwargs,pattern", [
    ("empty_text.csv", "text,label\nfine,a\n   ,b\n", {}, r"empty_text\.csv, row 2: the text in column 'text' is empty"),
    ("nan_label.csv", "text,label\nfine,a\nalso fine,\n", {}, r"nan_label\.csv, row 2: the label in column 'label' is missing.*--allow-unlabelled"),
    ("cols.csv", "body,label\nfine,a\n", {}, r"cols\.csv: has no text column 'text'\. Its columns are: body, label"),
    ("cols2.csv", "text,label\nfine,a\n", {"label_column": "category"}, r"has no label column 'category'"),
    ("latin1.csv", "text,label\nfine,a\ncaf\xe9,b\n".encode("latin-1"), {}, r"latin1\.csv: line 3 holds bytes that are not UTF-8 \(0xe9.*iconv"),
    ("ragged.csv", "text,label\nfine,a\nbad,b,extra\n", {}, r"ragged\.csv, row 2: has 3 fields but the header has 2"),
    ("dupes.csv", "text,text,label\na,b,c\n", {}, r"duplicate column name\(s\): text"),
    ("empty.csv", "", {}, r"empty\.csv: is empty"),
    ("header_only.csv", "text,label\n", {}, r"has no rows"),
    ("bad.jsonl", '{"text": "a", "label": "x"}\n{"text": oops}\n', {}, r"bad\.jsonl: line 2 is not valid JSON"),
    ("list.jsonl", '["a", "b"]\n', {}, r"line 1 holds a JSON list, not an object"),
    ("numtext.jsonl", '{"text": 5, "label": "x"}\n', {}, r"row 1: the text in column 'text' is a int, not a string"),
    ("weird.txt", "hello", {}, r"unsupported file type '\.txt'.*\.csv, \.parquet or \.jsonl"),
    ("floatlabel.jsonl", '{"text": "a", "label": 1.5}\n', {}, r"row 1: the label in column 'label' is a float \(1\.5\)"),
])
def test_bad_files_name_file_row_and_problem(tmp_path, name, content, kwargs, pattern):
    p = write(tmp_path, name, content)
    with pytest.raises(DataError, match=pattern):
        read_corpus(p, **kwargs)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_corpus(tmp_path / "nope.csv")


def test_not_parquet(tmp_path):
    p = write(tmp_path, "x.parquet", b"not parquet at all")
    with pytest.raises(DataError, match=r"x\.parquet: is not a readable Parquet file"):
        read_corpus(p)


def test_parquet_wrong_type(tmp_path):
    p = tmp_path / "w.parquet"
    pd.DataFrame({"text": [1.5, 2.5], "label": ["a", "b"]}).to_parquet(p)
    with pytest.raises(DataError, match=r"rows 1, 2: the text in column 'text' is a float"):
        read_corpus(p)


def test_row_cap_is_an_error_not_a_truncation(tmp_path):
    p = write(tmp_path, "big.csv", "text,label\n" + "".join(f"t{i},a\n" for i in range(11)))
    with pytest.raises(DataError, match="more than the limit of 10|more than 10"):
        read_corpus(p, max_rows=10)


def test_unlabelled_rows_when_allowed(tmp_path):
    p = write(tmp_path, "semi.csv", "text,label\na,x\nb,\nc,y\n")
    c = read_corpus(p, allow_unlabelled=True)
    assert c.labels == ["x", None, "y"]
    assert encode_labels(c.labels, ["x", "y"]) == [0, UNLABELLED, 1]


def test_bom_is_ignored(tmp_path):
    p = write(tmp_path, "bom.csv", "\ufefftext,label\na,x\n")
    assert read_corpus(p).texts == ["a"]


def test_label_vocabulary_needs_two_classes(tmp_path):
    p = write(tmp_path, "one.csv", "text,label\na,x\nb,x\n")
    with pytest.raises(DataError, match="at least two classes.*found 1 \\(x\\)"):
        label_vocabulary(read_corpus(p))


def test_unknown_label_at_encode_time():
    with pytest.raises(DataError, match="row 2: label 'z' is not one of the model's classes"):
        encode_labels(["x", "z"], ["x", "y"], "dev.csv")


def test_keep_labels_per_class_is_seeded():
    labels = [0] * 10 + [1] * 10
    kept = keep_labels_per_class(labels, 3, seed=1)
    assert sum(y == 0 for y in kept) == 3 and sum(y == 1 for y in kept) == 3
    assert kept == keep_labels_per_class(labels, 3, seed=1)


def test_length_grouped_batches_cover_everything_once():
    lengths = [i % 17 for i in range(100)]
    s = LengthGroupedBatches(lengths, 8, seed=0)
    batches = s.batches()
    assert sorted(i for b in batches for i in b) == list(range(100))
    assert len(batches) == len(s) == 13
    s.for_epoch(1)
    assert s.batches() != batches


def test_build_decoder_vocab_keeps_specials_and_frequent():
    ids = [[101, 5, 5, 5, 6, 102], [101, 7, 5, 102]]
    # counts: 5 x4, 102 x2, 6 x1, 7 x1 ([CLS] never counts); ties go to the smaller id
    assert build_decoder_vocab(ids, 4, [102, 100]) == [5, 6, 100, 102]
    assert build_decoder_vocab(ids, 10, [102, 100]) == [5, 6, 7, 100, 102]


def test_text_without_visible_characters_is_refused(tmp_path):
    p = write(tmp_path, "zw.csv", "text,label\nfine,a\n\u200b\u2060\u200d,b\n")
    with pytest.raises(DataError, match=r"zw\.csv, row 2: .*no visible characters"):
        read_corpus(p)
    ok = write(tmp_path, "ok.csv", "text,label\n\u202eevil\u202c,a\n😀,b\n")
    assert read_corpus(ok).texts == ["\u202eevil\u202c", "😀"]  # kept exactly as written


def test_repeat_labelled_makes_up_the_share_and_leaves_full_labels_alone():
    labels = [0, 1] + [UNLABELLED] * 98
    rows = [f"r{i}" for i in range(100)]
    r2, l2 = repeat_labelled(rows, labels, 0.25)
    n_lab = sum(y != UNLABELLED for y in l2)
    assert n_lab == 2 * 16 and abs(n_lab / len(l2) - 0.25) < 0.02  # 98 / 3 / 2 = 16.3 copies of each
    assert r2[:100] == rows and set(r2[100:]) == {"r0", "r1"} and l2[100:] == [0, 1] * 15
    assert repeat_labelled(rows[:2], labels[:2], 0.25) == (rows[:2], labels[:2])  # all labelled
    assert repeat_labelled(rows, labels, 0.0) == (rows, labels)
    half = [0] * 50 + [UNLABELLED] * 50
    assert repeat_labelled(rows, half, 0.25) == (rows, half)  # already labelled enough


def test_the_readmes_sst2_script_writes_what_train_reads(tmp_path):
    # the hub's files as they are laid out (idx, sentence, label 0/1), converted offline from a folder
    import importlib.util

    import pandas as pd

    from vae_core.data import read_corpus

    spec = importlib.util.spec_from_file_location("get_sst2", Path(__file__).resolve().parent.parent / "scripts" / "get_sst2.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    hub = tmp_path / "hub"
    hub.mkdir()
    for name, n in zip(mod.SPLITS.values(), (5, 3)):
        pd.DataFrame({"idx": range(n), "sentence": [f"a fine film number {i} " for i in range(n)],
                      "label": [i % 2 for i in range(n)]}).to_parquet(hub / name)
    assert mod.convert(str(hub), tmp_path / "sst2") == {"train": 5, "dev": 3}
    train = read_corpus(tmp_path / "sst2" / "train.csv", "text", "label", require_labels=True)
    assert train.labels == ["negative", "positive", "negative", "positive", "negative"]
    assert train.texts[1] == "a fine film number 1"


def test_every_bad_row_is_named_at_once_and_an_option_drops_them(tmp_path):
    """A file with three blank texts is refused in one message naming all three rows; --drop-bad-rows leaves them
    out and the corpus says how many (issue 40)."""
    path = tmp_path / "blanks.csv"
    path.write_text("text,label\nfine,a\n  ,b\nalso fine,b\n,a\nthird fine,a\n\u200b,b\n")
    with pytest.raises(DataError) as e:
        read_corpus(path, drop_bad_rows=False)
    msg = str(e.value)
    assert "3 rows cannot be used (rows 2, 4: the text in column 'text' is empty; row 6: the text in column 'text' " \
           "has no visible characters" in msg, msg
    assert "--drop-bad-rows" in msg
    corpus = read_corpus(path, drop_bad_rows=True)
    assert corpus.texts == ["fine", "also fine", "third fine"] and corpus.dropped_rows == 3
    # where a command has no such option, the message does not offer one
    with pytest.raises(DataError) as e:
        read_corpus(path)
    assert "--drop-bad-rows" not in str(e.value)


def test_many_bad_rows_are_counted_and_the_first_named(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("text,label\n" + "".join(f"{'' if i % 2 else 'ok'},a\n" for i in range(40)))
    with pytest.raises(DataError, match=r"20 rows cannot be used \(rows 2, 4, 6, 8, 10, 12, 14, 16, 18, 20 and 10 "
                                        r"more: the text in column 'text' is empty\)\."):
        read_corpus(path)
