#!/usr/bin/env python3
"""Why a core is idle while a command runs: records every context switch of the machine with
`perf record -a -e sched:sched_switch` and the kernel's call stack (what put a thread to sleep),
then weighs each of the command's threads' states by the idle CPU time they overlapped.

Usage: scripts/idle-threads.py [--user] BINARY convert INPUT --out OUT --quiet
  --user  also unwinds the user stack with DWARF (perf `--call-graph dwarf`): names the C
          library's functions above the kernel (malloc, free, pthread_join…); trailq's own frames
          need a build with unwinding tables (.cargo/config.toml says how).

Threads are reported by name (src/threads.rs names trailq's); the main thread, which owns the
dataset in a convert, is "main". Rows: idle CPU-seconds during which that thread was on a CPU,
waiting for one, or asleep in the function shown. A thread's rows add up to at most the idle
total; several threads are asleep at once, so rows of different threads overlap. Needs root (or
perf_event_paranoid ≤ -1) and `perf`. BENCHMARKS.md, issue 15 session 22, reads one run."""
import collections
import os
import re
import subprocess
import sys
import tempfile

HEADER = re.compile(r'^\s*(\S.*?)\s+(-?\d+)/(-?\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:sched_switch:\s+(.*)$')
SWITCH = re.compile(r'prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> '
                    r'next_comm=(.*?) next_pid=(\d+)')
# Frames that say only "it slept": the scheduler and the syscall entry.
PLUMBING = ('__schedule', 'schedule', 'schedule_timeout', 'io_schedule', 'schedule_preempt',
            'schedule_hrtimeout', 'do_syscall_64', 'entry_SYSCALL', '__x64_sys', 'x64_sys_call',
            '__futex_wait', 'futex_wait', 'do_futex', 'futex_do_wait', '[unknown]')


def record(argv, user):
    data = tempfile.NamedTemporaryFile(suffix='.perf', delete=False).name
    graph = ['--call-graph', 'dwarf,4096'] if user else ['-g']
    subprocess.run(['perf', 'record', '-q', '-o', data, '-a', '-e', 'sched:sched_switch', *graph,
                    '--', *argv], check=True, stdout=subprocess.DEVNULL)
    text = subprocess.run(['perf', 'script', '-i', data, '-F', 'comm,pid,tid,cpu,time,event,trace,ip,sym'],
                          check=True, capture_output=True, text=True).stdout
    os.unlink(data)
    return text


def events(text):
    cur = None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            if cur:
                yield cur
            s = SWITCH.search(m.group(6))
            cur = {'pid': int(m.group(2)), 'cpu': int(m.group(4)), 't': float(m.group(5)),
                   'prev': s.group(1),
                   'ppid': int(s.group(2)), 'state': s.group(3), 'next': s.group(4),
                   'npid': int(s.group(5)), 'stack': []}
        elif cur is not None and line.strip():
            parts = line.split()
            if len(parts) >= 2:
                cur['stack'].append(re.sub(r'\+0x[0-9a-f]+$', '', parts[1]))
    if cur:
        yield cur


def reason(state, stack):
    frames = [f for f in stack if not f.startswith(PLUMBING)]
    return f"asleep ({state[0]}) in " + ' < '.join(frames[:4]) if frames else f"asleep ({state[0]})"


def main():
    args = sys.argv[1:]
    user = bool(args) and args[0] == '--user'
    if user:
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    binary = os.path.basename(args[0])[:15]  # the kernel keeps 15 bytes of a thread's name
    evs = sorted(events(record(args, user)), key=lambda e: e['t'])
    # The command's threads: those of the process (thread group) whose thread took its name.
    process = next((e['pid'] for e in evs if e['prev'] == binary), None)
    tids = {e['ppid'] for e in evs if e['pid'] == process}
    name = {}
    for e in evs:  # threads start with their parent's name, then take their own
        for pid, comm in ((e['ppid'], e['prev']), (e['npid'], e['next'])):
            if pid in tids:
                name[pid] = 'main' if pid == process else comm
    state = {}
    idle_cpu = {}
    weight = collections.Counter()
    idle_total = both = 0.0
    first = last = None
    prev_t = evs[0]['t'] if evs else 0.0
    for e in evs:
        dt, prev_t = e['t'] - prev_t, e['t']
        n_idle = sum(idle_cpu.values())
        if first is not None and dt > 0 and n_idle:
            idle_total += dt * n_idle
            both += dt if n_idle == len(idle_cpu) else 0.0
            for tid, what in state.items():
                if what:
                    weight[(name.get(tid, '?'), what)] += dt * n_idle
        if e['ppid'] in tids:
            first = e['t'] if first is None else first
            last = e['t']
            s = e['state']
            state[e['ppid']] = ('waiting for a CPU' if s.startswith('R') else
                                None if s.startswith(('X', 'Z')) else reason(s, e['stack']))
        if e['npid'] in tids:
            first = e['t'] if first is None else first
            state[e['npid']] = 'on a CPU'
        idle_cpu[e['cpu']] = e['npid'] == 0
    if first is None:
        sys.exit('no context switch of the command was recorded')
    cores = len(idle_cpu)
    print(f"{last - first:.2f} s; idle {idle_total:.2f} CPU-s of {cores * (last - first):.2f} "
          f"({100 * idle_total / (cores * (last - first)):.0f}%); all cores idle {both:.2f} s")
    print("idle CPU-s  thread        state")
    for (label, what), w in weight.most_common(30):
        print(f"{w:10.2f}  {label:12s}  {what}")


if __name__ == '__main__':
    main()
