"""Time-driven sending: the schedule plan, the outbox and its sender, channel prompts, scheduler."""
