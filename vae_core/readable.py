"""Decoded text as a reader expects it.

The decoder writes WordPiece tokens of an uncased vocabulary, and the tokenizer joins them with a space
around every punctuation mark: "ivan ' s $ 50 loan ( ap )". `Readable` undoes that spacing ("Ivan's $50
loan (AP)"), restores sentence case, and gives words the casing they have in the training corpus: a
casing table learned once from the training texts (`CasingTable.learn`) and stored with the checkpoint
(`casing.json`). The raw token text stays available (`TextVAE.decode_text(..., readable=False)`).
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

CASING_FILE = "casing.json"

# A word with inner joiners: "al-qaeda", "at&t", "u.s", "ivan's" (a trailing period is not part of it).
WORD = re.compile(r"[A-Za-z0-9]+(?:[-&'.][A-Za-z0-9]+)*")
_JOINERS = re.compile(r"([-&'.])")
_SENTENCE_END = re.compile(r"[.!?]")
_MIN_TITLE_WORD = 4  # letters; shorter words ("of", "to", "Is") may be lower case inside a title


def _title_prefix_end(text: str) -> int:
    """Where the body of a news item starts: texts such as AG News open with a headline in Title Case
    ("Iran Stresses Nuclear Freeze Is Voluntary"), whose casing says nothing about the words. The
    headline is taken to run up to the first word of `_MIN_TITLE_WORD` or more letters that starts in
    lower case."""
    for m in WORD.finditer(text):
        w = m.group()
        if len(w) >= _MIN_TITLE_WORD and w[0].isalpha() and w[0].islower():
            return m.start()
    return len(text)


def _sentence_initial(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or bool(_SENTENCE_END.fullmatch(before[-1])) or before.endswith((" -", "--", '"', "("))


@dataclass
class CasingTable:
    """How words are written in a corpus: `forms` maps a lower-case word to its usual written form where
    that is not lower case ("iran" -> "Iran", "ap" -> "AP", "ebay" -> "eBay"); `joined` holds words the
    corpus writes with an inner hyphen, ampersand or slash that the tokenizer splits ("al-qaeda",
    "at&t"); `abbreviations` are words that end in a period in mid-sentence ("inc", "corp")."""

    forms: dict[str, str] = field(default_factory=dict)
    joined: set[str] = field(default_factory=set)
    pairs: dict[str, str] = field(default_factory=dict)  # "new york" -> "New York", "players union" -> as is
    abbreviations: set[str] = field(default_factory=set)

    @classmethod
    def learn(cls, texts: Iterable[str], min_share: float = 0.5) -> "CasingTable":
        """Count every word's written forms outside headlines and sentence starts (where the case is
        set by position, not by the word) and keep the usual form of each word that is mostly not
        written in lower case: in more than `min_share` of its counted occurrences."""
        seen: dict[str, Counter] = defaultdict(Counter)
        seen_pairs: dict[str, Counter] = defaultdict(Counter)
        joined_n: Counter = Counter()
        spaced_n: Counter = Counter()
        dot_mid, dot_all = Counter(), Counter()
        for text in texts:
            body = _title_prefix_end(text)
            prev = None
            for m in WORD.finditer(text):
                w = m.group()
                low = w.lower()
                if any(j in w for j in "-&/"):
                    joined_n[low] += 1
                if m.end() < len(text) and text[m.end()] == "." and "." not in w and len(w) <= 5:
                    dot_all[low] += 1
                    nxt = re.match(r"\.\s+([A-Za-z])", text[m.end():])
                    if nxt and nxt.group(1).islower():
                        dot_mid[low] += 1
                if m.start() < body or _sentence_initial(text, m.start()):
                    prev = None
                    continue
                if prev is not None and text[prev.end() : m.start()] == " ":
                    seen_pairs[f"{prev.group().lower()} {low}"][f"{prev.group()} {w}"] += 1
                prev = m
                # the word, and the longer parts of a joined one ("Ivan" of "Ivan's"; not "AT" of "AT&T")
                for part in [w] + [p for p in _JOINERS.split(w) if len(p) > 2 and p != w]:
                    if any(c.isalpha() for c in part):
                        seen[part.lower()][part] += 1
            for m in re.finditer(r"\b([A-Za-z0-9]+) ([-&/]) ([A-Za-z0-9]+)\b", text):
                spaced_n[f"{m.group(1)}{m.group(2)}{m.group(3)}".lower()] += 1
        forms = {}
        for low, counts in seen.items():
            total = sum(counts.values())
            if counts[low] / total >= 1 - min_share:
                continue
            usual = [f for f, _ in counts.most_common() if f != low]
            best = usual[0]
            # Datelines write places in capitals ("NEW YORK (Reuters)"): a word in capitals is kept in
            # capitals only when it is (almost) always written so, as acronyms are.
            if best.isupper() and len(best) > 1 and counts[best] / total < 0.9:
                title = [f for f in usual if not f.isupper()]
                if title:
                    best = title[0]
            forms[low] = best
        joined = {w for w, n in joined_n.items() if n > spaced_n[w]}
        # mid-sentence periods: "Inc. said" (abbreviations are often followed by a name too: 1 in 5 is enough)
        abbreviations = {w for w, n in dot_mid.items() if n >= 2 and n / dot_all[w] >= 0.2}
        table = cls(forms=forms, joined=joined, abbreviations=abbreviations)
        # Word pairs written otherwise than their words alone ("New York", "Delta Air Lines"; "the
        # players union" where "Union" alone is usually the European one), seen at least twice.
        for low, counts in seen_pairs.items():
            form, n = counts.most_common(1)[0]
            first, second = form.split(" ")
            if first[:1].isupper() != second[:1].isupper():
                continue  # a name is written with both words in capitals or neither: the rest is noise
            if n >= 2 and n / sum(counts.values()) > min_share:
                composed = " ".join(table.case_word(w) for w in low.split(" "))
                if composed != form:
                    table.pairs[low] = form
        return table

    @property
    def empty(self) -> bool:
        return not (self.forms or self.pairs or self.joined or self.abbreviations)

    def to_dict(self) -> dict:
        return {"forms": dict(sorted(self.forms.items())), "pairs": dict(sorted(self.pairs.items())),
                "joined": sorted(self.joined), "abbreviations": sorted(self.abbreviations)}

    @classmethod
    def from_dict(cls, data: dict) -> "CasingTable":
        return cls(forms=dict(data.get("forms", {})), joined=set(data.get("joined", [])),
                   abbreviations=set(data.get("abbreviations", [])),
                   pairs=dict(data.get("pairs", {})))

    def save(self, folder: str | Path) -> None:
        Path(folder, CASING_FILE).write_text(json.dumps(self.to_dict(), ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> "CasingTable | None":
        """The table stored in a checkpoint folder, or None where it has none (or an unreadable one)."""
        path = Path(folder, CASING_FILE)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls.from_dict(data) if isinstance(data, dict) else None

    def case_word(self, word: str) -> str:
        low = word.lower()
        if low in self.forms:
            return self.forms[low]
        if not _JOINERS.search(word):
            return word
        # the parts of a word the table does not hold ("ivan's" -> "Ivan's"); single letters are left as
        # they are ("p.m." is not "P.m.")
        return "".join(self.forms.get(p.lower(), p) if len(p) > 1 else p for p in _JOINERS.split(word))


# Spacing that the WordPiece tokenizer puts where written text has none.
_SPACING = [
    (re.compile(r"\s+([.,!?;:%)\]}])"), r"\1"),  # "word ." -> "word."
    (re.compile(r"([(\[{$£€#])\s+"), r"\1"),  # "( ap" -> "(ap", "$ 50" -> "$50"
    (re.compile(r"(\d)([.:])\s+(\d)"), r"\1\2\3"),  # "1. 5" -> "1.5", "3: 30" -> "3:30"
    (re.compile(r"(\d),\s+(\d{3})\b"), r"\1,\2"),  # "10, 000" -> "10,000"
    (re.compile(r"(\w)\s+'\s+(s|t|re|ve|ll|d|m)\b"), r"\1'\2"),  # "ivan ' s" -> "ivan's", "don ' t"
    (re.compile(r"\b([A-Za-z])\.\s+(?=[A-Za-z]\.)"), r"\1."),  # "u. s." -> "u.s.", "p. m." -> "p.m."
    (re.compile(r"(\w)\.\s+(com|net|org)\b"), r"\1.\2"),  # "cio. com" -> "cio.com"
]
_QUOTE = re.compile(r'(^|\s)(["\'])(\s|$)')
_SPACED_JOIN = re.compile(r"\b([A-Za-z0-9]+) ([-&/]) ([A-Za-z0-9]+)\b")


def _attach_quotes(text: str) -> str:
    """Standalone quote marks alternately open (attached to the next word) and close (to the one
    before). A single quote after a word ending in s is a plural possessive ("players' union")."""
    text = re.sub(r"(\ws) '(?= \w)", r"\1'", text)
    for mark in ('"', "'"):
        parts = re.split(rf"(?:(?<=\s)|^){re.escape(mark)}(?=\s|$)", text)
        if len(parts) == 1:
            continue
        out = parts[0]
        for i, part in enumerate(parts[1:]):
            opening = i % 2 == 0
            last_unpaired = opening and i == len(parts) - 2
            if last_unpaired:
                if mark == "'" and out.rstrip().endswith("s"):
                    out = out.rstrip() + "'" + part
                else:
                    out = out + mark + part
            elif opening:
                out = out + mark + part.lstrip()
            else:
                out = out.rstrip() + mark + part
        text = out
    return text


class Readable:
    """Turns the tokenizer's decoded text into written text; the same input always gives the same output."""

    def __init__(self, casing: CasingTable | None = None):
        self.casing = casing or CasingTable()

    def spacing(self, text: str) -> str:
        text = " ".join(text.split())
        for _ in range(3):  # overlapping cases ("1. 7. 2") need a second pass
            before = text
            for pattern, repl in _SPACING:
                text = pattern.sub(repl, text)
            if text == before:
                break
        text = _attach_quotes(text)
        joined = self.casing.joined
        if joined:
            def join(m: re.Match) -> str:
                word = f"{m.group(1)}{m.group(2)}{m.group(3)}"
                return word if word.lower() in joined else m.group(0)
            text = _SPACED_JOIN.sub(join, text)
        return text

    def case(self, text: str) -> str:
        out, last = [], 0
        words = list(WORD.finditer(text))
        paired: dict[int, str] = {}
        for a, b in zip(words, words[1:]):
            if a.start() not in paired and text[a.end() : b.start()] == " ":
                form = self.casing.pairs.get(f"{a.group().lower()} {b.group().lower()}")
                if form:
                    paired[a.start()], paired[b.start()] = form.split(" ")
        for m in words:
            word = paired.get(m.start()) or self.casing.case_word(m.group())
            if self._starts_sentence(text, m.start()) and word[:1].islower():
                word = word[0].upper() + word[1:]
            out += [text[last : m.start()], word]
            last = m.end()
        out.append(text[last:])
        return "".join(out)

    def _starts_sentence(self, text: str, start: int) -> bool:
        before = text[:start].rstrip(" \"'(")
        if not before:
            return True
        if before[-1] in "!?":
            return True
        if before[-1] != ".":
            return False
        prev = WORD.findall(before[:-1])
        if not prev or not before[:-1].endswith(prev[-1]):
            return True  # "1.5%. Then"
        word = prev[-1].lower()
        # "inc. said", "u.s. officials", "p.m. today": a period after an abbreviation ends no sentence
        initials = "." in word and word.replace(".", "").isalpha()
        return not (word in self.casing.abbreviations or initials or (len(word) == 1 and word.isalpha()))

    def __call__(self, text: str) -> str:
        return self.case(self.spacing(text))


def wordpiece_artefacts(text: str) -> list[str]:
    """Spacing that written English never has and the raw WordPiece text always does: a space before
    an apostrophe suffix or a closing mark, after a currency sign or an opening bracket, inside a number
    ("1. 5", "10, 000"; "October 13, 2004" is written so) or a web address."""
    pats = [r"\w ' (?:s|t|re|ve|ll|d|m)\b", r"[$£€] \d", r"\d\. \d", r"\d, \d{3}\b(?![,.]?\d)", r"\w [.,;:!?%)]",
            r"\( \w", r"\b\w\. \w\.(?=\s|$)", r"\w\. (?:com|net|org)\b"]
    return [m.group() for p in pats for m in re.finditer(p, text)]
