//! Compiles the vendored libdeflate (see vendor/libdeflate/README.md).

fn main() {
    let root = std::path::Path::new("vendor/libdeflate");
    let sources = [
        root.join("lib/deflate_compress.c"),
        root.join("lib/deflate_decompress.c"),
        root.join("lib/utils.c"),
        // Runtime CPU detection for the decompressor (each file compiles to
        // nothing on other architectures).
        root.join("lib/x86/cpu_features.c"),
        root.join("lib/arm/cpu_features.c"),
    ];
    for entry in walk(root) {
        println!("cargo:rerun-if-changed={}", entry.display());
    }
    // No compiler flags of our own, so that the same call builds with gcc,
    // clang, Apple clang, zig cc and MSVC (as libdeflate-sys builds these
    // files): cc picks each compiler's optimisation flags from the profile
    // (-O3, or /O2 for MSVC), libdeflate's headers pick each compiler's
    // intrinsics (`_MSC_VER` branches included), and the SIMD paths are
    // chosen at run time by the cpu_features files, so no -m/-march or
    // /arch flag: a wheel must run on every CPU of its architecture.
    cc::Build::new()
        .files(&sources)
        .include(root)
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
