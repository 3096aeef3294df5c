#!/usr/bin/env bash
# Installs the system tools the test suite drives when they are missing: headless Chromium (for the
# HTML previews and the gallery page). Runs before `npm test`; idempotent and quiet when all is there.
# Without root or apt-get it only says what is missing: the tests that need a tool then skip, saying why.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-test-tools: missing ${need[*]} (not root or no apt-get); tests that need them will skip" >&2
  exit 0
fi
echo "setup-test-tools: installing ${need[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >/tmp/diffusekit-setup-test-tools.log 2>&1; then
  echo "setup-test-tools: installing ${need[*]} failed (see /tmp/diffusekit-setup-test-tools.log); tests that need them will skip" >&2
fi
exit 0
