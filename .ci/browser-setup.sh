#!/usr/bin/env bash
# What tests/test_browser.py needs beyond requirements.txt, on a fresh Debian machine:
# Debian's `chromium` package (Playwright cannot download its own browser here, so the
# test points Playwright at /usr/bin/chromium) and a font for the page text.
# Run as root. Idempotent: when chromium already runs, it does nothing and takes < 1 s.
set -euo pipefail

have_chromium() {
  command -v chromium >/dev/null 2>&1 && chromium --version >/dev/null 2>&1
}

if have_chromium && [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  echo "browser-setup: $(chromium --version 2>/dev/null) already installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  # Not root (a student's laptop, say): say what is missing; the browser test then
  # skips itself and prints why.
  echo "browser-setup: chromium missing and not root; run as root: apt-get install -y chromium fonts-dejavu-core" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
have_chromium || { echo "browser-setup: chromium installed but does not run" >&2; exit 1; }
echo "browser-setup: installed $(chromium --version 2>/dev/null)"
