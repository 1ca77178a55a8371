//! Run every engine entry over files (seed corpora, crash files) without
//! libFuzzer: `cargo run --no-default-features --bin replay -- DIR_OR_FILE...`.
//! A panic aborts with the file's name; a clean run prints the count.

use std::path::{Path, PathBuf};

fn files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                files(&e.path(), out);
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
}

fn main() {
    let mut all = Vec::new();
    for a in std::env::args().skip(1) {
        files(Path::new(&a), &mut all);
    }
    all.sort();
    for f in &all {
        let Ok(data) = std::fs::read(f) else { continue };
        for (name, entry) in folio_fuzz::ENTRIES {
            eprintln!("{name} {}", f.display());
            entry(&data);
        }
    }
    println!("replayed {} file(s) through {} entries", all.len(), folio_fuzz::ENTRIES.len());
}
