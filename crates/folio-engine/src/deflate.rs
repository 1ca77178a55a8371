//! zlib-framed deflate for everything `compress` writes: re-deflated streams,
//! Flate-encoded images, object and cross-reference streams.
//!
//! One level for all of them: libdeflate's level 9 (lazy matching). Its
//! near-optimal levels (10–12) were measured on every Flate stream of the
//! dev corpus (87 MB decoded in short streams, 346 MB in long ones):
//!
//! | level | bytes out | CPU s |
//! |---|---:|---:|
//! | 9  | 28.16 MB | 4.5 |
//! | 10 | 27.26 MB | 21.1 |
//! | 12 | 27.05 MB | 59.3 |
//!
//! 4 % smaller for 5–13 × the time: on text-heavy files that time was most
//! of the whole operation (84 % of the instructions of a lossless run on a
//! 31-page slide deck), and it is what kept `compress` under the speed
//! targets of BENCHMARKS.md. Folio's size lead over qpdf and Ghostscript
//! comes from object streams, deduplication and pruning, which level 9 keeps.
//! (images→PDF keeps its own, stronger choice: there the file is one image
//! and img2pdf is the bar.)

use std::cell::RefCell;

/// The libdeflate level used by [`zlib`] and [`zlib_within`].
pub const LEVEL: i32 = 9;

thread_local! {
    /// One compressor per thread: it holds ~1 MB of match-finder state,
    /// worth reusing across the many streams of a document.
    static COMPRESSOR: RefCell<Option<libdeflater::Compressor>> = const { RefCell::new(None) };
}

/// Deflate `data` with zlib framing.
pub fn zlib(data: &[u8]) -> Option<Vec<u8>> {
    zlib_within(data, usize::MAX)
}

/// Deflate `data` (zlib framing), or `None` if the result would not fit in
/// `max_len` bytes. The output buffer is capped at `max_len`, so an
/// incompressible stream costs no large allocation.
pub fn zlib_within(data: &[u8], max_len: usize) -> Option<Vec<u8>> {
    if max_len == 0 {
        return None;
    }
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let c = match slot.as_mut() {
            Some(c) => c,
            None => {
                let level = libdeflater::CompressionLvl::new(LEVEL)
                    .unwrap_or_else(|_| libdeflater::CompressionLvl::default());
                slot.insert(libdeflater::Compressor::new(level))
            }
        };
        let cap = c.zlib_compress_bound(data.len()).min(max_len);
        let mut out = vec![0u8; cap];
        match c.zlib_compress(data, &mut out) {
            Ok(n) if n <= max_len => {
                out.truncate(n);
                Some(out)
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(z)
            .read_to_end(&mut out)
            .expect("valid zlib");
        out
    }

    #[test]
    fn round_trips_and_respects_the_cap() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let z = zlib(&data).expect("compresses");
        assert!(z.len() < data.len() / 10);
        assert_eq!(inflate(&z), data);
        let capped = zlib_within(&data, z.len()).expect("fits exactly");
        assert_eq!(capped, z);
        assert!(zlib_within(&data, z.len() - 1).is_none());
        assert!(zlib_within(&data, 0).is_none());
        assert_eq!(inflate(&zlib(&[]).expect("empty input")), Vec::<u8>::new());
    }
}
