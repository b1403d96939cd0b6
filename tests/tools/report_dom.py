"""Reads the DOM Chromium rendered from a `trailq report` page (--dump-dom, on stdin) and prints
what a reader sees, as JSON, for tests/detect.rs to hold against the saved queries' answers:
every table that names its query (`data-query`) as rows of cell texts by column, the summary
cards, the findings (ID, severity, event IDs) and the principals given a timeline.
Standard library only, so it runs in the test environment's Python as it is."""
import json
import sys
from html.parser import HTMLParser


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables = []  # [{"query": q, "after": principal or None, "rows": [{col: text}]}]
        self.cards = {}
        self.findings = []
        self.principals = []
        self._table = None
        self._row = None
        self._cell = None  # (column, [text])
        self._card = None  # (key, [text])
        self._in_card_number = False
        self._events = None  # [text] of the current finding's events
        self._principal = None
        self._last_principal = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "data-query" in a:
            self._table = {"query": a["data-query"], "principal": self._last_principal, "rows": []}
        elif tag == "tr" and self._table is not None:
            self._row = {}
        elif tag == "td" and self._row is not None and "data-column" in a:
            self._cell = (a["data-column"], [])
        elif tag == "div" and "card" in a.get("class", ""):
            key = a.get("data-severity") or a.get("data-total")
            self._card = (key, [])
        elif tag == "b" and self._card is not None:
            self._in_card_number = True
        if "data-finding" in a:
            self.findings.append(
                {"id": a["data-finding"], "severity": a["data-severity"], "detection": a["data-detection"], "events": ""}
            )
        if "data-events" in a:
            self._events = []
        if tag == "h3" and "data-principal" in a:
            self.principals.append(a["data-principal"])
            self._last_principal = a["data-principal"]
        if tag == "section":
            self._last_principal = None if a.get("id") != "timelines" else self._last_principal

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row[self._cell[0]] = "".join(self._cell[1]).strip()
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None
        elif tag == "b" and self._in_card_number:
            self._in_card_number = False
        elif tag == "div" and self._card is not None:
            key, text = self._card
            self.cards[key] = int("".join(text).strip())
            self._card = None
        if tag in ("dd", "td") and self._events is not None:
            self.findings[-1]["events"] = "".join(self._events).strip()
            self._events = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1].append(data)
        if self._in_card_number:
            self._card[1].append(data)
        if self._events is not None:
            self._events.append(data)


page = Page()
page.feed(sys.stdin.read())
json.dump(
    {"tables": page.tables, "cards": page.cards, "findings": page.findings, "principals": page.principals},
    sys.stdout,
)
