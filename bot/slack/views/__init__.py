"""Every Block Kit message the bot sends, built from plain core data, one module per kind.

Views never call Slack and never search: they take results and return a ``Message`` (fallback
text plus blocks) that is always within Slack's limits. Article text and user queries are
escaped (``mrkdwn.escape``) before they are placed in any block.

- ``blocks``: Slack's limits, ``Message``, the small block builders and the size-keeping builder
- ``article``: how an article shows anywhere (headline, byline and date, position, excerpt)
- ``buttons``: the buttons' action ids and the values they carry (read back by the listeners)
- ``search``: search results, related passages, a passage shared to a channel
- ``digest``: the daily digest, its "See all" replies, the preview note, a story's passages
- ``follows``: the follow alert DM and the list of a user's follows
- ``home``: the App Home tab
- ``help``: the help message, built from the registered handlers
- ``sources``: what the archive holds
- ``notices``: one-line notices, the apology and "not in this channel"
"""
