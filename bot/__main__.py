"""``python -m bot`` is the ``newsbot`` command."""

from bot.cli import main

raise SystemExit(main())
