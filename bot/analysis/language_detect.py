"""Which language a free-text answer is written in, offline (py3langid, a 4.5 MB model).

Only the config's languages are candidates, and a guess below ``MIN_CONFIDENCE`` (a word or
two, "ok", a number) is ``None``: undetermined is more honest than a wrong label. The model is
loaded once per process (about a second).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

MIN_CONFIDENCE = 0.9
MIN_LETTERS = 3


@lru_cache(maxsize=8)
def _identifier(candidates: tuple[str, ...]) -> Any | None:
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:  # the detector is optional: without it nothing is labelled
        return None
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    known = set(identifier.nb_classes)
    usable = [lang for lang in candidates if lang in known]
    if len(usable) < 2:
        return None  # one language (or none the model knows): nothing to tell apart
    identifier.set_languages(usable)
    return identifier


def available() -> bool:
    try:
        import py3langid  # noqa: F401
    except ImportError:
        return False
    return True


def detect(texts: Iterable[str], candidates: Sequence[str]) -> list[str | None]:
    """The language of each text among ``candidates``, or None when it cannot be told."""
    identifier = _identifier(tuple(candidates))
    found: list[str | None] = []
    for text in texts:
        letters = sum(ch.isalpha() for ch in text)
        if identifier is None or letters < MIN_LETTERS:
            found.append(None)
            continue
        lang, confidence = identifier.classify(text)
        found.append(str(lang) if confidence >= MIN_CONFIDENCE else None)
    return found
