"""The summarizer: sentence boundaries, fragments never picked, story summaries without repeats."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import summary_bench
from bot.digest.summarize import (
    DEFAULT_WEIGHTS,
    QUALIFIED,
    Weights,
    blind_lede,
    candidates,
    centrality,
    is_fragment,
    score_sentences,
    similarity,
    split_sentences,
    summarize,
    summarize_story,
    word_count,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The U.S. Senate voted on Tuesday. Mr. Smith was absent.",
            ["The U.S. Senate voted on Tuesday.", "Mr. Smith was absent."],
        ),
        (
            "Troops went home to the U.S. The war was over.",
            ["Troops went home to the U.S.", "The war was over."],
        ),
        (
            "Dr. Jane Doe met George W. Bush in 2004. It lasted 3.5 hours.",
            ["Dr. Jane Doe met George W. Bush in 2004.", "It lasted 3.5 hours."],
        ),
        (
            'He said, "We will stay." Next came the vote.',
            ['He said, "We will stay."', "Next came the vote."],
        ),
        ('"Why now?" he asked. Nobody knew.', ['"Why now?" he asked.', "Nobody knew."]),
        ("Stop! Think about it? Yes.", ["Stop!", "Think about it?", "Yes."]),
        ("It went on... And then it stopped.", ["It went on...", "And then it stopped."]),
        ("Prices rose by 2.5% at 9 a.m. on Monday.", ["Prices rose by 2.5% at 9 a.m. on Monday."]),
        (
            "J. K. Rowling wrote it. She was in Edinburgh.",
            ["J. K. Rowling wrote it.", "She was in Edinburgh."],
        ),
        (
            "Line one ends here\nLine two starts here.",
            ["Line one ends here", "Line two starts here."],
        ),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    "fragment",
    [
        "By .",
        "Associated Press .",
        "PUBLISHED: .",
        "14:11 EST, 25 October 2013 .",
        "Last updated at 1:25 AM on 3rd August 2011 .",
        "editor: REMIX NEWS",
        "tend: 1695477876.6577",
        "By Jane Reporter and John Writer",
        "FILE - Soldiers leave their base in Gao, Mali, June 9, 2021. (AP Photo/Jane Doe, File)",
        "The mayor (pictured) opened the new bridge over the river on Sunday.",
        "Grand opening: The mayor cuts the ribbon on the new bridge with her family .",
        "The mayor, left, and her deputy, right, at the opening ceremony on Sunday .",
        "Too short to say.",
    ],
)
def test_fragments(fragment: str) -> None:
    assert is_fragment(fragment)


@pytest.mark.parametrize(
    "sentence",
    [
        "The mayor opened the new bridge over the river on Sunday.",
        "Critics said the bridge had cost twice what was promised to voters.",
        'The minister said: "We will not back down on this."',
    ],
)
def test_sentences_are_not_fragments(sentence: str) -> None:
    assert not is_fragment(sentence)


def _bridge_article() -> list[str]:
    return [
        "By . Local Reporter . PUBLISHED: . 10:02 EST, 3 May 2021 . | . UPDATED: . "
        "11:40 EST, 3 May 2021 . The city of Northbay opened its new river bridge on Sunday "
        "after four years of building work and two years of delays.",
        "Ribbon cutting: Mayor Ana Ruiz opens the Northbay river bridge with her family . "
        "The bridge cost 40 million dollars, twice the amount the council first promised. "
        "Mayor Ana Ruiz (pictured) said the river bridge would cut commuting times in half.",
        "Critics on the council said the bridge budget had been hidden from voters for years. "
        "The builders blamed the delays on floods that hit the river valley in 2019. "
        "Traffic on the old bridge was closed for the day so that residents could walk across.",
    ]


def test_summary_has_no_bylines_or_captions_and_keeps_article_order() -> None:
    paragraphs = _bridge_article()
    summary = summarize(paragraphs, 3)
    assert len(summary) == 3
    for sentence in summary:
        assert not is_fragment(sentence)
        assert "PUBLISHED" not in sentence and "EST" not in sentence
        assert "(pictured)" not in sentence and "Ribbon cutting" not in sentence
    text = " ".join(paragraphs)
    positions = [text.find(s) for s in summary]
    assert all(p >= 0 for p in positions), "extractive: every sentence comes from the article"
    assert positions == sorted(positions)
    assert summary[0].startswith("The city of Northbay opened its new river bridge")


def test_summary_sizes() -> None:
    paragraphs = _bridge_article()
    assert summarize(paragraphs, 0) == []
    assert len(summarize(paragraphs, 2)) == 2
    assert summarize([], 3) == []
    assert summarize(["By .", "Associated Press ."], 3) == []


def test_seed_summary_has_no_metadata_or_caption() -> None:
    from bot.articles import parse_article

    article = parse_article(SEEDS / "003_89b01d93bc535f51.txt")
    summary = summarize(article.paragraphs, 3, title=article.title)
    assert len(summary) == 3
    for sentence in summary:
        assert "AP Photo" not in sentence and "editor:" not in sentence
        assert "tend:" not in sentence and "REMIX NEWS" not in sentence


def _short_bridge_story() -> list[str]:
    """About 110 words: a scene-setting opening, then the news."""
    return [
        "The Northbay council met on Monday evening in the old town hall.",
        "About fifty residents came to listen, and some of them brought their children.",
        "The council approved a new river bridge that will cost 40 million dollars to build.",
        "The new river bridge will link the two halves of Northbay for the first time since 1950.",
        "Traffic on the river will be closed for three weeks while the bridge is built.",
        "Engineers said the bridge would carry 20,000 cars a day across the river.",
        "Shops on both sides of the river said the new bridge would bring them more customers.",
        "Work on the bridge starts in May, and the bridge should open to cars next summer.",
    ]


def _long_bridge_story() -> list[str]:
    """About 620 words of varied news prose: a lede, then the details, quotes and history."""
    return [
        "Northbay will build a new bridge over the river after the town council approved the "
        "40 million dollar plan on Monday by seven votes to four.",
        "The bridge will link the old harbour to the new housing estates on the east bank of the "
        "river. Until now, people on the east bank have had to drive twenty miles to the nearest "
        "crossing, or take a small ferry that stops running in winter.",
        "Mayor Ana Ruiz said the vote was the most important decision the council had made in a "
        'generation. "People have waited fifty years for this bridge," she told reporters '
        'outside the town hall. "Tonight the council finally listened to them."',
        "Four council members voted against the plan. They said the cost of the bridge had "
        "doubled since the first estimate and that the council had not explained how it would "
        "pay for it. Councillor Tom Hale said the town would be paying for the bridge for thirty "
        "years. He wanted a cheaper ferry service instead.",
        "The council will borrow most of the money and hopes to cover the rest with a grant from "
        "the regional government. A toll on the bridge was ruled out last year after a petition "
        "signed by six thousand residents.",
        "Engineers expect the bridge to carry about twenty thousand cars a day once it opens. The "
        "design has two lanes for cars, a cycle path and a wide walkway on the south side.",
        "Work will start in May. The river will be closed to boats for three weeks in the summer "
        "while the main span is lifted into place. Fishermen who use the harbour said they had "
        "not been told how long the closures would last.",
        "Shop owners on the east bank welcomed the decision. Maria Lopez, who runs a bakery near "
        "the ferry landing, said most of her customers lived on the other side of the river. "
        '"The bridge means they can come here in five minutes instead of an hour," she said.',
        "Environmental groups have asked the council to protect a colony of herons that nests "
        "in the trees near the planned site. The council said a study of the nesting area would "
        "be finished before any trees were cut down.",
        "Northbay first discussed a bridge in 1972, when the ferry was closed for a month after "
        "a storm. Plans drawn up in 1990 and in 2004 were dropped because the river bank was "
        "thought to be too soft to hold the weight of the bridge.",
        "New tests carried out last year found that the bank could hold a bridge if its "
        "supports were driven deeper into the rock below the river bed.",
        "The bridge is expected to open to traffic in the autumn of next year, if the weather "
        "allows the work to keep to its timetable.",
        "The ferry company, which has carried passengers across the river since 1931, said it "
        "would keep its boats running until the bridge opens. Its owner said he expected to "
        "sell the two ferries to a museum once the last crossing had been made.",
        "Teachers at the secondary school on the west bank said the bridge would make the "
        "journey to school easier for the hundreds of pupils who live on the east bank and now "
        "leave home before seven in the morning to catch the first ferry.",
        "Local historians have asked for a plaque on the bridge to remember the ferry crews, and "
        "the council said it would consider the request when the design is finished.",
        "A public meeting about the building work will be held in the town hall next month, "
        "where residents can see the final drawings and put questions to the engineers.",
    ]


def test_lead_bias_grows_with_article_length() -> None:
    share = DEFAULT_WEIGHTS.share
    lengths = [0, 100, 200, 300, 500, 1000, 5000]
    shares = [share(w) for w in lengths]
    assert shares == sorted(shares) and shares[0] < shares[-1]
    assert share(int(DEFAULT_WEIGHTS.length_pivot)) == pytest.approx(
        DEFAULT_WEIGHTS.central_share / 2
    )
    assert 0.0 <= shares[0] < 0.1 and shares[-1] == pytest.approx(DEFAULT_WEIGHTS.central_share)
    assert Weights(central_share=0.3).share(10**6) == pytest.approx(0.3)

    short, long = candidates(_short_bridge_story()), candidates(_long_bridge_story())
    pivot = DEFAULT_WEIGHTS.length_pivot
    assert sum(word_count(s.text) for s in short) < pivot / 1.5
    assert sum(word_count(s.text) for s in long) > pivot * 2
    qualified = [sum(x >= QUALIFIED for x in score_sentences(c, 3)) for c in (short, long)]
    assert qualified[0] == 3, "a short article: only its three most central sentences qualify"
    assert qualified[1] > len(long) / 3, "a long article: position decides among many"


def test_short_article_summary_is_its_most_central_sentences() -> None:
    paragraphs = _short_bridge_story()
    sentences = candidates(paragraphs)
    central = centrality(sentences)
    most_central = sorted(range(len(sentences)), key=lambda i: -central[i])[:3]
    summary = summarize(paragraphs, 3)
    assert summary == [sentences[i].text for i in sorted(most_central)]
    assert not any(s.startswith(("The Northbay council met", "About fifty")) for s in summary)


def test_repeated_sentences_do_not_shorten_the_summary() -> None:
    paragraphs = _short_bridge_story()
    paragraphs.insert(4, paragraphs[2])  # a pull quote repeats the most central sentence
    summary = summarize(paragraphs, 3)
    assert len(summary) == 3
    assert len({s.lower() for s in summary}) == 3
    for i, first in enumerate(summary):
        for second in summary[i + 1 :]:
            assert similarity(first, second) < 0.9, (first, second)


def test_long_article_summary_prefers_early_central_sentences() -> None:
    paragraphs = _long_bridge_story()
    sentences = candidates(paragraphs)
    central = centrality(sentences)
    by_centrality = sorted(range(len(sentences)), key=lambda i: -central[i])
    summary = summarize(paragraphs, 3)
    picked = [next(i for i, s in enumerate(sentences) if s.text == text) for text in summary]
    assert len(picked) == 3 and picked[0] == 0, "the lede comes first"
    assert set(picked) != set(by_centrality[:3]), "position, not only centrality, decided"
    assert all(i in by_centrality[: len(sentences) // 2] for i in picked), "all central enough"


def _water_story(opening: str) -> list[str]:
    """An opening sentence, then six sentences of news (invented for these tests)."""
    return [
        opening,
        "A water main burst under Station Road in Easton at 7am on Tuesday, flooding forty homes.",
        "Engineers from Easton Water shut off supplies to 3,000 households while they dug down "
        "to the broken pipe.",
        "The company said the pipe was more than 80 years old and had been due for replacement.",
        "Residents were told to boil tap water for two days once the supply came back.",
        "Station Road will stay closed to traffic until Friday while the road is repaired.",
        "The council said families whose homes were flooded could stay in a local hotel.",
    ]


# Every sentence qualifies, so position alone decides which sentence leads the summary.
_POSITION_ONLY = Weights(central_share=1.0, length_pivot=0.0, length_spread=1.0)


@pytest.mark.parametrize(
    ("opening", "blind"),
    [
        ("It was a quiet morning until the phones started ringing.", True),
        ("nobody on the street expected what happened next, or how fast.", True),
        ("It was a quiet morning in Easton until the phones started ringing.", False),
        ("It was a quiet morning until the phones started ringing at 7am.", False),
    ],
)
def test_blind_lede(opening: str, blind: bool) -> None:
    (sentence,) = candidates([opening])
    assert blind_lede(sentence) is blind


def test_blind_lede_does_not_lead_the_summary() -> None:
    paragraphs = _water_story("It was a quiet morning until the phones started ringing.")
    sentences = candidates(paragraphs)
    scores = score_sentences(sentences, 3, _POSITION_ONLY)
    assert scores[0] < QUALIFIED <= min(scores[1:]), "only the opening does not qualify"
    summary = summarize(paragraphs, 3, weights=_POSITION_ONLY)
    assert summary == [s.text for s in sentences[1:4]], "the news leads, not the scene-setting"


def test_opening_with_a_name_or_number_leads_the_summary() -> None:
    for opening in (
        "It was a quiet morning in Easton until the phones started ringing.",
        "It was a quiet morning until the phones started ringing at 7am.",
    ):
        paragraphs = _water_story(opening)
        sentences = candidates(paragraphs)
        assert min(score_sentences(sentences, 3, _POSITION_ONLY)) >= QUALIFIED
        summary = summarize(paragraphs, 3, weights=_POSITION_ONLY)
        assert summary == [s.text for s in sentences[:3]]


def test_blind_lede_stays_when_the_article_is_no_longer_than_the_summary() -> None:
    paragraphs = _water_story("It was a quiet morning until the phones started ringing.")[:3]
    assert summarize(paragraphs, 3) == paragraphs


def test_story_summary_does_not_repeat_itself() -> None:
    a = [
        "A magnitude 6.8 earthquake struck the coastal city of Valmora early on Tuesday, "
        "destroying hundreds of homes.",
        "Rescue teams worked through the night to free people trapped under collapsed buildings "
        "in the old town. At least 40 people were killed, the regional governor said.",
    ]
    b = [
        "A magnitude 6.8 earthquake struck the coastal city of Valmora early on Tuesday, "
        "destroying hundreds of homes, officials said.",
        "At least 40 people were killed, the regional governor said on Tuesday evening. "
        "Aftershocks kept thousands of residents sleeping in parks and car parks overnight.",
    ]
    summary = summarize_story([("Quake hits Valmora", a), ("Deadly quake in Valmora", b)], 3)
    assert 2 <= len(summary) <= 3
    for i, first in enumerate(summary):
        for second in summary[i + 1 :]:
            assert similarity(first, second) < 0.75, (first, second)
    assert sum("6.8 earthquake" in s for s in summary) == 1
    assert summarize_story([], 3) == []


def _write_tiny_dataset(root: Path) -> None:
    body = (
        "Officials in the town of Easton approved a new budget on Monday after a long debate.\n\n"
        "The budget adds money for schools and roads, the town council said in a statement.\n\n"
        "Some residents said the spending was too high for a small town like Easton.\n\n"
        "The mayor said the town would review the budget again in the autumn."
    )
    for category, number in (("business", "001"), ("sport", "002")):
        articles = root / "bbc-news-summary" / "articles" / category
        summaries = root / "bbc-news-summary" / "summaries" / category
        articles.mkdir(parents=True)
        summaries.mkdir(parents=True)
        (articles / f"{number}.txt").write_text(f"Easton budget approved\n\n{body}\n")
        (summaries / f"{number}.txt").write_text(
            "Officials in the town of Easton approved a new budget on Monday after a long debate."
            "The budget adds money for schools and roads, the town council said in a statement."
        )
    # One cp1252 file, as in the real data.
    (root / "bbc-news-summary" / "articles" / "sport" / "003.txt").write_bytes(
        "Fee rises\n\nThe club said the fee rose to \u00a3300 for every member of the club.\n\n"
        "Members said the new fee was far too high for most families in the area.".encode("cp1252")
    )
    (root / "bbc-news-summary" / "summaries" / "sport" / "003.txt").write_text(
        "The club said the fee rose to \u00a3300 for every member of the club."
    )
    cnndm = root / "cnndm-sample"
    cnndm.mkdir()
    article = body.replace("\n\n", " ").replace('"', "'")
    (cnndm / "train_sample.csv").write_text(
        ",id,article,highlights\n"
        f'0,abc,"By . Town Reporter . {article}","Easton approves new budget .\n'
        'Money for schools and roads ."\n'
    )


def test_benchmark_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_tiny_dataset(tmp_path)
    assert summary_bench.main([str(tmp_path), "--limit", "5"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    methods = {(r[0], r[2]) for r in rows if r and r[0] in ("BBC", "CNN/DM")}
    assert methods == {(d, m) for d in ("BBC", "CNN/DM") for m in ("ours", "lead-3", "TextRank")}
    for r in rows:
        if r and r[0] in ("BBC", "CNN/DM"):
            assert all(0.0 <= float(x) <= 100.0 for x in r[3:6])
    assert any(r[:2] == ["BBC", "3"] for r in rows)


def test_benchmark_without_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert summary_bench.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "bbc-news-summary" in err and str(tmp_path) in err
