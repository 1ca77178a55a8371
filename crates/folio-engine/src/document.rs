//! Opening PDFs (lopdf) within limits, and writing them back with a check by
//! a second, independent parser (hayro-syntax).
//!
//! This is the only module that turns raw bytes into a `lopdf::Document` and
//! back: every PDF-editing operation goes through [`open`] and [`write`], so
//! header sniffing, encryption handling, limits and the output check live in
//! one place.

use lopdf::{Document, LoadOptions, Object, ObjectId};

use crate::error::{Error, LimitKind, Result};
use crate::limits::{Ctx, Limits};

/// Where `%PDF-` may start: some producers put junk before the header.
const HEADER_WINDOW: usize = 1024;

/// True if `%PDF-` occurs within the first 1 KB, the way viewers sniff PDFs.
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(HEADER_WINDOW)];
    head.windows(5).any(|w| w == b"%PDF-")
}

/// An opened document and the facts every operation needs about it.
pub struct Opened {
    pub doc: Document,
    pub page_count: u32,
    pub was_encrypted: bool,
}

/// Open `bytes` as a PDF, decrypting with `password` when needed.
///
/// Errors: `limit_exceeded` (size, pages, a stream inflating past
/// `max_stream_bytes`), `encrypted` (a user password is needed),
/// `wrong_password`, `invalid_pdf` (no header, unreadable structure, no pages).
pub fn open(bytes: &[u8], password: Option<&str>, ctx: &Ctx) -> Result<Opened> {
    Limits::ensure(
        LimitKind::InputBytes,
        ctx.limits.max_input_bytes,
        bytes.len() as u64,
    )?;
    if !looks_like_pdf(bytes) {
        return Err(Error::InvalidPdf(
            "no %PDF- header in the first 1 KB: this is not a PDF file".into(),
        ));
    }
    let options = LoadOptions {
        password: password.map(str::to_string),
        max_decompressed_size: Some(
            usize::try_from(ctx.limits.max_stream_bytes).unwrap_or(usize::MAX),
        ),
        ..LoadOptions::default()
    };
    let mut doc = match Document::load_mem_with_options(bytes, options.clone()) {
        Ok(doc) => doc,
        Err(lopdf::Error::InvalidPassword) if password.is_none() => return Err(Error::Encrypted),
        Err(e) => return Err(e.into()),
    };
    // A cross-reference entry with a wrong offset makes lopdf drop that
    // object silently; when it is a page, the document would be written with
    // a hole. Rebuilding the table by scanning the file recovers it, as
    // qpdf and viewers do.
    if has_missing_pages(&doc) {
        let rebuilt = LoadOptions {
            force_reconstruct: true,
            ..options
        };
        if let Ok(again) = Document::load_mem_with_options(bytes, rebuilt)
            && !again.is_encrypted()
            && !has_missing_pages(&again)
        {
            tracing::warn!("damaged cross-reference table: rebuilt by scanning the file");
            doc = again;
        }
    }
    ctx.check()?;
    // lopdf leaves a document it could not decrypt loaded with `/Encrypt`
    // still in the trailer and no objects: that is "needs a password", never
    // "0 pages".
    if doc.is_encrypted() {
        return Err(match password {
            Some(_) => Error::WrongPassword,
            None => Error::Encrypted,
        });
    }
    let page_count = count_pages(&doc, ctx)?;
    let was_encrypted = doc.was_encrypted();
    Ok(Opened {
        doc,
        page_count,
        was_encrypted,
    })
}

/// True if a kid of the page tree does not resolve to a dictionary.
fn has_missing_pages(doc: &Document) -> bool {
    walk_pages(doc).1 > 0
}

/// The page objects in document order, walking the page tree the way the
/// output check (hayro-syntax) does, so both count the same pages: every
/// object is visited once (a loop or a repeated kid is skipped), kids that
/// do not resolve to a dictionary are skipped, and any dictionary that is
/// not `/Type /Pages` is a page. lopdf's own `get_pages` follows loops and
/// counts missing kids as pages: use this instead.
pub fn page_ids(doc: &Document) -> Vec<ObjectId> {
    walk_pages(doc).0.into_iter().map(|p| p.id).collect()
}

/// Page attributes a page may inherit from the nodes above it.
pub const INHERITABLE: [&[u8]; 4] = [b"Resources", b"MediaBox", b"CropBox", b"Rotate"];

/// One page and the [`INHERITABLE`] values of its nearest ancestors.
#[derive(Debug, Clone)]
pub struct PageNode {
    pub id: ObjectId,
    /// Values from the page tree nodes above the page (nearest wins), as
    /// stored there (possibly references). The page's own entries, when
    /// present, override these.
    pub inherited: lopdf::Dictionary,
}

/// [`page_ids`] with the inherited attributes of each page, taken along the
/// path the walk followed (not the pages' `/Parent`, which can lie).
pub fn page_nodes(doc: &Document) -> Vec<PageNode> {
    walk_pages(doc).0
}

/// The walk behind [`page_ids`]: the pages, plus how many kids did not resolve.
fn walk_pages(doc: &Document) -> (Vec<PageNode>, usize) {
    let mut pages = Vec::new();
    let mut missing = 0;
    let Some(root) = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"Pages").ok())
        .and_then(|p| p.as_reference().ok())
    else {
        return (pages, missing);
    };
    let kids_of = |id: ObjectId| -> Option<&[Object]> {
        let d = doc.get_dictionary(id).ok()?;
        let kids = match d.get(b"Kids").ok()? {
            Object::Reference(r) => doc.get_object(*r).ok()?,
            other => other,
        };
        kids.as_array().ok().map(Vec::as_slice)
    };
    let inherit = |from: &lopdf::Dictionary, id: ObjectId| -> lopdf::Dictionary {
        let mut d = from.clone();
        if let Ok(node) = doc.get_dictionary(id) {
            for key in INHERITABLE {
                if let Ok(v) = node.get(key) {
                    d.set(key, v.clone());
                }
            }
        }
        d
    };
    let mut visited = std::collections::HashSet::new();
    visited.insert(root);
    let mut stack: Vec<(&[Object], lopdf::Dictionary)> = kids_of(root)
        .map(|k| (k, inherit(&lopdf::Dictionary::new(), root)))
        .into_iter()
        .collect();
    while let Some((frame, inherited)) = stack.last_mut() {
        let Some((kid, rest)) = frame.split_first() else {
            stack.pop();
            continue;
        };
        *frame = rest;
        let Ok(id) = kid.as_reference() else {
            continue;
        };
        if !visited.insert(id) {
            continue;
        }
        let Ok(dict) = doc.get_dictionary(id) else {
            missing += 1;
            continue;
        };
        if dict.get(b"Type").and_then(Object::as_name).ok() == Some(b"Pages".as_slice()) {
            let below = inherit(inherited, id);
            if let Some(k) = kids_of(id) {
                stack.push((k, below));
            }
        } else {
            pages.push(PageNode {
                id,
                inherited: inherited.clone(),
            });
        }
    }
    (pages, missing)
}

/// Repair the page tree's bookkeeping: every `/Count` becomes the number of
/// pages actually under its node (hostile files claim billions), and kids
/// reached a second time (a loop, a repeated kid) are dropped from `/Kids`,
/// as the page walk of [`page_ids`] skips them.
pub fn repair_page_tree(doc: &mut Document, max_depth: u32) {
    let Some(root) = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"Pages").ok())
        .and_then(|p| p.as_reference().ok())
    else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    let mut fixes = Vec::new();
    count_under(doc, root, 0, max_depth, &mut seen, &mut fixes);
    for fix in fixes {
        if let Ok(d) = doc.get_dictionary_mut(fix.id) {
            d.set("Count", fix.count);
            if let Some(kids) = fix.kids {
                d.set("Kids", Object::Array(kids));
            }
        }
    }
}

struct NodeFix {
    id: ObjectId,
    count: i64,
    /// New `/Kids` when some had to go.
    kids: Option<Vec<Object>>,
}

fn count_under(
    doc: &Document,
    id: ObjectId,
    depth: u32,
    max_depth: u32,
    seen: &mut std::collections::HashSet<ObjectId>,
    fixes: &mut Vec<NodeFix>,
) -> i64 {
    seen.insert(id);
    let Ok(node) = doc.get_dictionary(id) else {
        return 0;
    };
    let is_pages = node.get(b"Type").and_then(Object::as_name).ok() == Some(b"Pages".as_slice());
    if !is_pages {
        return 1;
    }
    let kids: Vec<Object> = match node.get(b"Kids") {
        Ok(Object::Array(k)) => k.clone(),
        _ => Vec::new(),
    };
    let mut kept = Vec::with_capacity(kids.len());
    let mut n = 0;
    for kid in &kids {
        match kid.as_reference() {
            Ok(k) if seen.contains(&k) => {}
            Ok(k) if depth < max_depth => {
                n += count_under(doc, k, depth + 1, max_depth, seen, fixes);
                kept.push(kid.clone());
            }
            _ => kept.push(kid.clone()),
        }
    }
    let kids_changed = kept.len() != kids.len();
    if kids_changed || node.get(b"Count").and_then(Object::as_i64).ok() != Some(n) {
        fixes.push(NodeFix {
            id,
            count: n,
            kids: kids_changed.then_some(kept),
        });
    }
    n
}

/// Count pages, refusing empty documents and enforcing `max_pages`.
fn count_pages(doc: &Document, ctx: &Ctx) -> Result<u32> {
    // `/Count` can lie (9999999999 in hostile files): trust only the walk,
    // which visits each object once, so its cost is bounded by the file.
    let pages = page_ids(doc);
    let n = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    Limits::ensure(LimitKind::Pages, ctx.limits.max_pages as u64, n as u64)?;
    if n == 0 {
        return Err(Error::InvalidPdf(
            "the document has no readable pages".into(),
        ));
    }
    Ok(n)
}

/// How to serialise a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Classic xref table; what most tools write. Best compatibility.
    #[default]
    Classic,
    /// Object streams + cross-reference stream (PDF 1.5): smaller.
    Compact,
}

/// Serialise `doc`, then re-open the bytes with hayro-syntax and compare the
/// page count with `expected_pages`: a mismatch is `internal_output_check`
/// and no bytes are returned.
pub fn write(
    doc: &mut Document,
    expected_pages: u32,
    mode: WriteMode,
    ctx: &Ctx,
) -> Result<Vec<u8>> {
    write_with_numbers(doc, expected_pages, mode, None, crate::deflate::LEVEL, ctx)
}

pub use crate::compact::NumberTexts;

/// The exact texts of the real numbers in `input` (see [`NumberTexts`]):
/// pass them to [`write_with_numbers`] so a rewrite changes no number.
/// Call before removing the input's object streams from `doc`.
pub fn number_texts(input: &[u8], doc: &Document, ctx: &Ctx) -> NumberTexts {
    let limit = usize::try_from(ctx.limits.max_stream_bytes).unwrap_or(usize::MAX);
    NumberTexts::scan(input, doc, limit)
}

/// [`write`], writing real numbers with their input texts in
/// [`WriteMode::Compact`] (lopdf holds them as `f32`, which rounds them) and
/// deflating its object streams at libdeflate level `level`.
pub fn write_with_numbers(
    doc: &mut Document,
    expected_pages: u32,
    mode: WriteMode,
    numbers: Option<&NumberTexts>,
    level: i32,
    ctx: &Ctx,
) -> Result<Vec<u8>> {
    ctx.check()?;
    let mut out = Vec::new();
    let res = match mode {
        WriteMode::Classic => doc.save_to(&mut out),
        // lopdf would write an encrypted document's objects in the clear
        // inside object streams, so it keeps the classic layout.
        WriteMode::Compact if doc.is_encrypted() => doc.save_to(&mut out),
        WriteMode::Compact => {
            if doc.version.as_str() < "1.5" {
                doc.version = "1.5".to_string();
            }
            out = crate::compact::write(doc, numbers, level)?;
            Ok(())
        }
    };
    res.map_err(|e| Error::Internal(format!("writing the PDF failed: {e}")))?;
    verify_output(&out, expected_pages)?;
    Ok(out)
}

/// Re-open `bytes` with a second parser and check the page count.
pub fn verify_output(bytes: &[u8], expected_pages: u32) -> Result<()> {
    let pdf = hayro_syntax::Pdf::new(bytes.to_vec()).map_err(|e| {
        Error::InternalOutputCheck(format!("the written PDF does not re-open: {e:?}"))
    })?;
    let got = pdf.pages().len();
    if got != expected_pages as usize {
        return Err(Error::InternalOutputCheck(format!(
            "the written PDF has {got} page(s), expected {expected_pages}"
        )));
    }
    Ok(())
}
