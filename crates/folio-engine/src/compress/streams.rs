//! Lossless re-encoding of stream data.
//!
//! Each stream's filter chain is peeled from the outside while the outer
//! filters are generic byte codings (Flate, LZW, ASCII85, ASCIIHex,
//! RunLength); the bytes underneath are then deflated again with libdeflate
//! ([`crate::deflate`]) and kept only if smaller. Image codecs (DCT, JPX,
//! JBIG2, CCITT) are never decoded: when they sit under a generic layer, only
//! that layer goes. A PNG/TIFF predictor is never undone: the predicted bytes
//! are re-deflated under the same `/DecodeParms`, so the stream decodes to the
//! very same bytes.
//!
//! Decoding is bounded per stream (`max_stream_bytes`) and per document
//! (`max_document_bytes`); a stream past either bound is left as it is, which
//! is always a valid (if larger) outcome for a lossless pass.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use lopdf::{Dictionary, Document, Object, ObjectId, Stream};
use rayon::prelude::*;

use crate::{Ctx, Result};

/// Unfiltered streams this small are left alone: the `/Filter` entry and the
/// zlib framing eat most of what deflate could save.
const MIN_UNFILTERED: usize = 64;

/// What `/Filter /FlateDecode` adds to a stream dictionary, in bytes: a new
/// encoding of an unfiltered stream must save more than this.
const FILTER_ENTRY_COST: usize = 18;

/// When [`restream_flate`] streams a stream whose only filter is Flate.
#[derive(Debug, Clone, Copy)]
struct Streaming {
    /// Decoded bytes from which the stream is re-deflated chunk by chunk
    /// instead of being inflated whole.
    from: usize,
    /// Bytes inflated, then deflated, per step.
    chunk: usize,
}

/// libdeflate needs its whole input in one buffer, and a 9000 × 9000 RGB
/// scan (ocrmypdf__multipage, 450 KB stored) made that one 243 MB buffer,
/// where qpdf streams it in 10 MB: past 32 MB, stream.
const STREAMING: Streaming = Streaming {
    from: 32 << 20,
    chunk: 1 << 20,
};

/// Counts from one pass, for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamStats {
    /// Streams whose stored bytes were replaced by a smaller encoding.
    pub recompressed: usize,
    /// Streams left as they are because they decode past `max_stream_bytes`.
    pub over_stream_limit: usize,
    /// Streams left as they are because the document's decode budget was spent.
    pub over_document_limit: usize,
    /// Streams left as they are because their data does not decode cleanly.
    pub undecodable: usize,
    /// Stored bytes saved over all recompressed streams.
    pub bytes_saved: u64,
}

/// A stream's filters with their parameters, references resolved.
#[derive(Debug, Clone)]
struct Chain {
    filters: Vec<Vec<u8>>,
    params: Vec<Option<Dictionary>>,
}

/// One stream to look at, with everything the worker needs (no `Document`
/// access: lopdf's document is not shared across threads).
struct Job<'a> {
    id: ObjectId,
    stream: &'a Stream,
    chain: Chain,
    /// Unfiltered XMP metadata of a document that claims PDF/A conformance:
    /// PDF/A forbids a filter on it, so it stays as it is.
    keep_plain: bool,
}

/// The new stored form of one stream.
struct NewEncoding {
    content: Vec<u8>,
    filters: Vec<Vec<u8>>,
    params: Vec<Option<Dictionary>>,
}

enum Outcome {
    Unchanged,
    Replaced(NewEncoding),
    OverStreamLimit,
    OverDocumentLimit,
    Undecodable,
}

/// The decode budget shared by all workers of one document.
struct Budget {
    used: AtomicU64,
    max: u64,
    exhausted: AtomicBool,
}

impl Budget {
    /// Count `n` decoded bytes; false once the document total passes the limit.
    fn spend(&self, n: usize) -> bool {
        let total = self.used.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total > self.max {
            self.exhausted.store(true, Ordering::Relaxed);
            false
        } else {
            true
        }
    }
}

/// One document's stream pass: every eligible stream is re-encoded (in
/// parallel), and a new encoding is kept only when it is smaller. `level` is
/// the libdeflate level for streams of ordinary size (see [`crate::deflate`]).
/// Images the image pass rewrote are not selected: it has just encoded them
/// as tightly as it could.
///
/// It runs in parts: [`StreamPass::encode`] works on a shared `&Document` (so
/// it can run beside the image pass, which reads the same document), and
/// [`Encoded::apply`] stores the results. The parts share the document's
/// decode budget.
pub struct StreamPass {
    budget: Budget,
    per_stream: usize,
    level: i32,
}

/// New encodings computed by [`StreamPass::encode`], not yet stored.
pub struct Encoded {
    results: Vec<(ObjectId, Outcome)>,
}

impl StreamPass {
    pub fn new(level: i32, ctx: &Ctx) -> Self {
        StreamPass {
            budget: Budget {
                used: AtomicU64::new(0),
                max: ctx.limits.max_document_bytes,
                exhausted: AtomicBool::new(false),
            },
            per_stream: usize::try_from(ctx.limits.max_stream_bytes).unwrap_or(usize::MAX),
            level,
        }
    }

    /// Re-encode (in parallel) the eligible streams that `select` accepts.
    pub fn encode(
        &self,
        doc: &Document,
        select: impl Fn(ObjectId, &Stream) -> bool,
        ctx: &Ctx,
    ) -> Result<Encoded> {
        let mut jobs: Vec<Job> = doc
            .objects
            .iter()
            .filter_map(|(&id, obj)| {
                let Object::Stream(stream) = obj else {
                    return None;
                };
                if !select(id, stream) {
                    return None;
                }
                if matches!(
                    stream.dict.get(b"Type").and_then(Object::as_name),
                    Ok(b"XRef" | b"ObjStm")
                ) {
                    return None;
                }
                let chain = chain_of(doc, &stream.dict)?;
                let keep_plain = chain.filters.is_empty()
                    && matches!(
                        stream.dict.get(b"Type").and_then(Object::as_name),
                        Ok(b"Metadata")
                    )
                    && contains(&stream.content, b"pdfaid:");
                Some(Job {
                    id,
                    stream,
                    chain,
                    keep_plain,
                })
            })
            .collect();

        // Largest first, handed out one at a time: a document's time here is
        // often a few big streams (fonts, page content), and rayon's default
        // halving of the list put two of them on one core while the other
        // finished the small ones (tracemonkey used 1.08 of 2 cores).
        jobs.sort_by_key(|j| std::cmp::Reverse(j.stream.content.len()));
        let total = jobs.len().max(1);
        let done = AtomicUsize::new(0);
        let results: Vec<(ObjectId, Outcome)> = jobs
            .into_par_iter()
            .with_max_len(1)
            .map(|job| -> Result<(ObjectId, Outcome)> {
                ctx.check()?;
                let outcome = if self.budget.exhausted.load(Ordering::Relaxed) {
                    Outcome::OverDocumentLimit
                } else {
                    reencode(&job, self.per_stream, &self.budget, self.level)
                };
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                ctx.progress(0.8 * n as f32 / total as f32);
                Ok((job.id, outcome))
            })
            .collect::<Result<_>>()?;
        Ok(Encoded { results })
    }
}

impl Encoded {
    /// Store the new encodings in `doc` (the document they were computed
    /// from; only the streams' own objects are written).
    pub fn apply(self, doc: &mut Document) -> StreamStats {
        let mut stats = StreamStats::default();
        for (id, outcome) in self.results {
            match outcome {
                Outcome::Unchanged => {}
                Outcome::OverStreamLimit => stats.over_stream_limit += 1,
                Outcome::OverDocumentLimit => stats.over_document_limit += 1,
                Outcome::Undecodable => stats.undecodable += 1,
                Outcome::Replaced(new) => {
                    if let Ok(Object::Stream(stream)) = doc.get_object_mut(id) {
                        stats.bytes_saved +=
                            stream.content.len().saturating_sub(new.content.len()) as u64;
                        stats.recompressed += 1;
                        apply(stream, new);
                    }
                }
            }
        }
        stats
    }
}

impl std::ops::AddAssign for StreamStats {
    fn add_assign(&mut self, o: StreamStats) {
        self.recompressed += o.recompressed;
        self.over_stream_limit += o.over_stream_limit;
        self.over_document_limit += o.over_document_limit;
        self.undecodable += o.undecodable;
        self.bytes_saved += o.bytes_saved;
    }
}

/// Store `new` in `stream`, writing `/Filter` and `/DecodeParms` in their
/// shortest valid form.
fn apply(stream: &mut Stream, new: NewEncoding) {
    let NewEncoding {
        content,
        filters,
        params,
    } = new;
    stream.dict.remove(b"Filter");
    stream.dict.remove(b"DecodeParms");
    // `/DL` is a hint of the decoded size: it still holds, but only if the
    // decoded data is unchanged, which is the whole point of this pass.
    match filters.len() {
        0 => {}
        1 => {
            stream.dict.set(
                "Filter",
                Object::Name(filters.into_iter().next().unwrap_or_default()),
            );
            if let Some(Some(p)) = params.into_iter().next() {
                stream.dict.set("DecodeParms", Object::Dictionary(p));
            }
        }
        _ => {
            let any_params = params.iter().any(Option::is_some);
            stream.dict.set(
                "Filter",
                Object::Array(filters.into_iter().map(Object::Name).collect()),
            );
            if any_params {
                stream.dict.set(
                    "DecodeParms",
                    Object::Array(
                        params
                            .into_iter()
                            .map(|p| p.map_or(Object::Null, Object::Dictionary))
                            .collect(),
                    ),
                );
            }
        }
    }
    stream.set_content(content);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Follow one level of reference (filters and their parameters may be indirect).
fn resolve<'a>(doc: &'a Document, obj: &'a Object) -> Option<&'a Object> {
    match obj {
        Object::Reference(id) => doc.get_object(*id).ok(),
        other => Some(other),
    }
}

/// The stream's filter chain, or `None` when its shape is one we do not
/// touch (a parameter dictionary shared by several filters, a malformed entry).
fn chain_of(doc: &Document, dict: &Dictionary) -> Option<Chain> {
    let filters: Vec<Vec<u8>> = match dict.get(b"Filter").ok().and_then(|f| resolve(doc, f)) {
        None | Some(Object::Null) => Vec::new(),
        Some(Object::Name(n)) => vec![normalize(n)],
        Some(Object::Array(items)) => items
            .iter()
            .map(|i| match resolve(doc, i) {
                Some(Object::Name(n)) => Some(normalize(n)),
                _ => None,
            })
            .collect::<Option<_>>()?,
        Some(_) => return None,
    };
    if filters.len() > Stream::MAX_FILTERS {
        return None;
    }
    let n = filters.len();
    let params: Vec<Option<Dictionary>> =
        match dict.get(b"DecodeParms").ok().and_then(|p| resolve(doc, p)) {
            None | Some(Object::Null) => vec![None; n],
            Some(Object::Dictionary(d)) if n <= 1 => vec![Some(d.clone()); n],
            Some(Object::Array(items)) if items.len() <= n => {
                let mut v: Vec<Option<Dictionary>> = items
                    .iter()
                    .map(|i| match resolve(doc, i) {
                        Some(Object::Dictionary(d)) => Some(Some(d.clone())),
                        Some(Object::Null) => Some(None),
                        _ => None,
                    })
                    .collect::<Option<_>>()?;
                v.resize(n, None);
                v
            }
            Some(_) => return None,
        };
    Some(Chain { filters, params })
}

/// Long filter names for the abbreviations some writers use outside inline
/// images, so the chain logic sees one spelling.
fn normalize(name: &[u8]) -> Vec<u8> {
    match name {
        b"Fl" => b"FlateDecode".to_vec(),
        b"LZW" => b"LZWDecode".to_vec(),
        b"A85" => b"ASCII85Decode".to_vec(),
        b"AHx" => b"ASCIIHexDecode".to_vec(),
        b"RL" => b"RunLengthDecode".to_vec(),
        other => other.to_vec(),
    }
}

/// Generic byte codings we can undo exactly. Everything else (image codecs,
/// `Crypt`, unknown names) ends the peeling.
fn is_generic(filter: &[u8]) -> bool {
    matches!(
        filter,
        b"FlateDecode" | b"LZWDecode" | b"ASCII85Decode" | b"ASCIIHexDecode" | b"RunLengthDecode"
    )
}

/// True if `params` asks for a PNG or TIFF predictor (which we keep encoded).
fn has_predictor(params: Option<&Dictionary>) -> bool {
    params
        .and_then(|p| p.get(b"Predictor").ok())
        .and_then(|p| p.as_i64().ok())
        .is_some_and(|p| p > 1)
}

enum LayerError {
    OverLimit,
    Corrupt,
}

/// Work out the smallest lossless encoding of one stream.
fn reencode(job: &Job, limit: usize, budget: &Budget, level: i32) -> Outcome {
    let content = job.stream.content.as_slice();
    let Chain { filters, params } = &job.chain;
    if content.is_empty() {
        return Outcome::Unchanged;
    }

    // The first layer, when already inflated below.
    let mut inflated: Option<Vec<u8>> = None;
    // A lone Flate layer that inflates past STREAMING.from: re-deflate it as
    // a stream (same bytes underneath, predictor parameters untouched).
    if let [only] = filters.as_slice()
        && only.as_slice() == b"FlateDecode"
    {
        let max_out = content.len().saturating_sub(1);
        match restream_flate(content, limit, max_out, budget, STREAMING) {
            Restreamed::Small(plain) => inflated = Some(plain),
            Restreamed::Deflated(Some(c)) => {
                return Outcome::Replaced(NewEncoding {
                    content: c,
                    filters: vec![b"FlateDecode".to_vec()],
                    params: params.clone(),
                });
            }
            Restreamed::Deflated(None) => return Outcome::Unchanged,
            Restreamed::Failed(o) => return o,
        }
    }

    // Peel generic layers from the outside.
    let mut data: Option<Vec<u8>> = None;
    let mut peeled = 0;
    let mut carried: Option<Dictionary> = None;
    for (filter, p) in filters.iter().zip(params) {
        if !is_generic(filter) {
            break;
        }
        let input = data.as_deref().unwrap_or(content);
        let decoded = match inflated.take() {
            Some(d) => d,
            None => match decode_layer(filter, p.as_ref(), input, limit) {
                Ok(d) => d,
                Err(LayerError::OverLimit) => return Outcome::OverStreamLimit,
                Err(LayerError::Corrupt) => return Outcome::Undecodable,
            },
        };
        if !budget.spend(decoded.len()) {
            return Outcome::OverDocumentLimit;
        }
        data = Some(decoded);
        peeled += 1;
        if has_predictor(p.as_ref()) {
            // The bytes are still predicted: the new Flate layer must carry
            // the same predictor parameters, and no further layer can be
            // peeled before the predictor is undone.
            let mut keep = p.clone().unwrap_or_default();
            keep.remove(b"EarlyChange");
            carried = Some(keep);
            break;
        }
    }

    if filters.is_empty() {
        if job.keep_plain || content.len() <= MIN_UNFILTERED {
            return Outcome::Unchanged;
        }
        let budget_max = content.len().saturating_sub(FILTER_ENTRY_COST + 1);
        return match crate::deflate::zlib_within_at(content, budget_max, level) {
            Some(c) => Outcome::Replaced(NewEncoding {
                content: c,
                filters: vec![b"FlateDecode".to_vec()],
                params: vec![None],
            }),
            None => Outcome::Unchanged,
        };
    }
    let Some(plain) = data else {
        return Outcome::Unchanged;
    };
    let rest_filters = filters.get(peeled..).unwrap_or_default();
    let rest_params = params.get(peeled..).unwrap_or_default();

    // Candidate A: deflate the peeled bytes (with the carried predictor).
    let mut best: Option<NewEncoding> = None;
    let mut best_len = content.len();
    if let Some(c) = crate::deflate::zlib_within_at(&plain, best_len.saturating_sub(1), level) {
        best_len = c.len();
        best = Some(NewEncoding {
            content: c,
            filters: std::iter::once(b"FlateDecode".to_vec())
                .chain(rest_filters.iter().cloned())
                .collect(),
            params: std::iter::once(carried.clone())
                .chain(rest_params.iter().cloned())
                .collect(),
        });
    }
    // Candidate B: store the peeled bytes as they are, e.g. a JPEG wrapped in
    // ASCII85. Only possible when no predictor is pending.
    if carried.is_none() && plain.len() < best_len {
        best = Some(NewEncoding {
            content: plain,
            filters: rest_filters.to_vec(),
            params: rest_params.to_vec(),
        });
    }
    match best {
        Some(b) => Outcome::Replaced(b),
        None => Outcome::Unchanged,
    }
}

/// What [`restream_flate`] made of a stream.
enum Restreamed {
    /// It inflates to less than `from` (these bytes): the usual path
    /// takes it from here.
    Small(Vec<u8>),
    /// Re-deflated, or `None` when that came out no smaller than `max_out`.
    Deflated(Option<Vec<u8>>),
    /// Over a limit, or not a clean zlib stream.
    Failed(Outcome),
}

/// Inflate `input` (zlib) and, once it has given `sizes.from` bytes, deflate
/// what it gives chunk by chunk (flate2's zlib-rs at level 9; libdeflate
/// has no streaming interface), so no more than `from` + one chunk of
/// decoded bytes is ever held. The checks are those of [`inflate_bounded`]:
/// a strict end with a valid checksum, `limit` decoded bytes at most, and
/// the document budget. Gives up as soon as the output passes `max_out`.
fn restream_flate(
    input: &[u8],
    limit: usize,
    max_out: usize,
    budget: &Budget,
    sizes: Streaming,
) -> Restreamed {
    use flate2::{Compress, Compression, Decompress, FlushCompress, Status};
    let over = |o| Restreamed::Failed(o);
    let mut inf = Decompress::new(true);
    // Phase 1: inflate up to `from` bytes into `buf` (one byte past `limit`
    // means over it).
    let cap = sizes.from.min(limit.saturating_add(1));
    let mut buf: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(4).max(64).min(cap));
    match inflate_upto(&mut inf, input, &mut buf, cap) {
        Err(_) => return over(Outcome::Undecodable),
        Ok(_) if buf.len() > limit => return over(Outcome::OverStreamLimit),
        Ok(true) => return Restreamed::Small(buf),
        Ok(false) => {}
    }
    // Phase 2: deflate what we have, then inflate and deflate chunk by chunk.
    let mut def = Compress::new(Compression::new(9), true);
    let mut out: Vec<u8> = Vec::with_capacity(input.len().min(max_out.saturating_add(1)));
    let mut decoded = 0usize;
    let mut ended = false;
    loop {
        decoded = decoded.saturating_add(buf.len());
        if decoded > limit {
            return over(Outcome::OverStreamLimit);
        }
        if !budget.spend(buf.len()) {
            return over(Outcome::OverDocumentLimit);
        }
        let flush = if ended {
            FlushCompress::Finish
        } else {
            FlushCompress::None
        };
        let mut fed = 0usize;
        loop {
            if out.capacity() - out.len() < 64 * 1024 {
                if out.len() > max_out {
                    return Restreamed::Deflated(None);
                }
                out.reserve(out.len().max(64 * 1024));
            }
            let before = def.total_in();
            let status = match def.compress_vec(&buf[fed..], &mut out, flush) {
                Ok(s) => s,
                Err(_) => return Restreamed::Deflated(None),
            };
            fed += (def.total_in() - before) as usize;
            if out.len() > max_out {
                return Restreamed::Deflated(None);
            }
            match status {
                Status::StreamEnd => break,
                _ if fed < buf.len() => {}
                // All fed; when finishing, go on until the stream ends.
                _ if ended => {}
                _ => break,
            }
        }
        if ended {
            return Restreamed::Deflated(Some(out));
        }
        // Next chunk.
        buf.clear();
        if buf.capacity() > sizes.chunk {
            buf.shrink_to(sizes.chunk);
        }
        buf.reserve_exact(sizes.chunk);
        match inflate_upto(&mut inf, input, &mut buf, sizes.chunk) {
            Ok(end) => ended = end,
            Err(_) => return over(Outcome::Undecodable),
        }
    }
}

/// Undo one generic filter layer, never producing more than `limit` bytes.
/// Predictors are left applied (the caller keeps them encoded).
fn decode_layer(
    filter: &[u8],
    params: Option<&Dictionary>,
    input: &[u8],
    limit: usize,
) -> std::result::Result<Vec<u8>, LayerError> {
    if filter == b"FlateDecode" {
        return inflate_bounded(input, limit);
    }
    // The other codings go through lopdf's decoders, one layer at a time, with
    // only the parameters that belong to the coding itself.
    let mut dict = Dictionary::new();
    dict.set("Filter", Object::Name(filter.to_vec()));
    if filter == b"LZWDecode"
        && let Some(ec) = params.and_then(|p| p.get(b"EarlyChange").ok())
    {
        let mut p = Dictionary::new();
        p.set("EarlyChange", ec.clone());
        dict.set("DecodeParms", Object::Dictionary(p));
    }
    let layer = Stream::new(dict, input.to_vec());
    match layer.decompressed_content_with_limit(limit) {
        Ok(d) => Ok(d),
        Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
            Err(LayerError::OverLimit)
        }
        Err(_) => Err(LayerError::Corrupt),
    }
}

/// Inflate a zlib stream strictly: the data must reach its end marker with a
/// valid checksum, else it is `Corrupt` (lenient readers may recover partial
/// data from such streams; we keep those bytes untouched rather than freeze
/// one reader's guess). Output past `limit` is `OverLimit`, detected before
/// the buffer grows past `limit + 1`.
fn inflate_bounded(input: &[u8], limit: usize) -> std::result::Result<Vec<u8>, LayerError> {
    let mut d = flate2::Decompress::new(true);
    let cap = limit.saturating_add(1);
    let mut out: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(4).max(64).min(cap));
    match inflate_upto(&mut d, input, &mut out, cap)? {
        true if out.len() <= limit => Ok(out),
        _ => Err(LayerError::OverLimit),
    }
}

/// Inflate `input` with `d`, from where `d` stopped, into `buf` until the
/// zlib stream ends (`Ok(true)`) or `buf` holds `cap` bytes (`Ok(false)`),
/// growing `buf` by doubling up to `cap`. Bad data, a bad checksum, or input
/// that stops before the end is `Corrupt`.
fn inflate_upto(
    d: &mut flate2::Decompress,
    input: &[u8],
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::result::Result<bool, LayerError> {
    use flate2::{FlushDecompress, Status};
    while buf.len() < cap {
        if buf.len() == buf.capacity() {
            buf.reserve_exact(buf.len().max(64).min(cap - buf.len()));
        }
        let rest = input.get(d.total_in() as usize..).unwrap_or_default();
        let (in_before, out_before) = (d.total_in(), buf.len());
        match d.decompress_vec(rest, buf, FlushDecompress::None) {
            Ok(Status::StreamEnd) => return Ok(true),
            // No progress with room to spare: the input is truncated.
            Ok(_) if d.total_in() == in_before && buf.len() == out_before => {
                return Err(LayerError::Corrupt);
            }
            Ok(_) => {}
            Err(_) => return Err(LayerError::Corrupt),
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn inflate_roundtrip_and_limits() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let z = zlib(&data);
        assert_eq!(inflate_bounded(&z, 1 << 20).ok().unwrap(), data);
        assert!(matches!(
            inflate_bounded(&z, 99_999),
            Err(LayerError::OverLimit)
        ));
        assert!(matches!(
            inflate_bounded(&z[..z.len() / 2], 1 << 20),
            Err(LayerError::Corrupt)
        ));
        assert!(matches!(
            inflate_bounded(b"garbage!", 1 << 20),
            Err(LayerError::Corrupt)
        ));
        // An empty stream inflates to nothing only if it is a complete stream.
        assert_eq!(
            inflate_bounded(&zlib(b""), 10).ok().unwrap(),
            Vec::<u8>::new()
        );
    }

    fn job_for(stream: &Stream) -> Job<'_> {
        let doc = Document::new();
        Job {
            id: (1, 0),
            stream,
            chain: chain_of(&doc, &stream.dict).unwrap(),
            keep_plain: false,
        }
    }

    fn budget() -> Budget {
        Budget {
            used: AtomicU64::new(0),
            max: u64::MAX,
            exhausted: AtomicBool::new(false),
        }
    }

    /// Small thresholds so the tests exercise several chunks quickly.
    const SMALL: Streaming = Streaming {
        from: 4096,
        chunk: 10_000,
    };

    /// Compressible but not trivially so: ~300 KB decoded.
    fn long_plain() -> Vec<u8> {
        (0..300_000u32)
            .map(|i| ((i / 3) % 97 + (i % 1000 / 250) * 40) as u8)
            .collect()
    }

    #[test]
    fn long_flate_streams_are_redeflated_chunk_by_chunk() {
        let plain = long_plain();
        let weak = zlib(&plain);
        let Restreamed::Deflated(Some(c)) =
            restream_flate(&weak, usize::MAX, weak.len() - 1, &budget(), SMALL)
        else {
            panic!("expected a smaller re-deflation");
        };
        assert!(c.len() < weak.len(), "{} vs {}", c.len(), weak.len());
        assert_eq!(inflate_bounded(&c, usize::MAX).ok().unwrap(), plain);
        // Below the threshold the inflated bytes come back for the usual path.
        let short = zlib(&plain[..3000]);
        assert!(matches!(
            restream_flate(&short, usize::MAX, usize::MAX, &budget(), SMALL),
            Restreamed::Small(p) if p == plain[..3000]
        ));
        // Through `reencode`, with predictor parameters carried as they were.
        let mut parms = Dictionary::new();
        parms.set("Predictor", 12);
        parms.set("Columns", 100);
        let mut dict = Dictionary::new();
        dict.set("Filter", "FlateDecode");
        dict.set("DecodeParms", parms.clone());
        let s = Stream::new(dict, weak.clone());
        let Outcome::Replaced(new) =
            reencode(&job_for(&s), usize::MAX, &budget(), crate::deflate::LEVEL)
        else {
            panic!("not replaced");
        };
        assert_eq!(new.params, vec![Some(parms)]);
        assert_eq!(
            inflate_bounded(&new.content, usize::MAX).ok().unwrap(),
            plain
        );
    }

    #[test]
    fn long_flate_streams_keep_the_strict_checks() {
        let plain = long_plain();
        let weak = zlib(&plain);
        let run = |input: &[u8], limit: usize, max_out: usize, b: &Budget| {
            restream_flate(input, limit, max_out, b, SMALL)
        };
        // Truncated or with a broken checksum: left alone as undecodable.
        let truncated = &weak[..weak.len() * 2 / 3];
        assert!(matches!(
            run(truncated, usize::MAX, usize::MAX, &budget()),
            Restreamed::Failed(Outcome::Undecodable)
        ));
        let mut bad_sum = weak.clone();
        let last = bad_sum.len() - 1;
        bad_sum[last] ^= 0xff;
        assert!(matches!(
            run(&bad_sum, usize::MAX, usize::MAX, &budget()),
            Restreamed::Failed(Outcome::Undecodable)
        ));
        // Past the stream limit, before and after the threshold.
        for limit in [1000, 100_000] {
            assert!(matches!(
                run(&weak, limit, usize::MAX, &budget()),
                Restreamed::Failed(Outcome::OverStreamLimit)
            ));
        }
        // Past the document budget.
        let tight = Budget {
            used: AtomicU64::new(0),
            max: 50_000,
            exhausted: AtomicBool::new(false),
        };
        assert!(matches!(
            run(&weak, usize::MAX, usize::MAX, &tight),
            Restreamed::Failed(Outcome::OverDocumentLimit)
        ));
        // Not smaller than allowed: nothing to replace.
        assert!(matches!(
            run(&weak, usize::MAX, 100, &budget()),
            Restreamed::Deflated(None)
        ));
    }

    #[test]
    fn predictor_streams_keep_their_parameters() {
        let plain: Vec<u8> = (0..5000u32).map(|i| (i / 7 % 256) as u8).collect();
        let mut parms = Dictionary::new();
        parms.set("Predictor", 12);
        parms.set("Columns", 4);
        let mut dict = Dictionary::new();
        dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        dict.set("DecodeParms", Object::Dictionary(parms.clone()));
        let s = Stream::new(dict, zlib(&plain));
        let Outcome::Replaced(new) =
            reencode(&job_for(&s), 1 << 20, &budget(), crate::deflate::LEVEL)
        else {
            panic!("expected a smaller encoding");
        };
        assert_eq!(new.filters, vec![b"FlateDecode".to_vec()]);
        assert_eq!(new.params, vec![Some(parms)]);
        assert_eq!(inflate_bounded(&new.content, 1 << 20).ok().unwrap(), plain);
    }

    #[test]
    fn ascii_wrapped_jpeg_loses_only_the_ascii_layer() {
        let jpeg = b"\xFF\xD8\xFF\xE0fake jpeg payload that must stay byte for byte".to_vec();
        let hex: Vec<u8> = jpeg
            .iter()
            .flat_map(|b| format!("{b:02X}").into_bytes())
            .collect();
        let mut dict = Dictionary::new();
        dict.set(
            "Filter",
            Object::Array(vec![
                Object::Name(b"AHx".to_vec()),
                Object::Name(b"DCTDecode".to_vec()),
            ]),
        );
        let s = Stream::new(dict, hex);
        let Outcome::Replaced(new) =
            reencode(&job_for(&s), 1 << 20, &budget(), crate::deflate::LEVEL)
        else {
            panic!("expected the hex layer to go");
        };
        assert_eq!(new.filters, vec![b"DCTDecode".to_vec()]);
        assert_eq!(new.content, jpeg);
    }

    /// LZW with 9-bit codes and no dictionary references: clear, one code
    /// per byte, end of data. Valid for fewer than 254 bytes.
    fn lzw_literal(data: &[u8]) -> Vec<u8> {
        let codes: Vec<u16> = std::iter::once(256)
            .chain(data.iter().map(|&b| u16::from(b)))
            .chain(std::iter::once(257))
            .collect();
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0u32);
        for c in codes {
            acc = (acc << 9) | u32::from(c);
            bits += 9;
            while bits >= 8 {
                out.push((acc >> (bits - 8)) as u8);
                bits -= 8;
            }
        }
        if bits > 0 {
            out.push((acc << (8 - bits)) as u8);
        }
        out
    }

    #[test]
    fn lzw_becomes_flate_with_the_same_data() {
        let plain = b"0 0 m 100 100 l S ".repeat(12);
        let mut dict = Dictionary::new();
        dict.set("Filter", Object::Name(b"LZWDecode".to_vec()));
        let s = Stream::new(dict, lzw_literal(&plain));
        assert_eq!(s.decompressed_content().unwrap(), plain, "test encoder");
        let Outcome::Replaced(new) =
            reencode(&job_for(&s), 1 << 20, &budget(), crate::deflate::LEVEL)
        else {
            panic!("expected Flate to beat literal LZW");
        };
        assert_eq!(new.filters, vec![b"FlateDecode".to_vec()]);
        assert_eq!(new.params, vec![None]);
        assert_eq!(inflate_bounded(&new.content, 1 << 20).ok().unwrap(), plain);
    }

    #[test]
    fn unfiltered_streams_are_deflated_unless_tiny() {
        let plain = b"BT /F1 12 Tf (hello) Tj ET\n".repeat(20);
        let s = Stream::new(Dictionary::new(), plain.clone());
        let Outcome::Replaced(new) =
            reencode(&job_for(&s), 1 << 20, &budget(), crate::deflate::LEVEL)
        else {
            panic!("expected deflate");
        };
        assert_eq!(inflate_bounded(&new.content, 1 << 20).ok().unwrap(), plain);
        let tiny = Stream::new(Dictionary::new(), b"q Q".to_vec());
        assert!(matches!(
            reencode(&job_for(&tiny), 1 << 20, &budget(), crate::deflate::LEVEL),
            Outcome::Unchanged
        ));
    }

    #[test]
    fn image_codecs_and_corrupt_data_are_left_alone() {
        let mut dict = Dictionary::new();
        dict.set("Filter", Object::Name(b"DCTDecode".to_vec()));
        let s = Stream::new(dict, vec![0xFF; 500]);
        assert!(matches!(
            reencode(&job_for(&s), 1 << 20, &budget(), crate::deflate::LEVEL),
            Outcome::Unchanged
        ));
        let mut dict = Dictionary::new();
        dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let s = Stream::new(dict, b"not zlib at all, not at all".to_vec());
        assert!(matches!(
            reencode(&job_for(&s), 1 << 20, &budget(), crate::deflate::LEVEL),
            Outcome::Undecodable
        ));
    }

    #[test]
    fn bombs_stop_at_the_stream_limit() {
        let mut dict = Dictionary::new();
        dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let s = Stream::new(dict, zlib(&vec![0u8; 1 << 20]));
        assert!(matches!(
            reencode(&job_for(&s), 1000, &budget(), crate::deflate::LEVEL),
            Outcome::OverStreamLimit
        ));
        let small = Budget {
            used: AtomicU64::new(0),
            max: 1000,
            exhausted: AtomicBool::new(false),
        };
        assert!(matches!(
            reencode(&job_for(&s), 1 << 21, &small, crate::deflate::LEVEL),
            Outcome::OverDocumentLimit
        ));
    }
}
