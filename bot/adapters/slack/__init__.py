"""The Slack adapter: channel prompts answered in threads, and direct-message conversations."""

from bot.adapters.slack._adapter import COMMAND, SlackAdapter, format_status
from bot.adapters.slack._outbox import SlackOutbox

__all__ = ["COMMAND", "SlackAdapter", "SlackOutbox", "format_status"]
