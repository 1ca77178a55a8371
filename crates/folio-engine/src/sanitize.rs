//! `--sanitize`: remove what can act on the reader's machine — JavaScript
//! (document-level name tree, open actions, additional actions, JavaScript
//! actions anywhere), launch actions, embedded files (the `EmbeddedFiles`
//! name tree, file specifications' `/EF`, file-attachment annotations) and
//! XFA forms. Pages, text, images and ordinary links stay.
//!
//! Applied to a finished output ([`sanitize_output`]): each PDF is opened with
//! [`document::open`] and written back with [`document::write`], so the usual
//! limits and output check hold, and the report says what was removed.

use lopdf::{Document, Object, ObjectId};
use std::collections::BTreeSet;

use crate::document::{self, WriteMode};
use crate::{Ctx, Output, Result};

/// What was removed, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    /// JavaScript actions and the document-level JavaScript name tree.
    pub javascript: u32,
    /// Launch actions (run a program / open a file).
    pub launch_actions: u32,
    /// Additional-action (`/AA`) dictionaries: event triggers.
    pub additional_actions: u32,
    /// Embedded file streams, `EmbeddedFiles` name trees and `/EF` entries.
    pub embedded_files: u32,
    /// File-attachment annotations.
    pub file_attachments: u32,
    /// XFA form data.
    pub xfa: u32,
}

impl Removed {
    pub fn total(&self) -> u32 {
        self.javascript
            + self.launch_actions
            + self.additional_actions
            + self.embedded_files
            + self.file_attachments
            + self.xfa
    }
}

/// Deeper nesting than this is not walked (lopdf's parser bounds it anyway).
const MAX_DEPTH: usize = 64;

fn name_of<'a>(d: &'a lopdf::Dictionary, key: &[u8]) -> Option<&'a [u8]> {
    d.get(key).ok().and_then(|o| o.as_name().ok())
}

enum Danger {
    JavaScript,
    Launch,
}

/// An action dictionary that runs code or programs.
fn dangerous_action(d: &lopdf::Dictionary) -> Option<Danger> {
    match name_of(d, b"S") {
        Some(b"JavaScript") => Some(Danger::JavaScript),
        Some(b"Launch") => Some(Danger::Launch),
        _ if d.has(b"JS") => Some(Danger::JavaScript),
        _ => None,
    }
}

fn dict_of(o: &Object) -> Option<&lopdf::Dictionary> {
    match o {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

/// Remove active content from `doc` in place.
pub fn sanitize_doc(doc: &mut Document) -> Removed {
    let mut r = Removed::default();
    // 1. Whole objects to drop: dangerous actions, embedded file streams,
    //    file-attachment annotations.
    let mut drop: BTreeSet<ObjectId> = BTreeSet::new();
    let mut attachments: BTreeSet<ObjectId> = BTreeSet::new();
    for (id, obj) in &doc.objects {
        let Some(d) = dict_of(obj) else { continue };
        if let Some(k) = dangerous_action(d) {
            match k {
                Danger::JavaScript => r.javascript += 1,
                Danger::Launch => r.launch_actions += 1,
            }
            drop.insert(*id);
        } else if name_of(d, b"Type") == Some(b"EmbeddedFile") {
            r.embedded_files += 1;
            drop.insert(*id);
        } else if name_of(d, b"Subtype") == Some(b"FileAttachment") {
            r.file_attachments += 1;
            attachments.insert(*id);
        }
    }
    drop.extend(attachments.iter().copied());
    for id in &drop {
        doc.objects.remove(id);
    }
    // 2. Entries inside the remaining objects.
    for obj in doc.objects.values_mut() {
        clean(obj, &drop, &mut r, 0);
    }
    r
}

/// Strip active entries from one object (and the objects nested in it).
fn clean(obj: &mut Object, dropped: &BTreeSet<ObjectId>, r: &mut Removed, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let d = match obj {
        Object::Dictionary(d) => d,
        Object::Stream(s) => &mut s.dict,
        Object::Array(items) => {
            for o in items.iter_mut() {
                clean(o, dropped, r, depth + 1);
            }
            return;
        }
        _ => return,
    };
    if d.remove(b"AA").is_some() {
        r.additional_actions += 1;
    }
    // Only the name dictionary has these keys.
    if d.remove(b"JavaScript").is_some() {
        r.javascript += 1;
    }
    if d.remove(b"EmbeddedFiles").is_some() {
        r.embedded_files += 1;
    }
    // Only the interactive form dictionary has /XFA.
    if d.remove(b"XFA").is_some() {
        r.xfa += 1;
        d.remove(b"NeedsRendering");
    }
    // A file specification's embedded content.
    if d.remove(b"EF").is_some() {
        r.embedded_files += 1;
        d.remove(b"RF");
    }
    for key in [&b"A"[..], b"OpenAction", b"Next"] {
        let remove = match d.get(key) {
            Ok(Object::Reference(id)) => dropped.contains(id),
            Ok(Object::Dictionary(a)) => match dangerous_action(a) {
                Some(Danger::JavaScript) => {
                    r.javascript += 1;
                    true
                }
                Some(Danger::Launch) => {
                    r.launch_actions += 1;
                    true
                }
                None => false,
            },
            // A chain of actions: drop the dangerous links below.
            _ => false,
        };
        if remove {
            d.remove(key);
        }
    }
    // Annotations that were dropped leave the page's list.
    if let Ok(Object::Array(annots)) = d.get_mut(b"Annots") {
        annots.retain(|a| !matches!(a, Object::Reference(id) if dropped.contains(id)));
        annots.retain(|a| {
            !matches!(a, Object::Dictionary(ad) if name_of(ad, b"Subtype") == Some(b"FileAttachment"))
        });
    }
    for (_, v) in d.iter_mut() {
        clean(v, dropped, r, depth + 1);
    }
}

/// Sanitize every PDF of `output` and record what was removed in its report
/// (`details.sanitized` plus a note).
pub fn sanitize_output(output: &mut Output, ctx: &Ctx) -> Result<()> {
    let mut total = Removed::default();
    for file in output
        .files
        .iter_mut()
        .filter(|f| f.media_type == crate::report::PDF)
    {
        let opened = document::open(&file.bytes, None, ctx)?;
        let mut doc = opened.doc;
        let r = sanitize_doc(&mut doc);
        total.javascript += r.javascript;
        total.launch_actions += r.launch_actions;
        total.additional_actions += r.additional_actions;
        total.embedded_files += r.embedded_files;
        total.file_attachments += r.file_attachments;
        total.xfa += r.xfa;
        if r.total() > 0 {
            file.bytes = document::write(&mut doc, opened.page_count, WriteMode::Compact, ctx)?;
        }
    }
    let report = &mut output.report;
    report.bytes_out = output.files.iter().map(|f| f.bytes.len() as u64).sum();
    report.detail(
        "sanitized",
        serde_json::to_value(total).unwrap_or(serde_json::Value::Null),
    );
    report.notes.push(if total.total() == 0 {
        "sanitize: no JavaScript, launch actions, embedded files or XFA found".into()
    } else {
        format!(
            "sanitize: removed {} JavaScript item(s), {} launch action(s), {} additional-action set(s), {} embedded file item(s), {} file attachment(s), {} XFA form(s)",
            total.javascript,
            total.launch_actions,
            total.additional_actions,
            total.embedded_files,
            total.file_attachments,
            total.xfa
        )
    });
    if total.total() > 0 {
        // The output is no longer the untouched input.
        report.kept_original = false;
    }
    Ok(())
}
