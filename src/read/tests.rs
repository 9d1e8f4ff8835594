//! The reader, end to end: archives written by this crate, read back.

use super::*;
use std::sync::atomic::AtomicBool;

use crate::chunk::CHUNK_SIZE;
use crate::encode::testing::{noise, smooth};
use crate::encode::Compression;
use crate::member::{Data, Member, Span};
use crate::npy::header::build_header;
use crate::sink::testing::VecSink;
use crate::source::Source;
use crate::write::{write_archive, Options, Start};
use crate::zip::directory::read_directory;

/// An archive of `.npy`-like members (a real header, then `data`).
fn archive(datas: &[Vec<u8>], compression: Compression, chunk: u64) -> (Vec<u8>, Vec<Vec<u8>>) {
    let headers: Vec<Vec<u8>> = datas
        .iter()
        .map(|d| build_header("'|u1'", false, &[d.len() as u64]).unwrap().0)
        .collect();
    let members: Vec<Member<'_>> = datas
        .iter()
        .zip(&headers)
        .enumerate()
        .map(|(i, (d, h))| Member {
            name: format!("m{i}.npy").into_bytes(),
            utf8: false,
            header: h.clone(),
            data: Data::Contiguous(Span::from_slice(d)),
        })
        .collect();
    let mut sink = VecSink::default();
    let options = Options {
        compression,
        threads: 2,
        chunk_size: chunk,
    };
    write_archive(
        &members,
        &mut sink,
        Start::Seekable(0),
        &options,
        &mut |_, _| Ok(()),
    )
    .unwrap();
    (sink.0, headers)
}

fn read_all(bytes: &[u8], threads: usize) -> Vec<Result<Vec<u8>, String>> {
    let source = Source::Memory(Span::from_slice(bytes));
    let archive = Archive::open(&source, false).unwrap();
    let indices: Vec<usize> = (0..archive.entries().len()).collect();
    let prepared = archive.prepare(&source, &indices, threads).unwrap();
    let mut bodies: Vec<Vec<u8>> = prepared
        .iter()
        .map(|p| match p {
            Prepared::Npy(m) => vec![0u8; m.body_len() as usize],
            Prepared::Fallback(_) => Vec::new(),
        })
        .collect();
    let jobs: Vec<(&NpyMember, &mut [u8])> = prepared
        .iter()
        .zip(bodies.iter_mut())
        .filter_map(|(p, b)| match p {
            Prepared::Npy(m) => Some((m, &mut b[..])),
            Prepared::Fallback(_) => None,
        })
        .collect();
    let mut results = archive
        .fill(&source, jobs, threads, &mut |_, _| Ok(()))
        .unwrap()
        .into_iter();
    prepared
        .iter()
        .zip(bodies)
        .map(|(p, b)| match p {
            Prepared::Npy(_) => match results.next() {
                Some(Ok(())) => Ok(b),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("missing".into()),
            },
            Prepared::Fallback(why) => Err(why.clone()),
        })
        .collect()
}

#[test]
fn reads_back_every_member_chunked_or_not() {
    let datas = vec![
        smooth(5 * CHUNK_SIZE as usize + 1234),
        noise(3 * CHUNK_SIZE as usize, 256),
        smooth(100),
        Vec::new(),
        smooth(CHUNK_SIZE as usize),
        smooth(400_000),
    ];
    for compression in [
        Compression::Deflated(6),
        Compression::Deflated(0),
        Compression::Stored,
    ] {
        for chunk in [CHUNK_SIZE, 300_000] {
            let (bytes, _) = archive(&datas, compression, chunk);
            for threads in [1, 2, 4] {
                let got = read_all(&bytes, threads);
                for (g, want) in got.into_iter().zip(&datas) {
                    assert_eq!(
                        g.as_ref().map(Vec::len),
                        Ok(want.len()),
                        "{compression:?} {chunk}"
                    );
                    assert!(g.unwrap() == *want);
                }
            }
        }
    }
}

#[test]
fn only_fastnpz_chunked_streams_are_split() {
    let data = smooth(3 * CHUNK_SIZE as usize + 5);
    for (chunk, split) in [
        (CHUNK_SIZE, true),
        (64 * CHUNK_SIZE, false),
        (CHUNK_SIZE / 2, false),
    ] {
        let (bytes, _) = archive(std::slice::from_ref(&data), Compression::Deflated(6), chunk);
        let source = Source::Memory(Span::from_slice(&bytes));
        let archive = Archive::open(&source, false).unwrap();
        let prepared = archive.prepare(&source, &[0], 1).unwrap();
        let Prepared::Npy(m) = &prepared[0] else {
            panic!("not prepared")
        };
        let mut body = vec![0u8; m.body_len() as usize];
        let large = vec![(0, m, &mut body[..])];
        let found = archive
            .find_chunks(&source, &large, 2, &AtomicBool::new(false))
            .unwrap();
        assert_eq!(
            found[0].as_ref().map(Vec::len),
            split.then_some(4),
            "chunk {chunk}"
        );
    }
}

#[test]
fn damage_is_an_error_never_wrong_data() {
    let datas = vec![smooth(2 * CHUNK_SIZE as usize + 77), smooth(50_000)];
    let (bytes, _) = archive(&datas, Compression::Deflated(6), CHUNK_SIZE);
    let dir = read_directory(&Source::Memory(Span::from_slice(&bytes))).unwrap();
    let data_start = 30 + 6 + 20;
    let step = (dir.start as usize - data_start) / 53;
    for at in (data_start..dir.start as usize).step_by(step.max(1)) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x24;
        for (g, want) in read_all(&bad, 2).into_iter().zip(&datas) {
            if let Ok(g) = g {
                assert!(g == *want, "flipped byte {at} gave wrong data");
            }
        }
    }
}

#[test]
fn overlap_limits_are_zipfiles_end_offsets() {
    // Members in the file in another order than in the directory, two of
    // them sharing a local header.
    let entry = |offset: u64| crate::zip::entry::Entry {
        name: Vec::new(),
        flags: 0,
        method: 0,
        crc: 0,
        compressed: 0,
        uncompressed: 0,
        header_offset: offset,
    };
    let directory = crate::zip::directory::Directory {
        entries: vec![entry(500), entry(0), entry(200), entry(200)],
        start: 900,
        end: 1000,
    };
    assert_eq!(open::data_limits(&directory), vec![900, 200, 200, 200]);
}

/// A member of a hand-made archive: its name, its compressed bytes as
/// stored, and what the central directory claims about it.
struct Raw<'a> {
    name: &'a [u8],
    data: &'a [u8],
    crc: u32,
    uncompressed: u64,
    /// A zip64 compressed size for the central record, instead of the
    /// data's length.
    compressed: Option<u64>,
    /// A zip64 local header offset for the central record.
    offset: Option<u64>,
}

impl<'a> Raw<'a> {
    fn new(name: &'a [u8], data: &'a [u8], crc: u32, uncompressed: u64) -> Self {
        Raw {
            name,
            data,
            crc,
            uncompressed,
            compressed: None,
            offset: None,
        }
    }
}

/// A zip archive of deflated members, as plain as zipfile writes one.
fn raw_zip(members: &[Raw<'_>]) -> Vec<u8> {
    let u16le = |v: usize| u16::try_from(v).unwrap().to_le_bytes();
    let u32le = |v: u64| u32::try_from(v).unwrap().to_le_bytes();
    let mut out = Vec::new();
    let mut central = Vec::new();
    for m in members {
        let offset = out.len() as u64;
        out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00");
        out.extend_from_slice(&m.crc.to_le_bytes());
        out.extend_from_slice(&u32le(m.data.len() as u64));
        out.extend_from_slice(&u32le(m.uncompressed));
        out.extend_from_slice(&u16le(m.name.len()));
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(m.name);
        out.extend_from_slice(m.data);
        let mut extra = Vec::new();
        for v in [m.compressed, m.offset].into_iter().flatten() {
            extra.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00");
        central.extend_from_slice(&m.crc.to_le_bytes());
        let saturated = [0xFF; 4];
        match m.compressed {
            Some(_) => central.extend_from_slice(&saturated),
            None => central.extend_from_slice(&u32le(m.data.len() as u64)),
        }
        central.extend_from_slice(&u32le(m.uncompressed));
        central.extend_from_slice(&u16le(m.name.len()));
        let extra_len = if extra.is_empty() { 0 } else { 4 + extra.len() };
        central.extend_from_slice(&u16le(extra_len));
        central.extend_from_slice(&[0; 10]);
        match m.offset {
            Some(_) => central.extend_from_slice(&saturated),
            None => central.extend_from_slice(&u32le(offset)),
        }
        central.extend_from_slice(m.name);
        if !extra.is_empty() {
            central.extend_from_slice(&[1, 0]);
            central.extend_from_slice(&u16le(extra.len()));
            central.extend_from_slice(&extra);
        }
    }
    let start = out.len() as u64;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    out.extend_from_slice(&u16le(members.len()));
    out.extend_from_slice(&u16le(members.len()));
    out.extend_from_slice(&u32le(central.len() as u64));
    out.extend_from_slice(&u32le(start));
    out.extend_from_slice(&[0, 0]);
    out
}

/// A non-final stored block holding `data` (at most 65,535 bytes).
fn stored_block(data: &[u8]) -> Vec<u8> {
    let n = u16::try_from(data.len()).unwrap();
    let mut out = vec![0u8];
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(!n).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// A `.npy` member's uncompressed bytes: a uint8 header, then `body`.
fn npy(body: &[u8]) -> Vec<u8> {
    let mut out = build_header("'|u1'", false, &[body.len() as u64])
        .unwrap()
        .0;
    out.extend_from_slice(body);
    out
}

#[test]
fn marker_search_stops_once_there_are_more_markers_than_chunks() {
    // Three chunks' worth declared (two markers justified), and a stream
    // that is nothing but markers after a valid start.
    let len = 2 * CHUNK_SIZE + 100;
    let mut data = stored_block(&npy(&[7u8; 3000]));
    while (data.len() as u64) < 11 << 20 {
        data.extend_from_slice(&crate::encode::bits::SYNC_MARKER);
    }
    let bytes = raw_zip(&[Raw::new(b"m.npy", &data, 0, len)]);
    let memory = Source::Memory(Span::from_slice(&bytes));
    let archive = Archive::open(&memory, true).unwrap();
    let prepared = archive.prepare(&memory, &[0], 1).unwrap();
    let Prepared::Npy(m) = &prepared[0] else {
        panic!("not prepared: {prepared:?}")
    };
    let mut body = vec![0u8; m.body_len() as usize];
    let large = vec![(0, m, &mut body[..])];
    let reads = crate::source::ReadCount::default();
    let counted = Source::Counted {
        inner: &memory,
        reads: &reads,
    };
    assert!(archive
        .find_chunks(&counted, &large, 2, &AtomicBool::new(false))
        .unwrap()[0]
        .is_none());
    assert!(
        reads.total() <= 4 << 20,
        "scanned {} bytes for markers",
        reads.total()
    );
}

#[test]
fn a_small_member_with_a_long_stream_is_streamed_not_read_whole() {
    // A valid stream for a small member, padded with empty stored blocks:
    // zipfile reads it, and so must this reader, without holding the
    // whole compressed range at once.
    let member = npy(&[9u8; 100_000]);
    let (head, rest) = member.split_at(5000);
    let mut data = stored_block(head);
    for _ in 0..(4 << 20) / 5 {
        data.extend_from_slice(&stored_block(&[]));
    }
    for piece in rest.chunks(60_000) {
        data.extend_from_slice(&stored_block(piece));
    }
    let mut last = stored_block(&[]);
    last[0] = 1;
    data.extend_from_slice(&last);
    let bytes = raw_zip(&[Raw::new(
        b"m.npy",
        &data,
        crate::encode::crc32(0, &member),
        member.len() as u64,
    )]);
    let memory = Source::Memory(Span::from_slice(&bytes));
    let reads = crate::source::ReadCount::default();
    let counted = Source::Counted {
        inner: &memory,
        reads: &reads,
    };
    let archive = Archive::open(&counted, true).unwrap();
    let prepared = archive.prepare(&counted, &[0], 1).unwrap();
    let Prepared::Npy(m) = &prepared[0] else {
        panic!("not prepared: {prepared:?}")
    };
    let mut body = vec![0u8; m.body_len() as usize];
    let filled = archive
        .fill(&counted, vec![(m, &mut body[..])], 1, &mut |_, _| Ok(()))
        .unwrap();
    assert!(filled[0].is_ok(), "{filled:?}");
    assert!(body == [9u8; 100_000]);
    assert!(
        reads.largest() <= 2 << 20,
        "read {} bytes at once",
        reads.largest()
    );
}

#[test]
fn sizes_and_offsets_near_the_top_of_u64_never_overflow() {
    let member = npy(&[5u8; 100]);
    let mut deflated = stored_block(&member);
    deflated[0] = 1;
    let crc = crate::encode::crc32(0, &member);
    let len = member.len() as u64;
    for (compressed, offset) in [
        (Some(u64::MAX - 40), None),
        (Some(u64::MAX), None),
        (None, Some(u64::MAX - 20)),
        (Some(u64::MAX - 5), Some(u64::MAX - 5)),
    ] {
        let mut odd = Raw::new(b"a.npy", &deflated, crc, len);
        odd.compressed = compressed;
        odd.offset = offset;
        let bytes = raw_zip(&[odd, Raw::new(b"b.npy", &deflated, crc, len)]);
        let source = Source::Memory(Span::from_slice(&bytes));
        let Ok(archive) = Archive::open(&source, true) else {
            continue;
        };
        let prepared = archive.prepare(&source, &[0, 1], 2).unwrap();
        assert!(matches!(prepared[0], Prepared::Fallback(_)));
        assert!(matches!(prepared[1], Prepared::Npy(_)), "{prepared:?}");
        let _ = archive.data_end(&source, 0);
    }
}
