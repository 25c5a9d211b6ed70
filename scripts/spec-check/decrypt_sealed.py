#!/usr/bin/env python3
"""An independent decrypting verifier of bodycam's confidential footage.

Written from docs/EVIDENCE-FORMAT.md alone (sections 2, 3, 4, 5, 9 and 10.1), without the
Rust code, to show that the spec is enough to decrypt in another language. It uses the
Python standard library and the `cryptography` package (Ed25519, X25519, HKDF-SHA-256,
ChaCha20-Poly1305) and nothing of bodycam.

    decrypt_sealed.py --store STORE --key FOOTAGE.key [--out DIR]
                      [--expect-plain PLAIN_STORE] [--vectors vectors.json]
                      [--track-out TRACK.json]

For each recording and segment of STORE it:
  - checks keys/identity.json (section 2) and every journal record: magic, length,
    Ed25519 signature under the identity's key, header fields, kinds (3, 3.1);
  - links every media record of the store into one chain by counter and prev_hash (5);
  - checks the keys record: first and only, its layout (9.2, 3.7);
  - unwraps the content key with FOOTAGE.key, checks the commitment, derives the media
    key (9.2);
  - walks the media as chunks from byte 0 (9.3, 9.6): magic, index = position,
    plain_len, every checkpoint's byte_end a chunk boundary, the checkpoint's range hash
    over the ciphertext, the chunk headers' frame counts against the checkpoints', the
    final record's whole-file hash and sidecar hash;
  - opens every chunk with nonce = 0^8 || u32 index and aad = label || location || header,
    and concatenates the plaintexts;
  - checks the location records (10.1, 10.1.1): none in the clear (kind 5) in an
    encrypted segment, sealed ones (kind 6) with seq 0, 1, 2 ... in journal order, and
    opens each with location_key = HKDF(K, "", "bodycam-v2 location"),
    nonce = 0^8 || u32 seq and aad = label || location || u32 seq || u64 pts_90k;
    with --track-out, writes the opened samples as JSON;
  - with --expect-plain, requires that plaintext to equal the plain store's NNNNNN.ts
    byte for byte; with --vectors, requires every intermediate value it computed to equal
    the one listed there; with --out, writes the decrypted NNNNNN.ts files.

Exit status: 0 when everything holds, 1 when any check fails (each failure is printed),
2 on a usage error.
"""

import argparse
import hashlib
import json
import os
import stat
import struct
import sys

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# --- constants, each from the section named --------------------------------------------
RECORD_MAGIC = b"BCR1"  # 3
MAX_BODY = 65536  # 3
SIG_CONTEXT = b"bodycam-evidence-v1\x00"  # 3
HEADER_LEN = 91  # 3.1
KIND_CHECKPOINT, KIND_FINAL, KIND_RECOVERY, KIND_KEYS = 1, 2, 3, 4  # 3.1
KIND_LOCATION, KIND_SEALED_LOCATION = 5, 6  # 3.1, 10.1, 10.1.1
MEDIA_KINDS = (KIND_CHECKPOINT, KIND_FINAL, KIND_RECOVERY, KIND_KEYS, KIND_LOCATION, KIND_SEALED_LOCATION)
LOCATION_INFO = b"bodycam-v2 location"  # 10.1.1: HKDF info and AAD label
FIX_LEN = 30  # 10.1.1: the plaintext, as kind 5 after pts_90k
CHUNK_MAGIC = b"BCM2"  # 9.3
CHUNK_HEADER_LEN = 40  # 9.3
TAG_LEN = 16  # 9 (RFC 8439)
MAX_PLAIN = 16 * 1024 * 1024  # 9.3
CHUNK_LABEL = b"bodycam-v2 chunk"  # 9.3
MEDIA_INFO = b"bodycam-v2 media"  # 9.2
COMMITMENT_INFO = b"bodycam-v2 commitment"  # 9.2
WRAP_INFO = b"bodycam-v2 x25519 wrap"  # 9.2
AEAD_CHACHA = 1  # 3.7


class Failure(Exception):
    pass


failures = []


def fail(where, what):
    if what.startswith(f"{where}"):  # a Failure that already names its place
        what = what[len(where) :].lstrip(": ")
    failures.append(f"{where}: {what}")
    print(f"FAIL {where}: {what}")


def sha256(b):
    return hashlib.sha256(b).digest()


def hkdf(ikm, salt, info):
    # 9: HKDF-SHA-256 (RFC 5869), Extract with salt, Expand with info, 32 bytes.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def x25519(secret, public):
    shared = X25519PrivateKey.from_private_bytes(secret).exchange(
        X25519PublicKey.from_public_bytes(public)
    )
    if shared == bytes(32):  # 9: all-zero outputs are refused
        raise Failure("X25519 gave all zero")
    return shared


class Reader:
    """Big-endian reads of a body; running past the end is an invalid record (3.1)."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise Failure(f"field runs past the body at {self.pos} (+{n})")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def str(self):
        n = self.u16()
        raw = self.take(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Failure(f"str is not UTF-8: {e}") from None

    def end(self):
        if self.pos != len(self.data):
            raise Failure(f"{len(self.data) - self.pos} trailing bytes after the payload")


def encode_str(s):
    b = s.encode("utf-8")
    return struct.pack(">H", len(b)) + b


# --- files ----------------------------------------------------------------------------
def load_identity(store):
    path = os.path.join(store, "keys", "identity.json")
    with open(path, encoding="utf-8") as f:
        ident = json.load(f)
    if set(ident) != {"format", "device_id", "public_key", "algorithm"}:
        raise Failure(f"{path}: fields {sorted(ident)}")
    if ident["format"] != "bodycam-identity/1" or ident["algorithm"] != "ed25519":
        raise Failure(f"{path}: format/algorithm")
    pk = bytes.fromhex(ident["public_key"])
    if len(pk) != 32 or ident["public_key"] != pk.hex():
        raise Failure(f"{path}: public_key is not 64 lower-case hex digits")
    if ident["device_id"] != sha256(pk)[:16].hex():
        raise Failure(f"{path}: device_id is not SHA-256(public_key)[0..16]")
    return pk, bytes.fromhex(ident["device_id"])


def load_footage_key(path):
    # 9.1: key id checked against the public key; owner-only; private gives public.
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise Failure(f"{path}: readable by others (mode {oct(mode & 0o777)}); must be owner-only")
    with open(path, encoding="utf-8") as f:
        key = json.load(f)
    if key.get("format") != "bodycam-footage-key/1" or key.get("algorithm") != "x25519":
        raise Failure(f"{path}: not a bodycam footage key (format/algorithm)")
    private = bytes.fromhex(key["private_key"])
    public = bytes.fromhex(key["public_key"])
    if len(private) != 32 or len(public) != 32:
        raise Failure(f"{path}: key lengths")
    if key["key_id"] != sha256(public)[:16].hex():
        raise Failure(f"{path}: key_id is not SHA-256(public_key)[0..16]")
    derived = X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()
    if derived != public:
        raise Failure(f"{path}: private_key does not give public_key")
    return private, public, bytes.fromhex(key["key_id"])


def split_records(data, where):
    """A journal is a concatenation of records (4, 3)."""
    out, pos = [], 0
    while pos < len(data):
        if data[pos : pos + 4] != RECORD_MAGIC:
            raise Failure(f"{where}: no record magic at byte {pos}")
        if pos + 8 > len(data):
            raise Failure(f"{where}: torn record header at byte {pos}")
        (body_len,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        if body_len > MAX_BODY:
            raise Failure(f"{where}: body_len {body_len} > {MAX_BODY} at byte {pos}")
        end = pos + 8 + body_len + 64
        if end > len(data):
            raise Failure(f"{where}: torn record at byte {pos}")
        raw = data[pos:end]
        out.append((raw, raw[8 : 8 + body_len], raw[8 + body_len :]))
        pos = end
    return out


def decode_record(raw, body, sig, device_pk, device_id, where):
    try:
        Ed25519PublicKey.from_public_bytes(device_pk).verify(sig, SIG_CONTEXT + body)
    except InvalidSignature:
        raise Failure(f"{where}: signature does not verify under the device key") from None
    r = Reader(body)
    rec = {"hash": sha256(raw), "raw": raw}
    rec["version"] = r.u8()
    rec["kind"] = r.u8()
    rec["device_id"] = r.take(16)
    rec["counter"] = r.u64()
    rec["prev_hash"] = r.take(32)
    rec["utc_ms"] = r.i64()
    rec["clock"] = r.u8()
    rec["mono_ns"] = r.u64()
    rec["boot_id"] = r.take(16)
    assert r.pos == HEADER_LEN
    if rec["version"] not in (1, 2):
        raise Failure(f"{where}: version {rec['version']}")
    if rec["clock"] not in (0, 1, 2):
        raise Failure(f"{where}: clock {rec['clock']}")
    if rec["device_id"] != device_id:
        raise Failure(f"{where}: device_id {rec['device_id'].hex()} is not the identity's")
    kind = rec["kind"]
    if kind not in MEDIA_KINDS:
        raise Failure(f"{where}: kind {kind} in a journal")
    if kind == KIND_KEYS and rec["version"] < 2:
        raise Failure(f"{where}: keys record in a version-1 record")
    if kind == KIND_SEALED_LOCATION and rec["version"] < 2:
        raise Failure(f"{where}: sealed location in a version-1 record")
    rec["recording_id"] = r.str()
    rec["segment"] = r.u32()
    if kind == KIND_CHECKPOINT:  # 3.2
        rec["byte_start"] = r.u64()
        rec["byte_end"] = r.u64()
        rec["range_sha256"] = r.take(32)
        rec["pts_first"] = r.u64()
        rec["pts_last"] = r.u64()
        rec["video_frames"] = r.u32()
        rec["audio_frames"] = r.u32()
    elif kind == KIND_FINAL:  # 3.3
        rec["total_len"] = r.u64()
        rec["segment_sha256"] = r.take(32)
        rec["video_frames"] = r.u32()
        rec["audio_frames"] = r.u32()
        rec["keyframes"] = r.u32()
        rec["duration_90k"] = r.u64()
        rec["end_reason"] = r.u8()
        if rec["end_reason"] not in range(1, 7):
            raise Failure(f"{where}: end_reason {rec['end_reason']}")
        markers = []
        for _ in range(r.u16()):
            markers.append((r.i64(), r.u32(), r.str()))
        rec["markers"] = markers
        rec["sidecar_sha256"] = r.take(32)
    elif kind == KIND_RECOVERY:  # 3.4
        rec["byte_start"] = r.u64()
        rec["byte_end"] = r.u64()
        rec["tail_sha256"] = r.take(32)
        rec["segment_sha256"] = r.take(32)
        rec["journal_torn_bytes"] = r.u64()
        rec["sidecar_sha256"] = r.take(32)
    elif kind == KIND_LOCATION:  # 10.1
        rec["pts_90k"] = r.u64()
        rec["fix"] = r.take(FIX_LEN)
    elif kind == KIND_SEALED_LOCATION:  # 10.1.1
        rec["seq"] = r.u32()
        rec["pts_90k"] = r.u64()
        rec["sealed"] = r.take(FIX_LEN + TAG_LEN)
    else:  # 3.7 in 9.2
        rec["aead"] = r.u8()
        rec["commitment"] = r.take(32)
        n = r.u16()
        if n < 1:
            raise Failure(f"{where}: recipient_count 0")
        rec["recipients"] = [(r.take(16), r.take(32), r.take(48)) for _ in range(n)]
    r.end()
    return rec


# --- one segment ----------------------------------------------------------------------
def walk_chunks(media, where):
    """9.3/9.6: chunks from byte 0, nothing between or after them."""
    chunks, pos = [], 0
    while pos < len(media):
        header = media[pos : pos + CHUNK_HEADER_LEN]
        if len(header) < CHUNK_HEADER_LEN:
            raise Failure(f"{where}: torn chunk header at byte {pos}")
        (magic, index, plain_len, vf, af, kf, pts_first, pts_last) = struct.unpack(
            ">4sIIIIIQQ", header
        )
        if magic != CHUNK_MAGIC:
            raise Failure(f"{where}: no chunk magic at byte {pos}")
        if index != len(chunks):
            raise Failure(f"{where}: chunk at byte {pos} has index {index}, position {len(chunks)}")
        if plain_len > MAX_PLAIN:
            raise Failure(f"{where}: plain_len {plain_len} > 16 MiB at byte {pos}")
        end = pos + CHUNK_HEADER_LEN + plain_len + TAG_LEN
        if end > len(media):
            raise Failure(f"{where}: torn last chunk at byte {pos}")
        chunks.append(
            {
                "offset": pos,
                "end": end,
                "index": index,
                "header": header,
                "sealed": media[pos + CHUNK_HEADER_LEN : end],
                "video_frames": vf,
                "audio_frames": af,
                "keyframes": kf,
                "pts_first": pts_first,
                "pts_last": pts_last,
            }
        )
        pos = end
    return chunks


def check_segment(ctx, rec_id, seq, records, media, sidecar_bytes, where):
    """Returns (plaintext, computed values for the vectors)."""
    computed = {}
    keys = [r for r in records if r["kind"] == KIND_KEYS]
    if not keys:
        raise Failure(f"{where}: no keys record (not an encrypted segment)")
    if len(keys) != 1 or records[0]["kind"] != KIND_KEYS:
        raise Failure(f"{where}: the keys record must be the first record and occur once")
    keys = keys[0]
    if keys["aead"] != AEAD_CHACHA:
        raise Failure(f"{where}: aead {keys['aead']} is not defined")
    closing = [r for r in records if r["kind"] in (KIND_FINAL, KIND_RECOVERY)]
    if len(closing) != 1 or records[-1] is not closing[0]:
        raise Failure(f"{where}: not exactly one final or recovery record, last")
    final = closing[0]
    for r in records:
        if r["recording_id"] != rec_id or r["segment"] != seq:
            raise Failure(f"{where}: a record names {r['recording_id']}/{r['segment']}")

    # 9.2: location, unwrap, commitment, media key.
    location = ctx["device_id"] + encode_str(rec_id) + struct.pack(">I", seq)
    computed["location"] = location
    private, public, key_id = ctx["key"]
    entries = [e for e in keys["recipients"] if e[0] == key_id]
    if not entries:
        ids = ", ".join(e[0].hex() for e in keys["recipients"])
        raise Failure(f"{where}: not encrypted to key {key_id.hex()} (key ids: {ids})")
    _, eph, wrapped = entries[0]
    shared = x25519(private, eph)
    wrap_key = hkdf(shared, eph + public, WRAP_INFO)
    try:
        content_key = ChaCha20Poly1305(wrap_key).decrypt(bytes(12), wrapped, location)
    except InvalidTag:
        raise Failure(f"{where}: the wrapped key does not open (another key, location or damage)") from None
    if hkdf(content_key, b"", COMMITMENT_INFO) != keys["commitment"]:
        raise Failure(f"{where}: the commitment does not match the unwrapped content key")
    media_key = hkdf(content_key, b"", MEDIA_INFO)
    computed.update(
        shared_secret=shared,
        wrap_key=wrap_key,
        content_key=content_key,
        commitment=keys["commitment"],
        media_key=media_key,
        ephemeral_share=eph,
        wrapped_key=wrapped,
        recipient_key_id=key_id,
        recipient_public_key=public,
    )

    # 9.6: chunk walk and the signed records over the ciphertext.
    if media[:4] != CHUNK_MAGIC:
        raise Failure(f"{where}: an encrypted segment's media does not start with BCM2")
    chunks = walk_chunks(media, where)
    boundaries = {0} | {c["end"] for c in chunks}
    checkpoints = [r for r in records if r["kind"] == KIND_CHECKPOINT]
    expect_start = 0
    for cp in checkpoints:
        if cp["byte_start"] != expect_start:
            fail(where, f"checkpoint starts at {cp['byte_start']}, previous ended at {expect_start}")
        if cp["byte_end"] not in boundaries:
            fail(where, f"checkpoint byte_end {cp['byte_end']} is not a chunk boundary")
        if sha256(media[cp["byte_start"] : cp["byte_end"]]) != cp["range_sha256"]:
            fail(where, f"checkpoint range [{cp['byte_start']}, {cp['byte_end']}) hash differs")
        covered = [c for c in chunks if cp["byte_start"] <= c["offset"] and c["end"] <= cp["byte_end"]]
        vf = sum(c["video_frames"] for c in covered)
        af = sum(c["audio_frames"] for c in covered)
        if (vf, af) != (cp["video_frames"], cp["audio_frames"]):
            fail(where, f"checkpoint counts {cp['video_frames']}/{cp['audio_frames']}, its chunks' {vf}/{af}")
        with_video = [c for c in covered if c["video_frames"]]
        if with_video and (with_video[0]["pts_first"], with_video[-1]["pts_last"]) != (
            cp["pts_first"],
            cp["pts_last"],
        ):
            fail(where, "checkpoint pts_first/pts_last differ from its chunks' headers")
        expect_start = cp["byte_end"]
    if final["kind"] == KIND_FINAL:
        if final["total_len"] != len(media) or final["segment_sha256"] != sha256(media):
            fail(where, "final record's total_len/segment_sha256 do not match the media")
        if expect_start != len(media):
            fail(where, f"checkpoints end at {expect_start}, media at {len(media)}")
        for field in ("video_frames", "audio_frames", "keyframes"):
            total = sum(c[field] for c in chunks)
            if total != final[field]:
                fail(where, f"final {field} {final[field]}, chunk headers {total}")
    if sha256(sidecar_bytes) != final["sidecar_sha256"]:
        fail(where, "sidecar hash differs from the closing record's sidecar_sha256")
    sidecar = json.loads(sidecar_bytes)
    enc = sidecar.get("encryption")
    want = {
        "aead": "chacha20-poly1305",
        "key_ids": [e[0].hex() for e in keys["recipients"]],
        "chunks": len(chunks),
    }
    if enc != want:
        fail(where, f"sidecar encryption {enc!r}, expected {want!r}")

    # 9.3: open every chunk in place.
    aead = ChaCha20Poly1305(media_key)
    plain = bytearray()
    for c in chunks:
        nonce = bytes(8) + struct.pack(">I", c["index"])
        aad = CHUNK_LABEL + location + c["header"]
        try:
            p = aead.decrypt(nonce, c["sealed"], aad)
        except InvalidTag:
            raise Failure(f"{where}: chunk {c['index']} at byte {c['offset']} does not open") from None
        if len(p) != struct.unpack(">I", c["header"][8:12])[0]:
            fail(where, f"chunk {c['index']} plaintext length differs from plain_len")
        # 9.3: a chunk's plaintext is whole 188-byte TS packets.
        if len(p) % 188 or any(p[i] != 0x47 for i in range(0, len(p), 188)):
            fail(where, f"chunk {c['index']} plaintext is not whole TS packets")
        if c["index"] == 0:
            computed.update(
                chunk0_header=c["header"],
                chunk0_nonce=nonce,
                chunk0_aad=aad,
                chunk0_tag=c["sealed"][-TAG_LEN:],
                chunk0_plaintext_sha256=sha256(p),
                chunk0_sealed_sha256=sha256(media[c["offset"] : c["end"]]),
            )
        plain += p
    computed["chunks"] = len(chunks)
    computed["checkpoints"] = len(checkpoints)

    # 10.1.1: the location track, sealed under its own key.
    if any(r["kind"] == KIND_LOCATION for r in records):
        fail(where, "a location record in the clear (kind 5) in an encrypted segment")
    location_key = hkdf(content_key, b"", LOCATION_INFO)
    track = []
    for i, r in enumerate(x for x in records if x["kind"] == KIND_SEALED_LOCATION):
        if r["seq"] != i:
            fail(where, f"sealed location seq {r['seq']} where {i} belongs")
        nonce = bytes(8) + struct.pack(">I", r["seq"])
        aad = LOCATION_INFO + location + struct.pack(">IQ", r["seq"], r["pts_90k"])
        try:
            fix = ChaCha20Poly1305(location_key).decrypt(nonce, r["sealed"], aad)
        except InvalidTag:
            fail(where, f"sealed location {r['seq']} does not open")
            continue
        quality, fix_utc_ms, lat, lon, alt, h_acc, v_acc, source = struct.unpack(">BqiiiIIB", fix)
        if quality not in (0, 2, 3):
            fail(where, f"sealed location {r['seq']}: quality {quality}")
        track.append(
            dict(recording_id=rec_id, segment=seq, seq=r["seq"], pts_90k=r["pts_90k"], quality=quality,
                 fix_utc_ms=fix_utc_ms, lat_e7=lat, lon_e7=lon, alt_cm=alt, h_acc_cm=h_acc,
                 v_acc_cm=v_acc, source=source)
        )
    computed["track"] = track
    computed["location_key"] = location_key
    # The plaintext is MPEG-TS (9.3): 188-byte packets, each starting with 0x47.
    if len(plain) % 188 or any(plain[i] != 0x47 for i in range(0, len(plain), 188)):
        fail(where, "plaintext is not a sequence of 188-byte TS packets")
    return bytes(plain), computed


def check_chain(media_records):
    """5: every media record of the store in one chain by counter and prev_hash."""
    by_counter = {}
    for where, rec in media_records:
        if rec["counter"] in by_counter:
            fail(where, f"counter {rec['counter']} occurs twice in the media chain")
        by_counter[rec["counter"]] = (where, rec)
    counters = sorted(by_counter)
    if counters != list(range(len(counters))):
        fail("media chain", f"counters are not 0..{len(counters) - 1}: {counters}")
    for n in counters:
        where, rec = by_counter[n]
        want = bytes(32) if n == 0 else by_counter.get(n - 1, (None, {"hash": None}))[1]["hash"]
        if rec["prev_hash"] != want:
            fail(where, f"prev_hash of counter {n} is not the record hash of counter {n - 1}")
    return by_counter


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--key", required=True, help="a bodycam-footage-key/1 file (owner-only)")
    ap.add_argument("--out", help="write the decrypted NNNNNN.ts files here")
    ap.add_argument("--expect-plain", help="a plain store whose media the plaintext must equal")
    ap.add_argument("--vectors", help="vectors.json: every value listed must equal ours")
    ap.add_argument("--track-out", help="write the opened location samples here (JSON list)")
    args = ap.parse_args()

    try:
        device_pk, device_id = load_identity(args.store)
        key = load_footage_key(args.key)
    except (Failure, OSError, ValueError, KeyError) as e:
        print(f"usage: {e}", file=sys.stderr)
        return 2
    ctx = {"device_id": device_id, "key": key}
    vectors = {}
    if args.vectors:
        with open(args.vectors, encoding="utf-8") as f:
            for v in json.load(f):
                vectors[(v["recording_id"], v["segment"])] = v

    recordings_dir = os.path.join(args.store, "recordings")
    media_records, segments_done, checked_values, track = [], 0, 0, []
    for rec_id in sorted(os.listdir(recordings_dir)):
        rdir = os.path.join(recordings_dir, rec_id)
        seqs = sorted(int(n[:6]) for n in os.listdir(rdir) if n.endswith(".journal") and len(n) == 14)
        for seq in seqs:
            where = f"{rec_id}/{seq:06d}"
            base = os.path.join(rdir, f"{seq:06d}")
            try:
                with open(base + ".journal", "rb") as f:
                    journal = f.read()
                records = []
                for i, (raw, body, sig) in enumerate(split_records(journal, where)):
                    rec = decode_record(raw, body, sig, device_pk, device_id, f"{where} record {i}")
                    records.append(rec)
                    media_records.append((f"{where} record {i}", rec))
                with open(base + ".ts", "rb") as f:
                    media = f.read()
                with open(base + ".json", "rb") as f:
                    sidecar = f.read()
                plain, computed = check_segment(ctx, rec_id, seq, records, media, sidecar, where)
            except Failure as e:
                fail(where, str(e))
                continue
            if args.expect_plain:
                ref = os.path.join(args.expect_plain, "recordings", rec_id, f"{seq:06d}.ts")
                with open(ref, "rb") as f:
                    want = f.read()
                if plain != want:
                    diff = next((i for i, (a, b) in enumerate(zip(plain, want)) if a != b), min(len(plain), len(want)))
                    fail(where, f"plaintext differs from {ref} at byte {diff} ({len(plain)} vs {len(want)} bytes)")
            if args.vectors:
                v = vectors.get((rec_id, seq))
                if v is None:
                    fail(where, "no vectors for this segment")
                else:
                    for name, value in computed.items():
                        if name not in v:
                            continue
                        mine = value.hex() if isinstance(value, bytes) else value
                        checked_values += 1
                        if mine != v[name]:
                            fail(where, f"vector {name}: computed {mine}, listed {v[name]}")
                    # The device's side, from the listed secrets (9.2): E = X25519(e, 9),
                    # shared = X25519(e, R), the same as the examiner's.
                    if "ephemeral_secret" in v:
                        e = bytes.fromhex(v["ephemeral_secret"])
                        share = X25519PrivateKey.from_private_bytes(e).public_key().public_bytes_raw()
                        checked_values += 2
                        if share != computed["ephemeral_share"]:
                            fail(where, "X25519(ephemeral_secret, 9) is not the ephemeral share")
                        if x25519(e, key[1]) != computed["shared_secret"]:
                            fail(where, "X25519(ephemeral_secret, R) is not the examiner's shared secret")
            track += computed["track"]
            if args.out:
                os.makedirs(os.path.join(args.out, rec_id), exist_ok=True)
                with open(os.path.join(args.out, rec_id, f"{seq:06d}.ts"), "wb") as f:
                    f.write(plain)
            segments_done += 1
            print(
                f"ok {where}: {computed['chunks']} chunks under {computed['checkpoints']} "
                f"checkpoints, {len(plain)} bytes of TS, {len(computed['track'])} location samples"
            )

    if args.track_out:
        with open(args.track_out, "w", encoding="utf-8") as f:
            json.dump(track, f, indent=1)
    check_chain(media_records)
    head_path = os.path.join(args.store, "evidence", "media.head")
    if os.path.exists(head_path) and os.path.getsize(head_path):
        with open(head_path, "rb") as f:
            head = f.read()
        if head not in [rec["raw"] for _, rec in media_records]:
            fail("evidence/media.head", "is not a copy of a media record of the store")
    if segments_done == 0:
        fail(args.store, "no segment decrypted")
    if args.vectors:
        print(f"vectors: {checked_values} values checked")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print(f"all {segments_done} segments decrypted and checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
