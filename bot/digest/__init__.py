"""The daily digest: what goes in it and how it is delivered, exactly once per channel and day.

- ``build``: new articles -> stories -> summaries, ranked (the content)
- ``stories``: grouping reports of one event into a story
- ``summarize``: extractive summaries of one article or a story's reports
- ``figures``: counted figures in reports, updates and disagreements between sources
- ``ledger``: the delivery ledger's rules (claim, lease, sent / failed) over the store
- ``delivery``: delivering one digest through the ledger; the errors a poster may raise
- ``desks``: which channels get the digest (DIGEST_CHANNEL and the desks), each desk's stories
"""
