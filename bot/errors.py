"""One error hierarchy for the whole bot; every exception carries the data that explains it."""

from __future__ import annotations


class BotError(Exception):
    """Root of every error the bot raises on purpose.

    The CLI turns a ``BotError`` into one clear sentence and exit code 1, never a traceback.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(message={self.message!r})"


class ConfigError(BotError):
    """The campaign file cannot be used; ``problems`` lists each bad field with its path."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])

    def __repr__(self) -> str:
        return f"ConfigError(message={self.message!r}, problems={self.problems!r})"


class FlowError(BotError):
    """A flow definition or transition makes no sense (a bug in config or engine use)."""


class StorageError(BotError):
    """The database refused or lost something we asked of it."""


class ImportRefused(BotError):
    """An offline-comments file was refused whole; nothing from it was stored."""


class AnalysisError(BotError):
    """Theme analysis cannot run on this input (too few responses, a bad codebook)."""


class AdapterError(BotError):
    """A chat platform refused a call; ``retry_after`` is set when it asked us to wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"AdapterError(message={self.message!r}, retry_after={self.retry_after!r})"
