"""Drive Debian's headless Chromium over the DevTools protocol (aiohttp's websocket client).

Just enough of the protocol for looking at a static page as a person would: set the window
size, load a file, evaluate JavaScript that measures the rendered page, take a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",  # the test set-up runs as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    """The Chromium binary: $LISTENING_CHROMIUM, else Debian's ``chromium`` on the PATH."""
    configured = os.environ.get("LISTENING_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """One browser tab reached through a flattened DevTools session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session_id: str) -> None:
        self._ws = ws
        self._session = session_id
        self._ids = itertools.count(1000)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message and message["id"] in self._waiting:
            self._waiting.pop(message["id"]).set_result(message)
        elif message.get("sessionId") == self._session:
            self._events.put_nowait(message)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        await self._ws.send_json(
            {"id": ident, "method": method, "params": params, "sessionId": self._session}
        )
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    async def wait_for(self, event: str, timeout: float = 30) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = await self._events.get()
                if message.get("method") == event:
                    return message.get("params", {})

    async def open(self, url: str, width: int, height: int, *, mobile: bool) -> None:
        """Load ``url`` in a window of ``width`` x ``height`` CSS pixels (a phone when mobile)."""
        await self.send("Page.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        await self.send("Page.navigate", url=url)
        await self.wait_for("Page.loadEventFired")

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = await self.send("Page.getLayoutMetrics")
            content = size["cssContentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": content["width"],
                "height": content["height"],
                "scale": 1,
            }
        data = await self.send("Page.captureScreenshot", **params)
        path.write_bytes(base64.b64decode(data["data"]))
        return path


@contextlib.asynccontextmanager
async def browser(binary: str, profile: Path) -> AsyncIterator[Page]:
    """Start Chromium, open one tab, and stop the browser (and only it) afterwards."""
    process = await asyncio.create_subprocess_exec(
        binary,
        *FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # so the wrapper script and its children stop together
    )
    reader: asyncio.Task[None] | None = None
    drain: asyncio.Task[None] | None = None
    try:
        url = await _devtools_url(process)
        assert process.stderr is not None
        # Keep reading stderr so Chromium never blocks on a full pipe.
        drain = asyncio.create_task(_drain(process.stderr))
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(url, max_msg_size=0) as ws,
        ):
            ident = itertools.count(1)
            target = await _browser_call(ws, next(ident), "Target.createTarget", url="about:blank")
            attached = await _browser_call(
                ws, next(ident), "Target.attachToTarget", targetId=target["targetId"], flatten=True
            )
            page = Page(ws, attached["sessionId"])

            async def pump() -> None:
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        page.dispatch(json.loads(message.data))

            reader = asyncio.create_task(pump())
            yield page
    finally:
        for task in (reader, drain):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def _devtools_url(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    seen: list[str] = []
    async with asyncio.timeout(30):
        while True:
            line = await process.stderr.readline()
            if not line:
                raise RuntimeError("Chromium exited before DevTools started: " + " ".join(seen))
            text = line.decode(errors="replace").strip()
            seen.append(text)
            match = re.search(r"DevTools listening on (ws://\S+)", text)
            if match:
                return match.group(1)


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def _browser_call(
    ws: aiohttp.ClientWebSocketResponse, ident: int, method: str, **params: Any
) -> dict[str, Any]:
    await ws.send_json({"id": ident, "method": method, "params": params})
    async with asyncio.timeout(30):
        while True:
            message = json.loads((await ws.receive()).data)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                return message["result"]
