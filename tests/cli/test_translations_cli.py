"""The translator's round trip: export a spreadsheet, fill it in, import it, find stale texts."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from bot.config import load_settings
from tests.conftest import write_config
from tests.multilingual import cli, multilingual_data


def _sheet_rows(path: Path) -> list[list[str]]:
    sheet = load_workbook(path).active
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def test_export_fill_in_import_and_a_changed_english_text_is_stale(
    tmp_path: Path, sqlite_url: str
) -> None:
    data = multilingual_data()
    options = data["flows"][3]["steps"][4]["options"]
    options[3] = "Once"  # not translated yet
    config = write_config(tmp_path, data)

    sheet_path = tmp_path / "pl.xlsx"
    exported = cli(
        "translations",
        "export",
        "--lang",
        "pl",
        "--out",
        str(sheet_path),
        db=sqlite_url,
        config=config,
    )
    assert exported.returncode == 0, exported.stderr
    assert "1 not yet translated" in exported.stdout
    rows = _sheet_rows(sheet_path)
    assert rows[0] == ["id", "en", "pl", "context", "source_hash"]
    by_id = {row[0]: row for row in rows[1:]}
    once = by_id["flow.force-field.step.how-often.option.4"]
    assert once[1:3] == ["Once", ""] and "How often?" in once[3]
    assert by_id["group.parents.label"][1:3] == ["Parents and carers", "Rodzice i opiekunowie"]

    # The translator fills in the gap and revises a probe.
    workbook = load_workbook(sheet_path)
    sheet = workbook.active
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "flow.force-field.step.how-often.option.4":
            row[2].value = "Jeden raz"
        if row[0].value == "flow.challenge-1.probe.1":
            row[2].value = "Czy możesz podać przykład z Twojego doświadczenia?"
    workbook.save(sheet_path)
    # Meanwhile the organiser rewords that probe in English.
    data["flows"][1]["probes"][0]["en"] = "Could you share an example from your own experience?"
    write_config(tmp_path, data)

    imported = cli("translations", "import", str(sheet_path), db=sqlite_url, config=config)
    assert imported.returncode == 0, imported.stderr
    assert "0 missing, 1 stale" in imported.stdout
    assert "stale: flow.challenge-1.probe.1" in imported.stdout
    assert (tmp_path / "campaign.pl.yaml").is_file()

    settings = load_settings(config, environ={})
    step = settings.flow_by_id["force-field"].steps[4]
    assert step.options[3] == "Once" and step.options[3].get("pl") == "Jeden raz"
    assert settings.stale_translations == {"pl": ["flow.challenge-1.probe.1"]}
    checked = cli("check", db=sqlite_url, config=config)
    assert "pl: flow.challenge-1.probe.1 is stale" in checked.stdout
    assert "pl: every text is translated" in checked.stdout


def test_import_refuses_a_lost_placeholder_and_options_made_identical(
    tmp_path: Path, sqlite_url: str
) -> None:
    data = multilingual_data()
    data["campaigns"][0]["title"] = {"en": "Leeds {year}", "pl": "Leeds {year}", "ar": "{year}"}
    config = write_config(tmp_path, data)
    sheet_path = tmp_path / "pl.xlsx"
    cli(
        "translations",
        "export",
        "--lang",
        "pl",
        "--out",
        str(sheet_path),
        db=sqlite_url,
        config=config,
    )
    workbook = load_workbook(sheet_path)
    for row in workbook.active.iter_rows(min_row=2):
        if row[0].value == "campaign.leeds-2026.title":
            row[2].value = "Leeds rok"
        if row[0].value == "flow.force-field.step.how-often.option.2":
            row[2].value = "Co tydzień"  # the same as option 1
    workbook.save(sheet_path)
    result = cli("translations", "import", str(sheet_path), db=sqlite_url, config=config)
    assert result.returncode == 1
    assert "campaign.leeds-2026.title: keep the placeholders {year}" in result.stdout
    assert "option.2: the same pl text as flow.force-field.step.how-often.option.1" in (
        result.stdout
    )
    assert "nothing was imported" in result.stderr
    assert not (tmp_path / "campaign.pl.yaml").exists()
    wrong = cli(
        "translations",
        "export",
        "--lang",
        "de",
        "--out",
        str(sheet_path),
        db=sqlite_url,
        config=config,
    )
    assert wrong.returncode == 1 and "'de' is not one of the config's languages" in wrong.stderr
