//! What the fuzz targets (`fuzz/fuzz_targets/`, `cargo +nightly fuzz run
//! TARGET`) check on each input, here so that `cargo test` replays their
//! corpus (`fuzz/corpus/TARGET/`) on the stable toolchain too. Each check
//! panics on a broken promise; a malformed input is never a panic by
//! itself.

use crate::member::Span;
use crate::npy::parse::{header_bytes, parse_header};
use crate::read::{Archive, NpyMember, Prepared};
use crate::source::Source;
use crate::zip::directory::read_directory;

/// The central-directory parser: every entry it accepts starts inside the
/// input.
pub fn directory(data: &[u8]) {
    let source = Source::Memory(Span::from_slice(data));
    if let Ok(directory) = read_directory(&source) {
        for entry in &directory.entries {
            assert!(entry.header_offset <= data.len() as u64);
        }
    }
}

/// The `.npy` header parser: a header it accepts, or measures, fits in the
/// input.
pub fn npy_header(data: &[u8]) {
    if let Ok(header) = parse_header(data) {
        assert!(header.len <= data.len());
    }
    if let Some(whole) = header_bytes(data) {
        assert!(whole.len() <= data.len());
    }
}

/// The member reader over an archive: opening, preparing and filling every
/// member (under both zipfile rules, with and without 3.13's overlap
/// check) never panics, reads only inside the input (every read is
/// checked) and allocates only what the members' declared sizes justify,
/// capped here at 16 MiB per member.
pub fn reader(data: &[u8]) {
    let source = Source::Memory(Span::from_slice(data));
    for overlap_check in [false, true] {
        let Ok(archive) = Archive::open(&source, overlap_check) else {
            return;
        };
        let indices: Vec<usize> = (0..archive.entries().len()).collect();
        let Ok(prepared) = archive.prepare(&source, &indices, 2) else {
            return;
        };
        let mut bodies: Vec<Vec<u8>> = prepared
            .iter()
            .map(|p| match p {
                Prepared::Npy(m) if m.body_len() < 1 << 24 => vec![0u8; m.body_len() as usize],
                _ => Vec::new(),
            })
            .collect();
        let jobs: Vec<(&NpyMember, &mut [u8])> = prepared
            .iter()
            .zip(bodies.iter_mut())
            .filter_map(|(p, b)| match p {
                Prepared::Npy(m) if m.body_len() == b.len() as u64 => Some((m, &mut b[..])),
                _ => None,
            })
            .collect();
        let _ = archive.fill(&source, jobs, 2, &mut |_, _| Ok(()));
    }
}

#[cfg(test)]
mod tests {
    /// Every input of a target's corpus, checked as the fuzzer checks it.
    fn replay(target: &str, check: fn(&[u8])) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            check(&std::fs::read(&path).unwrap());
            n += 1;
        }
        assert!(n > 0, "no corpus in {}", dir.display());
    }

    #[test]
    fn the_directory_corpus_replays() {
        replay("directory", super::directory);
    }

    #[test]
    fn the_npy_header_corpus_replays() {
        replay("npy_header", super::npy_header);
    }

    #[test]
    fn the_reader_corpus_replays() {
        replay("reader", super::reader);
    }
}
