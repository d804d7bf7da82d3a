#!/usr/bin/python3
"""`vigilctl rules keygen | pack | validate | diff` on real files (docs/rule-packs.md).

Packs are made from a folder, from one suricata.rules and from a .tar.gz with a rules/ folder
(as ET Open ships); validate must exit 0 only for a usable pack signed by a trusted key, 2 for
an untrusted, tampered or unusable one, naming what is wrong.

env: VIGIL_VIGILCTL (default build/mgmt/vigilctl)."""

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

VIGILCTL = os.environ.get("VIGIL_VIGILCTL", "build/mgmt/vigilctl")

RULES_A = (
    "# two rules\n"
    'alert tcp any any -> any 80 (msg:"one"; content:"one"; sid:1001; rev:1;)\n'
    'alert tcp any any -> any 80 (msg:"two"; content:"two"; sid:1002; rev:1;)\n'
)
RULES_B = 'alert udp any any -> any 53 (msg:"dns"; content:"dns"; sid:2001; rev:1;)\n'
# 1002 changed (rev 2), 2001 removed, 3001 added
RULES_A2 = (
    'alert tcp any any -> any 80 (msg:"one"; content:"one"; sid:1001; rev:1;)\n'
    'alert tcp any any -> any 80 (msg:"two v2"; content:"two!"; sid:1002; rev:2;)\n'
    'alert tcp any any -> any 25 (msg:"three"; content:"three"; sid:3001; rev:1;)\n'
)
BROKEN = 'alert tcp any any -> any 80 (msg:"broken"; content:"x"; nosuchkeyword; sid:4001; rev:1;)\n'


def vigilctl(*args):
    return subprocess.run([VIGILCTL, "rules", *args], capture_output=True, text=True, timeout=120)


class RulesCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rules_cli_test.")
        self.src = self.write("src/a.rules", RULES_A)
        self.write("src/rules/b.rules", RULES_B)
        self.write("src/classification.config", "config classification: misc-activity,Misc,3\n")
        r = vigilctl("keygen", "--out", self.path("keys"))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = vigilctl("keygen", "--out", self.path("other"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, rel):
        return os.path.join(self.tmp, rel)

    def write(self, rel, text):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        return os.path.dirname(p) if rel.startswith("src/") else p

    def pack(self, src, name, *extra, key=True):
        out = self.path(name)
        args = ["pack", src, "-o", out, "--version", "v1"] + list(extra)
        if key:
            args += ["--key", self.path("keys/signing.key")]
        r = vigilctl(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("pack: " + out, r.stderr)
        return out

    def validate(self, pack, *extra):
        return vigilctl("validate", pack, *extra)

    def test_keygen_files_and_no_overwrite(self):
        key = self.path("keys/signing.key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        with open(self.path("keys/signing.pub")) as f:
            self.assertTrue(f.read().startswith("ed25519 "))
        r = vigilctl("keygen", "--out", self.path("keys"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("exists; not overwritten", r.stderr)

    def test_folder_pack_validates_with_trusted_key(self):
        pack = self.pack(self.src, "p.tar.zst")
        r = self.validate(pack, "--trusted-keys", self.path("keys/signing.pub"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("rules: 3 loaded, 0 rejected", r.stdout)
        self.assertIn("signature: ok", r.stdout)
        self.assertIn("usable and trusted", r.stdout)
        # a folder of *.pub works too
        r = self.validate(pack, "--trusted-keys", self.path("keys"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_untrusted_is_exit_2(self):
        pack = self.pack(self.src, "p.tar.zst")
        r = self.validate(pack)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("untrusted: give --trusted-keys", r.stderr)
        r = self.validate(pack, "--trusted-keys", self.path("other/signing.pub"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("which is not a trusted key", r.stderr)
        unsigned = self.pack(self.src, "u.tar.zst", key=False)
        r = self.validate(unsigned, "--trusted-keys", self.path("keys"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("unsigned", r.stderr)
        # local testing: the signature is skipped, said so, and the pack is usable
        r = self.validate(unsigned, "--no-signature-check")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("NOT CHECKED", r.stdout)

    def test_tampered_pack_names_the_file(self):
        pack = self.pack(self.src, "p.tar.zst")
        x = self.path("x")
        os.makedirs(x)
        subprocess.run(["tar", "--zstd", "-xf", pack, "-C", x], check=True)
        with open(os.path.join(x, "rules/b.rules"), "a") as f:
            f.write('alert ip any any -> any any (msg:"evil"; sid:666; rev:1;)\n')
        r = self.validate(x, "--trusted-keys", self.path("keys"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("rules/b.rules: sha256 mismatch", r.stderr)
        tampered = self.path("t.tar.zst")
        subprocess.run(["tar", "--zstd", "-cf", tampered, "-C", x, "."], check=True)
        r = self.validate(tampered, "--trusted-keys", self.path("keys"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("rules/b.rules: sha256 mismatch", r.stderr)

    def test_too_new_is_exit_2(self):
        pack = self.pack(self.src, "p.tar.zst", "--min-sensor-version", "999.0")
        r = self.validate(pack, "--trusted-keys", self.path("keys"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("needs sensor version 999.0 or later", r.stderr)

    def test_rejected_rule_is_listed_with_file_line_sid(self):
        self.write("src/rules/broken.rules", "# header\n" + BROKEN)
        pack = self.pack(self.src, "p.tar.zst")
        r = self.validate(pack, "--trusted-keys", self.path("keys"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)  # the others load
        self.assertIn("rules: 3 loaded, 1 rejected", r.stdout)
        self.assertIn("  rejected: rules/broken.rules:2: sid 4001: ", r.stdout)
        r = self.validate(pack, "--trusted-keys", self.path("keys"), "--allow-rejected", "0")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("more than --allow-rejected 0", r.stderr)

    def test_pack_where_no_rule_loads_is_exit_2(self):
        only = self.write("bad/suricata.rules", BROKEN)
        pack = self.pack(only, "p.tar.zst")
        r = self.validate(pack, "--trusted-keys", self.path("keys"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("unusable: no rule loads", r.stderr)
        self.assertIn("rules/suricata.rules:1: sid 4001:", r.stdout)

    def test_single_suricata_rules_and_tarball(self):
        one = self.write("single/suricata.rules", RULES_A + RULES_B)
        pack = self.pack(one, "one.tar.zst")
        r = self.validate(pack, "--trusted-keys", self.path("keys"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("rules: 3 loaded", r.stdout)

        et = self.path("et.tar.gz")
        with tarfile.open(et, "w:gz") as t:
            t.add(self.path("src/a.rules"), arcname="rules/emerging-a.rules")
            t.add(self.path("src/rules/b.rules"), arcname="rules/emerging-b.rules")
            t.add(self.path("src/classification.config"), arcname="rules/classification.config")
        pack = self.pack(et, "et.tar.zst", "--name", "et-open")
        self.assertTrue(os.path.exists(pack))
        r = self.validate(pack, "--trusted-keys", self.path("keys"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("pack: et-open v1", r.stdout)
        self.assertIn("rules: 3 loaded", r.stdout)

    def test_hostile_tarball_source_is_refused(self):
        evil = self.path("evil.tar.gz")
        with tarfile.open(evil, "w:gz") as t:
            t.add(self.path("src/a.rules"), arcname="../evil.rules")
        r = vigilctl("pack", evil, "-o", self.path("e.tar.zst"), "--version", "1")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("path traversal", r.stderr)

    def test_diff_of_two_packs(self):
        a = self.pack(self.src, "a.tar.zst")
        b = self.pack(self.write("src2/a.rules", RULES_A2), "b.tar.zst")
        r = vigilctl("diff", a, b)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("added   1:3001 rev 1  three", lines)
        self.assertIn("removed 1:2001 rev 1  dns", lines)
        self.assertIn("changed 1:1002 rev 1 -> 2  two v2", lines)
        self.assertEqual(lines[-1], "added 1, removed 1, changed 1, unchanged 1")
        r = vigilctl("diff", a, b, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(r.stdout)
        self.assertEqual(d["counts"], {"added": 1, "removed": 1, "changed": 1, "unchanged": 1})
        self.assertEqual([x["sid"] for x in d["added"]], [3001])
        self.assertEqual(d["changed"][0]["rev_before"], 1)
        self.assertEqual(d["changed"][0]["rev"], 2)
        # plain rule files and folders diff the same way
        r = vigilctl("diff", self.src, self.path("src2/a.rules"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[-1], "added 1, removed 1, changed 1, unchanged 1")

    def test_help_names_the_commands(self):
        r = subprocess.run([VIGILCTL, "rules", "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for cmd in ("keygen", "pack", "validate", "diff"):
            self.assertIn(cmd, r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
