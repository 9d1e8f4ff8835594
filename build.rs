//! Compiles the vendored libdeflate compressor (see vendor/libdeflate/README.md).

fn main() {
    let root = std::path::Path::new("vendor/libdeflate");
    let sources = [
        root.join("lib/deflate_compress.c"),
        root.join("lib/utils.c"),
    ];
    for entry in walk(root) {
        println!("cargo:rerun-if-changed={}", entry.display());
    }
    cc::Build::new()
        .files(&sources)
        .include(root)
        // Only the compressor is built; it needs no CPU-feature dispatch.
        .warnings(false)
        .compile("fastnpz_libdeflate");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
