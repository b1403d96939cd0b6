#!/usr/bin/env python3
"""Builds a real-shaped trail: gzipped trail files made of the real-record corpus, not the
generator's Inspector-heavy records.

Usage: scripts/real-shaped.py OUT [RECORDS] [FILES] [DAYS] [ORDER]   (default 1,000,000 records
in 200 files over 91 days, ORDER `cycle`)

Every record of tests/corpus/real-records.jsonl that has an eventTime (969 of them, 70 event
sources, about 1.2 KB each) is used unchanged but for a fresh random eventID and an eventTime on
its file's day. ORDER `cycle` takes the records in turn, so every file repeats the same sequence of
969 (the benchmarks' set); `random` draws each at random, as a real trail has no such period
(zstd finds the period again in a column whose rows keep the input's order). Files are big, as a
busy organization trail's are (5,000 records each by default), and lie in the organization layout
AWSLogs/o-…/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_ID.json.gz.
Seeded: the same arguments give the same files.
"""

import datetime
import gzip
import json
import os
import random
import sys

CORPUS = os.path.join(os.path.dirname(__file__), "..", "tests", "corpus", "real-records.jsonl")
ACCOUNTS = ["111122223333", "444455556666", "777788889999"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
# Placeholders no corpus record contains; replaced per record (faster than re-encoding JSON).
ID, TIME = "@@trailq-event-id@@", "@@trailq-event-time@@"


def templates():
    out = []
    with open(CORPUS, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or not isinstance(record.get("eventTime"), str):
                continue
            record["eventID"] = ID
            record["eventTime"] = TIME
            out.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
    return out


def main():
    out = sys.argv[1]
    records = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    files = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    days = int(sys.argv[4]) if len(sys.argv) > 4 else 91
    order = sys.argv[5] if len(sys.argv) > 5 else "cycle"
    if order not in ("cycle", "random"):
        sys.exit("real-shaped.py: ORDER is `cycle` or `random`, not `%s`" % order)
    rng = random.Random(7)
    shapes = templates()
    first_day = datetime.datetime(2026, 8, 25, tzinfo=datetime.timezone.utc)
    per_file = records // files
    n = 0
    for i in range(files):
        count = per_file if i < files - 1 else records - per_file * (files - 1)
        day = first_day + datetime.timedelta(days=i * days // files)
        account, region = ACCOUNTS[i % 3], REGIONS[(i // 3) % 3]
        seconds = sorted(rng.randrange(86_400_000) for _ in range(count))
        lines = []
        for ms in seconds:
            t = day + datetime.timedelta(milliseconds=ms)
            if order == "cycle":
                text = shapes[n % len(shapes)]
            else:
                text = shapes[rng.randrange(len(shapes))]
            n += 1
            lines.append(
                text.replace(ID, "%032x" % rng.getrandbits(128), 1).replace(
                    TIME, t.strftime("%Y-%m-%dT%H:%M:%SZ"), 1
                )
            )
        delivered = day + datetime.timedelta(milliseconds=seconds[-1] + 300_000)
        folder = os.path.join(
            out, "AWSLogs", "o-exampleorg1", account, "CloudTrail", region,
            day.strftime("%Y"), day.strftime("%m"), day.strftime("%d"),
        )
        os.makedirs(folder, exist_ok=True)
        name = "%s_CloudTrail_%s_%sZ_%016x.json.gz" % (
            account, region, delivered.strftime("%Y%m%dT%H%M"), rng.getrandbits(64),
        )
        with gzip.open(os.path.join(folder, name), "wt", encoding="utf-8", compresslevel=6) as f:
            f.write('{"Records":[')
            f.write(",".join(lines))
            f.write("]}")


if __name__ == "__main__":
    main()
