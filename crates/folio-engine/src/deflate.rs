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
//!
//! `compress --level balanced` re-deflates the document's own streams (page
//! content, fonts, …) and writes its object and cross-reference streams at
//! [`FAST_LEVEL`] instead: balanced is the default,
//! run on every file of a batch or a service, and there the stream pass was
//! most of the time of a text-heavy file. Measured on the 60 dev PDFs
//! (balanced with every deflate of the run at that level; wall time of the
//! whole command, median of 5):
//!
//! | level | total out | itu-t81 (1 MB of text) | octave (4.5 MB) | f1040 form |
//! |---|---:|---:|---:|---:|
//! | 9 | 36.98 MB | 69.6 ms | 617 ms | 17.2 ms |
//! | 7 | 37.22 MB | 52.5 ms | 508 ms | 15.6 ms |
//! | 6 | 37.33 MB | 45.2 ms | 485 ms | 14.3 ms |
//! | 5 | 37.44 MB | 44.8 ms | 490 ms | 15.9 ms |
//!
//! Level 6 is the knee: below it the output grows and the time no longer
//! falls. As shipped, with images still at level 9, the total is 37.32 MB:
//! 0.9 % more bytes for a quarter to a third less time on text. `lossless`
//! and `strong`, where the user asked for the smallest file, keep level 9;
//! so do images (JPEG or Flate is chosen by size, and that choice should not
//! move with the effort).

use std::cell::RefCell;

/// The libdeflate level used by [`zlib`], and wherever no other is asked for.
pub const LEVEL: i32 = 9;

/// The level `compress --level balanced` re-deflates streams at (see above).
pub const FAST_LEVEL: i32 = 6;

thread_local! {
    /// One compressor per thread and level: each holds ~0.7 MB of
    /// match-finder state, worth reusing across the many streams of a
    /// document. A balanced compress uses two levels (images at the
    /// strongest, the rest at the fast one), taking turns on each thread.
    static COMPRESSORS: RefCell<Vec<(i32, libdeflater::Compressor)>> = const { RefCell::new(Vec::new()) };
}

/// Deflate `data` with zlib framing.
pub fn zlib(data: &[u8]) -> Option<Vec<u8>> {
    zlib_at(data, LEVEL)
}

/// [`zlib`] at libdeflate level `level`.
pub fn zlib_at(data: &[u8], level: i32) -> Option<Vec<u8>> {
    zlib_within_at(data, usize::MAX, level)
}

/// Deflate `data` (zlib framing) at libdeflate level `level` (1–12; others
/// fall back to libdeflate's default), or `None` if the result would not fit
/// in `max_len` bytes. The output buffer is capped at `max_len`, so an
/// incompressible stream costs no large allocation.
pub fn zlib_within_at(data: &[u8], max_len: usize, level: i32) -> Option<Vec<u8>> {
    // Fewer bytes than the zlib header and checksum take: nothing fits.
    if max_len <= ZLIB_OVERHEAD {
        return None;
    }
    // Levels libdeflate does not have fall back to its default; the header
    // names the level actually used.
    let lvl = libdeflater::CompressionLvl::new(level).unwrap_or_default();
    let level = i32::from(lvl);
    COMPRESSORS.with(|cell| {
        let mut all = cell.borrow_mut();
        let i = match all.iter().position(|(l, _)| *l == level) {
            Some(i) => i,
            None => {
                all.push((level, libdeflater::Compressor::new(lvl)));
                all.len() - 1
            }
        };
        let (_, c) = all.get_mut(i)?;
        let cap = c
            .deflate_compress_bound(data.len())
            .saturating_add(ZLIB_OVERHEAD)
            .min(max_len);
        let mut out = vec![0u8; cap];
        out[..2].copy_from_slice(&zlib_header(level));
        let body = out.get_mut(2..cap - 4)?;
        let n = c.deflate_compress(data, body).ok()?;
        let end = 2 + n;
        out[end..end + 4].copy_from_slice(&simd_adler32::adler32(&data).to_be_bytes());
        out.truncate(end + 4);
        Some(out)
    })
}

/// The zlib header (2 bytes) and Adler-32 trailer (4) around the deflate data.
const ZLIB_OVERHEAD: usize = 6;

/// The two-byte zlib header libdeflate writes at `level`: deflate with a
/// 32 KB window, the level hint (RFC 1950 FLEVEL), and the check bits.
///
/// The framing is done here rather than by `libdeflate_zlib_compress`
/// because that computes the Adler-32 through libdeflate's own CPU-feature
/// dispatch, whose first call probes the CPU with `cpuid` (a trap to the
/// hypervisor on a virtual machine, ~50 µs of every `folio` process that
/// deflates anything); `simd_adler32` uses the standard library's detection,
/// which the process has already paid for. The bytes are the same.
fn zlib_header(level: i32) -> [u8; 2] {
    let hint: u16 = match level {
        ..2 => 0,
        2..6 => 1,
        6..8 => 2,
        _ => 3,
    };
    let mut hdr: u16 = (8 << 8) | (7 << 12) | (hint << 6);
    hdr |= 31 - (hdr % 31);
    hdr.to_be_bytes()
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
        let capped = zlib_within_at(&data, z.len(), LEVEL).expect("fits exactly");
        assert_eq!(capped, z);
        assert!(zlib_within_at(&data, z.len() - 1, LEVEL).is_none());
        assert!(zlib_within_at(&data, 0, LEVEL).is_none());
        assert_eq!(inflate(&zlib(&[]).expect("empty input")), Vec::<u8>::new());
    }

    #[test]
    fn framing_is_libdeflates_own() {
        let pat = b"0 0 m 10 10 l S q 1 0 0 1 5 5 cm /Im0 Do Q ";
        let text: Vec<u8> = (0..50_000usize)
            .map(|i| pat[(i * 5 + i / 7) % pat.len()])
            .collect();
        let noise: Vec<u8> = (0..5_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for data in [&text[..], &noise[..], b"q Q", &[][..]] {
            for level in [1, 4, 5, 6, 7, 9, 12, 0, 99] {
                let ours = zlib_within_at(data, usize::MAX, level).expect("fits");
                let lvl = libdeflater::CompressionLvl::new(level)
                    .unwrap_or_else(|_| libdeflater::CompressionLvl::default());
                let mut c = libdeflater::Compressor::new(lvl);
                let mut theirs = vec![0u8; c.zlib_compress_bound(data.len())];
                let n = c.zlib_compress(data, &mut theirs).expect("fits");
                theirs.truncate(n);
                assert_eq!(ours, theirs, "level {level}, {} bytes", data.len());
                assert_eq!(inflate(&ours), data);
            }
        }
        // A cap of the header and checksum alone, or less, holds nothing.
        for cap in 0..=ZLIB_OVERHEAD {
            assert!(zlib_within_at(b"abc", cap, LEVEL).is_none(), "cap {cap}");
        }
    }

    #[test]
    fn each_level_gets_its_own_compressor() {
        // Text-like data on which the levels differ.
        let data: Vec<u8> = (0..200_000u32)
            .map(|i| {
                b"BT /F1 9.96 Tf 72 720 Td (Hello) Tj ET q 1 0 0 1 0 0 cm Q "
                    [(i as usize * 7 + (i as usize / 13)) % 58]
            })
            .collect();
        let fast = zlib_at(&data, FAST_LEVEL).expect("compresses");
        let best = zlib(&data).expect("compresses");
        // The thread's compressor switched level and back: each result is
        // what a fresh compressor at that level gives.
        let again = zlib_at(&data, FAST_LEVEL).expect("compresses");
        assert_eq!(fast, again);
        assert_ne!(fast, best);
        assert!(best.len() <= fast.len());
        assert_eq!(inflate(&fast), data);
        assert_eq!(inflate(&best), data);
    }
}
