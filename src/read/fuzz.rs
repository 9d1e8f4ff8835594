//! Mutated archives: the reader never panics, never reads out of bounds
//! (every read is checked) and never returns data that differs from
//! what was written.
use super::*;
use crate::chunk::CHUNK_SIZE;
use crate::encode::testing::smooth;
use crate::encode::Compression;
use crate::member::{Data, Member, Span};
use crate::npy::header::build_header;
use crate::sink::testing::VecSink;
use crate::source::Source;
use crate::write::{write_archive, Options, Start};
use proptest::prelude::*;

fn archive(datas: &[Vec<u8>], level: u8, seekable: bool) -> Vec<u8> {
    archive_in_chunks(datas, level, seekable, 40_000)
}

fn archive_in_chunks(datas: &[Vec<u8>], level: u8, seekable: bool, chunk_size: u64) -> Vec<u8> {
    let members: Vec<Member<'_>> = datas
        .iter()
        .enumerate()
        .map(|(i, d)| Member {
            name: format!("m{i}.npy").into_bytes(),
            utf8: false,
            header: build_header("'|u1'", false, &[d.len() as u64]).unwrap().0,
            data: Data::Contiguous(Span::from_slice(d)),
        })
        .collect();
    let mut sink = VecSink::default();
    let options = Options {
        compression: Compression::Deflated(level),
        threads: 1,
        chunk_size,
    };
    let start = if seekable {
        Start::Seekable(0)
    } else {
        Start::Unseekable(0)
    };
    write_archive(&members, &mut sink, start, &options, &mut |_, _| Ok(())).unwrap();
    sink.0
}

/// Read every member; Some(bytes) for those the reader accepted.
fn read(bytes: &[u8]) -> Vec<Option<Vec<u8>>> {
    let source = Source::Memory(Span::from_slice(bytes));
    let Ok(archive) = Archive::open(&source, true) else {
        return Vec::new();
    };
    let indices: Vec<usize> = (0..archive.entries().len()).collect();
    let prepared = archive.prepare(&source, &indices, 2).unwrap();
    let mut bodies: Vec<Vec<u8>> = prepared
        .iter()
        .map(|p| match p {
            Prepared::Npy(m) if m.body_len() < 1 << 24 => vec![0u8; m.body_len() as usize],
            _ => Vec::new(),
        })
        .collect();
    let mut which = Vec::new();
    let jobs: Vec<(&NpyMember, &mut [u8])> = prepared
        .iter()
        .zip(bodies.iter_mut())
        .enumerate()
        .filter_map(|(i, (p, b))| match p {
            Prepared::Npy(m) if m.body_len() == b.len() as u64 => {
                which.push(i);
                Some((m, &mut b[..]))
            }
            _ => None,
        })
        .collect();
    // Never interrupted: a tick that never fails.
    let results = archive
        .fill(&source, jobs, 2, &mut |_, _| Ok(()))
        .unwrap_or_default();
    let mut out = vec![None; prepared.len()];
    for (i, r) in which.into_iter().zip(results) {
        if r.is_ok() {
            out[i] = Some(std::mem::take(&mut bodies[i]));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mutated_archives_never_give_wrong_data(
        sizes in proptest::collection::vec(0usize..150_000, 1..4),
        level in 0u8..10,
        seekable in any::<bool>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..4),
    ) {
        let datas: Vec<Vec<u8>> = sizes.iter().map(|&n| smooth(n)).collect();
        let mut bytes = archive(&datas, level, seekable);
        for (at, value, kind) in edits {
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] ^= value | 1,
                1 => bytes.truncate(i),
                2 => bytes.insert(i, value),
                _ => { bytes.remove(i); }
            }
            if bytes.is_empty() {
                break;
            }
        }
        for (got, want) in read(&bytes).into_iter().zip(&datas) {
            if let Some(got) = got {
                prop_assert!(got == *want);
            }
        }
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut with_end = bytes.clone();
        with_end.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00\x2e\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        read(&bytes);
        read(&with_end);
    }
}

proptest! {
    // Multi-chunk members are large: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn mutated_chunked_members_never_give_wrong_data(
        size in (CHUNK_SIZE as usize + 1)..(3 * CHUNK_SIZE as usize),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
        kind in 0u8..3,
    ) {
        let datas = vec![smooth(size)];
        let mut bytes = archive_in_chunks(&datas, 6, true, CHUNK_SIZE);
        let clean = read(&bytes);
        prop_assert_eq!(clean[0].as_ref(), Some(&datas[0]));
        let i = at.index(bytes.len());
        match kind {
            0 => bytes[i] ^= value | 1,
            1 => bytes.insert(i, value),
            _ => { bytes.remove(i); }
        }
        if let Some(Some(got)) = read(&bytes).into_iter().next() {
            prop_assert!(got == datas[0]);
        }
    }
}
