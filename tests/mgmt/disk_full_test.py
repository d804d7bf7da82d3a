#!/usr/bin/env python3
"""vigil-mgmtd's store runs out of disk in the middle of a stream: nothing is acknowledged
that was not committed, the sensor keeps its records, and once space is back every seq is
stored exactly once. The full disk is a real one: a 64 MB tmpfs mounted in a mount namespace
this test creates (the host's mounts are untouched). Needs root.

Environment: VIGIL_SENSOR, VIGIL_MGMTD, VIGIL_VIGILCTL, VIGIL_ROOT.
"""
import ctypes
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transport_test as tt  # noqa: E402

CLONE_NEWNS = 0x00020000


def private_mount_namespace():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)


class DiskFullTest(tt.Base):
    def test_store_full_then_freed_stores_every_seq_once(self):
        store_dir = self.path("store")
        os.makedirs(store_dir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", store_dir], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", store_dir])
        m = self.mgmtd()
        m.db = os.path.join(store_dir, "mgmt.db")
        with open(m.config, "w") as f:
            f.write('listen: "%s"\nstore: {path: store/mgmt.db}\n'
                    'api: {listen: "127.0.0.1:%d", tokens: tokens.db}\n' % (m.listen, m.api_port))
        m.start()
        # Leave about 1.5 MB: room for a few thousand records, not for 20,000.
        filler = os.path.join(store_dir, "filler")
        st = os.statvfs(store_dir)
        free = st.f_bavail * st.f_frsize
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - 1536 * 1024))
        pcap = self.path("many.pcap")
        tt.write_pcap(pcap, 20000)
        cfg = self.sensor_config(rules=self.every_packet_rules(),
                                 zmq_extra=", drain-timeout-s: 120")
        p = self.replay(cfg, pcap, self.path("eve.json"), wait=False)
        self.wait_for(lambda: "vigil-mgmtd: store: " in m.text(), timeout=60,
                      what="a commit to fail")
        self.assertRegex(m.text(), r"store: .*(full|disk)")
        stored_while_full = m.count("edge-01")
        self.assertLess(stored_while_full, 20001)
        self.assertIsNone(p.poll(), "the sensor gave up while mgmtd's disk was full")
        time.sleep(1)
        os.unlink(filler)
        out, err = p.communicate(timeout=180)
        self.assertEqual(p.returncode, 0, err + "\nmgmtd: " + m.text()[-3000:])
        self.assertIn("mgmtd: every record acknowledged", err)
        self.assertEqual(m.seqs("edge-01"), list(range(1, 20002)))
        status = m.api("/api/v1/status", m.token("viewer"))
        self.assertGreater(status["ingest"]["commit_errors"], 0)
        self.assertEqual(m.stop(), 0)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("disk_full_test: needs root (a tmpfs in a private mount namespace)")
        sys.exit(77)
    private_mount_namespace()
    unittest.main(verbosity=2)
