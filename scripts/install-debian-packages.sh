#!/usr/bin/env bash
# Install the Debian packages of scripts/debian-packages.txt that this machine
# lacks; `make setup` runs it first. It does nothing (and says so) when every
# package is there, and on failure says what failed and what to do.
#
# Usage: scripts/install-debian-packages.sh
# Env:   EXTRA_DEBIAN_PACKAGES  more packages to install with the project's
#                               (space-separated), for example tmux
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
step="Debian packages"

fail() {
  printf 'set-up failed (%s): %s\n' "$step" "$1" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || fail "installing Debian packages needs root: run it as root (sudo make setup)"
command -v apt-get > /dev/null && command -v dpkg-query > /dev/null \
  || fail "no apt-get here: the project's set-up is for Debian 12"

read -r -a wanted <<< "$(grep -vE '^\s*(#|$)' "$here/debian-packages.txt" | tr '\n' ' ') ${EXTRA_DEBIAN_PACKAGES:-}"

# dpkg-query exits 1 when any named package is unknown to dpkg, which is the
# usual case on a new machine: its status lines are what counts, not its exit.
installed=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${wanted[@]}" 2> /dev/null || true)
missing=()
for package in "${wanted[@]}"; do
  grep -qx "installed $package" <<< "$installed" || missing+=("$package")
done
if [ ${#missing[@]} = 0 ]; then
  echo "Debian packages: all ${#wanted[@]} installed"
  exit 0
fi

echo "Debian packages: installing ${missing[*]}"
log=$(mktemp /tmp/clickstream-apt.XXXXXX)
trap 'rm -f "$log"' EXIT

if ! apt-get update > "$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get update failed (above): check the apt sources in /etc/apt/sources.list and /etc/apt/sources.list.d/, and that their mirror is reachable"
fi

# A package no apt source offers would make apt-get install stop with a
# message about one of them; name all of them instead.
unavailable=()
for package in "${missing[@]}"; do
  candidate=$(apt-cache policy "$package" 2> /dev/null | awk '/Candidate:/ {print $2; exit}')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ] || unavailable+=("$package")
done
if [ ${#unavailable[@]} != 0 ]; then
  fail "not available from this machine's apt sources: ${unavailable[*]} (Debian 12 \"bookworm\" main has them: check the apt sources in /etc/apt/sources.list and /etc/apt/sources.list.d/)"
fi

if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" > "$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get install failed (above)"
fi
echo "Debian packages: installed ${missing[*]}"
