"""Test doubles of the platforms the bot talks to."""
