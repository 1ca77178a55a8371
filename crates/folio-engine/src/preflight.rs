//! Bounded checks run before handing a document to hayro.
//!
//! hayro decodes streams without size limits and aborts the process when an
//! allocation fails, so a decompression bomb or a 100 000 × 100 000 image in a
//! page would take the whole worker down. Before interpreting a page we walk
//! everything reachable from it in the lopdf copy of the document (which
//! `document::open` loaded within limits) and check:
//!
//! - every non-image stream decodes to at most `max_stream_bytes` (lopdf's
//!   bounded decoders stop at the limit instead of allocating the bomb),
//! - every image (when rendering) declares at most `max_image_pixels`, and a
//!   JPEG's own header agrees,
//! - the total decoded bytes stay within `max_document_bytes`.
//!
//! Objects are checked once per [`Preflight`], so rendering many pages of one
//! document shares the work (fonts and shared forms are checked once).

use std::collections::HashSet;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use crate::error::{Error, LimitKind, Result};
use crate::limits::{Ctx, Limits};

/// Keys never followed: they lead back up the page tree or sideways to other
/// pages (links, actions, article beads, outlines), not to what this page draws.
const SKIP_KEYS: &[&[u8]] = &[
    b"Parent",
    b"P",
    b"Dest",
    b"A",
    b"AA",
    b"PA",
    b"Next",
    b"Prev",
    b"First",
    b"Last",
    b"B",
    b"Metadata",
    b"StructParent",
    b"IRT",
];

/// Filters that turn a stream into pixels; everything else is a general filter
/// lopdf can decode with a bound.
fn is_image_filter(name: &[u8]) -> bool {
    matches!(
        name,
        b"DCTDecode" | b"DCT" | b"JPXDecode" | b"JBIG2Decode" | b"CCITTFaxDecode" | b"CCF"
    )
}

/// What a caller is about to do with the checked pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Rendering: images are decoded, so their sizes are checked too.
    Render,
    /// Text extraction: images are never decoded, only content, fonts and cmaps.
    Text,
}

/// Checks the parts of a document a page uses; remembers what it has seen.
pub struct Preflight<'d> {
    doc: &'d Document,
    limits: Limits,
    purpose: Purpose,
    seen: HashSet<ObjectId>,
    decoded_total: u64,
    visited_nodes: u64,
    whole_document_done: bool,
}

impl<'d> Preflight<'d> {
    pub fn new(doc: &'d Document, purpose: Purpose, ctx: &Ctx) -> Self {
        Preflight {
            doc,
            limits: ctx.limits.clone(),
            purpose,
            seen: HashSet::new(),
            decoded_total: 0,
            visited_nodes: 0,
            whole_document_done: false,
        }
    }

    /// Check page `number` (1-based, lopdf's page order).
    pub fn check_page(&mut self, number: u32, ctx: &Ctx) -> Result<()> {
        if self.whole_document_done {
            return Ok(());
        }
        let Some(page_id) = self.doc.get_pages().get(&number).copied() else {
            // lopdf does not see this page (hayro found more pages than lopdf):
            // fall back to checking every stream in the file.
            return self.check_all(ctx);
        };
        self.check_page_id(page_id, ctx)
    }

    fn check_page_id(&mut self, page_id: ObjectId, ctx: &Ctx) -> Result<()> {
        let Ok(page) = self.doc.get_dictionary(page_id) else {
            return Ok(());
        };
        self.seen.insert(page_id);
        let mut stack: Vec<&'d Object> = Vec::new();
        for (k, v) in page.iter() {
            if !SKIP_KEYS.contains(&k.as_slice()) {
                stack.push(v);
            }
        }
        // Resources may be inherited from the page tree: follow the parents'
        // /Resources only (bounded by depth and by the seen set).
        let mut parent = page.get(b"Parent").and_then(Object::as_reference).ok();
        let mut depth = 0;
        while let Some(pid) = parent {
            depth += 1;
            if depth > self.limits.max_depth {
                break;
            }
            let Ok(node) = self.doc.get_dictionary(pid) else {
                break;
            };
            if let Ok(res) = node.get(b"Resources") {
                stack.push(res);
            }
            parent = node.get(b"Parent").and_then(Object::as_reference).ok();
        }
        self.walk(stack, ctx)
    }

    /// Check every stream of the document (used when page numbering differs
    /// between the two parsers, so a page cannot be mapped safely).
    pub fn check_all(&mut self, ctx: &Ctx) -> Result<()> {
        if self.whole_document_done {
            return Ok(());
        }
        let doc = self.doc;
        for (id, obj) in doc.objects.iter() {
            if !self.seen.insert(*id) {
                continue;
            }
            if let Object::Stream(s) = obj {
                self.count_node(ctx)?;
                self.check_stream(s)?;
            }
        }
        self.whole_document_done = true;
        Ok(())
    }

    fn count_node(&mut self, ctx: &Ctx) -> Result<()> {
        self.visited_nodes += 1;
        if self.visited_nodes.is_multiple_of(256) {
            ctx.check()?;
        }
        Ok(())
    }

    fn walk(&mut self, mut stack: Vec<&'d Object>, ctx: &Ctx) -> Result<()> {
        let doc = self.doc;
        while let Some(obj) = stack.pop() {
            self.count_node(ctx)?;
            match obj {
                Object::Reference(id) => {
                    if self.seen.insert(*id)
                        && let Some(target) = doc.objects.get(id)
                    {
                        stack.push(target);
                    }
                }
                Object::Array(items) => stack.extend(items.iter()),
                Object::Dictionary(d) => push_dict(&mut stack, d),
                Object::Stream(s) => {
                    self.check_stream(s)?;
                    push_dict(&mut stack, &s.dict);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_stream(&mut self, s: &Stream) -> Result<()> {
        let filters: Vec<&[u8]> = s.filters().unwrap_or_default();
        let is_image = s
            .dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .is_ok_and(|n| n == b"Image")
            || filters.last().is_some_and(|f| is_image_filter(f));
        if is_image {
            if self.purpose == Purpose::Render {
                self.check_image(s, &filters)?;
            }
            return Ok(());
        }
        if filters.is_empty() {
            return self.add_decoded(s.content.len() as u64);
        }
        if let [b"FlateDecode"] = filters.as_slice() {
            return match inflated_len(&s.content, self.stream_limit()) {
                Inflated::Len(n) => self.add_decoded(n),
                Inflated::OverLimit => Err(self.over_stream_limit()),
            };
        }
        match s.decompressed_content_with_limit(self.stream_limit()) {
            Ok(data) => self.add_decoded(data.len() as u64),
            Err(
                e @ lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }),
            ) => Err(e.into()),
            // A stream lopdf cannot decode is hayro's to judge (it may have a
            // fallback); what matters here is only that nothing decodes huge.
            Err(_) => Ok(()),
        }
    }

    /// The error lopdf's bounded decoders give for a stream past the limit.
    fn over_stream_limit(&self) -> Error {
        lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
            limit: self.stream_limit(),
        })
        .into()
    }

    fn stream_limit(&self) -> usize {
        usize::try_from(self.limits.max_stream_bytes).unwrap_or(usize::MAX)
    }

    fn add_decoded(&mut self, n: u64) -> Result<()> {
        self.decoded_total = self.decoded_total.saturating_add(n);
        Limits::ensure(
            LimitKind::DocumentBytes,
            self.limits.max_document_bytes,
            self.decoded_total,
        )
    }

    fn check_image(&mut self, s: &Stream, filters: &[&[u8]]) -> Result<()> {
        let dim = |key: &[u8]| {
            s.dict
                .get(key)
                .ok()
                .and_then(|o| {
                    o.as_i64()
                        .ok()
                        .or_else(|| o.as_float().ok().map(|f| f as i64))
                })
                .unwrap_or(0)
                .max(0) as u64
        };
        let (w, h) = (dim(b"Width"), dim(b"Height"));
        self.ensure_pixels(w, h)?;
        // Decode the general filters in front of the image filter (or all of
        // them for a raw-sample image) with the stream bound.
        let split = filters
            .iter()
            .position(|f| is_image_filter(f))
            .unwrap_or(filters.len());
        let jpeg_next = filters
            .get(split)
            .is_some_and(|f| *f == b"DCTDecode" || *f == b"DCT");
        let head: Option<Vec<u8>> = if split == 0 {
            None
        } else if split == 1 && filters[0] == b"FlateDecode" && !jpeg_next {
            // Only the size matters: count it without keeping the bytes.
            match inflated_len(&s.content, self.stream_limit()) {
                Inflated::Len(n) => self.add_decoded(n)?,
                Inflated::OverLimit => return Err(self.over_stream_limit()),
            }
            None
        } else {
            let mut prefix = s.clone();
            let names: Vec<Object> = filters[..split]
                .iter()
                .map(|f| Object::Name(f.to_vec()))
                .collect();
            prefix.dict.set("Filter", Object::Array(names));
            if let Ok(Object::Array(params)) = s.dict.get(b"DecodeParms") {
                let p: Vec<Object> = params.iter().take(split).cloned().collect();
                prefix.dict.set("DecodeParms", Object::Array(p));
            }
            match prefix.decompressed_content_with_limit(self.stream_limit()) {
                Ok(data) => {
                    self.add_decoded(data.len() as u64)?;
                    Some(data)
                }
                Err(
                    e @ lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                        ..
                    }),
                ) => return Err(e.into()),
                Err(_) => None,
            }
        };
        // A JPEG's header decides what the decoder allocates, whatever the
        // dictionary claims.
        if jpeg_next {
            let data = head.as_deref().unwrap_or(&s.content);
            if let Some((jw, jh)) = jpeg_dimensions(data) {
                self.ensure_pixels(jw as u64, jh as u64)?;
            }
        }
        Ok(())
    }

    fn ensure_pixels(&self, w: u64, h: u64) -> Result<()> {
        Limits::ensure(
            LimitKind::ImagePixels,
            self.limits.max_image_pixels,
            w.saturating_mul(h),
        )
    }
}

/// What [`inflated_len`] found.
#[derive(Debug, PartialEq, Eq)]
enum Inflated {
    Len(u64),
    OverLimit,
}

/// How many bytes lopdf's Flate decoder would give for `z`, counted
/// through a small buffer and stopped past `limit`, with its leniency: the
/// bytes before an error count, and data that gives nothing as zlib is read
/// as raw deflate after its 2-byte header (lopdf drops the last chunk
/// before an error; counting it is only safer). Decoding streams whole only to
/// measure them held a 9000 × 9000 scan's 243 MB (twice that while the
/// buffer grew) before each render of its page. (Counted before a predictor
/// is undone, which only makes the data smaller.)
fn inflated_len(z: &[u8], limit: usize) -> Inflated {
    use flate2::Decompress;
    let (n, failed) = match count_inflated(Decompress::new(true), z, limit) {
        Ok(r) => r,
        Err(over) => return over,
    };
    if failed && n == 0 && z.len() > 2 {
        return match count_inflated(Decompress::new(false), &z[2..], limit) {
            Ok((n, _)) => Inflated::Len(n),
            Err(over) => over,
        };
    }
    Inflated::Len(n)
}

/// Bytes `d` inflates `z` to, and whether it stopped on an error or
/// truncated data; `Err` past `limit`.
fn count_inflated(
    mut d: flate2::Decompress,
    z: &[u8],
    limit: usize,
) -> std::result::Result<(u64, bool), Inflated> {
    use flate2::{FlushDecompress, Status};
    let mut scratch = vec![0u8; 64 * 1024];
    loop {
        let rest = z.get(d.total_in() as usize..).unwrap_or_default();
        let (i0, o0) = (d.total_in(), d.total_out());
        let status = d.decompress(rest, &mut scratch, FlushDecompress::None);
        if d.total_out() > limit as u64 {
            return Err(Inflated::OverLimit);
        }
        match status {
            Ok(Status::StreamEnd) => return Ok((d.total_out(), false)),
            Ok(_) if d.total_in() == i0 && d.total_out() == o0 => {
                return Ok((d.total_out(), true));
            }
            Ok(_) => {}
            Err(_) => return Ok((d.total_out(), true)),
        }
    }
}

fn push_dict<'d>(stack: &mut Vec<&'d Object>, d: &'d Dictionary) {
    for (k, v) in d.iter() {
        if !SKIP_KEYS.contains(&k.as_slice()) {
            stack.push(v);
        }
    }
}

/// Width and height from a JPEG's SOF segment, walking segment lengths.
pub fn jpeg_dimensions(data: &[u8]) -> Option<(u16, u16)> {
    if data.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2usize;
    loop {
        // Skip fill bytes before a marker.
        while *data.get(i)? == 0xFF && *data.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *data.get(i)? != 0xFF {
            return None;
        }
        let marker = *data.get(i + 1)?;
        i += 2;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue,
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]) as usize;
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let h = u16::from_be_bytes([*data.get(i + 3)?, *data.get(i + 4)?]);
            let w = u16::from_be_bytes([*data.get(i + 5)?, *data.get(i + 6)?]);
            return Some((w, h));
        }
        if len < 2 {
            return None;
        }
        i += len;
    }
}

/// Map hayro-syntax's load errors onto ours (after lopdf opened the file, so
/// these are disagreements between the two parsers).
pub(crate) fn hayro_error(e: hayro_syntax::LoadPdfError, password: Option<&str>) -> Error {
    use hayro_syntax::{DecryptionError, LoadPdfError};
    match e {
        LoadPdfError::Decryption(DecryptionError::PasswordProtected) => match password {
            Some(_) => Error::WrongPassword,
            None => Error::Encrypted,
        },
        LoadPdfError::Decryption(DecryptionError::UnsupportedAlgorithm) => {
            Error::UnsupportedFeature("the PDF uses an unsupported encryption algorithm".into())
        }
        LoadPdfError::Decryption(other) => {
            Error::InvalidPdf(format!("the PDF's encryption is broken: {other:?}"))
        }
        LoadPdfError::Invalid => Error::InvalidPdf("the page tree cannot be read".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflated_len_counts_what_lopdf_decodes() {
        use std::io::Write;
        let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&plain).unwrap();
        let z = e.finish().unwrap();
        let mut bad_sum = z.clone();
        let n = bad_sum.len();
        bad_sum[n - 1] ^= 0xff;
        let mut raw =
            flate2::write::DeflateEncoder::new(vec![0x78, 0x00], flate2::Compression::default());
        raw.write_all(&plain[..5000]).unwrap();
        let raw = raw.finish().unwrap();
        let cases: [&[u8]; 6] = [
            &z,
            &z[..z.len() / 3],
            &bad_sum,
            &raw,
            b"garbage data here",
            b"",
        ];
        for (i, data) in cases.into_iter().enumerate() {
            let mut dict = Dictionary::new();
            dict.set("Filter", "FlateDecode");
            let lopdf_len = Stream::new(dict, data.to_vec())
                .decompressed_content_with_limit(1 << 30)
                .map(|d| d.len() as u64)
                .unwrap_or(0);
            let Inflated::Len(ours) = inflated_len(data, 1 << 30) else {
                panic!("case {i}: over the limit");
            };
            if i == 1 || i == 2 || i == 4 {
                // Truncated, failing its checksum, or garbage: lopdf drops
                // the last chunk it read before the error; counting it too
                // only makes the bound safer.
                assert!(ours >= lopdf_len && ours <= plain.len() as u64, "case {i}");
                assert!(i == 4 || ours > 0, "case {i}");
            } else {
                assert_eq!(ours, lopdf_len, "case {i}");
            }
        }
        assert_eq!(inflated_len(&z, 200_000), Inflated::Len(200_000));
        assert_eq!(inflated_len(&z, 199_999), Inflated::OverLimit);
        assert_eq!(inflated_len(&raw, 4_999), Inflated::OverLimit);
    }

    #[test]
    fn jpeg_header_is_read() {
        // SOI, APP0 (len 4), SOF0 with 8-bit, h=0x0102, w=0x0304.
        let data = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x01,
            0x02, 0x03, 0x04, 0x01,
        ];
        assert_eq!(jpeg_dimensions(&data), Some((0x0304, 0x0102)));
        assert_eq!(jpeg_dimensions(&data[..10]), None);
        assert_eq!(jpeg_dimensions(b"not a jpeg"), None);
    }
}
