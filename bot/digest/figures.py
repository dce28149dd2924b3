"""Figures in news text ("12 dead", "4,500 troops") and where reports of one story disagree.

A figure is a number with what it counts: the counted noun (people, troops, homes, ..., or any
other lower-case plural noun right after it but units and spans of time) and
its role in the sentence (killed, injured, missing, aboard, evacuated, ...), plus a year when
the sentence names one ("5,000 troops in 2013" is not today's deployment). Only figures whose
noun or role is known are kept: a bare number says nothing comparable.

Reports update each other: a figure counts as current when its report is at most
``UPDATE_WINDOW`` older than the newest report giving the same kind of figure; older ones are
superseded (an early toll of 7 replaced by 12 and 14). Two current reports from different
sources whose values for one kind cannot both hold are a disagreement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

UPDATE_WINDOW = timedelta(hours=3)

_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip

# Counted nouns, by the class they are compared in.
_NOUNS: dict[str, str] = {}
for _cls, _words in {
    "people": "people person persons passengers passenger residents civilians villagers "
    "commuters pedestrians tourists",
    "crew": "crew sailors fishermen",
    "troops": "troops soldiers servicemen peacekeepers",
    "workers": "workers staff employees",
    "homes": "homes households houses",
    "vehicles": "cars vehicles lorries trucks buses",
    "protesters": "protesters demonstrators marchers",
}.items():
    for _w in _words.split():
        _NOUNS[_w] = _cls
for _w in (
    "nurses doctors teachers patients children students pupils migrants refugees prisoners "
    "hostages mercenaries firefighters carriages wagons jobs casualties police officers strikers"
).split():
    _NOUNS[_w] = _w

# Any other plural noun right after a number counts too ("1,200 appointments", "14 harbour
# contracts"), except units, spans of time and words that are not what a story counts.
_NOT_COUNTED = frozenset(
    """years months weeks days hours minutes seconds decades centuries times percent points
    metres meters kilometres kilometers miles feet inches yards tonnes tons kilograms kilos
    grams litres liters gallons acres hectares degrees euros dollars pounds pence cents
    yuan rupees roubles francs others ones thousands millions billions hundreds dozens
    tens sides ways kinds sorts lots parts bits steps levels stages rounds terms goals sets
    games matches innings runs wickets laps seasons episodes pages chapters""".split()
)


def _counted(word: str) -> bool:
    """A word that reads as a plural noun a story may count ("appointments", "contracts")."""
    return (
        len(word) >= 5
        and word.endswith("s")
        and not word.endswith(("ss", "us", "is", "ous", "ics"))
        and word not in _NOT_COUNTED
    )


# Words that give a figure its role, and how a kind of figure is named.
_ROLES: dict[str, str] = {}
for _role, _words in {
    "dead": "killed dead died deaths death toll fatalities bodies drowned killing perished",
    "injured": "injured hurt wounded injuries injuring hospitalised",
    "missing": "missing unaccounted",
    "rescued": "rescued saved",
    "evacuated": "evacuated evacuate evacuation",
    "aboard": "aboard carrying",
    "without power": "power electricity blackout",
    "arrested": "arrested detained",
}.items():
    for _w in _words.split():
        _ROLES[_w] = _role
_ROLE_NAMES = {"dead": "death toll", "injured": "injured", "missing": "missing"}

_LOWER_BOUND = ("more than", "over", "at least", "upwards of")
_APPROX = ("about", "around", "some", "nearly", "almost", "roughly", "approximately")
# A clause ends at these words: a role beyond them belongs to another figure.
_CLAUSE_BREAK = frozenset("and but while as when after before because which who".split())

_NUMBER = re.compile(
    r"(?<![\w€$£.,-])(\d{1,3}(?:,\d{3})+|\d+)(?![\w%€$£-]|[.,]\d)"
    r"|\b((?:"
    + "|".join(_TENS)
    + r")(?:-(?:"
    + "|".join(list(_UNITS)[:9])
    + r"))?|"
    + "|".join(w for w in _UNITS if w != "one")
    + r")\b(?!-)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
_WORDS = re.compile(r"[A-Za-z]+|[;:.!?,]")


@dataclass(frozen=True, slots=True)
class Figure:
    """One number and what it counts. ``low``/``high`` bound what the wording allows."""

    value: int
    noun: str | None  # the class of the counted noun
    role: str | None
    year: int | None  # a year named in the same sentence
    low: float
    high: float

    @property
    def kind(self) -> tuple[str | None, str | None, int | None]:
        return (self.role, self.noun or "people", self.year)

    @property
    def what(self) -> str:
        """How the kind is named: "death toll", "troops", "homes without power"."""
        noun = self.noun or "people"
        if self.role is None:
            name = noun
        elif noun == "people":
            name = _ROLE_NAMES.get(self.role, self.role)
        else:
            name = f"{noun} {'killed' if self.role == 'dead' else self.role}"
        return f"{name} ({self.year})" if self.year else name


def _parse_number(text: str) -> int:
    text = text.lower()
    if text[0].isdigit():
        return int(text.replace(",", ""))
    tens, _, unit = text.partition("-")
    return _TENS.get(tens, 0) + _UNITS.get(unit, 0) if tens in _TENS else _UNITS[text]


def _bounds(value: int, before: str) -> tuple[float, float]:
    before = before.lower().rstrip()
    if value >= 100 and value % 10 == 0 and before.endswith(_LOWER_BOUND):
        return value, float("inf")  # "more than 200": a round lower bound
    if before.endswith(_APPROX):
        return value * 0.95, value * 1.05
    return value, value


_DIGIT = re.compile(r"\d")
_LETTERS = re.compile(r"[a-z]+")
_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TENS)


@lru_cache(maxsize=4096)
def figures(sentence: str, *, this_year: int | None = None) -> tuple[Figure, ...]:
    """The figures of one sentence whose counted noun or role is known."""
    if not _DIGIT.search(sentence) and _NUMBER_WORDS.isdisjoint(_LETTERS.findall(sentence.lower())):
        return ()  # no number at all: most sentences, found cheaply
    years = {int(y) for y in _YEAR.findall(sentence)} - {this_year}
    out = []
    for match in _NUMBER.finditer(sentence):
        raw = match.group(1) or match.group(2)
        value = _parse_number(raw)
        if match.group(1) and 1900 <= value <= 2099 and "," not in raw:
            continue  # a year
        # Ten words after and eight before are all that is read: a window of characters wide
        # enough for them, so a long sentence is not re-scanned for each of its numbers.
        after_raw = _WORDS.findall(sentence[match.end() : match.end() + 240])[:10]
        after = [w.lower() for w in after_raw]
        window = sentence[max(0, match.start() - 200) : match.start()]
        before = [w.lower() for w in _WORDS.findall(window)[-8:]]
        noun = None
        i = 0
        while i < min(len(after), 3):
            word = after[i]
            if word in _NOUNS:
                noun = _NOUNS[word]
                break
            if not word.isalpha() or word in _CLAUSE_BREAK or len(word) <= 3:
                break
            i += 1
        general = False
        if noun is None:  # a plural noun of its own: "1,200 appointments", "14 harbour contracts"
            for k, word in enumerate(after[:2]):
                if _counted(word) and word not in _ROLES and after_raw[k].islower():
                    noun, i, general = word, k, True
                    break
                if not word.isalpha() or word in _CLAUSE_BREAK or len(word) <= 3:
                    break
        if noun is not None:  # skip the rest of the noun phrase: "passengers and crew"
            i += 1
            while i + 1 < len(after) and after[i] in ("and", "or") and after[i + 1] in _NOUNS:
                i += 2
        start = i if noun is not None else 0
        role = _role(after[start:], forward=True) or _role(before[::-1], forward=False)
        if general and role is not None:
            noun = None  # "nine miners were killed" and "eleven people died" tell one toll
        if noun is None and role is None:
            continue
        if noun == "people" and role is None:
            continue  # "employs 1,200 people": nothing to compare
        year = min(years) if len(years) == 1 else None
        low, high = _bounds(value, sentence[: match.start()])
        out.append(Figure(value, noun, role, year, low, high))
    return tuple(out)


def _role(words: Sequence[str], *, forward: bool) -> str | None:
    """The first role word within a clause, reading ``words`` away from the number."""
    for n, word in enumerate(words[:8]):
        if not word.isalpha() or word in _CLAUSE_BREAK:
            return None
        if _NUMBER.fullmatch(word):
            return None
        if word == "hospital":
            prev = words[n - 1] if forward and n else (words[n + 1] if n + 1 < len(words) else "")
            if prev in ("to", "in"):
                return "injured"
            continue
        if word == "board" and (words[n - 1] if forward and n else "") == "on":
            return "aboard"
        if word == "bodies" and not (forward and n == 0):
            continue  # "12 bodies" are dead; "100,000 public bodies" are offices
        if word in _ROLES:
            return _ROLES[word]
    return None


@dataclass(frozen=True, slots=True)
class Report:
    """What the disagreement check needs of one article."""

    path: str
    source: str
    when: datetime
    sentences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Claim:
    value: int
    path: str
    source: str


@dataclass(frozen=True, slots=True)
class Disagreement:
    what: str
    values: tuple[Claim, ...]  # sorted by value, then source

    def line(self) -> str:
        """'death toll 12 (Coastal Wire) / 14 (Harbour Gazette)'."""
        parts = []
        for value in sorted({c.value for c in self.values}):
            names = sorted({c.source for c in self.values if c.value == value})
            parts.append(f"{value:,} ({', '.join(names)})")
        return f"{self.what} " + " / ".join(parts)


@dataclass(frozen=True, slots=True)
class Facts:
    """The figures of a story's reports: which are current, which superseded, which differ."""

    stale: frozenset[int]  # values given only by superseded reports
    disagreements: tuple[Disagreement, ...]


def _report_figures(report: Report) -> list[Figure]:
    return [f for s in report.sentences for f in figures(s, this_year=report.when.year)]


def story_facts(reports: Sequence[Report]) -> Facts:
    """Current, superseded and disputed figures across one story's reports."""
    by_kind: dict[tuple, list[tuple[Report, Figure]]] = {}
    for report in reports:
        for fig in _report_figures(report):
            by_kind.setdefault(fig.kind, []).append((report, fig))
    stale: set[int] = set()
    current_values: set[int] = set()
    found = []
    for entries in by_kind.values():
        newest = max(r.when for r, _ in entries)
        current = [(r, f) for r, f in entries if r.when >= newest - UPDATE_WINDOW]
        current_values.update(f.value for _, f in current)
        stale.update(f.value for r, f in entries if r.when < newest - UPDATE_WINDOW)
        if (d := _disagreement(current)) is not None:
            found.append(d)
    found.sort(key=lambda d: d.what)
    return Facts(frozenset(stale - current_values), tuple(found))


def _disagreement(entries: Sequence[tuple[Report, Figure]]) -> Disagreement | None:
    """Two reports from different sources whose values for one kind cannot both hold."""
    per_report: dict[str, list[Figure]] = {}
    reports: dict[str, Report] = {}
    for report, fig in entries:
        per_report.setdefault(report.path, []).append(fig)
        reports[report.path] = report
    paths = sorted(per_report)
    clash = set()
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            if reports[a].source == reports[b].source:
                continue
            if not any(_overlap(x, y) for x in per_report[a] for y in per_report[b]):
                clash.update((a, b))
    if not clash:
        return None
    claims = {
        Claim(f.value, path, reports[path].source)
        for path in per_report
        if len({f.value for f in per_report[path]}) == 1
        for f in per_report[path][:1]
    }
    if len({c.value for c in claims}) < 2:
        return None
    what = entries[0][1].what
    return Disagreement(what, tuple(sorted(claims, key=lambda c: (c.value, c.source, c.path))))


def _overlap(a: Figure, b: Figure) -> bool:
    return a.low <= b.high and b.low <= a.high


_MONEY = re.compile(r"([€$£])\s?(\d[\d,]*(?:\.\d+)?)\s?(bn|m|k|billion|million)?\b", re.IGNORECASE)
_SCORE = re.compile(r"\b(\d{1,2})-(\d{1,2})\b")
_DECIMAL = re.compile(r"(?<![\w.,])(\d+\.\d+|\d+(?:\.\d+)?%)")


@lru_cache(maxsize=4096)
def numbers(sentence: str) -> frozenset[str]:
    """The figures of a sentence as comparable keys ("12", "€40m", "3-1", "6.4", "12%"), years
    left out: two summary sentences that share one repeat a fact."""
    out = set()
    for match in _NUMBER.finditer(sentence):
        raw = match.group(1) or match.group(2)
        value = _parse_number(raw)
        if match.group(1) and 1900 <= value <= 2099 and "," not in raw:
            continue
        out.add(str(value))
    for cur, amount, unit in _MONEY.findall(sentence):
        out.add(f"{cur}{amount.replace(',', '')}{(unit or '')[:1].lower()}")
    out.update(f"{a}-{b}" for a, b in _SCORE.findall(sentence))
    out.update(_DECIMAL.findall(sentence))
    return frozenset(out)
