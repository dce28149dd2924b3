"""newsroom-bot: typo-tolerant search over a newsroom's article archive, and a daily digest."""

__version__ = "0.1.0"
