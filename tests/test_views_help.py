"""The help message, from the registered entries."""

from __future__ import annotations

from blockkit import all_text, assert_valid

from bot.slack.views.help import HelpEntry, help_view


def test_help_lists_every_entry():
    entries = [HelpEntry(f"/news cmd{i}", f"does {i} <&>", f"/news cmd{i} x") for i in range(3)]
    msg = help_view(entries)
    assert_valid(msg)
    text = all_text(msg)
    for e in entries:
        assert f"`{e.usage}`" in text
    assert "does 1 &lt;&amp;&gt;" in text
