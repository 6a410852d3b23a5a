"""The console adapter: one participant chatting in the terminal, or a script piping lines in."""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import IO

from bot.adapters.base import InboundSink
from bot.clock import Clock
from bot.events import Address, Inbound, Outbound
from bot.flows import messages as say
from bot.flows.catalogs import said


def render(message: Outbound) -> str:
    """Show a message as plain text, choices as numbered options; hints in its language."""
    lines = [message.text]
    values = [choice.value for choice in message.choices]
    if values == ["yes", "no"]:
        lines.append("  " + said(say.YES_NO_HINT, message.lang))  # "(tak / nie)" in Polish
    elif values and all(c.label == c.value for c in message.choices):
        lines.append(
            "  " + said(say.REPLY_WITH_ONE_OF, message.lang).format(values=", ".join(values))
        )
    elif message.choices:
        lines += [f"  {i}. {choice.label}" for i, choice in enumerate(message.choices, start=1)]
        if message.multi:
            lines.append("  " + said(say.TYPE_NUMBERS, message.lang))
    return "\n".join(lines)


class ConsoleAdapter:
    """Reads one line per message from standard input and prints the replies.

    When standard input is a terminal it says that this is a rehearsal and shows a prompt; when
    it is piped it stays quiet and returns at end of input, so scripts and tests drive it exactly
    like a person would.
    """

    name = "console"

    def __init__(
        self,
        clock: Clock,
        *,
        user_ref: str = "console-user",
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        language: str | None = None,
    ) -> None:
        self.clock = clock
        self.language = language
        self.user_ref = user_ref
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.address = Address("console", user_ref)
        self._stopping = asyncio.Event()

    async def start(self, sink: InboundSink) -> None:
        """Run the conversation until end of input (or :meth:`stop`)."""
        interactive = self.stdin.isatty()
        if interactive:
            self._print(
                "This is a rehearsal: what you type is kept apart from live results "
                "(`listening-bot reset --rehearsal` clears it).\n"
                "Type /start to begin, /help for commands, Ctrl-D to leave."
            )
        loop = asyncio.get_running_loop()
        first = True
        while not self._stopping.is_set():
            if interactive:
                self.stdout.write("you> ")
                self.stdout.flush()
            line = await loop.run_in_executor(None, self.stdin.readline)
            if line == "":
                break
            text = line.rstrip("\r\n")
            inbound = Inbound(
                platform="console",
                user_ref=self.user_ref,
                address=self.address,
                received_at=self.clock.now(),
                text=text,
                platform_msg_id=f"console:{uuid.uuid4().hex}",
                # said once per run, so /language can still change it during the rehearsal
                language=self.language if first else None,
            )
            first = False
            for reply in await sink(inbound):
                await self.send(self.address, reply)
        if interactive:
            self._print("Goodbye.")

    async def stop(self) -> None:
        self._stopping.set()

    async def send(self, to: Address, message: Outbound) -> str | None:
        self._print(render(message))
        return None

    def _print(self, text: str) -> None:
        prefix = "bot> " if self.stdin.isatty() else ""
        self.stdout.write(prefix + text + "\n\n")
        self.stdout.flush()
