"""Every participant-facing text of a config, with a stable id: what translators translate.

``campaign_texts`` lists them in config order; ``untranslated`` says, per language, which of the
required ones have no translation (``check`` prints it and ``run`` refuses a language with any).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.config import Settings
from bot.errors import ConfigError
from bot.localized import Localized


@dataclass(frozen=True, slots=True)
class CampaignText:
    """One text: ``id`` is stable across edits of other texts (built from config ids)."""

    id: str
    path: str
    text: Localized
    context: str

    @property
    def source_hash(self) -> str:
        """A short hash of the default-language text, so a translation can be found stale."""
        return source_hash(str(self.text))


def source_hash(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


def campaign_texts(settings: Settings) -> list[CampaignText]:
    """Every participant-facing text, in config order."""
    return list(_walk(settings))


def _walk(settings: Settings) -> Iterator[CampaignText]:
    for i, group in enumerate(settings.groups):
        yield CampaignText(
            f"group.{group.id}.label", f"groups[{i}].label", group.label, "a group people choose"
        )
    for i, campaign in enumerate(settings.campaigns):
        base, where = f"campaign.{campaign.id}", f"campaigns[{i}]"
        yield CampaignText(f"{base}.title", f"{where}.title", campaign.title, "campaign title")
        yield CampaignText(
            f"{base}.consent", f"{where}.consent", campaign.consent, "what people agree to first"
        )
    for i, flow in enumerate(settings.flows):
        base, where = f"flow.{flow.id}", f"flows[{i}]"
        for key in ("title", "intro", "opening", "closing"):
            value = getattr(flow, key)
            if value is not None:
                yield CampaignText(f"{base}.{key}", f"{where}.{key}", value, f"flow {key}")
        for j, probe in enumerate(flow.probes):
            yield CampaignText(
                f"{base}.probe.{j + 1}", f"{where}.probes[{j}]", probe, "follow-up question"
            )
        for k, step in enumerate(flow.steps):
            sbase, swhere = f"{base}.step.{step.id}", f"{where}.steps[{k}]"
            yield CampaignText(f"{sbase}.ask", f"{swhere}.ask", step.ask, f"{step.type} question")
            for m, option in enumerate(step.options):
                yield CampaignText(
                    f"{sbase}.option.{m + 1}",
                    f"{swhere}.options[{m}]",
                    option,
                    f"option {m + 1} of “{step.ask.strip()[:60]}”",
                )
            for point, label in step.labels.items():
                yield CampaignText(
                    f"{sbase}.label.{point}",
                    f"{swhere}.labels.{point}",
                    label,
                    f"scale point {point}",
                )


def untranslated(settings: Settings) -> dict[str, list[CampaignText]]:
    """For each non-default language, the texts with no translation in it."""
    texts = campaign_texts(settings)
    return {
        lang: [t for t in texts if str(t.text).strip() and not t.text.has(lang)]
        for lang in settings.languages[1:]
    }


def language_problem(settings: Settings, lang: str) -> str | None:
    """One sentence saying why ``lang`` cannot be offered, or None when it can."""
    if lang not in settings.languages:
        return (
            f"The language {lang!r} is not one of this config's languages "
            f"({', '.join(settings.languages)})."
        )
    missing = untranslated(settings).get(lang, [])
    if not missing:
        return None
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return (
        f"The campaign cannot start in {lang}: {missing[0].path}{more} "
        f"{'has' if len(missing) == 1 else 'have'} no {lang} translation "
        "(`listening-bot check` lists them)."
    )


# -- translation files: what `translations import` writes next to the config --------------------
@dataclass(frozen=True, slots=True)
class StoredTranslation:
    """A translator's text for one id, and the hash of the default text they translated."""

    text: str
    source_hash: str


def translation_file(config_path: Path, lang: str) -> Path:
    """``config/campaign.yaml`` -> ``config/campaign.pl.yaml`` (kept beside the config)."""
    return config_path.with_name(f"{config_path.stem}.{lang}{config_path.suffix or '.yaml'}")


def read_translation_file(path: Path) -> dict[str, StoredTranslation]:
    """The texts of a translation file (empty when there is none)."""
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    texts = data.get("texts") if isinstance(data, dict) else None
    if not isinstance(texts, dict):
        raise ConfigError(f"The translation file {path} has no 'texts' mapping.")
    found = {}
    for text_id, entry in texts.items():
        if isinstance(entry, dict) and isinstance(entry.get("text"), str):
            found[str(text_id)] = StoredTranslation(entry["text"], str(entry.get("source", "")))
    return found


def write_translation_file(
    path: Path, lang: str, entries: dict[str, StoredTranslation], source: Path
) -> None:
    header = (
        f"# {lang} translations of {source.name}, written by `listening-bot translations import`.\n"
        "# Each text keeps the hash of the default-language text it translates ('source'), so\n"
        "# `check` can say which became stale when that text changed. Edit via the spreadsheet.\n"
    )
    body = {
        "language": lang,
        "texts": {k: {"text": v.text, "source": v.source_hash} for k, v in entries.items()},
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=1000),
        encoding="utf-8",
    )
    tmp.replace(path)


def apply_translation_files(settings: Settings, config_path: Path) -> dict[str, list[str]]:
    """Add each language's translation file to the config's texts; returns stale ids per language.

    A text in the translation file wins over one written in the config itself (importing is the
    later, deliberate act). Stale: the default-language text changed since it was translated;
    the translation is still used (better than none) and ``check`` names it.
    """
    stale: dict[str, list[str]] = {}
    texts = campaign_texts(settings)
    for lang in settings.languages[1:]:
        stored = read_translation_file(translation_file(config_path, lang))
        if not stored:
            continue
        for text in texts:
            entry = stored.get(text.id)
            if entry is None or not entry.text.strip():
                continue
            text.text.translations[lang] = entry.text
            if entry.source_hash and entry.source_hash != text.source_hash:
                stale.setdefault(lang, []).append(text.id)
    return stale
