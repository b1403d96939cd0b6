#!/usr/bin/env bash
# Installs Debian's Chromium, the real browser the report test opens `trailq report`'s page in
# (about 20 s on a new machine; nothing when it is there). Needs root or sudo for apt-get.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
chromium --version >/dev/null
