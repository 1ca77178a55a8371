//! Facts about a PDF: pages, version, encryption, producer, what takes the bytes.

use std::collections::HashSet;

use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::{Ctx, Result, document};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Info {
    pub pages: u32,
    /// The effective version: the header's, or the catalog's `/Version` when later.
    pub version: String,
    /// Whether the file is encrypted (opened with the given or an empty password).
    pub encrypted: bool,
    pub producer: Option<String>,
    pub creator: Option<String>,
    pub title: Option<String>,
    pub author: Option<String>,
    /// Size of the file.
    pub bytes: u64,
    /// Image XObjects (`/Subtype /Image` streams) and their stored sizes.
    pub images: u32,
    pub image_bytes: u64,
    /// Embedded font programs (`/FontFile`, `/FontFile2`, `/FontFile3`).
    pub fonts: u32,
    pub font_bytes: u64,
    /// Page content streams and their stored sizes.
    pub content_streams: u32,
    pub content_bytes: u64,
}

/// Describe `input`. Errors: those of `document::open` (`invalid_pdf`,
/// `encrypted`, `wrong_password`, `limit_exceeded`, `cancelled`).
pub fn info(input: &[u8], password: Option<&str>, ctx: &Ctx) -> Result<Info> {
    let opened = document::open(input, password, ctx)?;
    let doc = &opened.doc;
    let mut info = Info {
        pages: opened.page_count,
        version: effective_version(doc),
        encrypted: opened.was_encrypted,
        bytes: input.len() as u64,
        ..Info::default()
    };
    if let Some(d) = info_dict(doc) {
        let field = |key: &[u8]| {
            d.get(key)
                .ok()
                .and_then(|o| doc.dereference(o).ok())
                .and_then(|(_, o)| o.as_str().ok())
                .map(decode_text_string)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        info.producer = field(b"Producer");
        info.creator = field(b"Creator");
        info.title = field(b"Title");
        info.author = field(b"Author");
    }

    // Font programs are found through font descriptors; remember their ids.
    let mut font_files: HashSet<ObjectId> = HashSet::new();
    for (n, (_, obj)) in doc.objects.iter().enumerate() {
        if n % 512 == 0 {
            ctx.check()?;
        }
        let dict = match obj {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => continue,
        };
        for key in [&b"FontFile"[..], b"FontFile2", b"FontFile3"] {
            if let Ok(Object::Reference(id)) = dict.get(key) {
                font_files.insert(*id);
            }
        }
    }
    for (id, obj) in doc.objects.iter() {
        let Object::Stream(s) = obj else { continue };
        let len = s.content.len() as u64;
        if font_files.contains(id) {
            info.fonts += 1;
            info.font_bytes += len;
        } else if s
            .dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .is_ok_and(|n| n == b"Image")
        {
            info.images += 1;
            info.image_bytes += len;
        }
    }
    ctx.check()?;

    let mut contents: HashSet<ObjectId> = HashSet::new();
    for (_, page_id) in doc.get_pages() {
        for id in doc.get_page_contents(page_id) {
            if contents.insert(id)
                && let Ok(Object::Stream(s)) = doc.get_object(id)
            {
                info.content_streams += 1;
                info.content_bytes += s.content.len() as u64;
            }
        }
    }
    Ok(info)
}

fn info_dict(doc: &Document) -> Option<&Dictionary> {
    let o = doc.trailer.get(b"Info").ok()?;
    doc.dereference(o).ok()?.1.as_dict().ok()
}

/// The header version, or the catalog's `/Version` when it is later (PDF 1.4+
/// lets an incremental update raise the version there).
fn effective_version(doc: &Document) -> String {
    let header = doc.version.clone();
    let catalog = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"Version").ok())
        .and_then(|o| o.as_name().ok())
        .and_then(|n| std::str::from_utf8(n).ok())
        .map(str::to_string);
    match catalog {
        Some(v) if is_version(&v) && v.as_str() > header.as_str() => v,
        _ => header,
    }
}

fn is_version(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 3 && b[0].is_ascii_digit() && b[1] == b'.' && b[2].is_ascii_digit()
}

/// Decode a PDF text string: UTF-16BE or UTF-8 with a byte order mark, else
/// PDFDocEncoding.
pub fn decode_text_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    bytes.iter().map(|&b| pdfdoc_char(b)).collect()
}

/// PDFDocEncoding: Latin-1 except 0x18–0x1F and 0x80–0x9F (and 0xAD unused).
fn pdfdoc_char(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{2022}', '\u{2020}', '\u{2021}', '\u{2026}', '\u{2014}', '\u{2013}', '\u{0192}',
        '\u{2044}', '\u{2039}', '\u{203A}', '\u{2212}', '\u{2030}', '\u{201E}', '\u{201C}',
        '\u{201D}', '\u{2018}', '\u{2019}', '\u{201A}', '\u{2122}', '\u{FB01}', '\u{FB02}',
        '\u{0141}', '\u{0152}', '\u{0160}', '\u{0178}', '\u{017D}', '\u{0131}', '\u{0142}',
        '\u{0153}', '\u{0161}', '\u{017E}', '\u{FFFD}',
    ];
    const LOW: [char; 8] = [
        '\u{02D8}', '\u{02C7}', '\u{02C6}', '\u{02D9}', '\u{02DD}', '\u{02DB}', '\u{02DA}',
        '\u{02DC}',
    ];
    match b {
        0x18..=0x1F => LOW[(b - 0x18) as usize],
        0x80..=0x9F => HIGH[(b - 0x80) as usize],
        0xA0 => '\u{20AC}',
        0xAD => '\u{FFFD}',
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_strings_decode() {
        assert_eq!(decode_text_string(b"Hello"), "Hello");
        assert_eq!(
            decode_text_string(&[0xFE, 0xFF, 0x00, 0x48, 0x00, 0xE9, 0x20, 0xAC]),
            "Hé€"
        );
        assert_eq!(
            decode_text_string(&[0xEF, 0xBB, 0xBF, b'h', 0xC3, 0xA9]),
            "hé"
        );
        // PDFDocEncoding: 0x84 is an em dash, 0x85 an en dash.
        assert_eq!(
            decode_text_string(&[b'a', 0x84, b'b', 0x85, 0xE9]),
            "a\u{2014}b\u{2013}é"
        );
        // Odd trailing byte in UTF-16 is ignored, not a panic.
        assert_eq!(decode_text_string(&[0xFE, 0xFF, 0x00, 0x41, 0x00]), "A");
    }
}
