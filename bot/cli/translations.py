"""``listening-bot translations export|import``: a translator's round trip through a spreadsheet.

``export --lang pl --out pl.xlsx`` writes one row per participant-facing text: its id, the text
in the default language, the current translation and where it is used, plus the hash of the
default text (so a translation made against an older text can be told apart). ``import pl.xlsx``
checks every row (placeholders such as ``{group}`` kept, options of one question not made
identical), reports what is missing or stale, and writes the good rows to the translation file
beside the config (``campaign.pl.yaml``), which the config then uses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli._common import (
    ConfigOption,
    ForceOption,
    _settings,
    app,
    atomic_output,
    check_output_path,
    out,
)
from bot.config import DEFAULT_CONFIG_PATH
from bot.errors import BotError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.translations import StoredTranslation

translations_app = typer.Typer(
    help="Hand the campaign's texts to a translator and read the translation back.",
    no_args_is_help=True,
)
app.add_typer(translations_app, name="translations")

HEADER = ("id", "source", "translation", "context", "source_hash")
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
XLSX_MAGIC = b"PK\x03\x04"


def _config_path(config: Path | None) -> Path:
    return Path(config or os.environ.get("LISTENING_CONFIG") or DEFAULT_CONFIG_PATH)


@translations_app.command("export")
def export_translations(
    lang: Annotated[str, typer.Option("--lang", help="The language to translate into, e.g. pl.")],
    out_file: Annotated[
        Path, typer.Option("--out", dir_okay=False, help="The spreadsheet to write (.xlsx).")
    ],
    force: ForceOption = False,
    config: ConfigOption = None,
) -> None:
    """Write one row per text: id, default-language text, current translation, context."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from bot.localized import RTL_LANGUAGES
    from bot.translations import campaign_texts

    settings = _settings(config)
    if lang not in settings.languages[1:]:
        raise BotError(
            f"{lang!r} is not one of the config's languages to translate into "
            f"({', '.join(settings.languages[1:]) or 'none: add them under languages:'})."
        )
    if out_file.suffix.lower() != ".xlsx":
        raise BotError("The translation spreadsheet must be an .xlsx file.")
    target = check_output_path(
        out_file,
        settings=settings,
        config=config,
        force=force,
        ours=lambda head: head.startswith(XLSX_MAGIC),
    )
    texts = campaign_texts(settings)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = lang
    sheet.append([*HEADER[:1], settings.default_language, lang, *HEADER[3:]])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    rtl = Alignment(wrap_text=True, vertical="top", readingOrder=2, horizontal="right")
    for text in texts:
        current = text.text.translations.get(lang, "")
        sheet.append([text.id, str(text.text).strip(), current, text.context, text.source_hash])
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s"
            cell.alignment = wrap
        if lang in RTL_LANGUAGES:
            sheet.cell(row=sheet.max_row, column=3).alignment = rtl
    for column, width in zip("ABCDE", (34, 60, 60, 34, 14), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "C2"
    with atomic_output(target, binary=True) as handle:
        workbook.save(handle)
    missing = sum(1 for t in texts if not t.text.has(lang))
    out.print(
        f"Wrote {len(texts)} texts for {lang} to {target} ({missing} not yet translated).",
        markup=False,
    )


@translations_app.command("import")
def import_translations(
    sheet_file: Annotated[Path, typer.Argument(dir_okay=False, help="The filled-in spreadsheet.")],
    config: ConfigOption = None,
) -> None:
    """Check a filled-in spreadsheet and keep its translations beside the config."""
    from openpyxl import load_workbook

    from bot.translations import (
        StoredTranslation,
        campaign_texts,
        read_translation_file,
        translation_file,
        write_translation_file,
    )

    settings = _settings(config)
    try:
        workbook = load_workbook(sheet_file, read_only=True, data_only=True)
    except FileNotFoundError:
        raise BotError(f"There is no file {sheet_file}.") from None
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not xlsx
        raise BotError(f"{sheet_file} is not an .xlsx spreadsheet.") from None
    sheet = workbook.worksheets[0]
    rows = [
        tuple("" if v is None else str(v) for v in row) for row in sheet.iter_rows(values_only=True)
    ]
    if not rows or len(rows[0]) < 5 or rows[0][0] != "id":
        raise BotError(f"{sheet_file} is not a spreadsheet from `translations export`.")
    lang = rows[0][2]
    if lang not in settings.languages[1:]:
        raise BotError(f"The spreadsheet is for {lang!r}, which this config does not offer.")
    texts = {t.id: t for t in campaign_texts(settings)}
    path = translation_file(_config_path(config), lang)
    kept = read_translation_file(path)
    problems: list[str] = []
    missing: list[str] = []
    stale: list[str] = []
    unknown: list[str] = []
    for row in rows[1:]:
        text_id, _source, translated, _context, source_hash = (row + ("",) * 5)[:5]
        if not text_id:
            continue
        text = texts.get(text_id)
        if text is None:
            unknown.append(text_id)
            continue
        translated = translated.strip()
        if not translated:
            missing.append(text_id)
            continue
        wanted = set(_PLACEHOLDER.findall(str(text.text)))
        if set(_PLACEHOLDER.findall(translated)) != wanted:
            problems.append(
                f"{text_id}: keep the placeholders {', '.join(sorted(wanted)) or '(none)'} "
                "exactly as they are"
            )
            continue
        if source_hash and source_hash != text.source_hash:
            stale.append(text_id)
        kept[text_id] = StoredTranslation(translated, source_hash or text.source_hash)
    problems += _option_clashes(settings, kept, lang)
    if problems:
        for problem in problems:
            out.print(f"  {problem}", markup=False)
        raise BotError(f"{len(problems)} row(s) of {sheet_file} need fixing; nothing was imported.")
    write_translation_file(path, lang, kept, _config_path(config))
    out.print(
        f"Imported {lang}: {len(kept)} texts kept in {path}; {len(missing)} missing, "
        f"{len(stale)} stale (the {settings.default_language} text changed since the "
        f"spreadsheet was made), {len(unknown)} unknown id(s).",
        markup=False,
    )
    for label, ids in (("missing", missing), ("stale", stale), ("unknown", unknown)):
        for text_id in ids:
            out.print(f"  {label}: {text_id}", markup=False)


def _option_clashes(
    settings: Settings, kept: Mapping[str, StoredTranslation], lang: str
) -> list[str]:
    """Two options of one question translated the same would make answers ambiguous."""
    clashes = []
    for flow in settings.flows:
        for step in flow.steps:
            seen: dict[str, str] = {}
            for m, option in enumerate(step.options, start=1):
                text_id = f"flow.{flow.id}.step.{step.id}.option.{m}"
                entry = kept.get(text_id)
                word = (entry.text if entry else option.translations.get(lang, "")).strip().lower()
                if word and word in seen:
                    clashes.append(
                        f"{text_id}: the same {lang} text as {seen[word]}; options must differ"
                    )
                elif word:
                    seen[word] = text_id
    return clashes
