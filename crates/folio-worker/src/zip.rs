//! A minimal ZIP writer for jobs with several outputs (`split --every`).
//! Members are stored, not deflated: they are PDFs, PNGs or text that the
//! engine already compressed (or that are small), and storing keeps the
//! writer tiny and streaming. ZIP64 is not needed: outputs are bounded well
//! below 4 GiB by the engine limits; larger inputs are refused.

use std::io::{self, Read, Seek, Write};
use std::path::Path;

const CHUNK: usize = 64 * 1024;

struct Entry {
    name: String,
    crc: u32,
    size: u32,
    offset: u32,
}

fn too_big() -> io::Error {
    io::Error::other("output too large for a ZIP without ZIP64")
}

fn crc_and_size(path: &Path) -> io::Result<(u32, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((h.finalize(), size))
}

/// Write `files` (name in the archive, path on disk) into a ZIP at `out`.
/// Names must be unique, plain ASCII file names (no directories).
pub fn write_zip(out: &Path, files: &[(String, std::path::PathBuf)]) -> io::Result<u64> {
    let mut w = io::BufWriter::new(std::fs::File::create(out)?);
    let mut entries = Vec::with_capacity(files.len());
    // A fixed timestamp (1980-01-01 00:00): outputs are reproducible.
    let (dos_time, dos_date): (u16, u16) = (0, (1 << 5) | 1);
    for (name, path) in files {
        let (crc, size) = crc_and_size(path)?;
        let size = u32::try_from(size).map_err(|_| too_big())?;
        let offset = u32::try_from(w.stream_position()?).map_err(|_| too_big())?;
        let n = name.as_bytes();
        w.write_all(&0x0403_4b50u32.to_le_bytes())?;
        w.write_all(&20u16.to_le_bytes())?; // version needed
        w.write_all(&0u16.to_le_bytes())?; // flags
        w.write_all(&0u16.to_le_bytes())?; // method: stored
        w.write_all(&dos_time.to_le_bytes())?;
        w.write_all(&dos_date.to_le_bytes())?;
        w.write_all(&crc.to_le_bytes())?;
        w.write_all(&size.to_le_bytes())?; // compressed
        w.write_all(&size.to_le_bytes())?; // uncompressed
        w.write_all(&(n.len() as u16).to_le_bytes())?;
        w.write_all(&0u16.to_le_bytes())?; // extra length
        w.write_all(n)?;
        let mut f = std::fs::File::open(path)?;
        let copied = io::copy(&mut f, &mut w)?;
        if copied != u64::from(size) {
            return Err(io::Error::other("output changed while zipping"));
        }
        entries.push(Entry {
            name: name.clone(),
            crc,
            size,
            offset,
        });
    }
    let cd_start = u32::try_from(w.stream_position()?).map_err(|_| too_big())?;
    for e in &entries {
        let n = e.name.as_bytes();
        w.write_all(&0x0201_4b50u32.to_le_bytes())?;
        w.write_all(&20u16.to_le_bytes())?; // version made by
        w.write_all(&20u16.to_le_bytes())?; // version needed
        w.write_all(&0u16.to_le_bytes())?; // flags
        w.write_all(&0u16.to_le_bytes())?; // method
        w.write_all(&dos_time.to_le_bytes())?;
        w.write_all(&dos_date.to_le_bytes())?;
        w.write_all(&e.crc.to_le_bytes())?;
        w.write_all(&e.size.to_le_bytes())?;
        w.write_all(&e.size.to_le_bytes())?;
        w.write_all(&(n.len() as u16).to_le_bytes())?;
        w.write_all(&0u16.to_le_bytes())?; // extra
        w.write_all(&0u16.to_le_bytes())?; // comment
        w.write_all(&0u16.to_le_bytes())?; // disk
        w.write_all(&0u16.to_le_bytes())?; // internal attrs
        w.write_all(&0u32.to_le_bytes())?; // external attrs
        w.write_all(&e.offset.to_le_bytes())?;
        w.write_all(n)?;
    }
    let cd_end = u32::try_from(w.stream_position()?).map_err(|_| too_big())?;
    let count = u16::try_from(entries.len()).map_err(|_| too_big())?;
    w.write_all(&0x0605_4b50u32.to_le_bytes())?;
    w.write_all(&0u16.to_le_bytes())?;
    w.write_all(&0u16.to_le_bytes())?;
    w.write_all(&count.to_le_bytes())?;
    w.write_all(&count.to_le_bytes())?;
    w.write_all(&(cd_end - cd_start).to_le_bytes())?;
    w.write_all(&cd_start.to_le_bytes())?;
    w.write_all(&0u16.to_le_bytes())?;
    w.flush()?;
    Ok(u64::from(cd_end) + 22)
}

/// Make member names unique: `a.pdf`, `a-2.pdf`, ...
pub fn unique_names(names: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .iter()
        .map(|n| {
            if seen.insert(n.clone()) {
                return n.clone();
            }
            let stem = folio_jobs::names::stem(n);
            let ext = &n[stem.len()..];
            let mut i = 2;
            loop {
                let candidate = format!("{stem}-{i}{ext}");
                if seen.insert(candidate.clone()) {
                    return candidate;
                }
                i += 1;
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_is_readable_by_unzip() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::write(&a, b"first file").unwrap();
        std::fs::write(&b, vec![7u8; 200_000]).unwrap();
        let z = d.path().join("out.zip");
        write_zip(&z, &[("one.pdf".into(), a), ("two.pdf".into(), b)]).unwrap();
        // Python's zipfile verifies CRCs and the central directory.
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; \
                 print(','.join(f'{i.filename}:{i.file_size}' for i in z.infolist()))",
            ])
            .arg(&z)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "one.pdf:10,two.pdf:200000"
        );
    }

    #[test]
    fn names_are_made_unique() {
        let n = unique_names(&[
            "a.pdf".into(),
            "a.pdf".into(),
            "a-2.pdf".into(),
            "b".into(),
            "b".into(),
        ]);
        assert_eq!(n, ["a.pdf", "a-2.pdf", "a-2-2.pdf", "b", "b-2"]);
    }
}
