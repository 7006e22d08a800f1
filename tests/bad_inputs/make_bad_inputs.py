"""Writes the malformed (and the awkward but valid) input files of tests/bad_inputs and their manifest.

    python tests/bad_inputs/make_bad_inputs.py

Each manifest entry: file, text/label columns, and either `error` (a regex the message must match, for
the CLI and the app alike) or `ok` (the file is valid; `notice` names what the user is told). The one input
too large to keep here, a million rows over the row cap, is written by the test itself.
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOOD = "text,label\nThe team won the cup final.,Sports\nShares fell on Wall Street.,Business\n"


def parquet(path: Path, columns: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)


def main() -> None:
    files: dict[str, bytes | None] = {}
    manifest: list[dict] = []

    def add(name, content, error=None, text="text", label="label", ok=False, notice=None, labels_required=False):
        files[name] = content
        entry = {"file": name, "text_column": text, "label_column": label}
        if error:
            entry["error"] = error
        else:
            entry["ok"] = True
            if notice:
                entry["notice"] = notice
        if labels_required:
            entry["labels_required"] = True
        manifest.append(entry)

    u = lambda s: s.encode("utf-8")  # noqa: E731
    # ---- CSV structure ----
    add("empty.csv", b"", r"is empty")
    add("only_newlines.csv", b"\n\n\n", r"is empty|has no rows")
    add("header_only.csv", u("text,label\n"), r"has no rows")
    add("bom_only.csv", b"\xef\xbb\xbf", r"is empty")
    add("missing_text_column.csv", u("body,label\nhello,World\n"), r"has no text column 'text'")
    add("missing_label_column.csv", u("text,category\nhello,World\n"), r"has no label column 'label'")
    add("duplicate_columns.csv", u("text,text,label\na,b,World\n"), r"duplicate column name")
    add("ragged_more_fields.csv", u("text,label\nfine,World\nbad,World,extra\n"), r"row 2: has 3 fields")
    add("ragged_fewer_fields.csv", u("text,label\nfine,World\nlonely\n"), r"row 2: has 1 fields")
    add("unclosed_quote.csv", u('text,label\n"never closed,World\n'), r"not valid CSV|fields")
    add("nul_byte.csv", u("text,label\nnul \x00 inside,World\n"), r"line 2 holds a NUL byte")
    add("empty_text.csv", u("text,label\nfine,World\n,Sports\n"), r"rows? 2\b[^:]*: the text in column 'text' is empty")
    add("whitespace_text.csv", u("text,label\nfine,World\n \t  ,Sports\n"), r"rows? 2\b[^:]*: the text .* is empty")
    add("zero_width_only.csv", u("text,label\nfine,World\n\u200b\u200c\u2060,Sports\n"), r"rows? 2\b[^:]*: .*no visible characters")
    add("nan_label.csv", u("text,label\nfine,World\nalso fine,\n"), r"rows? 2\b[^:]*: the label .* is missing", labels_required=True)
    add("single_class.csv", u("text,label\none,World\ntwo,World\n"), r"at least two classes", labels_required=True)
    add("no_labels_at_all.csv", u("text,label\none,\ntwo,\n"), r"no labels at all|rows? 1\b[^:]*: the label .* is missing",
        labels_required=True)
    # ---- encodings and bytes ----
    add("latin1.csv", "text,label\ncafé au lait,World\n".encode("latin-1"), r"line 2 holds bytes that are not UTF-8")
    add("utf16.csv", "text,label\nhello,World\n".encode("utf-16"), r"not UTF-8")
    add("utf16_be.csv", "text,label\nhello,World\n".encode("utf-16-be"), r"not UTF-8|no text column|NUL|not valid CSV")
    add("binary_garbage.csv", bytes(range(256)) * 4, r"not UTF-8")
    add("png_renamed.csv", b"\x89PNG\r\n\x1a\n" + bytes(64), r"not UTF-8")
    add("gzip_renamed.csv", b"\x1f\x8b\x08\x00" + bytes(32), r"not UTF-8")
    add("cp1252_quotes.csv", "text,label\n\u201csmart quotes\u201d,World\n".encode("cp1252"), r"not UTF-8")
    # ---- file types ----
    add("notes.txt", u("hello"), r"unsupported file type '\.txt'")
    add("sheet.xlsx", b"PK\x03\x04" + bytes(32), r"unsupported file type '\.xlsx'")
    add("no_extension", u(GOOD), r"unsupported file type")
    add("corpus.csv.gz", b"\x1f\x8b\x08\x00" + bytes(32), r"unsupported file type '\.gz'")
    # ---- JSONL ----
    add("empty.jsonl", b"", r"has no rows")
    add("blank_lines.jsonl", u("\n\n  \n"), r"has no rows")
    add("bad_json.jsonl", u('{"text": "a", "label": "World"}\n{"text": oops}\n'), r"line 2 is not valid JSON")
    add("truncated.jsonl", u('{"text": "a", "label": "World"}\n{"text": "b", "lab'), r"line 2 is not valid JSON")
    add("list_line.jsonl", u('["a", "World"]\n'), r"line 1 holds a JSON list")
    add("number_line.jsonl", u("42\n"), r"line 1 holds a JSON int")
    add("string_line.jsonl", u('"just a string"\n'), r"line 1 holds a JSON str")
    add("text_int.jsonl", u('{"text": 5, "label": "World"}\n'), r"rows? 1\b[^:]*: the text .* is a int")
    add("text_null.jsonl", u('{"text": null, "label": "World"}\n'), r"rows? 1\b[^:]*: the text .* is empty")
    add("text_list.jsonl", u('{"text": ["a"], "label": "World"}\n'), r"rows? 1\b[^:]*: the text .* is a list")
    add("text_object.jsonl", u('{"text": {"a": 1}, "label": "World"}\n'), r"rows? 1\b[^:]*: the text .* is a dict")
    add("text_bool.jsonl", u('{"text": true, "label": "World"}\n'), r"rows? 1\b[^:]*: the text .* is a bool")
    add("missing_key.jsonl", u('{"text": "a", "label": "World"}\n{"label": "Sports"}\n'), r"rows? 2\b[^:]*: the text .* is empty")
    add("label_float.jsonl", u('{"text": "a", "label": 1.5}\n'), r"rows? 1\b[^:]*: the label .* is a float")
    add("label_object.jsonl", u('{"text": "a", "label": {"x": 1}}\n'), r"rows? 1\b[^:]*: the label .* is a dict")
    add("label_bool.jsonl", u('{"text": "a", "label": true}\n'), r"rows? 1\b[^:]*: the label .* is a bool")
    add("label_list.jsonl", u('{"text": "a", "label": ["World"]}\n'), r"rows? 1\b[^:]*: the label .* is a list")
    add("latin1.jsonl", '{"text": "café", "label": "World"}\n'.encode("latin-1"), r"not UTF-8")
    # ---- Parquet ----
    files["not_parquet.parquet"] = u("this is not parquet")
    manifest.append({"file": "not_parquet.parquet", "text_column": "text", "label_column": "label",
                     "error": r"is not a readable Parquet file"})
    for name, cols, error in (
        ("text_int.parquet", {"text": [1, 2], "label": ["World", "Sports"]}, r"rows? 1\b[^:]*: the text .* is a int"),
        ("text_bytes.parquet", {"text": [b"ab", b"cd"], "label": ["World", "Sports"]}, r"rows? 1\b[^:]*: the text .* is a bytes"),
        ("text_null.parquet", {"text": ["fine", None], "label": ["World", "Sports"]}, r"rows? 2\b[^:]*: the text .* is empty"),
        ("label_list.parquet", {"text": ["a", "b"], "label": [["x"], ["y"]]}, r"rows? 1\b[^:]*: the label .* is a (list|ndarray)"),
        ("missing_column.parquet", {"body": ["a"], "label": ["World"]}, r"has no text column 'text'"),
        ("empty.parquet", {"text": [], "label": []}, r"has no rows"),
        ("struct_text.parquet", {"text": [{"a": 1}], "label": ["World"]}, r"rows? 1\b[^:]*: the text .* is a dict"),
    ):
        files[name] = None
        manifest.append({"file": name, "text_column": "text", "label_column": "label", "error": error, "_cols": cols})
    files["truncated.parquet"] = None
    manifest.append({"file": "truncated.parquet", "text_column": "text", "label_column": "label",
                     "error": r"is not a readable Parquet file"})
    # ---- awkward but valid: accepted, nothing lost ----
    add("rtl_text.csv", u("text,label\nمرحبا بالعالم وأخبار الرياضة,World\nשלום עולם,Sports\n"), ok=True)
    add("combining_marks.csv", u("text,label\nZ\u0351\u0367\u0311a\u0357\u036a\u0308lgo te\u0301xt,World\nfine,Sports\n"), ok=True)
    add("emoji.csv", u("text,label\n⚽ Goal!!! 🎉🎉 great match,Sports\n📈 stocks up,Business\n"), ok=True)
    add("bidi_override.csv", u("text,label\nevil \u202egnp.exe\u202c name,World\nfine,Sports\n"), ok=True)
    add("html_in_text.csv", u('text,label\n"<script>alert(1)</script> <img src=x onerror=alert(2)>",World\n'
                              '"[click](javascript:alert(3)) **bold** $x^2$",Sports\n'), ok=True)
    add("crlf_newlines.csv", u("text,label\r\nfirst line,World\r\nsecond,Sports\r\n"), ok=True)
    add("quoted_newlines.csv", u('text,label\n"two\nlines",World\nfine,Sports\n'), ok=True)
    add("bom_utf8.csv", b"\xef\xbb\xbf" + u(GOOD), ok=True)
    add("long_text.csv", u("text,label\n" + "word " * 200_000 + ",World\nshort,Sports\n"), ok=True,
        notice=r"longer than the model reads")
    add("extra_columns.csv", u("id,text,label,source\n1,fine,World,x\n2,also fine,Sports,y\n"), ok=True)
    add("unlabelled_rows.csv", u("text,label\nlabelled,World\nunlabelled,\n"), ok=True)

    out = HERE / "files"
    out.mkdir(exist_ok=True)
    for p in out.iterdir():
        p.unlink()
    for entry in manifest:
        path = out / entry["file"]
        if entry["file"] == "truncated.parquet":
            parquet(path, {"text": ["a"] * 50, "label": ["World"] * 50})
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        elif "_cols" in entry:
            parquet(path, entry.pop("_cols"))
        else:
            path.write_bytes(files[entry["file"]])
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(manifest)} inputs ({sum('error' in e for e in manifest)} malformed) -> {out}")


if __name__ == "__main__":
    main()
