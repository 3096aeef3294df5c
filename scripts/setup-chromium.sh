#!/bin/sh
# Installs Debian's chromium for the HTML-preview acceptance test (test/pointcloud-preview.test.ts),
# which skips with a message when /usr/bin/chromium is missing. Idempotent: does nothing when present.
set -e
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium
