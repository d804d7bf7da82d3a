#!/usr/bin/env bash
# images/test-install.sh [DEB]: the install test of the Debian package (as root, Debian 12).
#
# DEB defaults to build-pkg/vigil_0.1.0_amd64.deb. In a clean Debian 12 minbase root
# (debootstrap, cached: images/lib-rootfs.sh) it
#   1. runs lintian on the .deb on the host (an E: tag fails the test, W: tags are printed);
#   2. installs it with `apt-get install -y /tmp/vigil.deb` (apt takes the declared runtime
#      dependencies from the Debian archive; a policy-rc.d forbids service starts);
#   3. checks every file the units name (Exec* binaries, absolute paths in their arguments,
#      EnvironmentFile=, User=), the conffiles, the tmpfiles.d directories, the user `vigil`,
#      `--version` of the three programs;
#   4. starts vigil-mgmtd as user vigil (as its unit would: setpriv, umask 0077), waits for its
#      API, checks the starter pack is active, makes a viewer token, replays a capture from
#      pcaps/ with the installed sensor.yaml (alerts into the EVE file and into mgmtd over
#      ZeroMQ), checks `vigilctl status`/`vigilctl alerts` show what the EVE file has, stops mgmtd;
#      all of it in a network namespace of its own (only a loopback), never the host's network;
#   4b. an upgrade: the package repacked with a higher version and installed over it after an
#      edit of mgmtd.yaml: the edit, the store, the tokens and the active pack stay;
#   5. `dpkg --purge vigil`, `apt-get autoremove --purge`, and compares a listing of the root
#      with the one taken before the install: nothing of Vigil may stay (paths, the user and
#      group entries, /etc/vigil, /var/lib/vigil, /var/log/vigil, /run/vigil).
# Prints PASS/FAIL per check and ends with `install test: N passed, N failed` (exit 1 on any
# failure). VIGIL_KEEP_ROOT=1 keeps the root (its path is printed); the work directory holds
# the logs (install.log, mgmtd.log, replay.log, lintian.txt, listings).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib-rootfs.sh
. "$here/lib-rootfs.sh"

deb=$(realpath -m "${1:-$repo/build-pkg/vigil_0.1.0_amd64.deb}")
[ "$(id -u)" = 0 ] || { echo "test-install.sh: run as root" >&2; exit 2; }
[ -f "$deb" ] || { echo "test-install.sh: no package at $deb" >&2; exit 2; }
pkg=$(dpkg-deb -f "$deb" Package)

t_start=$(date +%s)
work=$(mktemp -d /var/tmp/vigil-install-test.XXXXXX)
root=$work/root
netns_pid=

vigil_on_exit() {
    [ -n "$netns_pid" ] && kill "$netns_pid" 2>/dev/null
    vigil_kill_in "$root"
    vigil_umount "$root"
    if [ "${VIGIL_KEEP_ROOT:-0}" = 1 ]; then
        echo "root kept: $root (logs in $work)"
    else
        vigil_rm_root "$root"
        echo "logs: $work"
    fi
}
vigil_cleanup_trap "$root"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# check NAME CMD...: PASS when CMD succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
in_root() { chroot_run "$root" "$@"; }
quiet() { "$@" >/dev/null 2>&1; }
indent() { sed "s/^/   /"; }
# Inside the root and the private network namespace, as user vigil with the units' umask.
as_vigil() {
    nsenter --net="/proc/$netns_pid/ns/net" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        HOME=/var/lib/vigil VIGIL_TOKEN="${token:-}" \
        chroot "$root" setpriv --reuid=vigil --regid=vigil --init-groups -- \
        sh -c 'umask 0077; exec "$@"' sh "$@"
}
# The same in the background, output to the file $1; spawned_pid is the program's PID (each
# step execs the next).
spawn_as_vigil() {
    local log=$1
    shift
    nsenter --net="/proc/$netns_pid/ns/net" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        HOME=/var/lib/vigil chroot "$root" setpriv --reuid=vigil --regid=vigil --init-groups -- \
        sh -c 'umask 0077; exec "$@"' sh "$@" >"$log" 2>&1 &
    spawned_pid=$!
}

# A listing of the root: type, mode, owner, path (and a checksum of files under /etc), without
# the apt/dpkg state, caches, logs and the mounted /proc, /sys, /dev, /run.
listing() {
    (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run \
        -o -path ./tmp -o -path ./var/cache/apt -o -path ./var/lib/apt -o -path ./var/lib/dpkg \
        -o -path ./var/cache/debconf -o -path ./var/cache/ldconfig -o -path ./var/log \
        -o -path ./root/.cache -o -regex '\./etc/\(passwd\|group\|shadow\|gshadow\)-' \) -prune \
        -o -printf '%y %m %U:%G %p\n' | sort)
    (cd "$root" && find ./etc -xdev -type f ! -regex '\./etc/\(passwd\|group\|shadow\|gshadow\)-' \
        -print0 | sort -z | xargs -0 sha256sum)
}

echo "== install test of $deb (package $pkg) =="
echo "work directory: $work"

# 1. lintian on the host.
echo "-- lintian"
lintian_rc=0
lintian --allow-root --tag-display-limit 0 "$deb" >"$work/lintian.txt" 2>&1 || lintian_rc=$?
sed 's/^/   /' "$work/lintian.txt"
lintian_errors=$(grep -c '^E:' "$work/lintian.txt" || true)
lintian_warnings=$(grep -c '^W:' "$work/lintian.txt" || true)
if [ "$lintian_errors" = 0 ] && [ "$lintian_rc" -ne 0 ]; then
    fail "lintian failed to run (exit $lintian_rc: $work/lintian.txt)"
else
    check "lintian: $lintian_errors errors, $lintian_warnings warnings" [ "$lintian_errors" = 0 ]
fi

# 2. A clean root, the package installed by apt.
echo "-- clean Debian 12 root"
t0=$(date +%s)
vigil_debootstrap "$root"
echo "   root ready in $(($(date +%s) - t0)) s: $root"
vigil_mount "$root"
in_root apt-get update >"$work/apt-update.log" 2>&1 ||
    { cat "$work/apt-update.log"; fail "apt-get update in the root"; }
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

# The package's declared dependencies first (apt resolves them from the archive): the listing
# taken then is what the purge must return the root to, byte for byte, so any difference is
# the package's own doing, not its dependencies' (systemd makes users, /etc/machine-id, ...).
echo "-- apt-get satisfy: the declared Depends and Recommends"
depends=$(dpkg-deb -f "$deb" Depends)
recommends=$(dpkg-deb -f "$deb" Recommends)
echo "   Depends: $depends"
echo "   Recommends: ${recommends:-none}"
t0=$(date +%s)
if in_root apt-get satisfy -y "$depends${recommends:+, $recommends}" >"$work/deps.log" 2>&1; then
    pulled=$(sed -n 's/^Setting up \([^ :]*\).*/\1/p' "$work/deps.log" | sort -u)
    pass "apt resolves the declared dependencies from the archive ($(echo "$pulled" | wc -l) packages, $(($(date +%s) - t0)) s)"
    echo "   $(echo "$pulled" | paste -sd' ' -)" | fold -s -w 100 | sed '2,$s/^/   /'
else
    indent <"$work/deps.log" | tail -n 30
    fail "apt resolves the declared dependencies from the archive (log: $work/deps.log)"
fi
listing >"$work/before.txt"
for f in passwd group shadow gshadow; do cp "$root/etc/$f" "$work/before-$f"; done

echo "-- apt-get install -y /tmp/vigil.deb"
cp "$deb" "$root/tmp/vigil.deb"
t0=$(date +%s)
if in_root apt-get install -y /tmp/vigil.deb >"$work/install.log" 2>&1; then
    pass "apt-get install -y /tmp/vigil.deb ($(($(date +%s) - t0)) s)"
else
    indent <"$work/install.log" | tail -n 40
    fail "apt-get install -y /tmp/vigil.deb (log: $work/install.log)"
    echo "install test: $passed passed, $failed failed"
    exit 1
fi
more=$(sed -n 's/^Setting up \([^ :]*\).*/\1/p' "$work/install.log" | { grep -vx "$pkg" || true; } | paste -sd' ' -)
check "the install needed nothing beyond the declared dependencies${more:+ (also: $more)}" [ -z "$more" ]

# 3. Files the units and tmpfiles name, the user, the programs.
echo "-- files the package and its units name"
exists_in_root() { [ -e "$root$1" ] || [ -L "$root$1" ]; }
units=$(in_root dpkg -L "$pkg" | grep -E '^(/usr)?/lib/systemd/system/[^/]+\.service$' || true)
check "the package ships systemd units ($(echo "$units" | xargs -n1 basename 2>/dev/null | paste -sd' ' -))" [ -n "$units" ]
for unit in $units; do
    name=$(basename "$unit")
    # Exec*= and EnvironmentFile= lines: every absolute path (Exec prefixes -@:+! stripped).
    while IFS= read -r line; do
        key=${line%%=*}
        value=${line#*=}
        first=1
        for word in $value; do
            if [ "$first" = 1 ] && [ "$key" != EnvironmentFile ]; then
                while [[ $word == [-@:+!]* ]]; do word=${word:1}; done
                first=0
                check "$name $key: $word exists and is executable" test -x "$root$word"
                continue
            fi
            word=${word#-}
            case "$word" in
                /*) check "$name $key: $word exists" exists_in_root "$word" ;;
                --*=/*) check "$name $key: ${word#*=} exists" exists_in_root "${word#*=}" ;;
            esac
        done
    done < <(grep -E '^(Exec[A-Za-z]*|EnvironmentFile)=' "$root$unit")
    user=$(sed -n 's/^User=//p' "$root$unit" | tail -n1)
    [ -n "$user" ] && check "$name User=$user exists" quiet in_root getent passwd "$user"
    group=$(sed -n 's/^Group=//p' "$root$unit" | tail -n1)
    [ -n "$group" ] && check "$name Group=$group exists" quiet in_root getent group "$group"
    for key in StateDirectory RuntimeDirectory LogsDirectory ConfigurationDirectory; do
        base=
        case $key in
            StateDirectory) base=/var/lib ;; RuntimeDirectory) base=/run ;;
            LogsDirectory) base=/var/log ;; ConfigurationDirectory) base=/etc ;;
        esac
        while read -r -a dirs; do
            for d in "${dirs[@]}"; do
                check "$name $key=$d: $base/$d exists" test -d "$root$base/$d"
            done
        done < <(sed -n "s/^$key=//p" "$root$unit")
    done
done
for tf in $(in_root dpkg -L "$pkg" | grep -E '/tmpfiles\.d/[^/]+\.conf$' || true); do
    while read -r type path mode owner group _; do
        case "$type" in
            d | D | v | q | Q)
                check "tmpfiles $(basename "$tf"): $path is a directory" test -d "$root$path"
                if [ -n "${owner:-}" ] && [ "$owner" != - ]; then
                    actual=$(in_root stat -c %U "$path" 2>/dev/null || echo missing)
                    check "tmpfiles $(basename "$tf"): $path owned by $owner ($actual)" [ "$actual" = "$owner" ]
                fi
                ;;
        esac
        : "$mode" "$group"
    done < <(grep -Ev '^[[:space:]]*(#|$)' "$root$tf")
done
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
for f in $(in_root dpkg-query -W -f='${Conffiles}\n' "$pkg" | awk 'NF { print $1 }'); do
    check "conffile $f exists" test -f "$root$f"
done
for f in /usr/bin/vigil-sensor /usr/bin/vigil-mgmtd /usr/bin/vigilctl /usr/sbin/vigil-setup \
    /etc/vigil/sensor.yaml /etc/vigil/mgmtd.yaml; do
    check "$f installed" exists_in_root "$f"
done
for prog in vigil-sensor vigil-mgmtd vigilctl; do
    if v=$(in_root "$prog" --version 2>&1) && [ -n "$v" ]; then
        pass "$prog --version: $(echo "$v" | head -n1)"
    else
        fail "$prog --version: $(echo "$v" | head -n1)"
    fi
done
if u=$(in_root getent passwd vigil); then
    uid=$(echo "$u" | cut -d: -f3)
    pass "user vigil exists ($u)"
    check "user vigil is a system user (uid $uid < 1000)" [ "$uid" -lt 1000 ]
    check "user vigil has no login shell" \
        sh -c "case '$(echo "$u" | cut -d: -f7)' in */nologin|*/false) exit 0;; *) exit 1;; esac"
else
    fail "user vigil exists"
fi
check "group vigil exists" quiet in_root getent group vigil
check "nothing of the package runs after the install (policy-rc.d)" [ -z "$(vigil_pids_in "$root")" ]

# 4. mgmtd and a replay, in a network namespace with only a loopback.
echo "-- vigil-mgmtd as user vigil, a replay into it"
unshare --net -- sleep infinity &
netns_pid=$!
sleep 0.2
nsenter --net="/proc/$netns_pid/ns/net" -- ip link set lo up
mgmtd_log=$work/mgmtd.log
spawn_as_vigil "$mgmtd_log" /usr/bin/vigil-mgmtd --config /etc/vigil/mgmtd.yaml
mgmtd_pid=$spawned_pid
api_up=0
for _ in $(seq 1 150); do
    if nsenter --net="/proc/$netns_pid/ns/net" -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/8440' 2>/dev/null; then
        api_up=1
        break
    fi
    kill -0 "$mgmtd_pid" 2>/dev/null || break
    sleep 0.2
done
if [ "$api_up" = 1 ]; then
    pass "vigil-mgmtd runs as vigil, its API listens on 127.0.0.1:8440"
else
    sed 's/^/   /' "$mgmtd_log" | tail -n 20
    fail "vigil-mgmtd runs as vigil, its API listens on 127.0.0.1:8440 (log: $mgmtd_log)"
fi
mgmtd_uid=$(awk '/^Uid:/ { print $2 }' "/proc/$mgmtd_pid/status" 2>/dev/null || echo none)
vigil_uid=$(in_root id -u vigil 2>/dev/null || echo x)
check "vigil-mgmtd's process runs as user vigil (uid $mgmtd_uid)" [ "$mgmtd_uid" = "$vigil_uid" ]
active=/var/lib/vigil/rulepacks/active
check "the starter pack is active ($active -> $(readlink "$root$active" 2>/dev/null || echo missing))" \
    test -e "$root$active"
pack_rules=$(find -L "$root$active" -name '*.rules' 2>/dev/null | wc -l)
check "the active pack holds rule files ($pack_rules)" [ "$pack_rules" -gt 0 ]

token=
if token=$(as_vigil vigilctl tokens add install-test --role viewer --config /etc/vigil/mgmtd.yaml 2>"$work/token.err") &&
    [ -n "$token" ]; then
    pass "vigilctl tokens add install-test --role viewer"
else
    sed 's/^/   /' "$work/token.err"
    fail "vigilctl tokens add install-test --role viewer"
fi

# The capture: 01-http-established.pcap unless the starter pack has none of the sids its
# .expect file expects; then the first capture whose expected sids are in the pack.
pack_sids=$(find -L "$root$active" -name '*.rules' -exec cat {} + 2>/dev/null |
    grep -o 'sid:[[:space:]]*[0-9]*' | grep -o '[0-9]*$' | sort -u)
pcap=
for e in "$repo/pcaps/01-http-established.expect" "$repo"/pcaps/*.expect; do
    [ -f "${e%.expect}.pcap" ] || continue
    if awk 'NF && $1 !~ /^#/ && $2 > 0 { print $1 }' "$e" | grep -qxF -f <(echo "$pack_sids") 2>/dev/null; then
        pcap=${e%.expect}.pcap
        break
    fi
done
pcap=${pcap:-$repo/pcaps/01-http-established.pcap}
cp "$pcap" "$root/tmp/$(basename "$pcap")"
chmod 0644 "$root/tmp/$(basename "$pcap")"
echo "   capture: $(basename "$pcap")"
replay_args=(--pcap "/tmp/$(basename "$pcap")" --config /etc/vigil/sensor.yaml --no-progress --stats)
replay_rc=0
as_vigil vigil-sensor replay "${replay_args[@]}" >"$work/replay.log" 2>&1 || replay_rc=$?
if [ "$replay_rc" = 0 ]; then
    pass "vigil-sensor replay ${replay_args[*]} (as vigil)"
    grep -E '^(rules|replay):' "$work/replay.log" | indent
else
    indent <"$work/replay.log" | tail -n 20
    fail "vigil-sensor replay ${replay_args[*]}: exit $replay_rc (log: $work/replay.log)"
fi
eve=$root/var/log/vigil/eve.json
eve_alerts=$(grep -c '"event_type": *"alert"' "$eve" 2>/dev/null || true)
eve_alerts=${eve_alerts:-0}
check "alerts in /var/log/vigil/eve.json ($eve_alerts)" [ "$eve_alerts" -gt 0 ]

status_json=$(as_vigil vigilctl status --json 2>"$work/status.err" || true)
stored=$(echo "$status_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["alerts"])' 2>/dev/null || echo "?")
check "vigilctl status: the store holds the EVE file's alerts ($stored stored, $eve_alerts in EVE)" \
    [ "$stored" = "$eve_alerts" ]
if out=$(as_vigil vigilctl status 2>&1); then
    pass "vigilctl status"
    indent <<<"$out"
else
    fail "vigilctl status: $out"
fi
listed=$(as_vigil vigilctl alerts --json --limit 100000 2>/dev/null |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo "?")
check "vigilctl alerts lists them ($listed)" [ "$listed" = "$eve_alerts" ]

kill -TERM "$mgmtd_pid" 2>/dev/null || true
mgmtd_rc=0
wait "$mgmtd_pid" || mgmtd_rc=$?
check "vigil-mgmtd stops on SIGTERM (exit $mgmtd_rc)" [ "$mgmtd_rc" = 0 ]

# 4b. An upgrade: the same package repacked with a higher version, installed over this one
#     after the operator edited mgmtd.yaml: the edit, the store, the tokens and the active
#     pack stay; mgmtd starts on them.
echo "-- upgrade over the installed package"
version=$(dpkg-deb -f "$deb" Version)
new_version="$version+upgradetest1"
sed -i 's/^    owner: "Network operations <noc@example.org>"/    owner: "Site NOC <noc@site.example>"/' \
    "$root/etc/vigil/mgmtd.yaml"
check "the operator's edit of mgmtd.yaml is in place" grep -q 'Site NOC' "$root/etc/vigil/mgmtd.yaml"
active_before=$(readlink "$root$active" 2>/dev/null || echo missing)
rm -rf "$work/repack"
dpkg-deb -R "$deb" "$work/repack"
sed -i "s/^Version: .*/Version: $new_version/" "$work/repack/DEBIAN/control"
dpkg-deb --root-owner-group -b "$work/repack" "$root/tmp/vigil-upgrade.deb" >/dev/null
t0=$(date +%s)
if in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y /tmp/vigil-upgrade.deb \
    >"$work/upgrade.log" 2>&1; then
    pass "apt-get install -y /tmp/vigil-upgrade.deb ($version -> $new_version, $(($(date +%s) - t0)) s)"
else
    indent <"$work/upgrade.log" | tail -n 40
    fail "apt-get install -y /tmp/vigil-upgrade.deb (log: $work/upgrade.log)"
fi
# shellcheck disable=SC2016  # dpkg-query's format, not the shell's
installed=$(in_root dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || echo none)
check "the installed version is $new_version ($installed)" [ "$installed" = "$new_version" ]
check "the upgrade kept the operator's mgmtd.yaml" grep -q 'Site NOC' "$root/etc/vigil/mgmtd.yaml"
check "no .dpkg-dist / .dpkg-new / .dpkg-old beside the configs" \
    sh -c "! ls '$root'/etc/vigil/*.dpkg-* >/dev/null 2>&1"
check "the upgrade kept the active pack ($active_before)" \
    [ "$(readlink "$root$active" 2>/dev/null || echo missing)" = "$active_before" ]
check "the upgrade kept the store" test -s "$root/var/lib/vigil/mgmt.db"
spawn_as_vigil "$work/mgmtd-upgraded.log" /usr/bin/vigil-mgmtd --config /etc/vigil/mgmtd.yaml
mgmtd_pid=$spawned_pid
for _ in $(seq 1 150); do
    nsenter --net="/proc/$netns_pid/ns/net" -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/8440' \
        2>/dev/null && break
    kill -0 "$mgmtd_pid" 2>/dev/null || break
    sleep 0.2
done
status_json=$(as_vigil vigilctl status --json 2>"$work/status2.err" || true)
stored2=$(echo "$status_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["alerts"])' 2>/dev/null || echo "?")
check "after the upgrade the token of before works and the store holds the same alerts ($stored2 = $stored)" \
    [ "$stored2" = "$stored" ]
check "after the upgrade mgmtd keeps the starter pack, no second activation" \
    [ "$(grep -c 'rulepacks.initial: stored and activated' "$work/mgmtd-upgraded.log")" = 0 ]
kill -TERM "$mgmtd_pid" 2>/dev/null || true
mgmtd_rc=0
wait "$mgmtd_pid" || mgmtd_rc=$?
check "vigil-mgmtd (upgraded) stops on SIGTERM (exit $mgmtd_rc)" [ "$mgmtd_rc" = 0 ]

kill "$netns_pid" 2>/dev/null || true
wait "$netns_pid" 2>/dev/null || true
netns_pid=

# 5. Purge: nothing of Vigil stays.
echo "-- dpkg --purge $pkg"
rm -f "$root/tmp/vigil.deb" "$root/tmp/$(basename "$pcap")"
if in_root dpkg --purge "$pkg" >"$work/purge.log" 2>&1; then
    pass "dpkg --purge $pkg"
else
    sed 's/^/   /' "$work/purge.log"
    fail "dpkg --purge $pkg (log: $work/purge.log)"
fi
listing >"$work/after.txt"
diff "$work/before.txt" "$work/after.txt" >"$work/leftovers.diff" || true
vigil_left=$(grep -E '^[<>]' "$work/leftovers.diff" | grep -i vigil || true)
other_left=$(grep -E '^[<>]' "$work/leftovers.diff" | grep -vi vigil || true)
if [ -z "$vigil_left" ]; then
    pass "after the purge no path of Vigil is left"
else
    indent <<<"$vigil_left" | head -n 40
    fail "after the purge paths of Vigil are left ($work/leftovers.diff)"
fi
if [ -z "$other_left" ]; then
    pass "after the purge the root equals the one before the install (paths, modes, owners, /etc contents)"
else
    indent <<<"$other_left" | head -n 40
    fail "after the purge the root differs from the one before the install ($work/leftovers.diff)"
fi
for d in /etc/vigil /var/lib/vigil /var/log/vigil /run/vigil; do
    check "$d is gone" sh -c "! [ -e '$root$d' ]"
done
users_left=$(grep -h '^vigil:' "$root"/etc/{passwd,group,shadow,gshadow} 2>/dev/null || true)
check "no vigil entry in /etc/passwd, group, shadow, gshadow" [ -z "$users_left" ]
for f in passwd group shadow gshadow; do
    check "/etc/$f is as before the install" cmp -s "$work/before-$f" "$root/etc/$f"
done

# The dependencies go too (not part of the verdict: what they leave is theirs).
in_root apt-get autoremove --purge -y >"$work/autoremove.log" 2>&1 ||
    { indent <"$work/autoremove.log" | tail; fail "apt-get autoremove --purge"; }
rm -f "$root/usr/sbin/policy-rc.d"

echo "install test took $(($(date +%s) - t_start)) s"
echo "install test: $passed passed, $failed failed"
[ "$failed" = 0 ]
