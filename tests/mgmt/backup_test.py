#!/usr/bin/env python3
"""`vigilctl backup` and `vigilctl restore` against a real mgmtd and its real files.

A backup is taken while mgmtd runs and a sensor sends; the state is then lost (the folder
deleted), restored into place and mgmtd started on it: the alerts, the tokens, the incident
history, the active rule pack and the audit chain are back. Restore refuses while mgmtd runs,
refuses a damaged backup before writing anything, and refuses to replace files without
--force.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transport_test as tt  # noqa: E402  (Mgmtd, Base)
from activation_test import rule  # noqa: E402


class Backup(tt.Base):
    def ctl(self, *args, check=0):
        r = subprocess.run([tt.VIGILCTL, *args], capture_output=True, text=True, timeout=300)
        if check is not None:
            self.assertEqual(r.returncode, check, r.stdout + r.stderr)
        return r

    def api_ctl(self, token, *args, check=0):
        env = dict(os.environ, VIGIL_TOKEN=token)
        r = subprocess.run([tt.VIGILCTL, *args, "--api", "http://127.0.0.1:%d" % self.m.api_port],
                           capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(r.returncode, check, r.stdout + r.stderr)
        return r

    def test_backup_while_running_then_restore_after_loss(self):
        state = self.path("state")
        os.makedirs(state)
        self.ctl("rules", "keygen", "--out", self.path("keys"))
        src = self.path("src")
        os.makedirs(src)
        with open(os.path.join(src, "site.rules"), "w") as f:
            f.write(rule(1001, "site rule"))
        pack = self.path("pack.tar.zst")
        self.ctl("rules", "pack", src, "-o", pack, "--version", "7", "--name", "site", "--key",
                 self.path("keys/signing.key"))
        self.m = self.mgmtd(extra="rulepacks: {trusted-keys: keys/signing.pub}\n")
        # Everything under state/: the store and what lives beside it.
        with open(self.m.config) as f:
            text = f.read().replace("store: {path: mgmt.db", "store: {path: state/mgmt.db")
            text = text.replace("tokens: tokens.db", "tokens: state/tokens.db")
        with open(self.m.config, "w") as f:
            f.write(text)
        self.m.db = os.path.join(state, "mgmt.db")
        self.m.start()
        admin = self.m.token("admin")
        self.api_ctl(admin, "rules", "activate", pack)
        cfg = self.sensor_config(rules=self.every_packet_rules())
        r = self.replay(cfg, os.path.join(tt.PCAPS, "01-http-established.pcap"),
                        self.path("eve.json"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_for(lambda: self.m.count("edge-01") > 0, what="alerts stored")
        stored = self.m.q("SELECT sensor_id, seq, event_type FROM events ORDER BY seq")

        # Online: mgmtd keeps running.
        out = self.path("backup")
        r = self.ctl("backup", "--config", self.m.config, "--out", out)
        self.assertRegex(r.stdout, r"backup .*: [0-9]+ entries, [0-9]+ bytes")
        self.assertIsNone(self.m.proc.poll())
        with open(os.path.join(out, "backup.json")) as f:
            manifest = json.load(f)
        roles = {e["role"] for e in manifest["files"]}
        self.assertTrue({"store", "tokens", "audit", "config", "rulepacks"} <= roles, roles)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o700)
        # A second backup into the same folder is refused.
        r = self.ctl("backup", "--config", self.m.config, "--out", out, check=2)
        self.assertIn("not empty", r.stderr)

        # While mgmtd runs, restore is refused.
        r = self.ctl("restore", out, "--config", self.m.config, "--force", check=1)
        self.assertIn("vigil-mgmtd is running", r.stderr)
        self.m.stop()

        # A damaged backup restores nothing.
        damaged = self.path("damaged")
        shutil.copytree(out, damaged)
        with open(os.path.join(damaged, "files", "store", "mgmt.db"), "r+b") as f:
            f.seek(200)
            f.write(b"\x00garbage")
        shutil.rmtree(state)
        os.makedirs(state)
        r = self.ctl("restore", damaged, "--config", self.m.config, check=2)
        self.assertIn("backup damaged: files/store/mgmt.db", r.stderr)
        self.assertEqual(os.listdir(state), [])

        # The real one: everything back; mgmtd starts on it.
        r = self.ctl("restore", out, "--config", self.m.config)
        self.assertIn("restored", r.stdout)
        # Files in place now: a second restore needs --force.
        r = self.ctl("restore", out, "--config", self.m.config, check=2)
        self.assertIn("--force", r.stderr)
        self.ctl("restore", out, "--config", self.m.config, "--force")
        self.m.start()
        self.assertEqual(self.m.q("SELECT sensor_id, seq, event_type FROM events ORDER BY seq"),
                         stored)
        # The admin token of before the loss works, the pack is active, the chain is intact.
        lst = json.loads(self.api_ctl(admin, "rules", "list", "--json").stdout)
        self.assertEqual(lst["active"], "7")
        self.assertEqual(os.readlink(os.path.join(state, "rulepacks", "active")), "7")
        r = self.ctl("audit", "verify", "--config", self.m.config)
        self.assertIn("the chain is intact", r.stdout)
        # The backup holds its own record; each restore is recorded; the log a forced restore
        # replaced (with the first restore's record) is kept beside it, not lost.
        with open(os.path.join(state, "audit.log")) as f:
            actions = [json.loads(line)["action"] for line in f]
        self.assertEqual(actions[-2:], ["backup.create", "backup.restore"])
        kept = [n for n in os.listdir(state) if n.startswith("audit.log.replaced-")]
        self.assertEqual(len(kept), 1, os.listdir(state))
        with open(os.path.join(state, kept[0])) as f:
            actions = [json.loads(line)["action"] for line in f]
        self.assertEqual(actions[-2:], ["backup.create", "backup.restore"])
        r = self.ctl("audit", "verify", "--file", os.path.join(state, kept[0]))
        self.assertIn("the chain is intact", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
