#!/usr/bin/env bash
# Make the image the Dockerfile's `FROM debian:bookworm-slim` resolves to, on a machine that
# reaches no image registry (CI): debootstrap bookworm from Debian's mirror, slim it the way
# Debian's official -slim images are, and `podman import` it under the official name.
# Skips the work when the image already exists. Needs root (debootstrap, apt-get).
set -euo pipefail

BASE=docker.io/library/debian:bookworm-slim
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
RUNTIME=(--runtime "${PODMAN_RUNTIME:-runc}")

missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
    apt-get update -qq && apt-get install -y -qq podman runc debootstrap >/dev/null
fi

if podman "${RUNTIME[@]}" image exists "$BASE"; then
    echo "container base: $BASE already present"
    exit 0
fi

started=$(date +%s)
root=$(mktemp -d /var/tmp/bookworm-slim.XXXXXX)
# debootstrap mounts /proc and /sys inside the target: never delete through a mount left by a failure.
# (`|| true`: under `set -e` a failing umount, the usual case, would turn a success into a failure.)
trap 'umount -R "$root"/proc "$root"/sys 2>/dev/null || true; rm -rf --one-file-system "$root"' EXIT

# What Debian's -slim images leave out: documentation, man pages and translations, while
# keeping the copyright files. The same file inside the image keeps later apt-get installs slim.
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
debootstrap --variant=minbase bookworm "$root" "$MIRROR" >/dev/null

# apt settings of the official image: no .deb kept after install, no translations, compressed lists.
conf="$root/etc/apt/apt.conf.d"
clean='"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"'
cat >"$conf/docker-clean" <<CFG
DPkg::Post-Invoke { $clean; };
APT::Update::Post-Invoke { $clean; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
echo 'Acquire::Languages "none";' >"$conf/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$conf/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$conf/docker-autoremove-suggests"

# Delete what the bootstrap installed before the excludes applied, and every cache.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/*
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/*
# The same apt sources as the official image (debootstrap writes only the main suite).
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES

id=$(tar -C "$root" -c . | podman "${RUNTIME[@]}" import --quiet --change 'CMD ["bash"]' - )
podman "${RUNTIME[@]}" tag "$id" "$BASE"
size=$(podman "${RUNTIME[@]}" image inspect --format '{{.Size}}' "$BASE")
echo "container base: $BASE bootstrapped in $(($(date +%s) - started)) s, $((size / 1000000)) MB"
