//! The reader, end to end: archives written by this crate, read back.

use super::*;
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
    let prepared = archive.prepare(&source, &indices, threads);
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
    let mut results = archive.fill(&source, jobs, threads).into_iter();
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
        let prepared = archive.prepare(&source, &[0], 1);
        let Prepared::Npy(m) = &prepared[0] else {
            panic!("not prepared")
        };
        let mut body = vec![0u8; m.body_len() as usize];
        let large = vec![(0, m, &mut body[..])];
        let found = archive.find_chunks(&source, &large, 2);
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
    let entry = |offset: u64| crate::zip::directory::DirEntry {
        name: String::new(),
        raw_name: Vec::new(),
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
