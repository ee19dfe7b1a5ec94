"""Character-level language modelling on a downloaded UTF-8 text corpus.

The corpus's checksum is pinned in the configuration; its vocabulary is the
sorted set of its characters; the first ``1 - val_fraction`` of the character
stream is the training split and the rest the test (validation) split; each
split is cut into non-overlapping windows of ``sequence_length + 1``
characters. Inputs are one-hot (T, V), targets the next-character indices
(T,), read out at every step with cross-entropy loss; accuracy is the fraction
of right next-character predictions (argmax) over all positions.

Options: ``url`` (required), ``mirrors`` (``[]``, further URLs of the same
file), ``sha256`` (required), ``sequence_length`` (100), ``val_fraction``
(0.1), ``max_characters`` (``None``: keep only the first n characters of the
corpus).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from lyapunov_rnn.download import download_file
from lyapunov_rnn.tasks.base import REQUIRED, BuiltTask, Task, TaskFileError, TaskShape, classification_accuracy

if TYPE_CHECKING:
    import torch

__all__ = ["KNOWN_CORPORA", "CharacterLM"]

#: Size of corpora by sha256, so that :meth:`CharacterLM.shape` needs no
#: download: karpathy/char-rnn ``data/tinyshakespeare/input.txt`` (the corpus
#: of ``experiments/charlm.yaml``), 1,115,394 ASCII characters of which 65 are
#: distinct; War and Peace as shipped by shlizee/LyapunovAutoEncode
#: (``CharRNN/data/input.txt``, the corpus of ``experiments/paper-charlm.yaml``),
#: 3,202,303 characters of which 82 are distinct.
KNOWN_CORPORA: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed": MappingProxyType(
            {"characters": 1_115_394, "vocabulary": 65}
        ),
        "eaecfcb30408e2bc35ffe69b297127e3a6ca75548c033df4d2e703b5ff711f8d": MappingProxyType(
            {"characters": 3_202_303, "vocabulary": 82}
        ),
    }
)


def _windows(stream: np.ndarray, length: int, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``stream`` into non-overlapping windows of ``length + 1``: (inputs, next-char targets)."""
    count = len(stream) // (length + 1)
    if count == 0:
        raise ValueError(
            f"task 'charlm': the {part} split has {len(stream)} characters, fewer than one window of "
            f"sequence_length + 1 = {length + 1}; lower 'sequence_length' or change 'val_fraction'"
        )
    windows = stream[: count * (length + 1)].reshape(count, length + 1)
    return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])


def _corpus_file_name(url: str) -> str:
    return Path(url.split("?")[0].rstrip("/")).name or "corpus.txt"


class CharacterLM(Task):
    """Character-level language model (see the module documentation for its options)."""

    name = "charlm"
    options = MappingProxyType(
        {
            "url": REQUIRED,
            "mirrors": (),
            "sha256": REQUIRED,
            "sequence_length": 100,
            "val_fraction": 0.1,
            "max_characters": None,
        }
    )
    readout = "every"
    loss = "cross_entropy"
    input_encoding = "one_hot"

    def check(self, cfg: dict[str, Any]) -> None:
        if not isinstance(cfg["url"], str) or not cfg["url"]:
            raise self.fail("url", f"must be a non-empty string, got {cfg['url']!r}")
        cfg["mirrors"] = self.string_list(cfg, "mirrors")
        cfg["sha256"] = self.hex_digest("sha256", cfg["sha256"], (64,))
        cfg["sequence_length"] = self.integer(cfg, "sequence_length", 1)
        cfg["val_fraction"] = self.fraction(cfg, "val_fraction")
        cfg["max_characters"] = self.integer(cfg, "max_characters", 2, optional=True)

    def raw_files(self, cfg: Mapping[str, Any]) -> list[str]:
        return [_corpus_file_name(cfg["url"])]

    def download(self, cfg: Mapping[str, Any], cache_dir: Path) -> None:
        self._corpus(cfg, cache_dir)

    def _corpus(self, cfg: Mapping[str, Any], cache_dir: Path) -> Path:
        url = cfg["url"]
        return download_file([url, *cfg["mirrors"]], cache_dir / _corpus_file_name(url), sha256=cfg["sha256"])

    def _train_characters(self, cfg: Mapping[str, Any], characters: int) -> int:
        return int(characters * (1 - cfg["val_fraction"]))

    def build(self, cfg: Mapping[str, Any], cache_dir: Path) -> BuiltTask:
        path = self._corpus(cfg, cache_dir)
        try:
            text = path.read_bytes().decode("utf-8")  # no newline translation
        except UnicodeDecodeError as error:
            raise TaskFileError(f"{path}: corpus is not UTF-8 text: {error}") from error
        text = text[: cfg["max_characters"]]
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        vocabulary_codes = np.unique(codes)  # sorted code points == sorted(set(text))
        stream = np.searchsorted(vocabulary_codes, codes).astype(np.int64)
        train_characters = self._train_characters(cfg, len(stream))
        arrays = {}
        for part, part_stream in (("train", stream[:train_characters]), ("test", stream[train_characters:])):
            arrays[f"{part}_inputs"], arrays[f"{part}_targets"] = _windows(part_stream, cfg["sequence_length"], part)
        metadata = {
            "source": cfg["url"],
            "sha256": cfg["sha256"],
            "vocabulary": [chr(code) for code in vocabulary_codes],
            "characters": len(stream),
            "train_characters": train_characters,
        }
        return BuiltTask(arrays, input_size=len(vocabulary_codes), output_size=len(vocabulary_codes), metadata=metadata)

    def shape(self, cfg: Mapping[str, Any], cache_dir: Path | None = None) -> TaskShape:
        """Shapes from the corpus if it is already in ``cache_dir``, else from :data:`KNOWN_CORPORA`.

        From :data:`KNOWN_CORPORA` with ``max_characters``, the vocabulary of
        the whole corpus is assumed (an upper bound).

        Raises
        ------
        ValueError
            For a corpus that is neither known nor downloaded.
        """
        cached = None if cache_dir is None else Path(cache_dir) / _corpus_file_name(cfg["url"])
        if cached is not None and cached.is_file():
            text = cached.read_bytes().decode("utf-8")[: cfg["max_characters"]]
            corpus = {"characters": len(text), "vocabulary": len(set(text))}
        elif cfg["sha256"] in KNOWN_CORPORA:
            corpus = KNOWN_CORPORA[cfg["sha256"]]
        else:
            raise ValueError(
                f"task 'charlm': unknown corpus (sha256 {cfg['sha256']}); download it first or add its size to "
                "KNOWN_CORPORA in lyapunov_rnn.tasks.charlm"
            )
        characters = min(corpus["characters"], cfg["max_characters"] or corpus["characters"])
        train_characters = self._train_characters(cfg, characters)
        window = cfg["sequence_length"] + 1
        train, test = train_characters // window, (characters - train_characters) // window
        vocabulary = corpus["vocabulary"]
        return self.task_shape(train, test, cfg["sequence_length"], vocabulary, vocabulary)

    def accuracy(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return classification_accuracy(self.name, outputs, targets)
