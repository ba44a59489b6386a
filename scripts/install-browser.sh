#!/usr/bin/env bash
# Installs Debian's headless browser for the dashboard's browser test: chromium and its matching
# chromedriver (same Debian version, so Selenium never downloads a driver). Only the test needs it.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null | head -1) and chromedriver are present"
  exit 0
fi
# shellcheck source=scripts/apt-get-waiting.sh
source "$(dirname "$0")/apt-get-waiting.sh"

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "installing: chromium chromium-driver"
  apt_get update -qq
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends \
    chromium chromium-driver >/dev/null
else
  echo "missing: chromium and chromium-driver (install them with your package manager)" >&2
  exit 1
fi
