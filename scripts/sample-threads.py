#!/usr/bin/env python3
"""Runs a command and samples, every ~2 ms, which of its threads (by name: trailq names its
threads, src/threads.rs) are runnable; prints how often 0, 1, 2, 3+ were, which thread ran alone
when fewer than two did, and each thread name's runnable share.
Usage: scripts/sample-threads.py BINARY convert INPUT --out OUT --quiet
Caveat (BENCHMARKS.md, issue 15, session 21): this sampler's own polling takes CPU and "runnable"
includes waiting for a core, so it overstates idle cores; check with `vmstat 1` beside the run."""
import os, sys, time, subprocess, collections
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
hist = collections.Counter(); one = collections.Counter(); n = 0; busy = collections.Counter()
while p.poll() is None:
    run = []
    try:
        for tid in os.listdir(f'/proc/{p.pid}/task'):
            try:
                s = open(f'/proc/{p.pid}/task/{tid}/stat').read()
            except OSError:
                continue
            name = s[s.index('(')+1:s.rindex(')')]
            if s[s.rindex(')')+2] == 'R': run.append(name)
    except FileNotFoundError:
        break
    n += 1; hist[min(len(run), 3)] += 1
    for r in run: busy[r] += 1
    if len(run) == 1: one[run[0]] += 1
    time.sleep(0.002)
print("runnable:", " ".join(f"{k}:{v*100/n:.1f}%" for k, v in sorted(hist.items())), f"samples {n}")
print("alone:", " ".join(f"{k}:{v*100/n:.1f}%" for k, v in one.most_common()))
print("runnable share by role:", " ".join(f"{k}:{v*100/n:.0f}%" for k, v in busy.most_common()))
