//! Reading inputs and writing outputs atomically (temp file + rename), so a
//! failed operation never leaves a partial or stale output behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Write `bytes` to `path` via a temporary file in the same directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write into {}", dir.display()))?;
    // No fsync: like cp, qpdf and gs, the CLI leaves flushing to the
    // kernel (it was 0.26 ms of a 2.4 ms run on a small file). The rename
    // still means a reader never sees a half-written file; the service's
    // storage, which acknowledges jobs, does sync (folio-storage).
    tmp.write_all(bytes)?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The output path for `input` in a batch: `out_dir/<stem><suffix>.<ext>`.
pub fn batch_target(out_dir: &Path, input: &Path, ext: &str) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    out_dir.join(format!("{stem}.{ext}"))
}

/// Resolve `-o` / `--out-dir` for a list of inputs into one target per input.
pub fn targets(
    inputs: &[PathBuf],
    output: Option<&Path>,
    out_dir: Option<&Path>,
    ext: &str,
) -> Result<Vec<PathBuf>> {
    match (output, out_dir) {
        (Some(_), Some(_)) => bail!("give either -o/--output or --out-dir, not both"),
        (Some(o), None) if inputs.len() == 1 => Ok(vec![o.to_path_buf()]),
        (Some(_), None) => bail!("several inputs need --out-dir instead of -o"),
        (None, Some(d)) => {
            let t: Vec<PathBuf> = inputs.iter().map(|i| batch_target(d, i, ext)).collect();
            let mut seen = std::collections::HashSet::new();
            for p in &t {
                if !seen.insert(p) {
                    bail!("two inputs would write the same output {}", p.display());
                }
            }
            Ok(t)
        }
        (None, None) => bail!("give -o/--output (one input) or --out-dir"),
    }
}
