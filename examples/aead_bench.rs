//! Benchmark helper: throughput of the AEAD candidates for the media chunks, through
//! ring as the camera uses it (seal in place, one chunk of CHUNK bytes at a time), and
//! of SHA-256 for comparison.
//!
//! usage: cargo run --release --example aead_bench -- [SECONDS_EACH (default 2)] [CHUNK_KIB (default 384)]
//!
//! 384 KiB is one second of 3 Mbit/s footage: the size of a chunk the camera seals at
//! each checkpoint. Prints one line per algorithm: `name MB/s`.

use std::time::{Duration, Instant};

use ring::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

fn measure(name: &str, secs: f64, buf: &mut [u8], mut op: impl FnMut(&mut [u8], u64)) {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs_f64(secs) {
        op(buf, n);
        n += 1;
    }
    let mb = n as f64 * buf.len() as f64 / 1e6;
    println!("{name} {:.0}", mb / start.elapsed().as_secs_f64());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: f64 = args
        .get(1)
        .map_or(2.0, |s| s.parse().expect("SECONDS_EACH"));
    let kib: usize = args.get(2).map_or(384, |s| s.parse().expect("CHUNK_KIB"));
    let mut buf: Vec<u8> = (0..kib * 1024).map(|i| (i * 31 % 251) as u8).collect();
    for (name, alg) in [
        ("chacha20-poly1305", &CHACHA20_POLY1305),
        ("aes-256-gcm", &AES_256_GCM),
    ] {
        let key = LessSafeKey::new(UnboundKey::new(alg, &[7u8; 32]).expect("key"));
        measure(name, secs, &mut buf, |b, i| {
            let mut n = [0u8; 12];
            n[4..].copy_from_slice(&i.to_be_bytes());
            let tag = key
                .seal_in_place_separate_tag(Nonce::assume_unique_for_key(n), Aad::from(b"aad"), b)
                .expect("seal");
            let _ = std::hint::black_box(tag);
        });
    }
    measure("sha-256", secs, &mut buf, |b, _| {
        std::hint::black_box(ring::digest::digest(&ring::digest::SHA256, b));
    });
}
