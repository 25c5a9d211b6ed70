use super::*;
use crate::ts::fields::decode_timestamp;
use crate::ts::scan;
use crate::ts::test_util::Rng;
use std::collections::HashMap;

#[derive(Debug)]
struct Pkt {
    pid: u16,
    pusi: bool,
    afc: u8,
    cc: u8,
    af: Vec<u8>,
    payload: Vec<u8>,
}

fn parse_packets(ts: &[u8]) -> Vec<Pkt> {
    assert_eq!(ts.len() % TS_PACKET, 0, "output not packet-aligned");
    ts.chunks_exact(TS_PACKET)
        .map(|p| {
            assert_eq!(p[0], SYNC_BYTE);
            let afc = (p[3] >> 4) & 3;
            let mut pos = 4;
            let mut af = Vec::new();
            if afc & 2 != 0 {
                let len = p[4] as usize;
                af = p[5..5 + len].to_vec();
                pos = 5 + len;
            }
            assert!(pos <= TS_PACKET);
            Pkt {
                pid: (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]),
                pusi: p[1] & 0x40 != 0,
                afc,
                cc: p[3] & 0x0F,
                af,
                payload: if afc & 1 != 0 {
                    p[pos..].to_vec()
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

/// Reassembles the PES packets of `pid` (each starting at a PUSI packet).
fn pes_packets(ts: &[u8], pid: u16) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for p in parse_packets(ts).into_iter().filter(|p| p.pid == pid) {
        if p.pusi {
            out.push(p.payload);
        } else {
            out.last_mut()
                .expect("PES continuation first")
                .extend(p.payload);
        }
    }
    out
}

/// Returns (header length, PTS, DTS) of a PES header.
fn pes_info(pes: &[u8]) -> (usize, u64, Option<u64>) {
    assert_eq!(&pes[..3], &[0, 0, 1]);
    let flags = pes[7];
    let hl = pes[8] as usize;
    let pts = decode_timestamp(pes[9..14].try_into().unwrap());
    let dts = (flags & 0x40 != 0).then(|| decode_timestamp(pes[14..19].try_into().unwrap()));
    (9 + hl, pts, dts)
}

fn section_of(packet_payload: &[u8]) -> Vec<u8> {
    assert_eq!(packet_payload[0], 0, "pointer_field");
    let s = &packet_payload[1..];
    let len = ((usize::from(s[1]) & 0x0F) << 8) | usize::from(s[2]);
    s[..3 + len].to_vec()
}

#[test]
fn pat_and_pmt_sections_are_exact_and_crc_valid() {
    let mut m = TsMuxer::new(true);
    let mut out = Vec::new();
    m.write_tables(&mut out);
    assert_eq!(out.len(), 2 * TS_PACKET);
    let pkts = parse_packets(&out);
    assert_eq!((pkts[0].pid, pkts[0].pusi, pkts[0].afc), (PAT_PID, true, 1));
    assert_eq!((pkts[1].pid, pkts[1].pusi, pkts[1].afc), (PMT_PID, true, 1));

    let pat = section_of(&pkts[0].payload);
    // table 0, length 13, tsid 1, v0 current, program 1 -> PID 0x1000.
    assert_eq!(
        &pat[..12],
        &[
            0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00
        ]
    );
    // Known-good CRC for this PAT, and the CRC residue property.
    assert_eq!(&pat[12..], &[0x2A, 0xB1, 0x04, 0xB2]);
    assert_eq!(crc32_mpeg2(&pat), 0);
    assert!(pkts[0].payload[1 + pat.len()..].iter().all(|&b| b == 0xFF));

    let pmt = section_of(&pkts[1].payload);
    assert_eq!(crc32_mpeg2(&pmt), 0);
    assert_eq!(pmt[0], 0x02);
    assert_eq!(&pmt[3..5], &[0x00, 0x01]); // program_number
    assert_eq!(&pmt[8..12], &[0xE1, 0x00, 0xF0, 0x00]); // PCR PID 0x100
    assert_eq!(&pmt[12..17], &[0x1B, 0xE1, 0x00, 0xF0, 0x00]);
    assert_eq!(&pmt[17..22], &[0x0F, 0xE1, 0x01, 0xF0, 0x00]);
    assert_eq!(pmt.len(), 26);

    let mut m = TsMuxer::new(false);
    let mut out = Vec::new();
    m.write_tables(&mut out);
    let pmt = section_of(&parse_packets(&out)[1].payload);
    assert_eq!(crc32_mpeg2(&pmt), 0);
    assert_eq!(pmt.len(), 21); // video entry only
}
#[test]
fn output_is_packet_aligned() {
    let mut rng = Rng(7);
    let mut m = TsMuxer::new(true);
    let mut out = Vec::new();
    m.write_tables(&mut out);
    assert_eq!(out.len() % TS_PACKET, 0);
    for i in 0..200u64 {
        let n = rng.below(3000);
        let data = rng.bytes(n);
        if i % 3 == 0 {
            m.write_audio(&mut out, 1000 + i, &data);
        } else {
            m.write_video(&mut out, 1000 + i, 900 + i, i % 10 == 1, &data);
        }
        assert_eq!(out.len() % TS_PACKET, 0);
    }
    assert!(out.chunks_exact(TS_PACKET).all(|p| p[0] == SYNC_BYTE));
}

#[test]
fn continuity_counters_per_pid() {
    let mut rng = Rng(99);
    let mut m = TsMuxer::new(true);
    let mut out = Vec::new();
    for i in 0..120u64 {
        let data = rng.some_bytes(1500);
        match i % 4 {
            0 => m.write_video(&mut out, i * 10, i * 10, true, &data),
            1 | 2 => m.write_audio(&mut out, i * 10, &data),
            _ => m.write_video(&mut out, i * 10, i * 10, false, &data),
        }
    }
    m.write_tables(&mut out);
    let mut last: HashMap<u16, u8> = HashMap::new();
    let mut seen = 0;
    for p in parse_packets(&out) {
        let has_payload = p.afc & 1 != 0;
        match last.get(&p.pid) {
            Some(&prev) if has_payload => assert_eq!(p.cc, (prev + 1) % 16, "pid {}", p.pid),
            Some(&prev) => assert_eq!(p.cc, prev, "no-payload packet must not advance"),
            None => assert_eq!(p.cc, 0),
        }
        last.insert(p.pid, p.cc);
        seen += 1;
    }
    assert!(seen > 100);
    assert_eq!(last.len(), 4);
    // All four counters wrapped at least once.
    let mut m2 = TsMuxer::new(true);
    let mut o2 = Vec::new();
    for _ in 0..17 {
        m2.write_tables(&mut o2);
    }
    let pat_ccs: Vec<u8> = parse_packets(&o2)
        .iter()
        .filter(|p| p.pid == PAT_PID)
        .map(|p| p.cc)
        .collect();
    assert_eq!(pat_ccs[15], 15);
    assert_eq!(pat_ccs[16], 0);
}

#[test]
fn stuffing_exact_for_payload_sizes_1_to_400() {
    for n in 1..=400usize {
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8 + 1).collect();
        for kind in 0..3 {
            let mut m = TsMuxer::new(true);
            let mut out = Vec::new();
            match kind {
                0 => m.write_audio(&mut out, 5000, &data),
                1 => m.write_video(&mut out, 5000, 5000, false, &data),
                _ => m.write_video(&mut out, 9000, 6000, true, &data),
            }
            assert_eq!(out.len() % TS_PACKET, 0, "n={n} kind={kind}");
            let pid = if kind == 0 { AUDIO_PID } else { VIDEO_PID };
            for p in parse_packets(&out).iter().filter(|p| p.pid == pid) {
                // Stuffing bytes (after flags and PCR) are all 0xFF.
                if p.af.len() > 1 {
                    let body = if p.af[0] & 0x10 != 0 { 7 } else { 1 };
                    assert!(p.af[body..].iter().all(|&b| b == 0xFF), "n={n}");
                }
            }
            let pes = pes_packets(&out, pid);
            assert_eq!(pes.len(), 1);
            let (hl, _, _) = pes_info(&pes[0]);
            let es = &pes[0][hl..];
            let expected: Vec<u8> = if kind == 0 {
                data.clone()
            } else {
                [&AUD_NAL[..], &data].concat()
            };
            assert_eq!(es, &expected[..], "n={n} kind={kind}");
            let len_field = usize::from(u16::from_be_bytes([pes[0][4], pes[0][5]]));
            assert_eq!(len_field, pes[0].len() - 6);
        }
    }
}

#[test]
fn video_pes_header_pcr_and_random_access() {
    let mut m = TsMuxer::new(false);
    let mut out = Vec::new();
    let au = [0, 0, 0, 1, 0x09, 0x10, 0, 0, 0, 1, 0x65, 0x88, 0x84];
    m.write_video(&mut out, 200_000, 190_000, true, &au);
    let pkts = parse_packets(&out);
    assert_eq!(pkts[0].pid, PAT_PID);
    assert_eq!(pkts[1].pid, PMT_PID);
    let v = &pkts[2];
    assert!(v.pusi);
    assert_eq!(v.af[0] & 0x50, 0x50, "RAI + PCR flags");
    let pcr_base = (u64::from(v.af[1]) << 25)
        | (u64::from(v.af[2]) << 17)
        | (u64::from(v.af[3]) << 9)
        | (u64::from(v.af[4]) << 1)
        | u64::from(v.af[5] >> 7);
    assert_eq!(pcr_base, 190_000 - PCR_DELAY);
    let pes = pes_packets(&out, VIDEO_PID);
    let (hl, pts, dts) = pes_info(&pes[0]);
    assert_eq!(pes[0][3], 0xE0);
    assert_eq!((pts, dts), (200_000, Some(190_000)));
    assert_eq!(pes[0][9] >> 4, 0b0011);
    assert_eq!(pes[0][14] >> 4, 0b0001);
    // AUD already present: not duplicated.
    assert_eq!(&pes[0][hl..], &au[..]);

    // Non-keyframe, DTS == PTS: no tables, no RAI, PTS only.
    let mut out = Vec::new();
    m.write_video(&mut out, 300_000, 300_000, false, &[0, 0, 1, 0x41, 0x9A]);
    let pkts = parse_packets(&out);
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].af[0] & 0x40, 0);
    let pes = pes_packets(&out, VIDEO_PID);
    let (hl, pts, dts) = pes_info(&pes[0]);
    assert_eq!((pts, dts), (300_000, None));
    assert_eq!(&pes[0][hl..hl + 6], &AUD_NAL);

    // DTS below the delay: PCR clamps to 0 instead of wrapping.
    let mut out = Vec::new();
    m.write_video(&mut out, 10, 10, false, &[0, 0, 1, 0x41]);
    let af = &parse_packets(&out)[0].af;
    assert_eq!(&af[1..7], &encode_pcr(0, 0));
}

#[test]
fn audio_disabled_writes_nothing_and_oversized_is_split() {
    let mut m = TsMuxer::new(false);
    let mut out = Vec::new();
    m.write_audio(&mut out, 1, &[1, 2, 3]);
    assert!(out.is_empty());

    let mut m = TsMuxer::new(true);
    let data: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    m.write_audio(&mut out, 777, &data);
    let pes = pes_packets(&out, AUDIO_PID);
    assert_eq!(pes.len(), 2);
    let (h0, pts, _) = pes_info(&pes[0]);
    assert_eq!(pts, 777);
    assert_eq!(pes[1][7] & 0xC0, 0, "continuation has no PTS");
    let mut joined = pes[0][h0..].to_vec();
    joined.extend_from_slice(&pes[1][9..]);
    assert_eq!(joined, data);
    let s = scan(&out);
    assert_eq!(s.audio_frames, 1);
}

#[test]
fn aud_detection() {
    assert!(starts_with_aud(&[0, 0, 0, 1, 9, 0xF0]));
    assert!(starts_with_aud(&[0, 0, 1, 9, 0x10]));
    assert!(!starts_with_aud(&[0, 0, 1, 0x67]));
    assert!(!starts_with_aud(&[0, 1, 9]));
    assert!(!starts_with_aud(&[0, 0, 0, 1]));
    assert!(!starts_with_aud(&[]));
}
