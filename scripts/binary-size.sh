#!/usr/bin/env bash
# Where the release binary's bytes are (issue 15's size goal): links `trailq` once more with a
# linker map and adds up, per output section and per crate, the input sections the linker kept
# (after `--gc-sections` dropped what nothing uses). A crate's share is the code it emitted, which
# includes other crates' generic functions instantiated there (listed by defining crate too).
# Only the binary is rebuilt (~20 s; the crates it uses come from the release build as they are,
# and a missing release build is built first); the next plain `cargo build --release` rebuilds it
# once more. The map is read in lld's format (Rust's default linker on x86_64 Linux since 1.90).
# Usage: scripts/binary-size.sh [TOP]   (default: the 30 largest crates)
set -euo pipefail
cd "$(dirname "$0")/.."
top=${1:-30}
map=$(mktemp)
trap 'rm -f "$map"' EXIT
cargo rustc --release --quiet --bin trailq -- -C "link-arg=-Wl,-Map=$map"
ls -l "${CARGO_TARGET_DIR:-target}/release/trailq" | awk '{printf "binary: %.1f MB (stripped as the release profile says)\n", $5 / 1e6}'
python3 - "$map" "$top" <<'EOF'
import collections, re, subprocess, sys

path, top = sys.argv[1], int(sys.argv[2])
# lld: "VMA LMA Size Align Out/In/Symbol"; an output section is indented by one space, an input
# section by 9, a symbol by 17.
line_re = re.compile(r'^\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+( +)(\S.*)$')
crate_re = re.compile(r'lib([A-Za-z0-9_]+?)-[0-9a-f]+\.rlib')
sections, by_crate, text_syms = collections.Counter(), collections.Counter(), []
out = None
for line in open(path, errors='replace'):
    m = line_re.match(line)
    if not m:
        continue
    size, indent, rest = int(m.group(1), 16), len(m.group(2)), m.group(3)
    if indent == 1:
        out = rest
        sections[out] += size
        continue
    if indent >= 16:
        continue
    c = crate_re.search(rest)
    crate = c.group(1) if c else ('trailq (binary)' if '/trailq-' in rest else 'other (std, C, linker)')
    if out in ('.text', '.rodata', '.data.rel.ro', '.eh_frame', '.gcc_except_table'):
        by_crate[crate] += size
    if out == '.text':
        s = re.search(r':\(\.text\.(\S+)\)$', rest)
        if s:
            text_syms.append((s.group(1), size))
if not by_crate:
    sys.exit(f'{path}: no input sections found; is the linker lld? (this script reads its map format)')
print('\n| output section | MB |\n|---|---|')
for name, size in sections.most_common(8):
    print(f'| {name} | {size / 1e6:.2f} |')
print(f'\n| crate that emitted it (code, read-only data, unwind tables) | MB |\n|---|---|')
for name, size in by_crate.most_common(top):
    print(f'| {name} | {size / 1e6:.2f} |')
families = collections.Counter()
for name, size in by_crate.items():
    family = name.split('_')[0] if not name.startswith('trailq') else name
    families[family] += size
print('\nby family (datafusion_*, arrow_*, aws_*…): ' + ', '.join(
    f'{n} {s / 1e6:.1f}' for n, s in families.most_common(12)))
# The same code by the crate that defines it (generic code counts where it was written).
names = subprocess.run(['c++filt'], input='\n'.join(n for n, _ in text_syms),
                       capture_output=True, text=True).stdout.split('\n')
defining = collections.Counter()
for demangled, (_, size) in zip(names, text_syms):
    name = demangled.lstrip('_<&*( ').split('::')[0].split(' as ')[0]
    # `<T as Trait>::f`: a blanket implementation; its crate is in the trait's path, not here.
    defining['(blanket impls)' if re.fullmatch(r'[A-Z]', name) else name] += size
print('.text by defining crate: ' + ', '.join(
    f'{n} {s / 1e6:.1f}' for n, s in defining.most_common(15)))
EOF
