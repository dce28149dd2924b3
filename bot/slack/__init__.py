"""The Slack adapter: a thin Bolt app over the archive (search) and the digest.

Listeners turn Slack requests into core calls; ``views`` turns core results into Block Kit.
Nothing here searches or summarizes by itself.
"""
