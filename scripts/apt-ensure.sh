#!/usr/bin/env bash
# apt-ensure.sh WHO PACKAGE...: installs those of the Debian packages that
# are missing (apt-get, through sudo when not root); does nothing when every
# one is present. WHO names the caller in its messages. Used by
# scripts/install-deps.sh and scripts/install-test-deps.sh.
set -euo pipefail
who=$1
shift

# One dpkg-query for every package (one per package took seconds on a busy
# machine, and scripts/run.sh runs this each time).
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
  sed -n 's/^\([^ ]*\) install ok installed$/\1/p' || true)
missing=()
for p in "$@"; do
  grep -qxF -- "$p" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "$who: all $# packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "$who: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
