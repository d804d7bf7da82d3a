"""The sensor↔mgmtd wire format (common/wire.h) in Python, for tests that play a sensor or a
rogue peer against a real vigil-mgmtd over real ZeroMQ sockets."""

import json
import struct
import time

import zmq

HELLO, RECORD, GAP, HEARTBEAT, WELCOME, ACK, RESYNC, CONTROL, REPLY = range(1, 10)
NAMES = {HELLO: "hello", RECORD: "record", GAP: "gap", HEARTBEAT: "heartbeat",
         WELCOME: "welcome", ACK: "ack", RESYNC: "resync", CONTROL: "control", REPLY: "reply"}


def envelope(mtype, seq, sensor_id, magic=b"VGW1", flags=0):
    sid = sensor_id.encode()
    return magic + struct.pack("<BBHQ", mtype, flags, len(sid), seq) + sid


def decode(frame):
    assert frame[:4] == b"VGW1", frame[:4]
    mtype, flags, idlen, seq = struct.unpack("<BBHQ", frame[4:16])
    return mtype, seq, frame[16:16 + idlen].decode()


def alert(i, sid=2000001, src="10.0.0.1", dst="10.0.0.2", ts_sec=1700000000, action="allowed",
          proto="TCP"):
    """An EVE alert record as the sensor writes it (fields the store indexes)."""
    t = time.gmtime(ts_sec + i // 1000)
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%06d+0000" % (i % 1000)
    return json.dumps({
        "timestamp": ts, "flow_id": 1000 + i, "event_type": "alert", "src_ip": src,
        "src_port": 40000 + i % 20000, "dest_ip": dst, "dest_port": 80, "proto": proto,
        "host": "test",
        "alert": {"action": action, "gid": 1, "signature_id": sid, "rev": 1,
                  "signature": "test alert %d" % sid, "category": "", "severity": 3},
    }, separators=(",", ":"))


class FakeSensor:
    """A DEALER that speaks the sensor's side of the protocol."""

    def __init__(self, endpoint, sensor_id, ctx=None, curve=None):
        self.ctx = ctx or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve:  # (client_public, client_secret, server_public), Z85 bytes
            self.sock.curve_publickey, self.sock.curve_secretkey, self.sock.curve_serverkey = curve
        self.sock.connect(endpoint)
        self.sensor_id = sensor_id

    def send(self, mtype, seq, body=b"", sensor_id=None):
        if isinstance(body, str):
            body = body.encode()
        self.sock.send_multipart([envelope(mtype, seq, sensor_id or self.sensor_id), body])

    def hello(self, timeout_ms=5000, oldest=0):
        self.send(HELLO, 0, json.dumps({"version": "test", "oldest_seq": oldest}))
        return self.expect(WELCOME, timeout_ms)

    def recv(self, timeout_ms=5000):
        if not self.sock.poll(timeout_ms):
            return None
        frames = self.sock.recv_multipart()
        mtype, seq, sid = decode(frames[0])
        return mtype, seq, (frames[1] if len(frames) > 1 else b"")

    def expect(self, mtype, timeout_ms=5000):
        """The seq of the next message of `mtype` (others skipped), or None on timeout."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            left = int((deadline - time.monotonic()) * 1000)
            if left <= 0:
                return None
            m = self.recv(left)
            if m is None:
                return None
            if m[0] == mtype:
                return m[1]

    def wait_ack(self, seq, timeout_ms=10000):
        """Waits until mgmtd has acknowledged `seq`; returns the last ack seen."""
        deadline = time.monotonic() + timeout_ms / 1000
        last = None
        while time.monotonic() < deadline:
            m = self.recv(100)
            if m and m[0] in (ACK, WELCOME):
                last = m[1]
                if last >= seq:
                    return last
        return last

    def close(self):
        self.sock.close(0)
