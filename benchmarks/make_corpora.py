"""Build the corpora that decoder and recipe figures are measured on besides AG News (issue 29), as
benchmarks/data/<name>/{train,dev,holdout}.csv (header text,label). Seeded; run once, the files are committed.

- dbpedia13: 13 classes of the DBpedia ontology classification set (Zhang, Zhao and LeCun 2015, built from
  DBpedia 2014 abstracts; CC BY-SA 3.0 and GFDL), from the 10,000-row sample (its test.csv and val.csv) that
  the public repository J-zin/DHIM ships under data/dbpedia/ (commit 477e226c). "Film" is left out, as a
  13-class set; the rest is split 6,269 / 1,000 / 2,000, stratified.
  With --dbpedia-unlabelled FILE, also dbpedia13/train_unlabelled.csv: those training rows and, unlabelled, the
  13,000 articles of the 13 classes in a second public sample, of DBpedia's *training* split (1,000 a class, NLTK-
  tokenised, non-ASCII removed; its tokenisation undone here): data/dbpedia/train.csv of the public repository
  KEAML-JLU/DeepTextClustering (commit b84d28cb), less any article already in dbpedia13 (3.1 times the text).
- sst2s: sentences of GLUE's SST-2 (Socher et al. 2013) from ../shared/data/sst2: 9,000 training rows of
  at least 8 words drawn from its train.csv, the 872 validation sentences split 436 / 436 into dev and holdout.
  With --sst2-unlabelled, also sst2s/train_unlabelled.csv: those 9,000 rows and every other phrase of at least 8
  words in SST-2's train.csv with its label left empty (31,105 rows: 3.5 times the text, for `train
  --allow-unlabelled`; SST-2's training split holds no more phrases of that length).

- banking77 (issue 39, many classes): the 77 intents of BANKING77 (Casanueva et al. 2020, PolyAI; CC BY 4.0),
  its banking_data/train.csv and test.csv from the public repository PolyAI-LDN/task-specific-datasets
  (commit 57ec275): train.csv split 9,003 / 1,000 into train and dev, stratified; test.csv (3,080) the holdout.
- clinc150 (issue 39): the 150 in-scope intents of CLINC150 (Larson et al. 2019; CC BY 3.0), data/data_full.json of
  the public repository clinc/oos-eval (commit 828f809): its train / val / test (15,000 / 3,000 / 4,500) as train
  / dev / holdout; the out-of-scope rows left out.
- clinc20 (issue 39): 20 of those intents, the first two of each of CLINC's ten domains (its data/domains.json), the
  same splits (2,000 / 400 / 600): a model with 20 classes.

    python benchmarks/make_corpora.py --dbpedia-dir DIR_WITH_test.csv_AND_val.csv
    python benchmarks/make_corpora.py --banking77-dir DIR_WITH_train.csv_AND_test.csv --clinc-file data_full.json
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
DBPEDIA_CLASSES = {1: "Artist", 2: "Company", 3: "OfficeHolder", 4: "Building", 5: "Village", 6: "Plant",
                   7: "EducationalInstitution", 8: "Animal", 9: "Album", 10: "WrittenWork", 11: "NaturalPlace",
                   12: "MeanOfTransportation", 13: "Athlete", 14: "Film"}


def stratified_split(df: pd.DataFrame, sizes: dict[str, int], seed: int) -> dict[str, pd.DataFrame]:
    """The rows cut into parts of the given sizes (the first part takes the rest), each with every class in
    its share (scikit-learn's stratified split, seeded)."""
    from sklearn.model_selection import train_test_split

    out, rest = {}, df.reset_index(drop=True)
    names = list(sizes)
    for name in names[1:]:
        rest, part = train_test_split(rest, test_size=sizes[name], stratify=rest["label"], random_state=seed)
        out[name] = part.reset_index(drop=True)
    return {names[0]: rest.reset_index(drop=True), **out}


def write(parts: dict[str, pd.DataFrame], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        part[["text", "label"]].to_csv(folder / f"{name}.csv", index=False, quoting=csv.QUOTE_MINIMAL)
        print(f"{folder.name}/{name}.csv: {len(part):,} rows, {part.label.replace('', pd.NA).nunique()} classes")


def dbpedia13(src: Path, seed: int) -> None:
    rows = pd.concat([pd.read_csv(src / f, header=None, names=["label", "text"]) for f in ("test.csv", "val.csv")])
    rows["label"] = rows["label"].map(DBPEDIA_CLASSES)
    rows = rows[rows.label != "Film"].drop_duplicates("text")
    write(stratified_split(rows, {"train": len(rows) - 3000, "dev": 1000, "holdout": 2000}, seed), HERE / "data" / "dbpedia13")


def detokenised(text: str) -> str:
    """NLTK's word tokenisation undone where it shows in English prose: sentences joined by tabs, spaces before
    punctuation and inside brackets, split contractions and possessives."""
    import re

    text = text.replace("\t", " ")
    text = re.sub(r" ([.,;:!?%)\]])", r"\1", text)
    text = re.sub(r"([(\[]) ", r"\1", text)
    text = re.sub(r" (n't|'s|'re|'ve|'ll|'d|'m)\b", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def dbpedia13_unlabelled(src: Path, seed: int) -> None:
    """dbpedia13's training rows, then the second sample's articles of its 13 classes unlabelled (seeded order)."""
    folder = HERE / "data" / "dbpedia13"
    train = pd.read_csv(folder / "train.csv")
    # classes.txt of that copy, in order (0-based): the DBpedia ontology classes, "Film" the 13th
    order = ["Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder", "MeanOfTransportation",
             "Building", "NaturalPlace", "Village", "Animal", "Plant", "Album", "Film", "WrittenWork"]
    more = pd.read_csv(src, header=None, names=["label", "text"])
    more = more[more.label.map(lambda i: order[int(i)]) != "Film"]
    more["text"] = more.text.astype(str).map(detokenised)
    seen = set()
    for part in ("train", "dev", "holdout"):
        seen |= {key(t) for t in pd.read_csv(folder / f"{part}.csv").text.astype(str)}
    more = more[~more.text.map(key).isin(seen)].drop_duplicates("text").sample(frac=1.0, random_state=seed)
    write({"train_unlabelled": pd.concat([train, more.assign(label="")[["text", "label"]]])}, folder)


def banking77(src: Path, seed: int) -> None:
    """BANKING77: train.csv cut into train and dev (1,000, stratified), test.csv the holdout (text,category rows)."""
    rows = pd.read_csv(src / "train.csv").rename(columns={"category": "label"})
    parts = stratified_split(rows, {"train": len(rows) - 1000, "dev": 1000}, seed)
    parts["holdout"] = pd.read_csv(src / "test.csv").rename(columns={"category": "label"})
    write(parts, HERE / "data" / "banking77")


def clinc(src: Path) -> None:
    """CLINC150's in-scope rows (train / val / test as train / dev / holdout), and clinc20: the first two intents of
    each of its ten domains (its domains.json, beside data_full.json)."""
    import json

    data = json.loads(Path(src).read_text())
    domains = json.loads((Path(src).parent / "domains.json").read_text())
    parts = {name: pd.DataFrame(data[key], columns=["text", "label"])
             for name, key in (("train", "train"), ("dev", "val"), ("holdout", "test"))}
    write(parts, HERE / "data" / "clinc150")
    keep = [intent for intents in domains.values() for intent in intents[:2]]
    write({name: part[part.label.isin(keep)].reset_index(drop=True) for name, part in parts.items()},
          HERE / "data" / "clinc20")


def key(text: str) -> str:
    """A text compared with others: its letters and digits, lower-cased (the two samples are written differently)."""
    return "".join(ch for ch in text.lower() if ch.isalnum())[:200]


def sst2_sentences(seed: int, unlabelled: bool = False) -> None:
    every = pd.read_csv(SHARED / "sst2" / "train.csv")
    every = every[every.text.str.split().str.len() >= 8].drop_duplicates("text")
    train = every.sample(9000, random_state=seed)
    dev = pd.read_csv(SHARED / "sst2" / "dev.csv")
    parts = stratified_split(dev, {"dev": 436, "holdout": 436}, seed)
    if unlabelled:  # the 9,000 labelled rows first, then every other phrase unlabelled, in a seeded order
        rest = every.drop(train.index).sample(frac=1.0, random_state=seed).assign(label="")
        parts["train_unlabelled"] = pd.concat([train, rest])
    write({"train": train.reset_index(drop=True), **parts}, HERE / "data" / "sst2s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dbpedia-dir", help="folder with the DHIM sample's test.csv and val.csv (label,text rows)")
    ap.add_argument("--dbpedia-unlabelled", help="the second DBpedia sample's train.csv (label,text rows)")
    ap.add_argument("--sst2-unlabelled", action="store_true",
                    help="also write sst2s/train_unlabelled.csv (the training rows and 22,105 unlabelled phrases)")
    ap.add_argument("--banking77-dir", help="folder with BANKING77's train.csv and test.csv (text,category rows)")
    ap.add_argument("--clinc-file", help="CLINC150's data_full.json")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.dbpedia_dir:
        dbpedia13(Path(a.dbpedia_dir), a.seed)
    if a.dbpedia_unlabelled:
        dbpedia13_unlabelled(Path(a.dbpedia_unlabelled), a.seed)
    if a.banking77_dir:
        banking77(Path(a.banking77_dir), a.seed)
    if a.clinc_file:
        clinc(Path(a.clinc_file))
    if not (a.banking77_dir or a.clinc_file):
        sst2_sentences(a.seed, a.sst2_unlabelled)
