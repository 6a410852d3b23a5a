"""A participant-facing text with translations: ``"Hello"`` or ``{en: Hello, pl: Cześć}``.

``Localized`` *is* the text in the campaign's default language (a ``str``), so everything that
only needs that one text (the report, ``check``, exports, stored option values) uses it as it
always did; ``.get(lang)`` picks a translation and falls back to the default text. Options keep
their default-language text as the stored value, so answers in every language count together.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic_core import core_schema

DEFAULT_LANGUAGE = "en"
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

# The default language of the config being validated; set by ``Settings`` around validation so
# a mapping text knows which of its entries is the default one.
_default_language: ContextVar[str] = ContextVar("default_language", default=DEFAULT_LANGUAGE)

# Languages written right to left: their text needs dir="rtl" (or "auto") wherever it is shown.
RTL_LANGUAGES = frozenset({"ar", "ur", "fa", "he", "ps", "ku", "sd", "yi", "dv"})

# How a language names itself, for the language question (unknown codes show as the code).
NATIVE_NAMES = {
    "en": "English",
    "pl": "Polski",
    "ur": "اردو",
    "ar": "العربية",
    "ro": "Română",
    "pa": "ਪੰਜਾਬੀ",
    "bn": "বাংলা",
    "ku": "Kurdî",
    "fa": "فارسی",
    "so": "Soomaali",
    "cs": "Čeština",
    "sk": "Slovenčina",
    "fr": "Français",
    "es": "Español",
    "pt": "Português",
    "uk": "Українська",
    "ti": "ትግርኛ",
    "zh": "中文",
}


def is_language_code(code: str) -> bool:
    return bool(_LANGUAGE_CODE.match(code))


def native_name(code: str) -> str:
    return NATIVE_NAMES.get(code, code)


def platform_language(reported: str | None, offered: tuple[str, ...] | list[str]) -> str | None:
    """The offered language a platform's locale names (``pl``, ``pl-PL``, ``pl_PL``), or None."""
    if not reported:
        return None
    code = reported.strip().replace("_", "-").lower()
    if code in offered:
        return code
    base = code.split("-", 1)[0]
    return base if base in offered else None


@contextmanager
def default_language(code: str) -> Iterator[None]:
    """Within this block, a mapping text's default entry is ``code``."""
    token = _default_language.set(code)
    try:
        yield
    finally:
        _default_language.reset(token)


class Localized(str):
    """A text in the default language, with its translations (``.get(lang)``)."""

    __slots__ = ("default", "translations")
    default: str
    translations: dict[str, str]

    def __new__(
        cls, text: str, translations: Mapping[str, str] | None = None, default: str | None = None
    ) -> Localized:
        self = super().__new__(cls, text)
        self.default = default or _default_language.get()
        self.translations = {
            lang: value for lang, value in (translations or {}).items() if lang != self.default
        }
        return self

    def get(self, lang: str | None) -> str:
        """The text in ``lang``, or the default text when it has no translation."""
        if lang is None or lang == self.default:
            return str(self)
        return self.translations.get(lang) or str(self)

    def has(self, lang: str) -> bool:
        """True when the text is written in ``lang`` (the default always is)."""
        return lang == self.default or bool(self.translations.get(lang, "").strip())

    def as_mapping(self) -> dict[str, str]:
        return {self.default: str(self), **self.translations}

    def __reduce__(self) -> Any:
        return (Localized, (str(self), self.translations, self.default))

    @classmethod
    def parse(cls, value: Any) -> Localized:
        """A plain string (the default language) or a mapping ``{language: text}``."""
        if isinstance(value, Localized):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            default = _default_language.get()
            texts: dict[str, str] = {}
            for lang, text in value.items():
                if not isinstance(lang, str) or not is_language_code(lang):
                    raise ValueError(f"{lang!r} is not a language code such as en or pl")
                if text is None:
                    continue  # an empty translation cell: untranslated, reported by check
                if not isinstance(text, str | int | float):
                    raise ValueError(f"the {lang} text must be a string")
                texts[lang] = str(text)
            if default not in texts:
                raise ValueError(
                    f"has no text in the default language {default!r} "
                    f"(it has: {', '.join(texts) or 'none'})"
                )
            return cls(texts[default], texts, default)
        raise ValueError(
            "must be a text, or a mapping of language to text such as {en: ..., pl: ...}"
        )

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: v.as_mapping() if v.translations else str(v)
            ),
        )
