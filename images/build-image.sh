#!/usr/bin/env bash
# images/build-image.sh [--out DIR] [--deb DEB] [--disk] [--boot-test] [--no-test] [--test-only]
#                       [--mgmt-net CIDR[,CIDR...]] [--mgmt-if NAME[,NAME...]]
# The Vigil appliance image (as root, on Debian 12). images/IMAGE.md describes it.
#
# A reproducible Debian 12 root file system in DIR/rootfs (default DIR: out/image):
# debootstrap bookworm minbase from the Debian archive (cached: images/lib-rootfs.sh) with a
# fixed package list (systemd, udev, dbus, openssh-server, nftables, iproute2, systemd-resolved,
# ca-certificates, less, polkitd, libpam-systemd, procps; linux-image-amd64 with --disk), the
# Vigil .deb installed by apt, the hostname `vigil`, an empty machine-id, no SSH host keys
# (made at the first boot), every mtime clamped to SOURCE_DATE_EPOCH (the git commit's time).
# Configuration it adds:
#   /etc/ssh/sshd_config.d/vigil.conf   SSH hardening (keys only, no root, modern algorithms)
#   /etc/nftables.conf                  the management firewall (table inet vigil_mgmt only)
#   /etc/systemd/system/nftables.service.d/vigil.conf   stop deletes that table, never flushes
#   /etc/systemd/network/20-vigil-mgmt.network          DHCP on the management interface
#   vigil-ssh-hostkeys.service, vigil-boot-test.service (the latter only runs when the kernel
#   command line says systemd.wants=vigil-boot-test.service)
# and enables nftables, ssh, systemd-networkd, systemd-resolved and both Vigil units.
# Outputs: DIR/rootfs/, DIR/rootfs.tar (deterministic tar), DIR/packages.txt, DIR/SHA256SUMS;
# with --disk DIR/vigil.img (raw disk, MBR, one ext4 partition labelled vigil-root; no
# bootloader: qemu boots DIR/vmlinuz and DIR/initrd.img directly, see IMAGE.md).
#
# Then the in-image test (unless --no-test), on a throw-away overlay of the root, in
# systemd-nspawn when it works here, else in a chroot (the output says which), in a network
# namespace of its own: nft -c -f /etc/nftables.conf, the rules loaded twice beside a sensor
# table that must survive, sshd -t and the effective settings (sshd -T), vigil-mgmtd started as
# user vigil, a replay of a capture from pcaps/ whose alerts reach mgmtd, vigilctl status.
# --boot-test boots DIR/vigil.img under qemu (KVM when /dev/kvm exists, else TCG) and waits
# for vigil-boot-test.service's verdict on the serial console (VIGIL_BOOT_TIMEOUT seconds,
# default 1500). --test-only runs the tests on the image already in DIR (no build). Ends with
# `image test: N passed, N failed`; exit 1 on any failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib-rootfs.sh
. "$here/lib-rootfs.sh"

out=$repo/out/image
deb=$repo/build-pkg/vigil_0.1.0_amd64.deb
disk=0
boot_test=0
run_test=1
test_only=0
MGMT_NET=${MGMT_NET:-192.168.0.0/16}
MGMT_IF=${MGMT_IF:-en* eth*}
usage() { sed -n '2,3p' "$0" | sed 's/^# //' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift 2 ;;
        --deb) deb=$2; shift 2 ;;
        --disk) disk=1; shift ;;
        --boot-test) disk=1; boot_test=1; shift ;;
        --no-test) run_test=0; shift ;;
        --test-only) test_only=1; shift ;;
        --mgmt-net) MGMT_NET=$2; shift 2 ;;
        --mgmt-if) MGMT_IF=$2; shift 2 ;;
        -h | --help) usage ;;
        *) echo "build-image.sh: unknown argument $1" >&2; usage ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "build-image.sh: run as root" >&2; exit 2; }
deb=$(realpath -m "$deb")
[ -f "$deb" ] || { echo "build-image.sh: no package at $deb" >&2; exit 2; }
out=$(realpath -m "$out")
pkg=$(dpkg-deb -f "$deb" Package)
MGMT_NET=${MGMT_NET//,/ }
MGMT_IF=${MGMT_IF//,/ }
mgmt4=
mgmt6=
for net in $MGMT_NET; do
    case "$net" in
        *:*) mgmt6=${mgmt6:+$mgmt6, }$net ;;
        *.*) mgmt4=${mgmt4:+$mgmt4, }$net ;;
        *) echo "build-image.sh: --mgmt-net: not a network: $net" >&2; exit 2 ;;
    esac
done

SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || stat -c %Y "$deb")}
export SOURCE_DATE_EPOCH

# The fixed package list: debootstrap --include (it cannot resolve virtual packages), then apt
# (polkitd needs a logind); the .deb's own dependencies come from apt too.
packages=(systemd-sysv udev dbus openssh-server nftables iproute2 systemd-resolved
    ca-certificates less)
[ "$disk" = 1 ] && packages+=(linux-image-amd64 initramfs-tools)
apt_packages=(polkitd libpam-systemd procps)

t_start=$(date +%s)
rootfs=$out/rootfs
work=$out/work
merged=$work/merged
qemu_pid=
netns_pid=
nspawn_pid=
vigil_on_exit() {
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
    [ -n "$nspawn_pid" ] && kill "$nspawn_pid" 2>/dev/null
    [ -n "$netns_pid" ] && kill "$netns_pid" 2>/dev/null
    vigil_kill_in "$merged"
    vigil_umount "$merged"
    vigil_kill_in "$rootfs"
    vigil_umount "$rootfs"
}
vigil_cleanup_trap "$rootfs" "$merged"

passed=0
failed=0
step() { echo "== $* ($(($(date +%s) - t_start)) s)"; }
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
in_root() { chroot_run "$rootfs" "$@"; }
declare -A timing

step "image: $out (package $pkg from $deb, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, MGMT_NET=$MGMT_NET)"
mkdir -p "$out"
vigil_umount "$merged" || true
rm -rf --one-file-system "$work"
mkdir -p "$work"
if [ "$test_only" = 0 ]; then
    vigil_rm_root "$rootfs"
    rm -f "$out"/{rootfs.tar,packages.txt,SHA256SUMS,vigil.img,vmlinuz,initrd.img,boot-serial.log}
elif [ ! -d "$rootfs/etc" ]; then
    echo "build-image.sh --test-only: no image in $out" >&2
    exit 2
fi

# 1. The root file system, configured and cleaned (DIR/rootfs, rootfs.tar, packages.txt).
build_rootfs() {
    step "debootstrap $VIGIL_SUITE minbase + ${packages[*]}"
    t0=$(date +%s)
    vigil_debootstrap "$rootfs" "${packages[@]}"
    timing[rootfs]=$(($(date +%s) - t0))
    vigil_mount "$rootfs"
    printf '#!/bin/sh\n# No service starts while the image is built.\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod 0755 "$rootfs/usr/sbin/policy-rc.d"

    step "apt-get update, upgrade (security updates), install $(basename "$deb")"
    {
        in_root apt-get update
        in_root apt-get -y --no-install-recommends dist-upgrade
        # An upgraded kernel replaces the point release's: the old one goes.
        in_root apt-get -y autoremove --purge
        cp "$deb" "$rootfs/tmp/vigil.deb"
        in_root apt-get install -y --no-install-recommends /tmp/vigil.deb "${apt_packages[@]}"
        rm -f "$rootfs/tmp/vigil.deb"
    } >"$work/apt.log" 2>&1 || { tail -n 40 "$work/apt.log"; echo "apt failed (log: $work/apt.log)" >&2; exit 1; }

    # 2. Configuration.
    step "configuration: hostname, SSH, nftables, network, units"
    echo vigil >"$rootfs/etc/hostname"
    cat >"$rootfs/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	vigil
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF

    mkdir -p "$rootfs/etc/ssh/sshd_config.d"
    cat >"$rootfs/etc/ssh/sshd_config.d/vigil.conf" <<'EOF'
# Vigil appliance: SSH hardening (images/build-image.sh, images/IMAGE.md). sshd takes the first
# value it reads for a keyword and Debian's sshd_config includes this directory first, so
# these settings win over sshd_config's.
# Public keys only; no root, no passwords, no keyboard-interactive.
PermitRootLogin no
PubkeyAuthentication yes
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
HostbasedAuthentication no
IgnoreRhosts yes
MaxAuthTries 3
MaxSessions 4
MaxStartups 10:30:60
LoginGraceTime 30
ClientAliveInterval 300
ClientAliveCountMax 2
# No forwarding or tunnels of any kind.
AllowTcpForwarding no
AllowStreamLocalForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTunnel no
GatewayPorts no
PermitUserEnvironment no
# Modern algorithms only (OpenSSH 9.2): hybrid post-quantum/X25519 key exchange, AEAD
# ciphers, encrypt-then-MAC SHA-2 MACs, Ed25519 and RSA-SHA2 keys.
KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_rsa_key
HostKeyAlgorithms ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-256
PubkeyAcceptedAlgorithms ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,rsa-sha2-512,rsa-sha2-256
LogLevel VERBOSE
EOF
    chmod 0644 "$rootfs/etc/ssh/sshd_config.d/vigil.conf"
    # Host keys are per machine: none in the image, made at the first boot.
    rm -f "$rootfs"/etc/ssh/ssh_host_*
    cat >"$rootfs/etc/systemd/system/vigil-ssh-hostkeys.service" <<'EOF'
# Vigil appliance: the SSH host keys are made at the first boot (the image has none).
[Unit]
Description=Vigil appliance: generate the SSH host keys
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service
EOF

    {
        cat <<'EOF'
#!/usr/sbin/nft -f
# /etc/nftables.conf: the Vigil appliance's management firewall (images/build-image.sh,
# images/IMAGE.md). Inbound is dropped unless it is: part of a connection already accepted,
# loopback, the ICMP and ICMPv6 messages IP needs, DHCP/DHCPv6 replies, or SSH (22) and
# vigil-mgmtd's API (8440) from the management network (MGMT_NET at build time). Outbound is
# not filtered. Forwarding is dropped (the appliance routes nothing; inline IPS pairs are DPDK
# ports, outside the kernel).
#
# Only this file's own table is replaced: the sensor's `table inet vigil` (its IPS blocks) and
# any other table stay. Never `flush ruleset` here. Loading twice is fine: the first line
# makes the table when missing, the second deletes it, the block below makes it anew.
table inet vigil_mgmt
delete table inet vigil_mgmt

table inet vigil_mgmt {
EOF
        echo "    # The management network(s): SSH and the API are reachable from here only."
        echo "    set mgmt_net4 {"
        echo "        type ipv4_addr; flags interval"
        [ -n "$mgmt4" ] && echo "        elements = { $mgmt4 }"
        echo "    }"
        echo "    set mgmt_net6 {"
        echo "        type ipv6_addr; flags interval"
        [ -n "$mgmt6" ] && echo "        elements = { $mgmt6 }"
        echo "    }"
        cat <<'EOF'

    chain input {
        type filter hook input priority filter; policy drop;

        ct state invalid drop
        ct state { established, related } accept
        iif "lo" accept

        # ICMP essentials: errors (path MTU, unreachable, time exceeded), echo (rate-limited).
        ip protocol icmp icmp type { destination-unreachable, time-exceeded, parameter-problem } accept
        ip protocol icmp icmp type echo-request limit rate 10/second accept
        # ICMPv6 essentials (RFC 4890): errors, neighbour discovery (hop limit 255 only),
        # router advertisements, MLD, echo (rate-limited).
        icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept
        icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, nd-redirect } ip6 hoplimit 255 accept
        icmpv6 type { mld-listener-query, mld-listener-report, mld2-listener-report } ip6 saddr fe80::/10 accept
        icmpv6 type echo-request limit rate 10/second accept

        # DHCP replies for the management address (the first offer is broadcast).
        udp sport 67 udp dport 68 accept
        ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept

        # SSH and vigil-mgmtd's API from the management network only.
        ip saddr @mgmt_net4 tcp dport { 22, 8440 } ct state new accept
        ip6 saddr @mgmt_net6 tcp dport { 22, 8440 } ct state new accept

        # Dropped: everything else; broadcast and multicast silently, the rest logged (limited).
        meta pkttype { broadcast, multicast } drop
        limit rate 5/minute burst 10 packets log prefix "vigil-mgmt drop: " level info
    }

    chain forward {
        type filter hook forward priority filter; policy drop;
    }
}
EOF
    } >"$rootfs/etc/nftables.conf"
    chmod 0755 "$rootfs/etc/nftables.conf"
    # Debian's nftables.service stops with `nft flush ruleset`, which would also take the sensor's
    # table (its IPS blocks): stopping deletes only the management table.
    mkdir -p "$rootfs/etc/systemd/system/nftables.service.d"
    cat >"$rootfs/etc/systemd/system/nftables.service.d/vigil.conf" <<'EOF'
# Vigil appliance: never flush the whole ruleset (the sensor's table inet vigil is not ours).
[Service]
ExecStop=
ExecStop=-/usr/sbin/nft delete table inet vigil_mgmt
EOF

    # No LLMNR or mDNS responder on the management network.
    mkdir -p "$rootfs/etc/systemd/resolved.conf.d"
    cat >"$rootfs/etc/systemd/resolved.conf.d/vigil.conf" <<'EOF'
# Vigil appliance: no LLMNR or multicast DNS (nothing to announce, nothing to answer).
[Resolve]
LLMNR=no
MulticastDNS=no
EOF

    mkdir -p "$rootfs/etc/systemd/network"
    cat >"$rootfs/etc/systemd/network/20-vigil-mgmt.network" <<EOF
# Vigil appliance: the management interface, DHCP (IPv4 and IPv6). Interfaces this does not
# match stay unconfigured (capture ports must not speak; DPDK ports are bound to vfio-pci and
# not seen by the kernel at all). Set the management NIC's name at build time (--mgmt-if) or
# edit Name= below; a static address: replace DHCP= with Address=/Gateway=/DNS=.
[Match]
Name=$MGMT_IF

[Network]
DHCP=yes
LinkLocalAddressing=ipv6
EOF

    # The boot test: only when the kernel command line has systemd.wants=vigil-boot-test.service.
    mkdir -p "$rootfs/usr/local/libexec"
    cat >"$rootfs/usr/local/libexec/vigil-boot-test" <<'EOF'
#!/bin/sh
# Vigil appliance boot test (images/build-image.sh --boot-test): prints the state of the units
# and `vigilctl status` on the console, a verdict line, and powers the machine off.
ok=1
for i in $(seq 1 120); do
    [ "$(systemctl is-active vigil-mgmtd.service)" = active ] && break
    sleep 1
done
for u in vigil-mgmtd.service nftables.service ssh.service systemd-networkd.service vigil-sensor.service; do
    echo "VIGIL-BOOT-TEST: $u: $(systemctl is-active "$u") ($(systemctl is-enabled "$u"))"
done
[ "$(systemctl is-active vigil-mgmtd.service)" = active ] || ok=0
[ "$(systemctl is-active nftables.service)" = active ] || ok=0
[ "$(systemctl is-active ssh.service)" = active ] || ok=0
nft list tables | sed 's/^/VIGIL-BOOT-TEST: nft: /'
nft list table inet vigil_mgmt >/dev/null 2>&1 || ok=0
token=$(setpriv --reuid=vigil --regid=vigil --init-groups -- \
    vigilctl tokens add "boot-test-$(date +%s)" --role viewer --config /etc/vigil/mgmtd.yaml)
if VIGIL_TOKEN=$token vigilctl status >/tmp/status 2>&1; then
    sed 's/^/VIGIL-BOOT-TEST: status: /' /tmp/status
else
    sed 's/^/VIGIL-BOOT-TEST: status failed: /' /tmp/status
    ok=0
fi
echo "VIGIL-BOOT-TEST: rule pack: $(readlink /var/lib/vigil/rulepacks/active || echo none)"

# Supervision under systemd: the sensor on the loopback (libpcap) as its unit runs it
# (Type=notify: active once READY=1), killed with SIGKILL; mgmtd (user vigil, no capabilities)
# must restore it with `systemctl restart --no-block`, which only the polkit rule allows;
# then a contingency drill (mgmtd's `systemctl kill`).
sed -i 's/^  ports: \[\]/  ports: [lo]/' /etc/vigil/sensor.yaml
admin=$(setpriv --reuid=vigil --regid=vigil --init-groups -- \
    vigilctl tokens add "boot-admin-$(date +%s)" --role admin --config /etc/vigil/mgmtd.yaml)
systemctl reset-failed vigil-sensor.service
systemctl start vigil-sensor.service
echo "VIGIL-BOOT-TEST: vigil-sensor.service after start: $(systemctl is-active vigil-sensor.service)"
journalctl -b -u vigil-sensor.service --no-pager -o cat |
    grep -v -e 'Scheduled restart' -e '^Stopped' -e '^Starting' | head -n 12 |
    sed 's/^/VIGIL-BOOT-TEST: sensor journal: /'
[ "$(systemctl is-active vigil-sensor.service)" = active ] || ok=0
alive=
for i in $(seq 1 60); do
    alive=$(VIGIL_TOKEN=$admin vigilctl controls --json 2>/dev/null | python3 -c '
import json, sys
print(next((c["state"] for c in json.load(sys.stdin) if c["name"] == "sensor-alive:sensor-01"), "-"))')
    [ "$alive" = ok ] && break
    sleep 1
done
echo "VIGIL-BOOT-TEST: sensor-alive:sensor-01: $alive"
[ "$alive" = ok ] || ok=0
pid_before=$(systemctl show -p MainPID --value vigil-sensor.service)
systemctl kill -s KILL vigil-sensor.service
restored=
for i in $(seq 1 90); do
    restored=$(VIGIL_TOKEN=$admin vigilctl incidents --json 2>/dev/null | python3 -c '
import json, sys
inc = [i for i in json.load(sys.stdin)
       if i["control"] == "sensor-alive:sensor-01" and i.get("restored_at")]
print(inc[0]["restore_action"].replace(chr(10), " | ") if inc else "")')
    [ -n "$restored" ] && break
    sleep 1
done
pid_after=$(systemctl show -p MainPID --value vigil-sensor.service)
echo "VIGIL-BOOT-TEST: after SIGKILL of pid $pid_before: pid $pid_after, restore: ${restored:-none}"
case $restored in *"systemctl restart --no-block vigil-sensor.service: queued"*) ;; *) ok=0 ;; esac
[ "$(systemctl is-active vigil-sensor.service)" = active ] && [ "$pid_after" != "$pid_before" ] || ok=0
journalctl -b -u vigil-mgmtd.service --no-pager -o cat | grep -i "polkit\|denied\|incident" |
    tail -n 6 | sed 's/^/VIGIL-BOOT-TEST: mgmtd: /'
sleep 5
if VIGIL_TOKEN=$admin vigilctl drill >/tmp/drill 2>&1; then drill=passed; else drill="failed"; ok=0; fi
sed 's/^/VIGIL-BOOT-TEST: drill: /' /tmp/drill
echo "VIGIL-BOOT-TEST: drill $drill"
for u in vigil-mgmtd.service vigil-sensor.service; do
    [ "$(systemctl is-active "$u")" = active ] && continue
    journalctl -b -u "$u" --no-pager -o cat -n 12 | sed "s/^/VIGIL-BOOT-TEST: journal $u: /"
done
systemctl --failed --no-legend --plain | sed 's/^/VIGIL-BOOT-TEST: failed unit: /'
if [ "$ok" = 1 ]; then echo "VIGIL-BOOT-TEST: PASS"; else echo "VIGIL-BOOT-TEST: FAIL"; fi
systemctl poweroff --no-block
EOF
    chmod 0755 "$rootfs/usr/local/libexec/vigil-boot-test"
    cat >"$rootfs/etc/systemd/system/vigil-boot-test.service" <<'EOF'
# Vigil appliance boot test: runs only when the kernel command line says
# systemd.wants=vigil-boot-test.service (images/build-image.sh --boot-test); powers off.
[Unit]
Description=Vigil appliance boot test (prints a verdict, powers off)
After=vigil-mgmtd.service nftables.service ssh.service systemd-networkd.service

[Service]
Type=oneshot
ExecStart=/usr/local/libexec/vigil-boot-test
StandardOutput=journal+console
StandardError=journal+console
EOF

    if [ "$disk" = 1 ]; then
        cat >"$rootfs/etc/fstab" <<'EOF'
# Vigil appliance: the root file system (images/build-image.sh --disk).
LABEL=vigil-root  /  ext4  errors=remount-ro  0  1
EOF
    fi

    systemctl --root="$rootfs" enable nftables.service ssh.service vigil-ssh-hostkeys.service \
        systemd-networkd.service systemd-resolved.service vigil-mgmtd.service vigil-sensor.service \
        >"$work/enable.log" 2>&1 || { cat "$work/enable.log"; exit 1; }

    # 3. Reproducibility: no machine identity, no caches, logs or build-time state; fixed times.
    step "clean-up for a reproducible root"
    # shellcheck disable=SC2016 # dpkg-query's format
    in_root dpkg-query -W -f='${Package} ${Version} ${Architecture}\n' | sort >"$out/packages.txt"
    rm -f "$rootfs/usr/sbin/policy-rc.d"
    vigil_umount "$rootfs"
    : >"$rootfs/etc/machine-id"
    rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs/var/lib/systemd/random-seed" \
        "$rootfs/var/lib/systemd/credential.secret"
    [ -e "$rootfs/var/lib/dbus" ] && ln -s /etc/machine-id "$rootfs/var/lib/dbus/machine-id"
    rm -rf "${rootfs:?}"/var/lib/apt/lists/* "${rootfs:?}"/var/cache/apt/*.bin \
        "${rootfs:?}"/var/cache/apt/archives/*.deb "${rootfs:?}"/var/cache/apt/archives/partial/* \
        "${rootfs:?}"/var/cache/debconf/*-old "${rootfs:?}"/var/lib/dpkg/*-old \
        "${rootfs:?}/var/cache/ldconfig/aux-cache" "${rootfs:?}"/tmp/* "${rootfs:?}"/var/tmp/* \
        "${rootfs:?}/root/.bash_history" "${rootfs:?}/etc/resolv.conf.debootstrap"
    mkdir -p "$rootfs/var/lib/apt/lists/partial"
    find "$rootfs/var/log" -type f -exec truncate -s 0 {} +
    # Shadow's "last changed" day: the build day otherwise.
    sed -i -E "s/^([^:]*:[^:]*:)[0-9]+:/\\1$((SOURCE_DATE_EPOCH / 86400)):/" "$rootfs/etc/shadow"
    rm -f "$rootfs"/etc/{passwd,group,shadow,gshadow,subuid,subgid}-
    find "$rootfs" -xdev -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"

    step "rootfs.tar"
    tar -C "$rootfs" --sort=name --numeric-owner --xattrs --xattrs-include='*' \
        --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
        --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
        -cf "$out/rootfs.tar" .

}

# 4. The disk image: MBR, one ext4 partition from the root (mkfs.ext4 -d: no loop device, no
# mount), the kernel and initrd beside it for qemu -kernel/-initrd.
make_disk() {
    step "disk image"
    t0=$(date +%s)
    kernel=$(find "$rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n1)
    initrd=$(find "$rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n1)
    if [ -z "$kernel" ] || [ -z "$initrd" ]; then
        echo "no kernel or initrd in $rootfs/boot" >&2
        exit 1
    fi
    cp "$kernel" "$out/vmlinuz"
    cp "$initrd" "$out/initrd.img"
    used_mb=$(du -sm --apparent-size "$rootfs" | cut -f1)
    fs_mb=$((used_mb * 13 / 10 + 512))
    fs_uuid=$(printf '%s' "vigil-root-$SOURCE_DATE_EPOCH" | sha256sum |
        sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')
    rm -f "$work/root.ext4"
    truncate -s "${fs_mb}M" "$work/root.ext4"
    E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -L vigil-root -U "$fs_uuid" \
        -E "hash_seed=$fs_uuid,root_owner=0:0" -d "$rootfs" "$work/root.ext4" "${fs_mb}M"
    python3 - "$out/vigil.img" "$work/root.ext4" <<'PY'
# A raw disk: an MBR with one bootable Linux partition at 1 MiB holding the ext4 image.
import os, shutil, struct, sys
disk, fs = sys.argv[1], sys.argv[2]
start = 2048
sectors = os.path.getsize(fs) // 512
mbr = bytearray(512)
struct.pack_into("<I", mbr, 440, 0x56494731)  # disk signature "VIG1"
mbr[446:462] = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff", start, sectors)
mbr[510:512] = b"\x55\xaa"
with open(disk, "wb") as d, open(fs, "rb") as f:
    d.write(mbr)
    d.truncate(start * 512)
    d.seek(start * 512)
    shutil.copyfileobj(f, d, 16 << 20)
PY
    rm -f "$work/root.ext4"
    timing[disk]=$(($(date +%s) - t0))
    echo "   vigil.img: $(du -h --apparent-size "$out/vigil.img" | cut -f1) (ext4 ${fs_mb} MiB, UUID $fs_uuid), kernel $(basename "$kernel")"
}

# 5. The in-image test, on an overlay: the image itself stays as built.
image_test_script() {
    cat <<'EOF'
#!/bin/bash
# The in-image test (written by images/build-image.sh); runs as root inside the image.
set -u
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }
quiet() { "$@" >/dev/null 2>&1; }
as_vigil() { setpriv --reuid=vigil --regid=vigil --init-groups -- sh -c 'umask 0077; exec "$@"' sh "$@"; }
ip link set lo up 2>/dev/null || true

# Firewall: a syntax check, then loaded (this is a network namespace of the test's own) twice
# beside a stand-in for the sensor's table, which must survive both loads and the unit's stop.
check "nft -c -f /etc/nftables.conf" nft -c -f /etc/nftables.conf
nft add table inet vigil
nft add set inet vigil blocked4 '{ type ipv4_addr; flags timeout; }'
nft add element inet vigil blocked4 '{ 203.0.113.7 timeout 1h }'
check "nft -f /etc/nftables.conf (first load)" nft -f /etc/nftables.conf
check "nft -f /etc/nftables.conf (again: idempotent)" nft -f /etc/nftables.conf
check "one table inet vigil_mgmt" [ "$(nft list tables | grep -c 'inet vigil_mgmt$')" = 1 ]
check "input policy is drop" quiet sh -c "nft list chain inet vigil_mgmt input | grep -q 'policy drop'"
check "SSH and API only from @mgmt_net4" quiet sh -c "nft list chain inet vigil_mgmt input | grep -q 'ip saddr @mgmt_net4 tcp dport { 22, 8440 }'"
echo "   mgmt_net4: $(nft list set inet vigil_mgmt mgmt_net4 | grep elements || echo '(empty)')"
check "the sensor's table inet vigil survived (its block kept)" quiet sh -c "nft list set inet vigil blocked4 | grep -q 203.0.113.7"
stop=$(sed -n 's/^ExecStop=-\{0,1\}\(.\+\)$/\1/p' /etc/systemd/system/nftables.service.d/vigil.conf)
check "nftables.service stop ($stop) leaves table inet vigil" \
    sh -c "$stop && nft list table inet vigil >/dev/null && ! nft list table inet vigil_mgmt >/dev/null 2>&1"
check "no 'flush ruleset' in /etc/nftables.conf" quiet sh -c "! grep -v '^[[:space:]]*#' /etc/nftables.conf | grep -q 'flush ruleset'"

# SSH: host keys as the first boot makes them, the syntax check and the effective settings.
check "the image has no SSH host keys" quiet sh -c "! ls /etc/ssh/ssh_host_* 2>/dev/null"
ssh-keygen -A >/dev/null
mkdir -p /run/sshd
check "sshd -t" sshd -t
T=$(sshd -T -C user=admin,host=client,addr=192.0.2.1 2>&1)
for want in "permitrootlogin no" "passwordauthentication no" "kbdinteractiveauthentication no" \
    "maxauthtries 3" "allowtcpforwarding no" "allowagentforwarding no" "allowstreamlocalforwarding no" \
    "x11forwarding no" "permittunnel no" "authenticationmethods publickey" \
    "ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com" \
    "macs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com" \
    "kexalgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org"; do
    check "sshd -T: $want" quiet grep -qx "$want" <<<"$T"
done

# Identity: hostname, machine-id.
check "hostname is vigil" [ "$(cat /etc/hostname)" = vigil ]
check "/etc/machine-id is empty" [ ! -s /etc/machine-id ]

# vigil-mgmtd as user vigil, the starter pack, a replay into it. /run is empty here: first what
# systemd-tmpfiles-setup.service does at boot.
check "systemd-tmpfiles --create (as at boot)" quiet systemd-tmpfiles --create
# exec: the background job's PID is then mgmtd's own.
spawn_as_vigil() { exec setpriv --reuid=vigil --regid=vigil --init-groups -- sh -c 'umask 0077; exec "$@"' sh "$@"; }
spawn_as_vigil vigil-mgmtd --config /etc/vigil/mgmtd.yaml >/tmp/mgmtd.log 2>&1 &
mgmtd=$!
up=0
for _ in $(seq 1 150); do
    if (exec 3<>/dev/tcp/127.0.0.1/8440) 2>/dev/null; then up=1; break; fi
    kill -0 "$mgmtd" 2>/dev/null || break
    sleep 0.2
done
if [ "$up" = 1 ]; then pass "vigil-mgmtd runs as vigil, API on 127.0.0.1:8440"
else tail -n 20 /tmp/mgmtd.log; fail "vigil-mgmtd runs as vigil, API on 127.0.0.1:8440"; fi
check "the starter pack is active ($(readlink /var/lib/vigil/rulepacks/active))" test -e /var/lib/vigil/rulepacks/active
token=$(as_vigil vigilctl tokens add image-test --role viewer --config /etc/vigil/mgmtd.yaml)
check "vigilctl tokens add image-test --role viewer" [ -n "$token" ]
export VIGIL_TOKEN=$token
pcap=$(ls /var/tmp/vigil-image-test/*.pcap | head -n1)
args=(--pcap "$pcap" --config /etc/vigil/sensor.yaml --no-progress)
rc=0
as_vigil vigil-sensor replay "${args[@]}" >/tmp/replay.log 2>&1 || rc=$?
if [ "$rc" = 2 ] && grep -q 'rulepacks/active: no \*.rules files' /tmp/replay.log; then
    # replay reads rules: [DIR] as a folder of *.rules, not as a pack (rule files in rules/).
    echo "   NOTE: replay does not read the pack folder; --rules /var/lib/vigil/rulepacks/active/rules"
    args+=(--rules /var/lib/vigil/rulepacks/active/rules)
    rc=0
    as_vigil vigil-sensor replay "${args[@]}" >/tmp/replay.log 2>&1 || rc=$?
fi
if [ "$rc" = 0 ]; then pass "vigil-sensor replay ${args[*]} (as vigil)"
else tail -n 20 /tmp/replay.log; fail "vigil-sensor replay ${args[*]}: exit $rc"; fi
eve=$(grep -c '"event_type": *"alert"' /var/log/vigil/eve.json 2>/dev/null)
check "alerts in /var/log/vigil/eve.json (${eve:-0})" [ "${eve:-0}" -gt 0 ]
stored=$(as_vigil vigilctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["store"]["alerts"])' 2>/dev/null)
check "vigilctl status: mgmtd stored them (${stored:-?} stored, ${eve:-0} in EVE)" [ "${stored:-x}" = "${eve:-0}" ]
if out=$(as_vigil vigilctl status 2>&1); then pass "vigilctl status"; sed 's/^/   /' <<<"$out"
else fail "vigilctl status: $out"; fi
kill -TERM "$mgmtd"
rc=0
wait "$mgmtd" || rc=$?
check "vigil-mgmtd stops on SIGTERM (exit $rc)" [ "$rc" = 0 ]
echo "in-image: $passed passed, $failed failed"
[ "$failed" = 0 ]
EOF
}

run_image_test() {
    t0=$(date +%s)
    step "in-image test"
    mkdir -p "$work/upper" "$work/ovl" "$merged"
    mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$work/upper,workdir=$work/ovl" "$merged"
    # In /var/tmp: systemd-nspawn mounts a tmpfs of its own on /tmp.
    mkdir -p "$merged/var/tmp/vigil-image-test"
    image_test_script >"$merged/var/tmp/vigil-image-test/test.sh"
    pcap=$repo/pcaps/01-http-established.pcap
    install -m 0644 "$pcap" "$merged/var/tmp/vigil-image-test/$(basename "$pcap")"
    # systemd-nspawn when it works here (its own /run/systemd in a private mount namespace, so
    # nothing of it stays in the host's /run), else a chroot in a network namespace.
    # nspawn ARGS...: systemd-nspawn on the overlay, ARGS after the common options.
    nspawn() {
        # shellcheck disable=SC2016 # $0 and $@ are the inner shell's
        unshare --mount --propagation private -- sh -c \
            'mount -t tmpfs -o mode=0755 tmpfs /run/systemd && exec systemd-nspawn -q --register=no \
                 --keep-unit --private-network --resolv-conf=off --timezone=off \
                 --link-journal=no -D "$0" "$@"' "$merged" "$@"
    }
    runner=
    if command -v systemd-nspawn >/dev/null &&
        nspawn --as-pid2 --pipe /bin/true >"$work/nspawn-probe.log" 2>&1; then
        runner="systemd-nspawn --private-network --pipe"
    fi
    test_rc=0
    if [ -n "$runner" ]; then
        echo "   runner: $runner"
        nspawn --as-pid2 --pipe /bin/bash /var/tmp/vigil-image-test/test.sh \
            >"$work/image-test.log" 2>&1 || test_rc=$?
    else
        echo "   runner: chroot + unshare --net (systemd-nspawn does not work here: $(tail -n1 "$work/nspawn-probe.log"))"
        vigil_mount "$merged"
        unshare --net -- sleep infinity &
        netns_pid=$!
        sleep 0.2
        nsenter --net="/proc/$netns_pid/ns/net" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            LANG=C.UTF-8 HOME=/root chroot "$merged" /bin/bash /var/tmp/vigil-image-test/test.sh \
            >"$work/image-test.log" 2>&1 || test_rc=$?
        kill "$netns_pid" 2>/dev/null || true
        wait "$netns_pid" 2>/dev/null || true
        netns_pid=
    fi
    cat "$work/image-test.log"
    passed=$((passed + $(grep -c '^PASS' "$work/image-test.log" || true)))
    failed=$((failed + $(grep -c '^FAIL' "$work/image-test.log" || true)))
    grep -q '^in-image: ' "$work/image-test.log" || fail "the in-image test did not finish (exit $test_rc)"
    vigil_kill_in "$merged"
    vigil_umount "$merged"
    rm -rf --one-file-system "$work/upper" "$work/ovl"

    # The image booted by systemd in a container (a fresh overlay): the units as systemd runs
    # them, with their sandboxing, judged by vigil-boot-test.service. Not waiting 2 minutes for
    # a network the container does not have (systemd-networkd-wait-online masked).
    if [ -n "$runner" ]; then
        step "boot in systemd-nspawn -b (vigil-boot-test.service)"
        mkdir -p "$work/upper" "$work/ovl"
        mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$work/upper,workdir=$work/ovl" "$merged"
        nspawn -b --capability=CAP_NET_ADMIN,CAP_IPC_LOCK systemd.wants=vigil-boot-test.service systemd.mask=systemd-networkd-wait-online.service \
            >"$work/nspawn-boot.log" 2>&1 &
        nspawn_pid=$!
        local v
        v=$(wait_verdict "$work/nspawn-boot.log" "$nspawn_pid" "${VIGIL_NSPAWN_BOOT_TIMEOUT:-300}")
        nspawn_pid=
        grep -a 'VIGIL-BOOT-TEST' "$work/nspawn-boot.log" | tr -d '\r' | sed 's/^[^V]*VIGIL-BOOT-TEST: /   /' || true
        if [ "$v" = "VIGIL-BOOT-TEST: PASS" ]; then
            pass "systemd-nspawn -b: the image boots, vigil-mgmtd runs under systemd, vigilctl status answers"
        else
            fail "systemd-nspawn -b: ${v:-no verdict} (log: $work/nspawn-boot.log)"
        fi
        vigil_kill_in "$merged"
        vigil_umount "$merged"
        rm -rf --one-file-system "$work/upper" "$work/ovl"
    fi
    rmdir "$merged"
    timing[test]=$(($(date +%s) - t0))
}

# wait_verdict LOG PID TIMEOUT: waits until LOG (a console) holds the boot test's verdict, PID
# ends or TIMEOUT seconds pass; then gives PID a minute to power off, ends it, prints the verdict.
wait_verdict() {
    local log=$1 pid=$2 timeout=$3 start v=
    start=$(date +%s)
    while :; do
        v=$(grep -ao 'VIGIL-BOOT-TEST: \(PASS\|FAIL\)' "$log" 2>/dev/null | tail -n1 || true)
        [ -n "$v" ] && break
        kill -0 "$pid" 2>/dev/null || break
        [ $(($(date +%s) - start)) -gt "$timeout" ] && break
        sleep 2
    done
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "$v"
}

# 6. The boot test: qemu boots the disk (snapshot=on: the image is not written), the boot test
# unit prints its verdict on the serial console and powers off.
run_boot_test() {
    t0=$(date +%s)
    accel=tcg
    [ -w /dev/kvm ] && accel=kvm
    timeout_s=${VIGIL_BOOT_TIMEOUT:-1500}
    step "boot test: qemu-system-x86_64 ($accel, 2 GiB, timeout $timeout_s s), serial in $out/boot-serial.log"
    qemu-system-x86_64 -machine q35,accel="$accel" -cpu max -smp 2 -m 2048 \
        -display none -monitor none -serial "file:$out/boot-serial.log" -no-reboot \
        -kernel "$out/vmlinuz" -initrd "$out/initrd.img" \
        -append "root=LABEL=vigil-root ro console=ttyS0,115200 systemd.wants=vigil-boot-test.service systemd.show_status=1" \
        -drive "file=$out/vigil.img,format=raw,if=virtio,snapshot=on" \
        -nic user,model=virtio-net-pci,restrict=on >"$work/qemu.log" 2>&1 &
    qemu_pid=$!
    verdict=$(wait_verdict "$out/boot-serial.log" "$qemu_pid" "$timeout_s")
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=
    timing[boot]=$(($(date +%s) - t0))
    grep -a 'VIGIL-BOOT-TEST' "$out/boot-serial.log" | tr -d '\r' | sed 's/^[^V]*VIGIL-BOOT-TEST: /   /' || true
    login=$(grep -ac 'login:' "$out/boot-serial.log" || true)
    if [ "$verdict" = "VIGIL-BOOT-TEST: PASS" ]; then
        pass "boot test: the image boots under qemu ($accel), the units run, vigilctl status answers (${timing[boot]} s to power-off; login prompts seen: $login)"
    elif [ -n "$verdict" ]; then
        fail "boot test: $verdict (serial log: $out/boot-serial.log)"
    else
        tail -n 30 "$out/boot-serial.log" | tr -d '\r' | sed 's/^/   /'
        fail "boot test: no verdict within ${timing[boot]} s (serial log: $out/boot-serial.log, qemu: $work/qemu.log)"
    fi
}

if [ "$test_only" = 0 ]; then
    build_rootfs
    [ "$disk" = 1 ] && make_disk
    sums=(rootfs.tar packages.txt)
    [ "$disk" = 1 ] && sums+=(vigil.img vmlinuz initrd.img)
    (cd "$out" && sha256sum "${sums[@]}" >SHA256SUMS)
    timing[build]=$(($(date +%s) - t_start))
    step "built: $(cut -c1-16 "$out/SHA256SUMS" | head -n1)… rootfs.tar ($(wc -l <"$out/packages.txt") packages)"

fi
[ "$run_test" = 1 ] && run_image_test
[ "$boot_test" = 1 ] && run_boot_test

summary=
for k in rootfs build disk test boot; do
    [ -n "${timing[$k]:-}" ] && summary="$summary${summary:+, }$k ${timing[$k]}"
done
echo "timings (s): ${summary:+$summary, }total $(($(date +%s) - t_start))"
echo "image test: $passed passed, $failed failed"
[ "$failed" = 0 ]
