#!/usr/bin/env python3
"""Runs a command and samples its memory every 100 ms from /proc/PID/status: anonymous memory
(RssAnon: heap, buffers) and mapped files (RssFile: mostly the binary's code that ran), with the
kernel's peak (VmHWM, which also catches what falls between samples).
Usage: scripts/sample-memory.py BINARY convert INPUT --out OUT --quiet"""
import subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
rows = []
while p.poll() is None:
    try:
        d = {}
        for line in open(f'/proc/{p.pid}/status'):
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'RssAnon', 'RssFile', 'VmHWM'):
                d[k] = int(v.split()[0]) // 1024
        rows.append(d)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        break
    time.sleep(0.1)
an = sorted(r.get('RssAnon', 0) for r in rows); fi = sorted(r.get('RssFile', 0) for r in rows)
q = lambda a, f: a[int(f * (len(a) - 1))] if a else 0
print(f"samples {len(rows)} anon p50 {q(an,.5)} p90 {q(an,.9)} max {an[-1] if an else 0} MiB; file p50 {q(fi,.5)} max {fi[-1] if fi else 0}; HWM {max(r.get('VmHWM',0) for r in rows)} MiB")
