"""Secrets never reach the logs, even from libraries that log whole request URLs."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from bot.config import load_settings
from bot.logs import MASK, SecretMasker, configure
from tests.conftest import EXAMPLE_CONFIG, example_data, write_config

TOKEN = "123456:SECRET-token-value"


def test_masker_hides_secrets_in_messages_arguments_and_tracebacks(caplog):
    masker = SecretMasker([TOKEN, None, "abc"])  # too-short values are not masked (noise)
    logger = logging.getLogger("test.masker")
    logger.addFilter(masker)
    try:
        with caplog.at_level(logging.INFO, logger="test.masker"):
            logger.info("POST https://api.telegram.org/bot%s/getMe", TOKEN)
            try:
                raise RuntimeError(f"bad {TOKEN}")
            except RuntimeError:
                logger.exception("failed")
    finally:
        logger.removeFilter(masker)
    text = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert TOKEN not in text and MASK in text


def test_configure_masks_every_config_secret():
    settings = load_settings(
        EXAMPLE_CONFIG,
        environ={
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "SLACK_BOT_TOKEN": "xoxb-secret-slack",
            "LISTENING_DATABASE_URL": "postgresql://bot:pa55word-x@db/listening",
        },
    )
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        masker = configure(settings, verbose=True)
        assert masker.mask(f"{TOKEN} xoxb-secret-slack pa55word-x") == f"{MASK} {MASK} {MASK}"
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        root.handlers[:], root.level = saved


def test_a_verbose_run_that_cannot_reach_telegram_logs_no_token(tmp_path):
    data = example_data()
    data["telegram"]["base_url"] = "http://127.0.0.1:9/bot"  # nothing listens there
    config = write_config(tmp_path, data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, LISTENING_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "-v", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    # Wait (bounded) until the run has logged its failing connection, however slow the machine.
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not any("127.0.0.1" in line or "telegram" in line.lower() for line in lines):
        if time.monotonic() > deadline or process.poll() is not None:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    reader.join(timeout=10)
    err = "".join(lines)
    assert err.strip(), "the verbose run should have logged something"
    assert TOKEN not in out + err
    assert "SECRET" not in out + err


def test_json_logs_are_one_object_per_line_with_campaign_and_flow(capsys):
    """``LISTENING_LOG_FORMAT=json``: one JSON object a line, context fields as keys, masked."""
    import json

    from bot.logs import JsonFormatter, SecretMasker

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(SecretMasker([TOKEN]))
    logger = logging.getLogger("test.jsonlogs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "outbox send %s failed: %s",
            7,
            f"token {TOKEN}\nsecond line",
            extra={"campaign": "leeds-2026", "flow": "pulse", "pseudonym": "P-0a1b2c3d4e"},
        )
    finally:
        logger.removeHandler(handler)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["level"] == "WARNING" and event["campaign"] == "leeds-2026"
    assert event["flow"] == "pulse" and event["pseudonym"] == "P-0a1b2c3d4e"
    assert TOKEN not in lines[0] and MASK in event["message"]


def test_an_unknown_log_format_is_one_sentence():
    from bot.errors import ConfigError
    from bot.logs import make_formatter

    with pytest.raises(ConfigError, match="LISTENING_LOG_FORMAT must be"):
        make_formatter("xml")
