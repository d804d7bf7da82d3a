# shellcheck shell=bash
# images/lib-rootfs.sh: helpers shared by images/test-install.sh and images/build-image.sh.
# Source it; it defines functions only (no side effects until one is called).
#
#   vigil_debootstrap DIR [PACKAGE...]   a clean Debian 12 (bookworm) minbase root in DIR (which
#                                        must not exist or be empty), plus PACKAGEs (debootstrap
#                                        --include). Cached: the first run downloads the .debs into
#                                        a debootstrap tarball (--make-tarball), unpacks it
#                                        (--unpack-tarball) and keeps the finished root as a
#                                        tarball; later runs with the same suite, mirror and
#                                        package list only unpack that (seconds).
#   vigil_mount DIR / vigil_umount DIR   /proc, /sys, /dev, /dev/pts, a tmpfs /run (the chroot's
#                                        own, never the host's) and the apt .deb cache, mounted
#                                        for chroot_run; vigil_umount takes off everything
#                                        mounted at or under DIR (also leftovers of a killed run).
#   vigil_cleanup_trap DIR...            trap EXIT/INT/TERM/HUP: kill what still runs inside DIR,
#                                        unmount, then run the caller's vigil_on_exit if defined.
#   chroot_run DIR CMD...                CMD inside DIR (a clean environment, no service starts).
#   vigil_rm_root DIR                    unmount and delete a root (refuses while anything is
#                                        still mounted under it; never crosses file systems).
#
# Settings (environment): VIGIL_IMAGE_CACHE (default /var/cache/vigil-images), VIGIL_MIRROR
# and VIGIL_SECURITY_MIRROR (default: the host's apt sources, else deb.debian.org),
# VIGIL_SUITE (bookworm), VIGIL_REFRESH=1 (ignore the cached root and debootstrap again).
# Nothing here writes to the host's /etc, /run or network configuration: the chroot gets its
# own tmpfs /run, and apt inside it uses the root's own sources.list.

VIGIL_IMAGE_CACHE=${VIGIL_IMAGE_CACHE:-/var/cache/vigil-images}
VIGIL_SUITE=${VIGIL_SUITE:-bookworm}

# The Debian mirror the host's apt uses (deb822 .sources or one-line sources.list) for SUITE.
vigil_host_mirror() {
    local suite=$1 default=$2 f url
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822 stanzas: print URIs of the stanza whose Suites list SUITE.
        url=$(awk -v s="$suite" '
            /^[[:space:]]*$/ { if (ok && uri) { print uri; exit } ok = 0; uri = ""; next }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
            END { if (ok && uri) print uri }' "$f" | head -n1)
        [ -n "$url" ] && { echo "$url"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        url=$(awk -v s="$suite" '$1 == "deb" && $0 !~ /\[/ && $3 == s { print $2; exit }
                                 $1 == "deb" && $0 ~ /\[/ { for (i = 2; i < NF; i++) if ($i ~ /\]$/) { if ($(i + 2) == s) { print $(i + 1); exit } } }' "$f")
        [ -n "$url" ] && { echo "$url"; return; }
    done
    echo "$default"
}

VIGIL_MIRROR=${VIGIL_MIRROR:-$(vigil_host_mirror "$VIGIL_SUITE" http://deb.debian.org/debian)}
VIGIL_SECURITY_MIRROR=${VIGIL_SECURITY_MIRROR:-$(vigil_host_mirror "$VIGIL_SUITE-security" http://deb.debian.org/debian-security)}

vigil_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Mount points at or under DIR, deepest first (from /proc/self/mountinfo; octal escapes kept
# as the kernel writes them, which umount accepts after printf %b).
vigil_mounts_under() {
    local dir
    dir=$(realpath -m "$1")
    awk -v d="$dir" '{ p = $5; if (p == d || index(p, d "/") == 1) print p }' /proc/self/mountinfo |
        awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-
}

vigil_umount() {
    local dir=$1 m tries
    for tries in 1 2 3; do
        while IFS= read -r m; do
            [ -n "$m" ] || continue
            m=$(printf '%b' "$m")
            umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done < <(vigil_mounts_under "$dir")
        [ -z "$(vigil_mounts_under "$dir")" ] && return 0
        sleep "$tries"
    done
    vigil_log "still mounted under $dir: $(vigil_mounts_under "$dir" | tr '\n' ' ')"
    return 1
}

vigil_mount() {
    local dir=$1
    vigil_umount "$dir"
    mount -t proc -o nosuid,nodev,noexec proc "$dir/proc"
    mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$dir/sys"
    # A /dev of its own (tmpfs with the usual nodes), not a bind of the host's.
    mount -t tmpfs -o mode=0755,nosuid,size=1m tmpfs "$dir/dev"
    mknod -m 0666 "$dir/dev/null" c 1 3
    mknod -m 0666 "$dir/dev/zero" c 1 5
    mknod -m 0666 "$dir/dev/full" c 1 7
    mknod -m 0666 "$dir/dev/random" c 1 8
    mknod -m 0666 "$dir/dev/urandom" c 1 9
    mknod -m 0666 "$dir/dev/tty" c 5 0
    ln -s /proc/self/fd "$dir/dev/fd"
    ln -s /proc/self/fd/0 "$dir/dev/stdin"
    ln -s /proc/self/fd/1 "$dir/dev/stdout"
    ln -s /proc/self/fd/2 "$dir/dev/stderr"
    mkdir -m 0755 "$dir/dev/pts"
    mkdir -m 1777 "$dir/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$dir/dev/pts"
    ln -s pts/ptmx "$dir/dev/ptmx"
    mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$dir/dev/shm"
    mount -t tmpfs -o mode=0755,nosuid,nodev,size=256m tmpfs "$dir/run"
    mkdir -p "$dir/run/lock" "$dir/run/systemd/resolve"
    # Name resolution for apt: when the root's resolv.conf points into /run (systemd-resolved),
    # the host's resolver settings go there, on the chroot's tmpfs, gone at vigil_umount.
    cp /etc/resolv.conf "$dir/run/systemd/resolve/stub-resolv.conf"
    cp /etc/resolv.conf "$dir/run/systemd/resolve/resolv.conf"
    # apt's .deb cache lives in VIGIL_IMAGE_CACHE (kept across runs), shared by one run at a
    # time: apt locks it, so a run that finds it taken (flock, held until the run exits) keeps
    # the root's own cache instead of failing on apt's lock.
    mkdir -p "$VIGIL_IMAGE_CACHE/apt-archives/partial" "$dir/var/cache/apt/archives"
    if [ -z "${VIGIL_APT_CACHE_FD:-}" ]; then
        exec {VIGIL_APT_CACHE_FD}>"$VIGIL_IMAGE_CACHE/apt-archives.lock"
        if ! flock -n "$VIGIL_APT_CACHE_FD"; then
            vigil_log "the apt cache $VIGIL_IMAGE_CACHE/apt-archives is in use by another run: not shared"
            exec {VIGIL_APT_CACHE_FD}>&-
            VIGIL_APT_CACHE_FD=none
        fi
    fi
    if [ "$VIGIL_APT_CACHE_FD" != none ]; then
        mount --bind "$VIGIL_IMAGE_CACHE/apt-archives" "$dir/var/cache/apt/archives"
    fi
}

# PIDs of the processes whose root directory is DIR (started by chroot_run in DIR).
vigil_pids_in() {
    local dir p
    dir=$(realpath -m "$1")
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$dir" ] && echo "${p#/proc/}"
    done
    return 0
}

vigil_kill_in() {
    local dir=$1 pids
    pids=$(vigil_pids_in "$dir" | tr '\n' ' ')
    [ -n "${pids// /}" ] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(vigil_pids_in "$dir" | tr '\n' ' ')
        [ -n "${pids// /}" ] || return 0
        sleep 0.5
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
}

VIGIL_TRAP_DIRS=()
vigil__on_exit() {
    local rc=$? d
    # The clean-up runs to its end even when a signal comes meanwhile.
    trap '' INT TERM HUP
    trap - EXIT
    set +e
    # A signal's trap runs with the redirections of the command it interrupted: the script's
    # own output again.
    exec 1>&"$VIGIL_STDOUT_FD" 2>&"$VIGIL_STDERR_FD"
    if declare -F vigil_on_exit >/dev/null; then vigil_on_exit "$rc"; fi
    for d in "${VIGIL_TRAP_DIRS[@]}"; do
        [ -d "$d" ] || continue
        vigil_kill_in "$d"
        vigil_umount "$d"
    done
    exit "$rc"
}
vigil_cleanup_trap() {
    VIGIL_TRAP_DIRS+=("$@")
    [ -n "${VIGIL_STDOUT_FD:-}" ] || exec {VIGIL_STDOUT_FD}>&1 {VIGIL_STDERR_FD}>&2
    trap vigil__on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
}

# In the background and waited for: bash runs a trap only between commands, and `wait` is the
# one it interrupts, so a signal ends a long apt run at once (the trap kills what runs in DIR).
chroot_run() {
    local dir=$1
    shift
    env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 LC_ALL=C.UTF-8 \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        ${SOURCE_DATE_EPOCH:+SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH} \
        chroot "$dir" "$@" &
    wait "$!"
}

vigil_rm_root() {
    local dir=$1
    [ -e "$dir" ] || return 0
    case "$(realpath -m "$dir")" in
        / | /usr | /etc | /var | /home | /root | /tmp) vigil_log "refusing to delete $dir"; return 1 ;;
    esac
    vigil_kill_in "$dir"
    vigil_umount "$dir" || { vigil_log "not deleting $dir: mounts remain"; return 1; }
    rm -rf --one-file-system "$dir"
}

# Debian's sources for the root: the suite, its updates and its security updates.
vigil_write_sources() {
    local dir=$1
    cat >"$dir/etc/apt/sources.list" <<EOF
deb $VIGIL_MIRROR $VIGIL_SUITE main
deb $VIGIL_MIRROR $VIGIL_SUITE-updates main
deb $VIGIL_SECURITY_MIRROR $VIGIL_SUITE-security main
EOF
}

vigil_debootstrap() {
    local dir=$1
    shift
    local include key debs rootfs t0
    include=$(printf '%s\n' "$@" | sed '/^$/d' | sort -u | paste -sd, -)
    key=$(printf '%s|%s|%s|%s|v1' "$VIGIL_SUITE" "$VIGIL_MIRROR" "$VIGIL_SECURITY_MIRROR" "$include" |
        sha256sum | cut -c1-16)
    debs=$VIGIL_IMAGE_CACHE/debootstrap-$VIGIL_SUITE-$key.tgz
    rootfs=$VIGIL_IMAGE_CACHE/rootfs-$VIGIL_SUITE-$key.tar.zst
    mkdir -p "$VIGIL_IMAGE_CACHE"
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
        vigil_log "$dir exists and is not empty"
        return 1
    fi
    mkdir -p "$dir"
    t0=$(date +%s)
    if [ -s "$rootfs" ] && [ "${VIGIL_REFRESH:-0}" != 1 ]; then
        vigil_log "root file system from the cache: $rootfs"
        tar --zstd -xpf "$rootfs" --numeric-owner --xattrs --xattrs-include='*' -C "$dir"
        vigil_log "unpacked in $(($(date +%s) - t0)) s"
        return 0
    fi
    local args=(--variant=minbase --arch=amd64 --keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
    [ -n "$include" ] && args+=(--include="$include")
    if [ ! -s "$debs" ] || [ "${VIGIL_REFRESH:-0}" = 1 ]; then
        vigil_log "debootstrap --make-tarball: downloading $VIGIL_SUITE minbase${include:+ + $include} from $VIGIL_MIRROR"
        local work
        work=$(mktemp -d "$VIGIL_IMAGE_CACHE/.work.XXXXXX")
        if ! debootstrap "${args[@]}" --make-tarball="$debs.tmp" "$VIGIL_SUITE" "$work" "$VIGIL_MIRROR" \
            >"$VIGIL_IMAGE_CACHE/debootstrap-download.log" 2>&1; then
            tail -n 30 "$VIGIL_IMAGE_CACHE/debootstrap-download.log" >&2
            rm -rf --one-file-system "$work" "$debs.tmp"
            return 1
        fi
        rm -rf --one-file-system "$work"
        mv "$debs.tmp" "$debs"
    fi
    vigil_log "debootstrap --unpack-tarball into $dir"
    if ! debootstrap "${args[@]}" --unpack-tarball="$debs" "$VIGIL_SUITE" "$dir" "$VIGIL_MIRROR" \
        >"$VIGIL_IMAGE_CACHE/debootstrap-install.log" 2>&1; then
        tail -n 30 "$VIGIL_IMAGE_CACHE/debootstrap-install.log" >&2
        vigil_umount "$dir" || true
        return 1
    fi
    # debootstrap may leave its own /proc mount behind.
    vigil_umount "$dir"
    vigil_write_sources "$dir"
    rm -rf "${dir:?}"/var/cache/apt/archives/*.deb "${dir:?}"/var/lib/apt/lists/*_Packages \
        "${dir:?}/debootstrap"
    vigil_log "debootstrap done in $(($(date +%s) - t0)) s; caching the root as $rootfs"
    tar --zstd -cpf "$rootfs.tmp" --numeric-owner --xattrs --xattrs-include='*' -C "$dir" .
    mv "$rootfs.tmp" "$rootfs"
}
