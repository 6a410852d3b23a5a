"""``report --pdf``: the HTML report printed to PDF by headless Chromium.

Chromium lays the page out exactly as a browser shows it and applies the report's print
stylesheet (each chart and table kept on one page), which no pure-Python HTML-to-PDF library
does as faithfully. It is found as ``$LISTENING_CHROMIUM`` or ``chromium`` on the PATH; without
it the command says so in one sentence and the HTML report is still written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from bot.errors import BotError

PDF_TIMEOUT_SECONDS = 120
NO_CHROMIUM = (
    "A PDF needs the Chromium browser, which is not installed here "
    "(install it with `apt install chromium`, or open the HTML report and print it to PDF)."
)


def find_chromium() -> str | None:
    """The Chromium binary: ``$LISTENING_CHROMIUM``, else ``chromium`` on the PATH."""
    configured = os.environ.get("LISTENING_CHROMIUM")
    if configured:
        return shutil.which(configured) or (configured if Path(configured).is_file() else None)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html: str, target: Path) -> None:
    """Print ``html`` to ``target`` as an A4 PDF.

    Raises:
        BotError: no Chromium, or it failed or produced no PDF (the sentence says which).
    """
    binary = find_chromium()
    if binary is None:
        raise BotError(NO_CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="listening-pdf-") as scratch:
        page = Path(scratch) / "report.html"
        page.write_text(html, encoding="utf-8")
        out = Path(scratch) / "report.pdf"
        argv = [
            binary,
            "--headless",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-extensions",
            f"--user-data-dir={Path(scratch) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            _run_to_completion(argv)
        except OSError as exc:
            raise BotError(f"Chromium could not be started ({exc.strerror or exc}).") from None
        if not out.exists() or out.read_bytes()[:5] != b"%PDF-":
            raise BotError("Chromium did not produce a PDF; the HTML report was written.")
        try:
            shutil.copyfile(out, target)
        except OSError as exc:
            raise BotError(f"{target} cannot be written: {exc.strerror or exc}.") from None


def _run_to_completion(argv: list[str]) -> None:
    """Run Chromium in its own process group and stop the whole group if it hangs.

    Raises:
        BotError: it did not finish in time.
    """
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Chromium's helper processes go with it
    )
    try:
        process.wait(timeout=PDF_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise BotError(
            f"Chromium did not finish the PDF within {PDF_TIMEOUT_SECONDS} seconds."
        ) from None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)  # helpers left behind by a finished browser
