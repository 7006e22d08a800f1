"""The data phase of a training run: the training and dev files read and checked, the class names, the app's
examples, the data fingerprint, and the loader of token ids in batches of similar length."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..catalog import pick_examples
from ..config import TrainConfig
from ..data import (UNLABELLED, Corpus, LengthGroupedBatches, TokenizedDataset, collate, encode_labels,
                    keep_labels_per_class, label_vocabulary, read_corpus, repeat_labelled)


@dataclass
class TrainingData:
    train: Corpus
    dev: Corpus | None
    names: list[str]  # the classes, in the model's order
    labels: list[int]  # each training row's class index (UNLABELLED for a row without one)
    examples: dict[str, list[str]]  # a few texts of each class, for the app (saved with every checkpoint)
    fingerprint: dict  # what the run trained on (data_fingerprint.json)


def read_training_data(cfg: TrainConfig, names: list[str] | None = None) -> TrainingData:
    """The training and dev files of `cfg`. `names` are the classes of the checkpoint the run starts from (None:
    the training file's, in order); every dev label must be one of them."""
    train = read_corpus(cfg.train_file, cfg.text_column, cfg.label_column, require_labels=True,
                        allow_unlabelled=cfg.allow_unlabelled, drop_bad_rows=cfg.drop_bad_rows)
    if cfg.max_train_rows is not None:
        train.texts, train.labels = train.texts[: cfg.max_train_rows], train.labels[: cfg.max_train_rows]
    examples = pick_examples(train.texts, train.labels, seed=cfg.seed)
    names = names if names is not None else label_vocabulary(train)
    labels = encode_labels(train.labels, names, train.source)
    if cfg.labels_per_class is not None:
        labels = keep_labels_per_class(labels, cfg.labels_per_class, cfg.seed)
    dev = None
    if cfg.dev_file:
        dev = read_corpus(cfg.dev_file, cfg.text_column, cfg.label_column, require_labels=True,
                          drop_bad_rows=cfg.drop_bad_rows)
        if cfg.eval_rows is not None:
            dev.texts, dev.labels = dev.texts[: cfg.eval_rows], dev.labels[: cfg.eval_rows]
        encode_labels(dev.labels, names, dev.source)
    fingerprint = {"train": train.fingerprint(), "dev": dev.fingerprint() if dev else None,
                   "labels_per_class": cfg.labels_per_class,
                   "labelled_rows_used": sum(1 for y in labels if y != UNLABELLED)}
    return TrainingData(train, dev, list(names), labels, examples, fingerprint)


def make_loader(ids: list[list[int]], labels: list[int], cfg: TrainConfig, pad: int):
    """(dataset, sampler, loader) of the training rows, labelled rows repeated to `cfg.labelled_share`."""
    ids, labels = repeat_labelled(ids, labels, cfg.labelled_share)
    dataset = TokenizedDataset(ids, labels)
    sampler = LengthGroupedBatches([len(x) for x in ids], cfg.batch_size, cfg.seed)
    # The loader gets its own generator: making an iterator must not draw from the global RNG,
    # or a resumed run would sample different z than an uninterrupted one.
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate(pad),
                                         generator=torch.Generator().manual_seed(cfg.seed))
    return dataset, sampler, loader
