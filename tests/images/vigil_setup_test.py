#!/usr/bin/env python3
"""images/vigil-setup against fake hosts: trees under a temporary folder with /proc, /sys and
/etc as the tool reads them (CPUs and flags, NUMA nodes, NICs on drivers, IOMMU on or off,
the management route on one NIC). Runs the script as a subprocess, as an operator would, and
asserts what it prints, its exit codes and every byte it changes in the tree.

Between runs FakeKernel plays the kernel's part of the PCI sysfs protocol (the tool writes
driver_override, unbind, bind, drivers_probe; the kernel moves the `driver` link).
Environment: VIGIL_SETUP (default images/vigil-setup of this repo), VIGIL_SENSOR (a built
vigil-sensor, to validate the generated sensor.yaml; default build-test/sensor/vigil-sensor,
skipped with a reason when absent), VIGIL_ROOT (the repo, for rules/default).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("VIGIL_ROOT") or os.path.dirname(os.path.dirname(HERE))
SETUP = os.environ.get("VIGIL_SETUP") or os.path.join(REPO, "images", "vigil-setup")
SENSOR = os.environ.get("VIGIL_SENSOR") or os.path.join(REPO, "build-test", "sensor",
                                                         "vigil-sensor")
DOC = os.path.join(REPO, "docs", "vigil-setup.md")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

FLAGS = "fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt avx avx2 pdpe1gb bmi2"
# The NICs of the default fake host: BDF -> (driver, interface, NUMA node, vendor:device).
NICS = {
    "0000:00:19.0": ("e1000e", "eno1", 0, "8086:15b8"),  # management: default route
    "0000:03:00.0": ("ixgbe", "ens1f0", 1, "8086:10fb"),
    "0000:03:00.1": ("ixgbe", "ens1f1", 1, "8086:10fb"),
    "0000:04:00.0": ("i40e", "ens2f0", 1, "8086:1572"),
}
STATE = "var/lib/vigil/setup-state.json"


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def symlink(root, rel, target):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)


def cpulist(cpus):
    return ",".join(map(str, cpus))


class FakeHost:
    """Builds a host's tree: cpus, NUMA nodes (list of CPU lists), NICs, IOMMU, hugepages."""

    def __init__(self, root, ncpus=8, nodes=None, flags=FLAGS, vendor="GenuineIntel",
                 iommu=True, firmware_iommu=True, nics=None, mgmt="eno1", hugepages=0,
                 mounted=True, vfio_loaded=True, cmdline="", grub_dir=False):
        self.root = root
        self.nics = dict(NICS if nics is None else nics)
        nodes = nodes if nodes is not None else [list(range(ncpus // 2)),
                                                 list(range(ncpus // 2, ncpus))]
        cpuinfo = "".join("processor\t: %d\nvendor_id\t: %s\nflags\t\t: %s\n\n"
                          % (i, vendor, flags) for i in range(ncpus))
        write(root, "proc/cpuinfo", cpuinfo)
        write(root, "proc/meminfo", "MemTotal: 16384000 kB\nHugePages_Total: %d\n"
              "Hugepagesize: 2048 kB\n" % hugepages)
        write(root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz-6.1.0 root=/dev/sda1 ro quiet %s\n"
              % cmdline)
        mounts = "sysfs /sys sysfs rw 0 0\nproc /proc proc rw 0 0\n"
        if mounted:
            mounts += "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n"
        write(root, "proc/mounts", mounts)
        route = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
        if mgmt:
            route += "%s\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" % mgmt
            route += "%s\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" % mgmt
        write(root, "proc/net/route", route)
        write(root, "sys/devices/system/cpu/online", "0-%d\n" % (ncpus - 1))
        for n, cpus in enumerate(nodes):
            write(root, "sys/devices/system/node/node%d/cpulist" % n, cpulist(cpus) + "\n")
            for size in ("2048kB", "1048576kB"):
                base = "sys/devices/system/node/node%d/hugepages/hugepages-%s/" % (n, size)
                count = hugepages // len(nodes) if size == "2048kB" else 0
                write(root, base + "nr_hugepages", "%d\n" % count)
                write(root, base + "free_hugepages", "%d\n" % count)
        for size in ("2048kB", "1048576kB"):
            base = "sys/kernel/mm/hugepages/hugepages-%s/" % size
            write(root, base + "nr_hugepages", "%d\n" % (hugepages if size == "2048kB" else 0))
            write(root, base + "free_hugepages", "%d\n" % (hugepages if size == "2048kB" else 0))
        if firmware_iommu:
            write(root, "sys/firmware/acpi/tables/DMAR", "DMAR")
        if iommu:
            os.makedirs(os.path.join(root, "sys/class/iommu/dmar0"))
        # PCI: a host bridge (not a NIC) and the NICs, each in an IOMMU group of its own.
        write(root, "sys/bus/pci/devices/0000:00:00.0/class", "0x060000\n")
        write(root, "sys/bus/pci/drivers_probe", "")
        drivers = {d for d, *_ in self.nics.values() if d}
        if vfio_loaded:
            drivers.add("vfio-pci")
        for drv in drivers:
            for op in ("bind", "unbind"):
                write(root, "sys/bus/pci/drivers/%s/%s" % (drv, op), "")
        for group, (bdf, (drv, ifname, numa, ids)) in enumerate(sorted(self.nics.items()), 10):
            dev = "sys/bus/pci/devices/%s/" % bdf
            vendor_id, device_id = ids.split(":")
            write(root, dev + "class", "0x020000\n")
            write(root, dev + "vendor", "0x%s\n" % vendor_id)
            write(root, dev + "device", "0x%s\n" % device_id)
            write(root, dev + "numa_node", "%d\n" % numa)
            write(root, dev + "driver_override", "(null)\n")
            if drv:
                symlink(root, dev + "driver", "../../drivers/%s" % drv)
            if iommu:
                symlink(root, dev + "iommu_group", "../../../../kernel/iommu_groups/%d" % group)
                symlink(root, "sys/kernel/iommu_groups/%d/devices/%s" % (group, bdf),
                        "../../../../bus/pci/devices/%s" % bdf)
            if ifname and drv != "vfio-pci":
                symlink(root, "sys/class/net/%s/device" % ifname,
                        "../../../bus/pci/devices/%s" % bdf)
                write(root, "sys/class/net/%s/operstate" % ifname, "up\n")
        os.makedirs(os.path.join(root, "sys/class/net/lo"), exist_ok=True)
        write(root, "sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "N\n")
        if vfio_loaded:
            os.makedirs(os.path.join(root, "sys/module/vfio_pci"))
        write(root, "lib/modules/6.1.0-test/kernel/drivers/vfio/pci/vfio-pci.ko", "")
        write(root, "etc/hostname", "edge-07\n")
        write(root, "etc/group", "root:x:0:\nvigil:x:998:\n")
        write(root, "etc/fstab", "UUID=1234 / ext4 errors=remount-ro 0 1\n")
        write(root, "etc/default/grub", 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
              'GRUB_CMDLINE_LINUX=""\n')
        if grub_dir:
            os.makedirs(os.path.join(root, "etc/default/grub.d"))
        for d in ("etc/sysctl.d", "etc/modules-load.d", "etc/modprobe.d", "etc/udev/rules.d",
                  "etc/systemd/system", "var/lib", "dev/hugepages"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        write(root, "etc/modules-load.d/modules.conf", "# /etc/modules\n")


class FakeKernel:
    """What the kernel does with the writes: unbind, bind, then drivers_probe (by the
    driver_override, else the native driver); the write-only files read empty again and an
    empty driver_override reads "(null)"."""

    def __init__(self, root, native):
        self.root, self.native = root, native

    def p(self, rel):
        return os.path.join(self.root, rel)

    def lines(self, rel):
        with open(self.p(rel)) as f:
            text = f.read()
        with open(self.p(rel), "w"):
            pass
        return text.split()

    def link(self, bdf, drv):
        link = self.p("sys/bus/pci/devices/%s/driver" % bdf)
        if os.path.lexists(link):
            os.unlink(link)
        if drv:
            os.symlink("../../drivers/%s" % drv, link)

    def driver(self, bdf):
        link = self.p("sys/bus/pci/devices/%s/driver" % bdf)
        return os.path.basename(os.readlink(link)) if os.path.lexists(link) else None

    def run(self):
        drivers = sorted(os.listdir(self.p("sys/bus/pci/drivers")))
        for drv in drivers:
            for bdf in self.lines("sys/bus/pci/drivers/%s/unbind" % drv):
                if self.driver(bdf) == drv:
                    self.link(bdf, None)
        for drv in drivers:
            for bdf in self.lines("sys/bus/pci/drivers/%s/bind" % drv):
                self.link(bdf, drv)
        for bdf in os.listdir(self.p("sys/bus/pci/devices")):
            path = self.p("sys/bus/pci/devices/%s/driver_override" % bdf)
            if os.path.exists(path):
                with open(path) as f:
                    if f.read().strip() == "":
                        with open(path, "w") as g:
                            g.write("(null)\n")
        for bdf in self.lines("sys/bus/pci/drivers_probe"):
            if self.driver(bdf) is None:
                with open(self.p("sys/bus/pci/devices/%s/driver_override" % bdf)) as f:
                    override = f.read().strip()
                self.link(bdf, self.native[bdf] if override == "(null)" else override)


def snapshot(root):
    """Every path under root -> ('D',) | ('L', target) | ('F', sha256, mode)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                snap[rel] = ("L", os.readlink(full))
            elif os.path.isdir(full):
                snap[rel] = ("D",)
            else:
                with open(full, "rb") as f:
                    snap[rel] = ("F", hashlib.sha256(f.read()).hexdigest(),
                                 os.stat(full).st_mode & 0o777)
    return snap


def changed(before, after):
    return {p for p in set(before) | set(after) if before.get(p) != after.get(p)}


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vigil-setup-test.")
        self.root = os.path.join(self.tmp, "root")
        os.mkdir(self.root)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def host(self, **kw):
        h = FakeHost(self.root, **kw)
        self.kernel = FakeKernel(self.root, {b: v[0] for b, v in h.nics.items()})
        return h

    def run_setup(self, *args, root=None, user=None):
        argv = [PYTHON, SETUP, *args]
        if "--root" not in args:
            argv[3:3] = ["--root", root or self.root]
        cwd = None
        if user:
            # The other user may not reach the source tree (a checkout under a 0700 folder):
            # it runs a copy from a folder it can read.
            public = tempfile.mkdtemp(prefix="vigil-setup-public-")
            self.addCleanup(shutil.rmtree, public)
            os.chmod(public, 0o755)
            copy = os.path.join(public, "vigil-setup")
            shutil.copy(SETUP, copy)
            os.chmod(copy, 0o755)
            argv[1] = copy
            argv = ["setpriv", "--reuid", user, "--regid", user, "--clear-groups", *argv]
            cwd = "/"
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=cwd)

    def ok(self, *args):
        r = self.run_setup(*args)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def plan_json(self, *args):
        return json.loads(self.ok("prepare", *args, "--json").stdout)

    def read(self, rel):
        with open(os.path.join(self.root, rel)) as f:
            return f.read()

    def exists(self, rel):
        return os.path.lexists(os.path.join(self.root, rel))

    def verdicts(self, out):
        """check's lines -> {item: [(verdict, message)]}."""
        v = {}
        for line in out.splitlines():
            m = re.match(r"^(OK|WARN|FAIL|INFO)\s+(\S+)\s+(.*)$", line)
            if m:
                v.setdefault(m.group(2), []).append((m.group(1), m.group(3)))
        return v

    def sensor_yaml(self, rel):
        """The keys of the generated sensor.yaml (a flow-style subset: no PyYAML needed)."""
        text = self.read(rel)
        eal = re.search(r"^  eal: (\[.*\])$", text, re.M)
        ports = re.search(r"^  ports: (\[.*\])$", text, re.M)
        return {"sensor-id": re.search(r"^sensor-id: (.*)$", text, re.M).group(1),
                "method": re.search(r"^  method: (.*)$", text, re.M).group(1),
                "eal": json.loads(eal.group(1)), "ports": json.loads(ports.group(1)),
                "workers": int(re.search(r"^  workers: (\d+)$", text, re.M).group(1)),
                "rules": re.search(r"^rules: (.*)$", text, re.M).group(1), "text": text}


class Check(Base):
    def test_ready_host_passes_and_lists_nics(self):
        self.host(hugepages=512, cmdline="isolcpus=6-7 nohz_full=6-7 rcu_nocbs=6-7",
                  nics=dict(NICS, **{"0000:03:00.0": ("vfio-pci", "", 1, "8086:10fb")}))
        write(self.root, "etc/sysctl.d/80-vigil.conf", "vm.nr_hugepages = 512\n")
        write(self.root, "etc/modules-load.d/vigil.conf", "vfio-pci\n")
        r = self.ok("check")
        v = self.verdicts(r.stdout)
        self.assertNotIn("FAIL", {x[0] for lst in v.values() for x in lst}, r.stdout)
        for item in ("cpu", "iommu", "hugepages", "hugepages-mount", "hugepages-boot", "nics",
                     "isolation", "vfio-pci"):
            self.assertEqual(v[item][0][0], "OK", (item, r.stdout))
        self.assertIn("512 reserved", v["hugepages"][0][1])
        self.assertIn("isolcpus=6-7", v["isolation"][0][1])
        self.assertIn("loaded at boot by /etc/modules-load.d/vigil.conf", v["vfio-pci"][0][1])
        self.assertEqual(len(v["nic"]), 4, r.stdout)
        mgmt = next(m for vd, m in v["nic"] if m.startswith("0000:00:19.0"))
        self.assertIn("interface eno1", mgmt)
        self.assertIn("default route", mgmt)
        self.assertIn("never binds", mgmt)
        ens = next(m for vd, m in v["nic"] if m.startswith("0000:04:00.0"))
        for part in ("driver i40e", "interface ens2f0", "NUMA node 1", "IOMMU group 13",
                     "link up", "8086:1572"):
            self.assertIn(part, ens)
        bound = next((vd, m) for vd, m in v["nic"] if m.startswith("0000:03:00.0"))
        self.assertEqual(bound[0], "OK")
        self.assertIn("driver vfio-pci", bound[1])
        self.assertRegex(r.stdout, r"check: \d+ OK, \d+ WARN, 0 FAIL")

    def test_json(self):
        self.host(hugepages=512)
        r = self.run_setup("check", "--json")
        doc = json.loads(r.stdout)
        self.assertEqual(r.returncode, 0 if doc["ok"] else 1)
        by = {n["bdf"]: n for n in doc["nics"]}
        self.assertEqual(set(by), set(NICS))
        self.assertTrue(by["0000:00:19.0"]["default_route"])
        self.assertFalse(by["0000:03:00.1"]["default_route"])
        self.assertEqual(by["0000:03:00.1"]["interfaces"], ["ens1f1"])
        self.assertEqual(by["0000:03:00.1"]["driver"], "ixgbe")
        self.assertEqual(by["0000:03:00.1"]["numa_node"], 1)
        self.assertEqual(by["0000:03:00.1"]["iommu_group"], "12")
        self.assertIn("cpu", {c["item"] for c in doc["checks"]})

    def test_no_ssse3_fails(self):
        self.host(hugepages=512, flags="fpu sse sse2", cmdline="isolcpus=6-7")
        r = self.run_setup("check")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        v = self.verdicts(r.stdout)
        self.assertEqual(v["cpu"][0][0], "FAIL")
        self.assertIn("ssse3", v["cpu"][0][1])
        self.assertEqual(v["cpu-fast"][0][0], "WARN")
        fails = [k for k, lst in v.items() for x in lst if x[0] == "FAIL"]
        self.assertEqual(fails, ["cpu"], r.stdout)
        # and prepare refuses on such a CPU
        r = self.run_setup("prepare", "--nic", "ens1f0")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ssse3", r.stderr)

    def test_iommu_off_fails_with_the_reason(self):
        self.host(hugepages=512, iommu=False, firmware_iommu=True)
        r = self.run_setup("check")
        self.assertEqual(r.returncode, 1)
        verdict, msg = self.verdicts(r.stdout)["iommu"][0]
        self.assertEqual(verdict, "FAIL")
        self.assertIn("DMAR", msg)
        self.assertIn("intel_iommu=on iommu=pt", msg)

    def test_no_iommu_at_all(self):
        self.host(hugepages=512, iommu=False, firmware_iommu=False)
        r = self.run_setup("check")
        self.assertEqual(r.returncode, 1)
        verdict, msg = self.verdicts(r.stdout)["iommu"][0]
        self.assertEqual(verdict, "FAIL")
        self.assertIn("--noiommu", msg)

    def test_fresh_host(self):
        self.host(mounted=False, vfio_loaded=False)
        r = self.run_setup("check")
        self.assertEqual(r.returncode, 1)
        v = self.verdicts(r.stdout)
        self.assertEqual(v["hugepages"][0][0], "FAIL")
        self.assertEqual(v["hugepages-mount"][0][0], "FAIL")
        self.assertEqual(v["hugepages-boot"][0][0], "WARN")
        self.assertEqual(v["isolation"][0][0], "WARN")
        self.assertEqual(v["vfio-pci"][0][0], "WARN")
        self.assertIn("modprobe vfio-pci", v["vfio-pci"][0][1])
        self.assertEqual(v["nics"][0][0], "WARN")

    def test_only_management_nic(self):
        self.host(hugepages=512, nics={"0000:00:19.0": NICS["0000:00:19.0"]})
        r = self.run_setup("check")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.verdicts(r.stdout)["nics"][0][0], "FAIL")


class Prepare(Base):
    ARGS = ["--nic", "ens1f0", "--nic", "0000:03:00.1", "--workers", "2"]

    def test_plan_changes_nothing(self):
        self.host()
        before = snapshot(self.root)
        r = self.ok("prepare", *self.ARGS)
        self.assertEqual(snapshot(self.root), before)
        for path in ("/etc/default/grub.d/vigil.cfg", "/etc/sysctl.d/80-vigil.conf",
                     "/etc/modules-load.d/vigil.conf", "/etc/udev/rules.d/70-vigil-vfio.rules",
                     "/etc/systemd/system/vigil-sensor.service.d/10-vigil-setup.conf",
                     "/etc/vigil/sensor.yaml", "nr_hugepages 0 -> 512"):
            self.assertIn(path, r.stdout)
        self.assertIn("driver ixgbe -> vfio-pci", r.stdout)
        self.assertIn("reboot", r.stdout)
        self.assertIn("--apply", r.stdout.splitlines()[-1])
        self.assertIn("then: update-grub", r.stdout)

    def test_apply_idempotent_undo(self):
        self.host()
        original = snapshot(self.root)
        plan = self.plan_json(*self.ARGS)
        self.assertEqual(plan["nics"], ["0000:03:00.0", "0000:03:00.1"])
        self.assertEqual((plan["control"], plan["workers"]), (4, [6, 7]))

        r = self.run_setup("prepare", *self.ARGS, "--apply", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        done = json.loads(r.stdout)
        self.assertEqual(done["changes"], plan["changes"])
        after = snapshot(self.root)
        # Exactly the planned paths changed (plus folders they needed and the state file).
        expected = {STATE}
        for ch in plan["changes"]:
            if ch["kind"] in ("file", "sysfs"):
                expected.add(ch["path"].lstrip("/"))
            elif ch["kind"] == "nic":
                expected |= {"sys/bus/pci/devices/%s/driver_override" % ch["bdf"],
                             "sys/bus/pci/drivers/%s/unbind" % ch["before"],
                             "sys/bus/pci/drivers_probe"}
        for p in list(expected):
            while "/" in p:
                p = os.path.dirname(p)
                if p not in original:
                    expected.add(p)
        self.assertEqual(changed(original, after), expected)

        # The content of each change.
        for bdf in ("0000:03:00.0", "0000:03:00.1"):
            self.assertEqual(self.read("sys/bus/pci/devices/%s/driver_override" % bdf),
                             "vfio-pci\n")
        self.assertEqual(self.read("sys/bus/pci/drivers/ixgbe/unbind").split(),
                         ["0000:03:00.0", "0000:03:00.1"])
        self.assertEqual(self.read("sys/bus/pci/drivers_probe").split(),
                         ["0000:03:00.0", "0000:03:00.1"])
        self.assertEqual(self.read("sys/bus/pci/drivers/i40e/unbind"), "")
        self.assertEqual(self.read("sys/bus/pci/devices/0000:00:19.0/driver_override"),
                         "(null)\n")
        self.assertEqual(self.read("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"),
                         "512\n")
        self.assertRegex(self.read("etc/sysctl.d/80-vigil.conf"), r"(?m)^vm.nr_hugepages = 512$")
        grub = self.read("etc/default/grub.d/vigil.cfg")
        m = re.search(r'^GRUB_CMDLINE_LINUX="\$GRUB_CMDLINE_LINUX (.*)"$', grub, re.M)
        self.assertEqual(m.group(1).split(),
                         ["isolcpus=6-7", "nohz_full=6-7", "rcu_nocbs=6-7"])  # IOMMU is on
        self.assertRegex(self.read("etc/modules-load.d/vigil.conf"), r"(?m)^vfio-pci$")
        dropin = self.read("etc/systemd/system/vigil-sensor.service.d/10-vigil-setup.conf")
        self.assertIn("[Service]\n", dropin)
        self.assertRegex(dropin, r"(?m)^CPUAffinity=4 6 7$")
        rules = self.read("etc/udev/rules.d/70-vigil-vfio.rules")
        for bdf in ("0000:03:00.0", "0000:03:00.1"):
            self.assertRegex(rules, r'KERNEL=="%s", ATTR\{driver_override\}="vfio-pci"' % bdf)
        self.assertNotIn("0000:00:19.0", rules)
        self.assertRegex(rules, r'(?m)^SUBSYSTEM=="vfio", GROUP="vigil", MODE="0660"$')
        y = self.sensor_yaml("etc/vigil/sensor.yaml")
        self.assertEqual(y["sensor-id"], "edge-07")
        self.assertEqual(y["method"], "dpdk")
        self.assertEqual(y["eal"], ["-l", "4,6,7", "-n", "4", "--huge-dir", "/dev/hugepages",
                                    "--file-prefix", "vigil", "-a", "0000:03:00.0",
                                    "-a", "0000:03:00.1"])
        self.assertEqual(y["ports"], ["0000:03:00.0", "0000:03:00.1"])
        self.assertEqual(y["workers"], 2)
        self.assertEqual(y["rules"], "[/var/lib/vigil/rulepacks/active]")
        state = json.loads(self.read(STATE))
        self.assertEqual(sum(a["kind"] == "nic" for a in state["actions"]), 2)
        self.assertEqual(os.stat(os.path.join(self.root, STATE)).st_mode & 0o777, 0o600)

        # The kernel binds them; a second apply changes nothing and says so.
        self.kernel.run()
        self.assertEqual(self.kernel.driver("0000:03:00.0"), "vfio-pci")
        bound = snapshot(self.root)
        r = self.ok("prepare", *self.ARGS, "--apply")
        self.assertIn("nothing to change", r.stdout)
        self.assertEqual(snapshot(self.root), bound)

        # undo without --apply shows and changes nothing.
        r = self.ok("undo")
        self.assertEqual(snapshot(self.root), bound)
        self.assertIn("rebind 0000:03:00.1: vfio-pci -> ixgbe", r.stdout)
        self.assertIn("undo --apply", r.stdout.splitlines()[-1])

        # undo --apply: back to the original tree, byte for byte.
        r = self.ok("undo", "--apply")
        self.assertIn("reverted", r.stdout)
        self.kernel.run()
        self.assertEqual(self.kernel.driver("0000:03:00.1"), "ixgbe")
        self.assertEqual(changed(original, snapshot(self.root)), set())
        r = self.ok("undo")
        self.assertIn("nothing to undo", r.stdout)

    def test_management_nic_refused(self):
        self.host()
        before = snapshot(self.root)
        for nic in ("eno1", "0000:00:19.0", "00:19.0"):
            r = self.run_setup("prepare", "--nic", "ens1f0", "--nic", nic, "--apply")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("default route", r.stderr)
            self.assertIn("--force", r.stderr)
        self.assertEqual(snapshot(self.root), before)
        plan = self.plan_json("--nic", "eno1", "--force")
        self.assertIn("0000:00:19.0", [c.get("bdf") for c in plan["changes"]])
        self.assertTrue(any("default route" in n for n in plan["notes"]))

    def test_too_few_cores(self):
        self.host(ncpus=4, nodes=[[0, 1, 2, 3]],
                  nics={b: (d, i, 0, ids) for b, (d, i, _, ids) in NICS.items()})
        r = self.run_setup("prepare", "--nic", "ens1f0", "--workers", "3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not enough cores", r.stderr)
        self.assertIn("5 CPUs", r.stderr)
        plan = self.plan_json("--nic", "ens1f0", "--workers", "2")
        self.assertEqual((plan["control"], plan["workers"]), (1, [2, 3]))

    def test_numa_node_too_small(self):
        self.host()  # 8 CPUs, node 1 = 4-7, the NICs on node 1
        r = self.run_setup("prepare", "--nic", "ens1f0", "--workers", "4")
        self.assertEqual(r.returncode, 1)
        self.assertIn("NUMA node 1", r.stderr)
        plan = self.plan_json("--nic", "ens1f0")  # default: as many as fit, up to 4
        self.assertEqual((plan["control"], plan["workers"]), (4, [5, 6, 7]))

    def test_isolate_cores(self):
        self.host(ncpus=4, nodes=[[0, 1, 2, 3]])
        plan = self.plan_json("--nic", "ens1f0", "--isolate-cores", "1-2")
        self.assertEqual((plan["control"], plan["workers"]), (3, [1, 2]))
        self.ok("prepare", "--nic", "ens1f0", "--isolate-cores", "1-2", "--apply")
        y = self.sensor_yaml("etc/vigil/sensor.yaml")
        self.assertEqual(y["eal"][:4], ["-l", "3,1,2", "--main-lcore", "3"])
        self.assertIn("isolcpus=1-2", self.read("etc/default/grub.d/vigil.cfg"))

    def test_usage_errors(self):
        self.host()
        before = snapshot(self.root)
        for args, text in [
                (["--nic", "ens9"], "unknown NIC"),
                (["--nic", "0000:09:00.0"], "unknown NIC"),
                (["--nic", "lo"], "not a PCI device"),
                (["--nic", "0000:00:00.0"], "not a network device"),
                (["--nic", "ens1f0", "--isolate-cores", "x"], "--isolate-cores"),
                (["--nic", "ens1f0", "--isolate-cores", "0,6"], "CPU 0"),
                (["--nic", "ens1f0", "--isolate-cores", "6-7", "--workers", "3"], "--workers"),
                (["--nic", "ens1f0", "--hugepages-2m", "1", "--hugepages-1g", "1"],
                 "not allowed with"),
                (["--nic", "ens1f0", "--hugepages-2m", "0"], "at least 1"),
                ([], "--nic")]:
            r = self.run_setup("prepare", *args, "--apply")
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
            self.assertIn(text, r.stderr, args)
        self.assertEqual(snapshot(self.root), before)

    def test_ifname_resolution_and_duplicates(self):
        self.host()
        plan = self.plan_json("--nic", "ens2f0", "--nic", "0000:04:00.0", "--nic", "03:00.0")
        self.assertEqual(plan["nics"], ["0000:04:00.0", "0000:03:00.0"])
        binds = {c["bdf"]: c["before"] for c in plan["changes"] if c["kind"] == "nic"}
        self.assertEqual(binds, {"0000:04:00.0": "i40e", "0000:03:00.0": "ixgbe"})

    def test_existing_sensor_yaml_kept(self):
        self.host()
        write(self.root, "etc/vigil/sensor.yaml", "sensor-id: mine\n")
        r = self.ok("prepare", *self.ARGS, "--apply")
        self.assertEqual(self.read("etc/vigil/sensor.yaml"), "sensor-id: mine\n")
        self.assertIn("sensor.yaml.vigil-setup", r.stdout)
        self.assertEqual(self.sensor_yaml("etc/vigil/sensor.yaml.vigil-setup")["workers"], 2)
        self.kernel.run()
        self.ok("undo", "--apply")
        self.assertFalse(self.exists("etc/vigil/sensor.yaml.vigil-setup"))
        # --force overwrites it, and undo puts the operator's file back.
        self.ok("prepare", *self.ARGS, "--force", "--sensor-id", "edge 7", "--apply")
        self.assertEqual(self.sensor_yaml("etc/vigil/sensor.yaml")["sensor-id"], '"edge 7"')
        self.kernel.run()
        self.ok("undo", "--apply")
        self.assertEqual(self.read("etc/vigil/sensor.yaml"), "sensor-id: mine\n")

    def test_undo_keeps_a_file_changed_since(self):
        self.host()
        self.ok("prepare", *self.ARGS, "--apply")
        self.kernel.run()
        write(self.root, "etc/modules-load.d/vigil.conf", "vfio-pci\nmine\n")
        r = self.run_setup("undo", "--apply")
        self.assertEqual(r.returncode, 1)
        self.assertIn("changed since", r.stdout)
        self.assertEqual(self.read("etc/modules-load.d/vigil.conf"), "vfio-pci\nmine\n")
        state = json.loads(self.read(STATE))
        self.assertEqual([a["path"] for a in state["actions"]], ["/etc/modules-load.d/vigil.conf"])
        self.ok("undo", "--apply", "--force")
        self.assertFalse(self.exists("etc/modules-load.d/vigil.conf"))
        self.assertFalse(self.exists(STATE))

    def test_no_iommu_refused_unless_noiommu(self):
        self.host(iommu=False, firmware_iommu=False)
        original = snapshot(self.root)
        r = self.run_setup("prepare", *self.ARGS, "--apply")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no IOMMU", r.stderr)
        self.assertIn("--noiommu", r.stderr)
        self.assertEqual(snapshot(self.root), original)
        self.ok("prepare", *self.ARGS, "--noiommu", "--apply")
        self.assertRegex(self.read("etc/modprobe.d/vigil.conf"),
                         r"(?m)^options vfio enable_unsafe_noiommu_mode=1$")
        self.assertEqual(self.read("sys/module/vfio/parameters/enable_unsafe_noiommu_mode"),
                         "Y\n")
        self.assertEqual(self.read("sys/bus/pci/devices/0000:03:00.0/driver_override"),
                         "vfio-pci\n")
        self.assertNotIn("iommu", self.read("etc/default/grub.d/vigil.cfg"))
        self.kernel.run()
        self.ok("undo", "--apply")
        self.kernel.run()
        self.assertEqual(changed(original, snapshot(self.root)), set())

    def test_iommu_off_in_kernel_defers_binding(self):
        for vendor, param in (("GenuineIntel", "intel_iommu=on"), ("AuthenticAMD",
                                                                    "amd_iommu=on")):
            shutil.rmtree(self.root)
            os.mkdir(self.root)
            self.host(iommu=False, firmware_iommu=True, vendor=vendor)
            self.ok("prepare", *self.ARGS, "--apply")
            grub = self.read("etc/default/grub.d/vigil.cfg")
            self.assertIn("%s iommu=pt" % param, grub)
            self.assertEqual(self.read("sys/bus/pci/devices/0000:03:00.0/driver_override"),
                             "(null)\n")  # not now: vfio-pci needs the IOMMU
            self.assertIn("0000:03:00.0", self.read("etc/udev/rules.d/70-vigil-vfio.rules"))
            # Idempotent, and still after the reboot (IOMMU on): the parameters stay.
            r = self.ok("prepare", *self.ARGS, "--apply")
            self.assertIn("nothing to change", r.stdout)
            os.makedirs(os.path.join(self.root, "sys/class/iommu/dmar0"))
            plan = self.plan_json(*self.ARGS)
            self.assertEqual([c["kind"] for c in plan["changes"]], ["nic", "nic"])

    def test_hugepages_1g_and_unmounted(self):
        self.host(mounted=False)
        original = snapshot(self.root)
        r = self.ok("prepare", *self.ARGS, "--hugepages-1g", "4", "--apply")
        grub = self.read("etc/default/grub.d/vigil.cfg")
        self.assertIn("default_hugepagesz=1G hugepagesz=1G hugepages=4", grub)
        self.assertEqual(self.read("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"),
                         "0\n")
        self.assertFalse(self.exists("etc/sysctl.d/80-vigil.conf"))
        self.assertRegex(self.read("etc/fstab"),
                         r"(?m)^UUID=1234 .*\n(#.*\n)?hugetlbfs /dev/hugepages hugetlbfs ")
        self.assertIn("would run (root is not /): mount --mkdir /dev/hugepages", r.stdout)
        self.assertIn("would run (root is not /): update-grub", r.stdout)
        self.kernel.run()
        r = self.ok("undo", "--apply")
        self.assertIn("would run (root is not /): update-grub", r.stdout)
        self.kernel.run()
        self.assertEqual(changed(original, snapshot(self.root)), set())

    def test_default_hugepages_and_kept(self):
        self.host()
        plan = self.plan_json("--nic", "ens1f0")
        self.assertIn({"kind": "sysfs", "path": "/sys/kernel/mm/hugepages/hugepages-2048kB/"
                       "nr_hugepages", "before": "0", "after": "512",
                       "why": "2 MiB hugepages now"}, plan["changes"])
        shutil.rmtree(self.root)
        os.mkdir(self.root)
        self.host(hugepages=256)
        plan = self.plan_json("--nic", "ens1f0")
        self.assertFalse([c for c in plan["changes"] if c["kind"] == "sysfs"])
        self.assertTrue(any("256 x 2 MiB" in k for k in plan["kept"]))

    def test_mellanox_stays_on_its_driver(self):
        self.host(nics=dict(NICS, **{"0000:05:00.0": ("mlx5_core", "ens3f0", 1, "15b3:1017")}))
        plan = self.plan_json("--nic", "ens3f0", "--nic", "ens1f0")
        self.assertEqual([c["bdf"] for c in plan["changes"] if c["kind"] == "nic"],
                         ["0000:03:00.0"])
        self.assertTrue(any("mlx5_core" in n for n in plan["notes"]))

    def test_not_root(self):
        if os.geteuid() == 0 and not shutil.which("setpriv"):
            self.skipTest("running as root without setpriv: cannot drop to another user")
        user = "65534" if os.geteuid() == 0 else None
        # A NIC no host has: even a broken root check would stop at "unknown NIC".
        r = self.run_setup("prepare", "--root", "/", "--nic", "0000:fe:1f.7", "--apply",
                           user=user)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("needs root", r.stderr)


class SensorAcceptsConfig(Base):
    def test_generated_config_passes_vigil_sensor_check(self):
        if not os.access(SENSOR, os.X_OK):
            print("\nskipped: no vigil-sensor at %s (set VIGIL_SENSOR): the generated "
                  "sensor.yaml is not validated by the sensor" % SENSOR, file=sys.stderr)
            self.skipTest("no vigil-sensor at %s" % SENSOR)
        self.host()
        self.ok("prepare", "--nic", "ens1f0", "--nic", "ens2f0", "--workers", "2", "--apply")
        cfg = os.path.join(self.root, "etc/vigil/sensor.yaml")
        r = subprocess.run([SENSOR, "check", "--config", cfg], capture_output=True, text=True,
                           timeout=60)
        out = r.stdout + r.stderr
        self.assertIn("config: %s ok" % cfg, out)
        # Its rules (/var/lib/vigil/rulepacks/active) need not exist here: with a rule
        # folder of the repo given instead, the whole check passes.
        r = subprocess.run([SENSOR, "check", "--config", cfg, "--rules",
                            os.path.join(REPO, "rules", "default")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class Help(unittest.TestCase):
    def test_help_and_docs_cover_every_option(self):
        with open(DOC) as f:
            doc = f.read()
        for cmd in ("check", "prepare", "undo"):
            r = subprocess.run([PYTHON, SETUP, cmd, "--help"], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0)
            options = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", r.stdout)) - {"--help"}
            self.assertTrue(options)
            for opt in options:
                self.assertIn("`%s" % opt, doc, "docs/vigil-setup.md lacks %s %s" % (cmd, opt))
        r = subprocess.run([PYTHON, SETUP, "--help"], capture_output=True, text=True, timeout=30)
        for cmd in ("check", "prepare", "undo"):
            self.assertIn(cmd, r.stdout)
        r = subprocess.run([PYTHON, SETUP, "bogus"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
