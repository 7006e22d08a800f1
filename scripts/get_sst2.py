"""SST-2 (GLUE's version, from the Hugging Face hub) as the two CSV files `python -m vae_core train` reads:
text,label with the labels named (0 -> negative, 1 -> positive).

    python scripts/get_sst2.py                     # downloads into data/sst2/ (needs the internet)
    python scripts/get_sst2.py --source DIR        # the same from a folder holding the hub's parquet files

R. Socher et al., "Recursive Deep Models for Semantic Compositionality Over a Sentiment Treebank", EMNLP 2013,
as distributed in the GLUE benchmark (A. Wang et al., 2018).
"""
from __future__ import annotations

import argparse
from pathlib import Path

HUB = "https://huggingface.co/datasets/stanfordnlp/sst2/resolve/main/data/"
SPLITS = {"train": "train-00000-of-00001.parquet", "dev": "validation-00000-of-00001.parquet"}
NAMES = {0: "negative", 1: "positive"}


def convert(source: str, out: Path) -> dict[str, int]:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for split, name in SPLITS.items():
        where = f"{source.rstrip('/')}/{name}"
        df = pd.read_parquet(where)
        df = pd.DataFrame({"text": df["sentence"].str.strip(), "label": df["label"].map(NAMES)})
        df.to_csv(out / f"{split}.csv", index=False)
        rows[split] = len(df)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=HUB, help="URL or folder holding the hub's parquet files")
    p.add_argument("--out", default="data/sst2", help="folder for train.csv and dev.csv")
    a = p.parse_args()
    rows = convert(a.source, Path(a.out))
    print(", ".join(f"{a.out}/{k}.csv: {v:,} rows" for k, v in rows.items()))


if __name__ == "__main__":
    main()
