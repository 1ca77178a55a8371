//! The compact PDF serialiser behind [`crate::document::WriteMode::Compact`].
//!
//! lopdf can write object streams, but it stores the cross-reference stream
//! unfiltered (7 bytes per object: 400 KB for a 60 000-object manual) and
//! deflates object streams with zlib. This writer packs every non-stream
//! object into object streams deflated with libdeflate's strongest level (in
//! parallel), and writes a cross-reference stream with the narrowest field
//! widths, the PNG "up" predictor and the same deflate: the layout qpdf and
//! Acrobat produce, a little smaller.
//!
//! lopdf keeps real numbers as `f32`, so `604.00391` read and written back
//! becomes `604.0039`: enough to move an anti-aliased edge by a pixel. When
//! given the [`NumberTexts`] of the input, the serialiser writes each real
//! with the exact text it had in the input (when that text is unambiguous),
//! so a rewrite changes no number at all.

use std::collections::{BTreeMap, HashMap};

use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Objects per object stream. A reader inflates a whole object stream to
/// reach one member, so this trades size (bigger is better for deflate)
/// against random-access cost; qpdf uses 100.
const OBJECTS_PER_STREAM: usize = 200;

/// Gaps in the object numbering shorter than this are listed as free entries
/// rather than opening a new `/Index` subsection (which costs two numbers).
const MAX_FILLED_GAP: u32 = 16;

/// Where an object ended up.
#[derive(Clone, Copy)]
enum Entry {
    Free,
    /// Byte offset and generation of an object written at top level.
    Direct(u64, u16),
    /// Object stream number and index inside it.
    Packed(u32, u32),
}

/// Serialise `doc` with object streams and a compressed cross-reference
/// stream. The document's own `/Length` entries are ignored: each stream is
/// written with the length of its data. Object streams and the
/// cross-reference stream are deflated at libdeflate level `level` (see
/// [`crate::deflate`]).
pub fn write(doc: &Document, numbers: Option<&NumberTexts>, level: i32) -> Result<Vec<u8>> {
    let version = if doc.version.as_str() < "1.5" {
        "1.5"
    } else {
        doc.version.as_str()
    };
    let mut out: Vec<u8> = Vec::new();
    out.extend_from_slice(format!("%PDF-{version}\n").as_bytes());
    // Bytes >= 128 in a comment mark the file as binary for transfer tools.
    out.extend_from_slice(b"%\xE2\xE3\xCF\xD3\n");

    let encrypt = doc
        .trailer
        .get(b"Encrypt")
        .and_then(Object::as_reference)
        .ok();
    let mut direct: Vec<(ObjectId, &Object)> = Vec::new();
    let mut packed: Vec<(ObjectId, &Object)> = Vec::new();
    for (&id, obj) in &doc.objects {
        if is_file_structure(obj) {
            continue;
        }
        if matches!(obj, Object::Stream(_)) || id.1 != 0 || Some(id) == encrypt {
            direct.push((id, obj));
        } else {
            packed.push((id, obj));
        }
    }

    let max_id = doc.objects.keys().map(|id| id.0).max().unwrap_or(0);
    let mut next_id = max_id
        .checked_add(1)
        .ok_or_else(|| Error::Internal("object numbers exhausted".into()))?;

    // Build (and deflate) the object streams in parallel.
    let chunks: Vec<&[(ObjectId, &Object)]> = packed.chunks(OBJECTS_PER_STREAM).collect();
    if chunks.len() > 1 {
        crate::parallel::need_workers();
    }
    let streams: Vec<Vec<u8>> = chunks
        .par_iter()
        .map(|chunk| object_stream(chunk, numbers, level))
        .collect();

    let mut entries: BTreeMap<u32, Entry> = BTreeMap::new();
    for (id, obj) in &direct {
        entries.insert(id.0, Entry::Direct(out.len() as u64, id.1));
        let mut body = Vec::new();
        serialize(&mut body, obj, numbers);
        write_raw_indirect(&mut out, *id, &body);
    }
    for (chunk, stream) in chunks.iter().zip(streams) {
        let stream_id = next_id;
        next_id = next_id
            .checked_add(1)
            .ok_or_else(|| Error::Internal("object numbers exhausted".into()))?;
        for (index, (id, _)) in chunk.iter().enumerate() {
            entries.insert(id.0, Entry::Packed(stream_id, index as u32));
        }
        entries.insert(stream_id, Entry::Direct(out.len() as u64, 0));
        write_raw_indirect(&mut out, (stream_id, 0), &stream);
    }

    // The cross-reference stream is the last object.
    let xref_id = next_id;
    let xref_offset = out.len() as u64;
    entries.insert(xref_id, Entry::Direct(xref_offset, 0));
    let size = xref_id + 1;
    let xref = xref_stream(&entries, size, &doc.trailer, level)?;
    write_raw_indirect(&mut out, (xref_id, 0), &xref);
    out.extend_from_slice(format!("startxref\n{xref_offset}\n%%EOF\n").as_bytes());
    Ok(out)
}

/// Object and cross-reference streams of the input: regenerated, never copied.
fn is_file_structure(obj: &Object) -> bool {
    match obj {
        Object::Stream(s) => matches!(
            s.dict.get(b"Type").and_then(Object::as_name),
            Ok(b"ObjStm" | b"XRef")
        ),
        _ => false,
    }
}

fn write_raw_indirect(out: &mut Vec<u8>, id: ObjectId, body: &[u8]) {
    out.extend_from_slice(format!("{} {} obj\n", id.0, id.1).as_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(b"\nendobj\n");
}

/// One object's bytes; streams get their `/Length` from their data.
fn serialize(out: &mut Vec<u8>, obj: &Object, numbers: Option<&NumberTexts>) {
    match obj {
        Object::Stream(s) => {
            let mut dict = s.dict.clone();
            dict.set("Length", s.content.len() as i64);
            write_dict(out, &dict, numbers);
            out.extend_from_slice(b"stream\n");
            out.extend_from_slice(&s.content);
            out.extend_from_slice(b"\nendstream");
        }
        other => write_object(out, other, numbers),
    }
}

/// True if the object's text starts with a regular character, so a blank
/// must separate it from a preceding token that ends with one.
fn needs_separator(obj: &Object) -> bool {
    matches!(
        obj,
        Object::Null
            | Object::Boolean(_)
            | Object::Integer(_)
            | Object::Real(_)
            | Object::Reference(_)
    )
}

/// PDF syntax for one direct object (the same spelling as lopdf's writer,
/// except reals, see the module doc). Iterative nesting is not needed: the
/// parser that built the object bounds its depth.
fn write_object(out: &mut Vec<u8>, obj: &Object, numbers: Option<&NumberTexts>) {
    match obj {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Boolean(true) => out.extend_from_slice(b"true"),
        Object::Boolean(false) => out.extend_from_slice(b"false"),
        Object::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Object::Real(r) => write_real(out, *r, numbers),
        Object::Name(n) => write_name(out, n),
        Object::String(text, StringFormat::Literal) => write_literal(out, text),
        Object::String(text, StringFormat::Hexadecimal) => {
            out.push(b'<');
            for b in text {
                out.extend_from_slice(format!("{b:02X}").as_bytes());
            }
            out.push(b'>');
        }
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 && needs_separator(item) {
                    out.push(b' ');
                }
                write_object(out, item, numbers);
            }
            out.push(b']');
        }
        Object::Dictionary(d) => write_dict(out, d, numbers),
        // A stream is never a direct object; written for completeness.
        Object::Stream(_) => serialize(out, obj, numbers),
        Object::Reference(id) => out.extend_from_slice(format!("{} {} R", id.0, id.1).as_bytes()),
    }
}

fn write_dict(out: &mut Vec<u8>, d: &Dictionary, numbers: Option<&NumberTexts>) {
    out.extend_from_slice(b"<<");
    for (k, v) in d.iter() {
        write_name(out, k);
        if needs_separator(v) {
            out.push(b' ');
        }
        write_object(out, v, numbers);
    }
    out.extend_from_slice(b">>");
}

fn write_real(out: &mut Vec<u8>, r: f32, numbers: Option<&NumberTexts>) {
    if let Some(text) = numbers.and_then(|n| n.text_for(r)) {
        out.extend_from_slice(text);
        return;
    }
    if !r.is_finite() {
        // PDF has no spelling for NaN or infinity.
        out.push(b'0');
        return;
    }
    let text = r.to_string();
    out.extend_from_slice(text.as_bytes());
    if !text.contains('.') {
        // Keep it a real: `2` would read back as an integer.
        out.extend_from_slice(b".0");
    }
}

fn write_name(out: &mut Vec<u8>, name: &[u8]) {
    out.push(b'/');
    for &b in name {
        if b" \t\n\r\x0C()<>[]{}/%#".contains(&b) || !(33..=126).contains(&b) {
            out.extend_from_slice(format!("#{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
}

/// A literal string: backslashes, carriage returns and unbalanced
/// parentheses are escaped; everything else is written as it is.
fn write_literal(out: &mut Vec<u8>, text: &[u8]) {
    let mut escape = vec![false; text.len()];
    let mut open: Vec<usize> = Vec::new();
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'(' => open.push(i),
            b')' => {
                if open.pop().is_none()
                    && let Some(e) = escape.get_mut(i)
                {
                    *e = true;
                }
            }
            b'\\' | b'\r' => {
                if let Some(e) = escape.get_mut(i) {
                    *e = true;
                }
            }
            _ => {}
        }
    }
    for i in open {
        if let Some(e) = escape.get_mut(i) {
            *e = true;
        }
    }
    out.push(b'(');
    for (&b, &esc) in text.iter().zip(&escape) {
        if esc {
            out.push(b'\\');
            out.push(if b == b'\r' { b'r' } else { b });
        } else {
            out.push(b);
        }
    }
    out.push(b')');
}

/// The exact `f64` bits of a number and its shortest text in the input.
type NumberText = (u64, Box<[u8]>);

/// The texts of the real numbers of an input file, by their `f32` value.
///
/// Built by scanning the raw file and its decoded object streams for numeric
/// tokens. A value whose tokens disagree (two texts that round to the same
/// `f32` but are different numbers) has no entry and is written from the
/// `f32`: stray tokens from binary data can make an entry ambiguous, never
/// wrong, since any text kept rounds to the very `f32` lopdf holds.
#[derive(Debug, Default, Clone)]
pub struct NumberTexts {
    /// `f32` bits → (the exact `f64` bits, text), or `None` when ambiguous.
    map: HashMap<u32, Option<NumberText>>,
}

impl NumberTexts {
    /// Scan `input` and the object streams of `doc` (each decoded within
    /// `max_stream_bytes`).
    pub fn scan(input: &[u8], doc: &Document, max_stream_bytes: usize) -> Self {
        let mut t = NumberTexts::default();
        t.add_tokens(input);
        for obj in doc.objects.values() {
            if let Object::Stream(s) = obj
                && matches!(s.dict.get(b"Type").and_then(Object::as_name), Ok(b"ObjStm"))
                && let Ok(data) = s.decompressed_content_with_limit(max_stream_bytes)
            {
                t.add_tokens(&data);
            }
        }
        t
    }

    fn text_for(&self, r: f32) -> Option<&[u8]> {
        match self.map.get(&r.to_bits()) {
            Some(Some((_, text))) => Some(text),
            _ => None,
        }
    }

    /// Record every token that looks like a real number (`-1.5`, `.25`, `3.`).
    fn add_tokens(&mut self, bytes: &[u8]) {
        for tok in real_tokens(bytes) {
            let Some(v) = std::str::from_utf8(tok)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
            else {
                continue;
            };
            if !v.is_finite() {
                continue;
            }
            let key = (v as f32).to_bits();
            let bits = v.to_bits();
            match self.map.get_mut(&key) {
                None => {
                    self.map.insert(key, Some((bits, tok.into())));
                }
                Some(Some((b, text))) => {
                    if *b != bits {
                        self.map.insert(key, None);
                    } else if tok.len() < text.len() {
                        *text = tok.into();
                    }
                }
                Some(None) => {}
            }
        }
    }
}

/// The tokens of `bytes` that may be real numbers: maximal runs of
/// `0-9 . + -` that hold a dot, are at most 40 bytes long, and have no
/// regular character (anything but whitespace and delimiters) on either side.
///
/// Every real has a dot, so the search jumps from dot to dot (`memchr`)
/// instead of classifying every byte: most of an input is binary stream data,
/// where dots are rare.
fn real_tokens(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut done = 0; // bytes before this belong to runs already looked at
    memchr::memchr_iter(b'.', bytes).filter_map(move |dot| {
        if dot < done {
            return None;
        }
        let start = bytes[..dot]
            .iter()
            .rposition(|&b| !is_number_char(b))
            .map_or(0, |p| p + 1);
        let end = bytes[dot..]
            .iter()
            .position(|&b| !is_number_char(b))
            .map_or(bytes.len(), |p| dot + p);
        done = end;
        let before_ok = start == 0 || !is_regular(bytes[start - 1]);
        let after_ok = end == bytes.len() || !is_regular(bytes[end]);
        (before_ok && after_ok && end - start <= 40).then(|| &bytes[start..end])
    })
}

fn is_number_char(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'.' | b'-' | b'+')
}

/// Not whitespace, NUL or a delimiter (PDF 32000-1 7.2.2).
fn is_regular(b: u8) -> bool {
    !(b.is_ascii_whitespace() || b == 0 || b"()<>[]{}/%".contains(&b))
}

/// A complete object stream object body (dictionary + data) for `members`.
fn object_stream(
    members: &[(ObjectId, &Object)],
    numbers: Option<&NumberTexts>,
    level: i32,
) -> Vec<u8> {
    let mut table = String::new();
    let mut body: Vec<u8> = Vec::new();
    for (id, obj) in members {
        if !body.is_empty() {
            // One blank between members keeps adjacent tokens apart.
            body.push(b' ');
        }
        table.push_str(&format!("{} {} ", id.0, body.len()));
        write_object(&mut body, obj, numbers);
    }
    let first = table.len();
    let mut data = table.into_bytes();
    data.extend_from_slice(&body);
    let (content, filtered) = match crate::deflate::zlib_at(&data, level) {
        Some(c) => (c, true),
        None => (data, false),
    };
    let mut dict = Dictionary::new();
    dict.set("Type", Object::Name(b"ObjStm".to_vec()));
    dict.set("N", members.len() as i64);
    dict.set("First", first as i64);
    if filtered {
        dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    }
    let mut out = Vec::with_capacity(content.len() + 64);
    serialize(
        &mut out,
        &Object::Stream(lopdf::Stream::new(dict, content)),
        None,
    );
    out
}

/// Bytes needed to store `v` big-endian (at least one).
fn width(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(8).max(1)
}

/// The cross-reference stream object body for `entries` (which must include
/// the stream itself), with the document trailer's own keys merged in.
fn xref_stream(
    entries: &BTreeMap<u32, Entry>,
    size: u32,
    trailer: &Dictionary,
    level: i32,
) -> Result<Vec<u8>> {
    // Field widths from the largest values.
    let (mut max2, mut max3) = (0u64, 0u64);
    for e in entries.values() {
        match *e {
            Entry::Free => {}
            Entry::Direct(off, generation) => {
                max2 = max2.max(off);
                max3 = max3.max(u64::from(generation));
            }
            Entry::Packed(stm, idx) => {
                max2 = max2.max(u64::from(stm));
                max3 = max3.max(u64::from(idx));
            }
        }
    }
    // Object 0 is free with generation 65535.
    max3 = max3.max(65535);
    let (w2, w3) = (width(max2), width(max3));
    let row = 1 + w2 + w3;

    // Subsections: runs of present ids, small gaps filled with free entries.
    let mut sections: Vec<(u32, Vec<(u32, Entry)>)> = vec![(0, vec![(0, Entry::Free)])];
    for (&id, &e) in entries.range(1..) {
        let Some(last) = sections.last_mut() else {
            continue;
        };
        let next = last.0 + last.1.len() as u32;
        if id >= next && id - next < MAX_FILLED_GAP {
            for gap in next..id {
                last.1.push((gap, Entry::Free));
            }
            last.1.push((id, e));
        } else {
            sections.push((id, vec![(id, e)]));
        }
    }

    let mut rows: Vec<u8> = Vec::new();
    let mut index: Vec<Object> = Vec::new();
    for (start, list) in &sections {
        index.push(Object::Integer(i64::from(*start)));
        index.push(Object::Integer(list.len() as i64));
        for (id, e) in list {
            let (t, f2, f3) = match *e {
                Entry::Free if *id == 0 => (0u8, 0u64, 65535u64),
                Entry::Free => (0, 0, 0),
                Entry::Direct(off, generation) => (1, off, u64::from(generation)),
                Entry::Packed(stm, idx) => (2, u64::from(stm), u64::from(idx)),
            };
            rows.push(t);
            rows.extend_from_slice(&f2.to_be_bytes()[8 - w2..]);
            rows.extend_from_slice(&f3.to_be_bytes()[8 - w3..]);
        }
    }

    // PNG "up" predictor: each row is stored as its difference from the row
    // above, which turns the slowly growing offsets into runs of small bytes.
    let mut predicted = Vec::with_capacity(rows.len() + rows.len() / row + 1);
    let mut prev = vec![0u8; row];
    for r in rows.chunks(row) {
        predicted.push(2);
        for (i, &b) in r.iter().enumerate() {
            predicted.push(b.wrapping_sub(prev.get(i).copied().unwrap_or(0)));
        }
        prev.clear();
        prev.extend_from_slice(r);
    }
    let content = crate::deflate::zlib_at(&predicted, level)
        .ok_or_else(|| Error::Internal("deflating the cross-reference stream failed".into()))?;

    let mut dict = Dictionary::new();
    dict.set("Type", Object::Name(b"XRef".to_vec()));
    dict.set("Size", i64::from(size));
    dict.set(
        "W",
        Object::Array(vec![
            Object::Integer(1),
            Object::Integer(w2 as i64),
            Object::Integer(w3 as i64),
        ]),
    );
    if !(sections.len() == 1 && sections[0].1.len() as u32 == size) {
        dict.set("Index", Object::Array(index));
    }
    dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
    let mut parms = Dictionary::new();
    parms.set("Columns", row as i64);
    parms.set("Predictor", 12);
    dict.set("DecodeParms", Object::Dictionary(parms));
    for (k, v) in trailer.iter() {
        if !matches!(
            k.as_slice(),
            b"Size"
                | b"Prev"
                | b"XRefStm"
                | b"Type"
                | b"W"
                | b"Index"
                | b"Filter"
                | b"DecodeParms"
                | b"Length"
                | b"DL"
        ) {
            dict.set(k.clone(), v.clone());
        }
    }
    let mut out = Vec::new();
    serialize(
        &mut out,
        &Object::Stream(lopdf::Stream::new(dict, content)),
        None,
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::dictionary;

    #[test]
    fn lopdf_reads_back_what_we_write() {
        let mut doc = Document::with_version("1.4");
        let pages_id = doc.new_object_id();
        let content = doc.add_object(lopdf::Stream::new(
            dictionary! {},
            b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET".to_vec(),
        ));
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            "Contents" => content,
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1,
            }),
        );
        // A gap in the numbering, to exercise `/Index`.
        doc.objects.insert((900, 0), Object::Integer(7));
        let root = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", root);
        let bytes = write(&doc, None, crate::deflate::LEVEL).unwrap();
        let back = Document::load_mem(&bytes).unwrap();
        assert_eq!(back.get_pages().len(), 1);
        assert_eq!(back.get_object((900, 0)).unwrap().as_i64().unwrap(), 7);
        let s = back.get_object(content).unwrap().as_stream().unwrap();
        assert_eq!(s.content, b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET");
        assert!(bytes.starts_with(b"%PDF-1.5"));
    }

    #[test]
    fn strings_names_and_numbers_survive_a_round_trip() {
        let tricky: Vec<u8> = b"a(b))c\\d\re(f".to_vec();
        let mut doc = Document::with_version("1.7");
        let id = doc.add_object(dictionary! {
            "S" => Object::String(tricky.clone(), StringFormat::Literal),
            "H" => Object::String(vec![0, 255, 16], StringFormat::Hexadecimal),
            "N" => Object::Name(b"A B#/".to_vec()),
            "R" => Object::Array(vec![Object::Real(604.003_9), Object::Real(-0.25), Object::Integer(3)]),
        });
        let root = doc.add_object(dictionary! { "Type" => "Catalog", "X" => id });
        doc.trailer.set("Root", root);
        let numbers = {
            let mut n = NumberTexts::default();
            n.add_tokens(b"[604.00391 -.25 3]");
            n
        };
        let bytes = write(&doc, Some(&numbers), crate::deflate::LEVEL).unwrap();
        let back = Document::load_mem(&bytes).unwrap();
        let d = back.get_dictionary(id).unwrap();
        assert_eq!(d.get(b"S").unwrap().as_str().unwrap(), tricky.as_slice());
        assert_eq!(d.get(b"H").unwrap().as_str().unwrap(), &[0, 255, 16]);
        assert_eq!(d.get(b"N").unwrap().as_name().unwrap(), b"A B#/");
        // The reals are written with their input texts, not the f32's.
        let mut plain = Vec::new();
        write_object(&mut plain, d.get(b"R").unwrap(), Some(&numbers));
        assert_eq!(plain, b"[604.00391 -.25 3]");
        let mut plain = Vec::new();
        write_object(&mut plain, d.get(b"R").unwrap(), None);
        assert_eq!(plain, b"[604.0039 -0.25 3]");
    }

    #[test]
    fn ambiguous_number_texts_fall_back_to_the_f32() {
        let mut n = NumberTexts::default();
        // Two different numbers that round to the same f32.
        n.add_tokens(b"0.1 0.10000000001 x/2.5 7.25");
        assert_eq!(n.text_for(0.1), None);
        // "x/2.5": the token starts after a delimiter, so it counts.
        assert_eq!(n.text_for(2.5), Some(&b"2.5"[..]));
        assert_eq!(n.text_for(7.25), Some(&b"7.25"[..]));
        // Inside a word: not a token.
        let mut m = NumberTexts::default();
        m.add_tokens(b"abc1.5 1.5x");
        assert_eq!(m.text_for(1.5), None);
    }

    /// The byte-by-byte scan `real_tokens` replaced: every position that
    /// follows a delimiter starts a run of number characters.
    fn tokens_byte_by_byte(bytes: &[u8]) -> Vec<&[u8]> {
        let mut found = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            if start > 0 && is_regular(bytes[start - 1]) {
                i += 1;
                continue;
            }
            let mut j = start;
            while j < bytes.len() && is_number_char(bytes[j]) {
                j += 1;
            }
            if j == start {
                i += 1;
                continue;
            }
            i = j;
            if j < bytes.len() && is_regular(bytes[j]) {
                continue;
            }
            let tok = &bytes[start..j];
            if tok.contains(&b'.') && tok.len() <= 40 {
                found.push(tok);
            }
        }
        found
    }

    #[test]
    fn dot_search_finds_the_tokens_a_byte_scan_finds() {
        // Random strings over an alphabet dense in number characters,
        // delimiters and letters, then runs around the 40-byte limit.
        let alphabet = b"0123456789..--++  \n/[]()<>ax%\0";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..2000 {
            let s: Vec<u8> = (0..len % 97)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let fast: Vec<&[u8]> = real_tokens(&s).collect();
            assert_eq!(
                fast,
                tokens_byte_by_byte(&s),
                "input {:?}",
                String::from_utf8_lossy(&s)
            );
        }
        let long = [
            b"1".repeat(39),
            b".".to_vec(),
            b" 1".repeat(3),
            b"1.".repeat(30),
        ]
        .concat();
        assert_eq!(
            real_tokens(&long).collect::<Vec<_>>(),
            tokens_byte_by_byte(&long)
        );
    }

    #[test]
    fn widths() {
        assert_eq!(width(0), 1);
        assert_eq!(width(255), 1);
        assert_eq!(width(256), 2);
        assert_eq!(width(70_000), 3);
    }
}
