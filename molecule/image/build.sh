#!/usr/bin/env bash
# Build the Debian 12 base image used by the lab hosts and every molecule
# scenario: debootstrap a root file system, then `podman import` it.
#
# The image is tagged with a hash of its recipe (this script and
# packages.txt), so it is rebuilt only when the recipe changes.
#
# Usage: build.sh [IMAGE_NAME]     (default: localhost/clickstream-debian12)
# Env:   DEBIAN_MIRROR  apt mirror for debootstrap; by default the first
#                       Debian mirror this machine's apt sources name.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
image=${1:-localhost/clickstream-debian12}
suite=bookworm
: "${CONTAINERS_CONF:=$here/../containers.conf}"
export CONTAINERS_CONF

recipe=$(cat "$here/build.sh" "$here/packages.txt" | sha256sum | cut -c1-12)
if podman image exists "$image:$recipe"; then
  podman tag "$image:$recipe" "$image:latest"
  echo "base image $image:$recipe is up to date"
  exit 0
fi

mirror_from_apt_sources() {
  # deb822 sources first (Debian 12 default), then the one-line format.
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {print ($2 ~ /^\[/ ? $3 : $2); exit}' /etc/apt/sources.list)
  fi
  printf '%s' "$uri"
}
mirror=${DEBIAN_MIRROR:-$(mirror_from_apt_sources)}
if [ -z "$mirror" ]; then
  echo "set-up failed (base image): no Debian mirror found in /etc/apt/sources*: set DEBIAN_MIRROR" >&2
  exit 2
fi
security_mirror=${mirror%/debian}/debian-security

packages=$(grep -vE '^\s*(#|$)' "$here/packages.txt" | paste -sd, -)
rootfs=$(mktemp -d /var/tmp/clickstream-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

echo "debootstrap $suite from the machine's apt mirror into $rootfs"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
  > "$rootfs.log" 2>&1 || {
  tail -n 30 "$rootfs.log" >&2
  echo "set-up failed (base image): debootstrap from $mirror failed (above): set DEBIAN_MIRROR to a reachable Debian mirror" >&2
  exit 1
}
rm -f "$rootfs.log"

# apt inside the image uses the same mirrors, security updates included.
cat > "$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
SOURCES
# A container has no consoles or kernel to tend: keep systemd's boot short.
for unit in getty.target systemd-udevd.service systemd-udev-trigger.service \
            systemd-modules-load.service sys-kernel-config.mount \
            systemd-remount-fs.service systemd-firstboot.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
: > "$rootfs/etc/machine-id"
echo "clickstream" > "$rootfs/etc/hostname"
# No package lists in the image: they would be stale. Back-date the lists
# folder so that `apt: update_cache=true cache_valid_time=...` refreshes it.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
rm -f "$rootfs/var/lib/apt/periodic/update-success-stamp"
touch -d 2000-01-01 "$rootfs/var/lib/apt/lists"

tar -C "$rootfs" -c . | podman import \
  --change 'CMD ["/sbin/init"]' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change "LABEL org.opencontainers.image.title=clickstream-debian12 clickstream.recipe=$recipe" \
  - "$image:$recipe"
podman tag "$image:$recipe" "$image:latest"
echo "built base image $image:$recipe"
