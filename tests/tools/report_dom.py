"""Reads the DOM Chromium rendered from a `trailq report` page (--dump-dom, on stdin) and prints
what a reader sees, as JSON, for tests/detect.rs to hold against the saved queries' answers:
every table that names its query (`data-query`) as rows of {column: text} (a value is any
element with `data-column`), the summary cards, the findings (ID, severity, event IDs) and the
principals given a timeline. Standard library only, so it runs in the test environment's Python
as it is."""
import json
import sys
from html.parser import HTMLParser

VOID = {"br", "img", "meta", "link", "hr", "input", "wbr"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables = []
        self.cards = {}
        self.findings = []
        self.principals = []
        self._table = None
        self._row = None
        self._open = []  # [(tag, kind, key, [text])] for elements whose text is wanted
        self._principal = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        kind = key = None
        if tag == "table" and "data-query" in a:
            self._table = {"query": a["data-query"], "principal": self._principal, "rows": []}
        elif tag == "tr" and self._table is not None:
            self._row = {}
        elif tag == "section":
            self._principal = None
        if "data-column" in a and self._row is not None:
            kind, key = "cell", a["data-column"]
        elif tag == "div" and "card" in a.get("class", "").split():
            kind, key = "card", a.get("data-severity") or a.get("data-total")
        elif "data-events" in a:
            kind, key = "events", None
        if "data-finding" in a:
            self.findings.append(
                {"id": a["data-finding"], "severity": a["data-severity"], "detection": a["data-detection"]}
            )
        if tag == "h3" and "data-principal" in a:
            self.principals.append(a["data-principal"])
            self._principal = a["data-principal"]
        if tag not in VOID:
            self._open.append((tag, kind, key, []))

    def handle_endtag(self, tag):
        while self._open:
            open_tag, kind, key, text = self._open.pop()
            value = "".join(text).strip()
            if kind == "cell":
                self._row[key] = value
            elif kind == "card":
                # The number is the card's first word; its label follows.
                self.cards[key] = int(value.split()[0])
            elif kind == "events":
                self.findings[-1]["events"] = value
            if open_tag == tag:
                break
        if tag == "tr" and self._row is not None:
            if self._row:
                self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None

    def handle_data(self, data):
        for _, kind, _, text in self._open:
            if kind is not None:
                text.append(data)
                if kind == "card":
                    text.append(" ")


page = Page()
page.feed(sys.stdin.read())
json.dump(
    {"tables": page.tables, "cards": page.cards, "findings": page.findings, "principals": page.principals},
    sys.stdout,
)
