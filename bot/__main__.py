"""``python -m bot``: the same as the ``listening-bot`` command."""

from bot.cli import main

if __name__ == "__main__":
    main()
