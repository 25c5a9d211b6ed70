#!/usr/bin/env python3
"""Lay the seed inputs of every fuzz target into fuzz/corpus/<target>/ from the golden
vectors (tests/data/golden) and the shipped configuration files. Run from the
repository root; see docs/FUZZING.md. Existing corpus files are kept."""
import hashlib, json, os, struct, sys

G = "tests/data/golden"
REC = "20260101T000000Z"
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def seed(target, name, data):
    d = os.path.join("fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def records(data):
    out, pos = [], 0
    while pos + 8 <= len(data):
        n = struct.unpack(">I", data[pos + 4:pos + 8])[0]
        out.append(data[pos:pos + 8 + n + 64])
        pos += 8 + n + 64
    return out


seg = {s: (read(f"{G}/store/recordings/{REC}/{s:06}.ts"),
           read(f"{G}/store/recordings/{REC}/{s:06}.journal")) for s in (1, 2)}
audit = read(f"{G}/store/evidence/audit.log")
media_head = read(f"{G}/store/evidence/media.head")
head = read(f"{G}/head.json")

for s, (ts, j) in seg.items():
    seed("ts_scan", f"segment{s}.ts", ts)
    seed("journal", f"segment{s}.journal", j)
    recs = records(j)
    # An open segment (the final record not yet written), and one torn mid-record.
    open_j = b"".join(recs[:-1])
    sel = bytes([s - 1])
    seed("recovery", f"open{s}", sel + struct.pack(">H", len(open_j)) + open_j + ts)
    torn = open_j + recs[-1][:40]
    seed("recovery", f"torn{s}", sel + struct.pack(">H", len(torn)) + torn + ts)
    seed("recovery", f"closed{s}", sel + struct.pack(">H", len(j)) + j + ts)
seed("journal", "media.head", media_head)
seed("audit_log", "audit.log", audit)
seed("audit_log", "torn", audit + records(audit)[-1][:30])
seed("audit_log", "event-detail", b"recording_stop\x00" + json.dumps(
    {"recording_id": REC, "trigger": "ctl", "seconds": 4.0, "segments": 2}).encode())

seed("identity", "identity.json", read(f"{G}/store/keys/identity.json"))
seed("identity", "device.pk8", read(f"{G}/test-key.pk8"))
seed("identity", "key-hex", json.loads(read(f"{G}/store/keys/identity.json"))["public_key"].encode())

seed("config", "bodycam.toml", read("systemd/bodycam.toml"))
doc = read("docs/DEPLOYMENT.md").decode()
blocks = doc.split("```toml\n")[1:]
for i, b in enumerate(blocks):
    seed("config", f"deployment-{i}.toml", b.split("```")[0].encode())

# dock_api: route selector, flags (1 JSON content type, 2 Range, 4 POST), then
# recording \n sequence \n body.
sha = hashlib.sha256(seg[1][0]).hexdigest()
reqs = {
    "device": (0, 0, b"", b"", b""),
    "head": (1, 1, b"", b"", b'{"nonce": "4242"}'),
    "recordings": (2, 0, b"", b"", b""),
    "media": (3, 0, REC.encode(), b"1", b""),
    "media-range": (3, 2, REC.encode(), b"bytes=10-", b""),
    "journal": (4, 0, REC.encode(), b"2", b""),
    "meta": (5, 0, REC.encode(), b"000001", b""),
    "ack": (6, 1, REC.encode(), b"1", json.dumps({"blob": "d/r/000001.ts", "sha256": sha}).encode()),
    "audit": (7, 0, b"", b"", b""),
    "time": (8, 1, b"", b"", b'{"utc_ms": 1767225600000}'),
    "other": (9, 4, b"v1/device", b"", b""),
}
for name, (route, flags, rec, s, body) in reqs.items():
    seed("dock_api", name, bytes([route, flags]) + rec + b"\n" + s + b"\n" + body)

# agent_answers: selector, then the answer body.
ident = json.loads(read(f"{G}/store/keys/identity.json"))
device = {"device_id": ident["device_id"], "public_key": ident["public_key"], "firmware": "0.1.0",
          "clock": {"utc": "2026-01-01T00:00:00.000Z", "synchronised": True},
          "storage": {"used_bytes": 1, "available_bytes": 2, "hours_left": None}, "state": "docked"}
listing = {"recordings": [{"id": REC, "descriptor": None, "segments": [
    {"sequence": 2, "bytes": len(seg[2][0]), "journal_bytes": len(seg[2][1]), "closed": True,
     "offload": "pending", "meta": None},
    {"sequence": 1, "bytes": None, "journal_bytes": len(seg[1][1]), "closed": True,
     "offload": "acknowledged", "meta": {"utc_start": "x"}}]}]}
answers = {
    "device": (0, device),
    "listing": (1, listing),
    "head": (2, json.loads(head)),
    "ack": (3, {"acknowledged": True, "recording_id": REC, "segment": 1, "sha256": sha, "freed": False}),
    "time": (4, {"offset_ms": -5, "applied": False, "error": "off"}),
    "error": (5, {"error": "segment is still being written"}),
}
for name, (sel, v) in answers.items():
    seed("agent_answers", name, bytes([sel]) + json.dumps(v).encode())
print("seeds written to fuzz/corpus/")
