//! Merge several PDFs into one, keeping outlines, links and form fields.
//!
//! lopdf's own merge example drops outlines, named destinations and forms, so
//! the merger is written here. Each input is opened, its objects are moved
//! into one id space (fresh ids, generation 0; references to objects that do
//! not exist become `null` so they cannot land on another input's objects),
//! then document-level structures are rebuilt:
//!
//! - one flat page tree, pages in argument order, inherited attributes
//!   (Resources, MediaBox, CropBox, Rotate) copied onto each page;
//! - one outline: a top-level item per input (its name, pointing to its first
//!   page) holding that input's outline, with links and counts recomputed;
//! - one `/Dests` name tree (old-style `/Dests` dictionaries folded in);
//!   colliding names are renamed and that input's links/outlines rewritten;
//! - one AcroForm: fields concatenated, colliding top-level names renamed,
//!   `/DR` merged, XFA dropped;
//! - byte-identical streams (fonts, images, ...) stored once.
//!
//! Tagged structure (`/StructTreeRoot`) cannot be merged without renumbering
//! every page's structure keys, so it is dropped, with a note.

use std::collections::{BTreeMap, HashMap, HashSet};

use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};
use sha2::{Digest, Sha256};

use crate::document::{self, WriteMode};
use crate::error::LimitKind;
use crate::limits::Limits;
use crate::report::{self, OutputFile, Report};
use crate::{Ctx, Error, Input, Output, Result};

#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Password tried on every encrypted input.
    pub password: Option<String>,
}

/// Merge `inputs` in order into one PDF.
///
/// Errors: `invalid_options` (no input), `limit_exceeded` (sizes, number of
/// inputs, total pages), and any error of [`document::open`] wrapped with the
/// input it came from ([`Error::Input`], same code).
pub fn merge(inputs: &[Input<'_>], opts: &MergeOptions, ctx: &Ctx) -> Result<Output> {
    if inputs.is_empty() {
        return Err(Error::InvalidOptions(
            "merge needs at least one input PDF".into(),
        ));
    }
    ctx.limits
        .check_inputs(inputs.iter().map(|i| i.bytes.len()))?;

    let mut report = Report::new("merge");
    report.inputs = inputs.len();
    report.bytes_in = inputs.iter().map(|i| i.bytes.len() as u64).sum();

    let mut m = Merger::new(ctx);
    let mut total_pages: u64 = 0;
    let n = inputs.len() as f32;
    for (idx, input) in inputs.iter().enumerate() {
        ctx.check()?;
        let opened = document::open(input.bytes, opts.password.as_deref(), ctx)
            .map_err(|e| e.in_input(idx, input.name))?;
        let page_ids = page_list(&opened.doc, ctx).map_err(|e| e.in_input(idx, input.name))?;
        total_pages += page_ids.len() as u64;
        Limits::ensure(
            LimitKind::Pages,
            u64::from(ctx.limits.max_pages),
            total_pages,
        )?;
        m.id_hash.update(input.bytes);
        if opened.was_encrypted {
            m.decrypted += 1;
        }
        m.add(idx, input.name, opened.doc, &page_ids)
            .map_err(|e| e.in_input(idx, input.name))?;
        ctx.progress(0.7 * (idx as f32 + 1.0) / n);
    }
    let pages = u32::try_from(total_pages)
        .map_err(|_| Error::limit(LimitKind::Pages, u64::from(u32::MAX), total_pages))?;
    let mut doc = m.finish(&mut report)?;
    ctx.progress(0.85);
    let bytes = document::write(&mut doc, pages, WriteMode::Compact, ctx)?;
    ctx.progress(1.0);
    report.pages_in = pages;
    report.pages_out = pages;
    Ok(Output::single(
        OutputFile {
            name: "merged.pdf".into(),
            media_type: report::PDF,
            bytes,
        },
        report,
        ctx,
    ))
}

type Objects = BTreeMap<ObjectId, Object>;

/// The document's pages in order. Like lopdf's page iterator (which
/// `document::open` counts with), an unreadable kid counts as a (blank) page,
/// as viewers show it; unlike it, a page-tree node met a second time (a loop)
/// is skipped instead of yielding its pages again. A page object listed twice
/// stays twice.
fn page_list(doc: &Document, ctx: &Ctx) -> Result<Vec<ObjectId>> {
    let root = doc
        .catalog()
        .ok()
        .and_then(|c| key_ref(c, b"Pages"))
        .ok_or_else(|| Error::InvalidPdf("the catalog has no page tree".into()))?;
    let mut out = Vec::new();
    let mut seen_nodes = HashSet::from([root]);
    let mut budget = doc.objects.len().saturating_add(16);
    // Each stack entry: the kids left to visit at one tree level.
    let kids_of = |id: ObjectId| -> &[Object] {
        doc.objects
            .get(&id)
            .and_then(|o| match o {
                Object::Dictionary(d) => key_array(&doc.objects, d, b"Kids"),
                _ => None,
            })
            .unwrap_or(&[])
    };
    let mut stack: Vec<&[Object]> = vec![kids_of(root)];
    while let Some(level) = stack.last_mut() {
        let Some((kid, rest)) = level.split_first() else {
            stack.pop();
            continue;
        };
        *level = rest;
        budget = budget.saturating_sub(1);
        if budget == 0 {
            break;
        }
        let Object::Reference(id) = kid else { continue };
        let node = match doc.objects.get(id) {
            Some(Object::Dictionary(d)) => match d.get(b"Type") {
                Ok(Object::Name(t)) => t == b"Pages",
                // Untyped: a node if it has kids, else a page.
                _ => d.has(b"Kids") && !d.has(b"Contents"),
            },
            _ => false,
        };
        if node {
            if seen_nodes.insert(*id) && stack.len() < ctx.limits.max_depth as usize {
                stack.push(kids_of(*id));
            }
            continue;
        }
        if matches!(doc.objects.get(id), Some(Object::Dictionary(d)) if !d.has_type(b"Page") && d.has(b"Type"))
        {
            // Some other typed object in /Kids: lopdf skips it too.
            continue;
        }
        out.push(*id);
        if out.len() % 1024 == 0 {
            ctx.check()?;
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidPdf(
            "the document has no readable pages".into(),
        ));
    }
    Ok(out)
}

static NULL: Object = Object::Null;

/// How many references are followed before giving up (reference chains).
const DEREF_HOPS: usize = 32;
/// Deepest direct-object nesting rewritten; lopdf's parser stops at 100.
const MAX_NESTING: usize = 128;
/// Rounds of deduplication: a round can make more objects equal (a font
/// whose font file was just shared), a few rounds reach the fixpoint.
const DEDUP_ROUNDS: usize = 12;

/// Follow references to the object they name; `null` when dangling.
fn deref<'a>(objs: &'a Objects, mut o: &'a Object) -> &'a Object {
    for _ in 0..DEREF_HOPS {
        match o {
            Object::Reference(id) => match objs.get(id) {
                Some(x) => o = x,
                None => return &NULL,
            },
            other => return other,
        }
    }
    &NULL
}

fn as_dict<'a>(objs: &'a Objects, o: &'a Object) -> Option<&'a Dictionary> {
    match deref(objs, o) {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

fn as_array<'a>(objs: &'a Objects, o: &'a Object) -> Option<&'a [Object]> {
    match deref(objs, o) {
        Object::Array(a) => Some(a),
        _ => None,
    }
}

fn key<'a>(objs: &'a Objects, d: &'a Dictionary, k: &[u8]) -> &'a Object {
    match d.get(k) {
        Ok(o) => deref(objs, o),
        Err(_) => &NULL,
    }
}

fn key_dict<'a>(objs: &'a Objects, d: &'a Dictionary, k: &[u8]) -> Option<&'a Dictionary> {
    d.get(k).ok().and_then(|o| as_dict(objs, o))
}

fn key_array<'a>(objs: &'a Objects, d: &'a Dictionary, k: &[u8]) -> Option<&'a [Object]> {
    d.get(k).ok().and_then(|o| as_array(objs, o))
}

fn key_ref(d: &Dictionary, k: &[u8]) -> Option<ObjectId> {
    match d.get(k) {
        Ok(Object::Reference(id)) => Some(*id),
        _ => None,
    }
}

fn dict_of(objs: &Objects, id: ObjectId) -> Option<&Dictionary> {
    match objs.get(&id) {
        Some(Object::Dictionary(d)) => Some(d),
        _ => None,
    }
}

fn dict_of_mut(objs: &mut Objects, id: ObjectId) -> Option<&mut Dictionary> {
    match objs.get_mut(&id) {
        Some(Object::Dictionary(d)) => Some(d),
        _ => None,
    }
}

fn int(o: &Object) -> Option<i64> {
    match o {
        Object::Integer(i) => Some(*i),
        Object::Real(r) if r.is_finite() => Some(*r as i64),
        _ => None,
    }
}

/// Rewrite every reference in `o` through `map`; references `map` lacks
/// become `null` when `dangling_to_null`, else stay.
fn remap(o: &mut Object, map: &HashMap<ObjectId, ObjectId>, dangling_to_null: bool, depth: usize) {
    if depth > MAX_NESTING {
        *o = Object::Null;
        return;
    }
    match o {
        Object::Reference(id) => match map.get(id) {
            Some(new) => *id = *new,
            None if dangling_to_null => *o = Object::Null,
            None => {}
        },
        Object::Array(a) => {
            for x in a {
                remap(x, map, dangling_to_null, depth + 1);
            }
        }
        Object::Dictionary(d) => remap_dict(d, map, dangling_to_null, depth + 1),
        Object::Stream(s) => remap_dict(&mut s.dict, map, dangling_to_null, depth + 1),
        _ => {}
    }
}

fn remap_dict(
    d: &mut Dictionary,
    map: &HashMap<ObjectId, ObjectId>,
    dangling_to_null: bool,
    depth: usize,
) {
    for (_, v) in d.iter_mut() {
        remap(v, map, dangling_to_null, depth);
    }
}

/// A text string for a title: PDFDocEncoding when ASCII, else UTF-16BE.
fn text(s: &str) -> Object {
    lopdf::text_string(s)
}

/// `suffix` appended to a PDF text string, keeping its encoding (UTF-16BE
/// with BOM, or bytes).
fn append_text(raw: &[u8], suffix: &str) -> Vec<u8> {
    let mut out = raw.to_vec();
    if raw.starts_with(b"\xFE\xFF") {
        for u in suffix.encode_utf16() {
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else {
        out.extend_from_slice(suffix.as_bytes());
    }
    out
}

/// `prefix` put in front of a PDF byte/text string, after a UTF-16BE BOM.
fn prepend_text(raw: &[u8], prefix: &str) -> Vec<u8> {
    if let Some(rest) = raw.strip_prefix(b"\xFE\xFF") {
        let mut out = b"\xFE\xFF".to_vec();
        for u in prefix.encode_utf16() {
            out.extend_from_slice(&u.to_be_bytes());
        }
        out.extend_from_slice(rest);
        out
    } else {
        let mut out = prefix.as_bytes().to_vec();
        out.extend_from_slice(raw);
        out
    }
}

fn decode_text(o: &Object) -> Option<String> {
    lopdf::decode_text_string(o).ok().or_else(|| match o {
        Object::String(s, _) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
    })
}

/// Parse a PDF version such as `1.7` for comparison.
fn version_key(v: &str) -> (u32, u32) {
    let mut it = v.trim().split('.');
    let major = it.next().and_then(|x| x.parse().ok()).unwrap_or(1);
    let minor = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// Named-destination renames for one input: keys of its `/Dests` name tree
/// (byte strings) and of its old-style `/Dests` dictionary (names) mapped to
/// the key they have in the merged name tree.
#[derive(Default)]
struct DestRenames {
    strings: HashMap<Vec<u8>, Vec<u8>>,
    names: HashMap<Vec<u8>, Vec<u8>>,
}

impl DestRenames {
    fn is_empty(&self) -> bool {
        self.strings.is_empty() && self.names.is_empty()
    }

    /// Rewrite a destination value (`/Dest` or a GoTo `/D`) naming a
    /// destination. Names become byte strings: the merged file has only the
    /// name tree, which strings address.
    fn rewrite(&self, v: &mut Object) -> bool {
        let new = match v {
            Object::String(s, _) => self.strings.get(s.as_slice()),
            Object::Name(n) => self
                .names
                .get(n.as_slice())
                .or_else(|| self.strings.get(n.as_slice())),
            _ => None,
        };
        match new {
            Some(n) => {
                *v = Object::String(n.clone(), StringFormat::Literal);
                true
            }
            None => false,
        }
    }
}

/// Rewrite the destination of a GoTo action held directly in `a`, and follow
/// its `/Next` chain: direct actions are rewritten here, referenced ones are
/// returned for the caller.
fn rewrite_action(
    a: &mut Dictionary,
    r: &DestRenames,
    depth: usize,
    later: &mut Vec<ObjectId>,
) -> usize {
    let mut n = 0;
    if matches!(a.get(b"S"), Ok(Object::Name(s)) if s == b"GoTo")
        && let Ok(d) = a.get_mut(b"D")
        && r.rewrite(d)
    {
        n += 1;
    }
    if depth > 8 {
        return n;
    }
    if let Ok(next) = a.get_mut(b"Next") {
        let items: Vec<&mut Object> = match next {
            Object::Array(arr) => arr.iter_mut().collect(),
            other => vec![other],
        };
        for item in items {
            match item {
                Object::Dictionary(d) => n += rewrite_action(d, r, depth + 1, later),
                Object::Reference(id) => later.push(*id),
                _ => {}
            }
        }
    }
    n
}

/// Rewrite `/Dest` and `/A` of an annotation or outline item.
fn rewrite_dests_in(d: &mut Dictionary, r: &DestRenames, later: &mut Vec<ObjectId>) -> usize {
    let mut n = 0;
    if let Ok(dest) = d.get_mut(b"Dest")
        && r.rewrite(dest)
    {
        n += 1;
    }
    match d.get_mut(b"A") {
        Ok(Object::Dictionary(a)) => n += rewrite_action(a, r, 0, later),
        Ok(Object::Reference(id)) => later.push(*id),
        _ => {}
    }
    n
}

/// Insert `key` into a merged name tree, prefixing it with the input number
/// when it is taken. Returns the key used.
fn insert_unique(
    tree: &mut BTreeMap<Vec<u8>, Object>,
    key: Vec<u8>,
    value: Object,
    idx: usize,
) -> Vec<u8> {
    if !tree.contains_key(&key) {
        tree.insert(key.clone(), value);
        return key;
    }
    let mut k = 0usize;
    loop {
        let prefix = if k == 0 {
            format!("{}_", idx + 1)
        } else {
            format!("{}_{}_", idx + 1, k)
        };
        let cand = prepend_text(&key, &prefix);
        if !tree.contains_key(&cand) {
            tree.insert(cand.clone(), value);
            return cand;
        }
        k += 1;
    }
}

/// The AcroForm being built.
#[derive(Default)]
struct Form {
    fields: Vec<Object>,
    /// Top-level partial names (the first component of every fully-qualified
    /// name) used by earlier inputs.
    names: HashSet<String>,
    dr: Dictionary,
    da: Option<Object>,
    q: Option<Object>,
    need_appearances: bool,
    sig_flags: i64,
    co: Vec<Object>,
}

/// Optional content (layers) being built.
#[derive(Default)]
struct Oc {
    ocgs: Vec<Object>,
    d: Option<Dictionary>,
}

struct Merger<'c> {
    ctx: &'c Ctx,
    objects: Objects,
    next_id: u32,
    catalog_id: ObjectId,
    pages_id: ObjectId,
    outlines_id: ObjectId,
    kids: Vec<Object>,
    /// One top-level outline item per input.
    outline_items: Vec<ObjectId>,
    dests: BTreeMap<Vec<u8>, Object>,
    /// Other name trees (EmbeddedFiles, JavaScript...), by category.
    name_trees: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Object>>,
    form: Option<Form>,
    oc: Option<Oc>,
    /// Page labels per input: (first page index, entries relative to the input).
    labels: Vec<(i64, Vec<(i64, Object)>)>,
    pages_so_far: i64,
    info: Option<Dictionary>,
    catalog_extras: Vec<(Vec<u8>, Object)>,
    version: String,
    decrypted: usize,
    /// Hash of every input's bytes, for the trailer's /ID.
    id_hash: Sha256,
    // What was done, for the report.
    xfa_dropped: usize,
    struct_dropped: usize,
    signed: usize,
    xmp_dropped: bool,
    blank_pages: usize,
    renamed_dests: usize,
    renamed_fields: usize,
    rewritten_links: usize,
    outline_items_kept: usize,
}

impl<'c> Merger<'c> {
    fn new(ctx: &'c Ctx) -> Self {
        Merger {
            ctx,
            objects: Objects::new(),
            next_id: 4,
            catalog_id: (1, 0),
            pages_id: (2, 0),
            outlines_id: (3, 0),
            kids: Vec::new(),
            outline_items: Vec::new(),
            dests: BTreeMap::new(),
            name_trees: BTreeMap::new(),
            form: None,
            oc: None,
            labels: Vec::new(),
            pages_so_far: 0,
            info: None,
            catalog_extras: Vec::new(),
            version: "1.5".into(),
            decrypted: 0,
            id_hash: Sha256::new(),
            xfa_dropped: 0,
            struct_dropped: 0,
            signed: 0,
            xmp_dropped: false,
            blank_pages: 0,
            renamed_dests: 0,
            renamed_fields: 0,
            rewritten_links: 0,
            outline_items_kept: 0,
        }
    }

    fn fresh_id(&mut self) -> Result<ObjectId> {
        let id = self.next_id;
        // Unreachable in practice (memory runs out first), but ids must not wrap.
        self.next_id = id
            .checked_add(1)
            .ok_or_else(|| Error::Internal("object numbers exhausted".into()))?;
        Ok((id, 0))
    }

    fn add_object(&mut self, o: Object) -> Result<ObjectId> {
        let id = self.fresh_id()?;
        self.objects.insert(id, o);
        Ok(id)
    }

    /// Move one input in.
    fn add(&mut self, idx: usize, name: &str, doc: Document, page_ids: &[ObjectId]) -> Result<()> {
        let (trailer, map) = self.absorb(doc)?;
        let catalog = trailer
            .get(b"Root")
            .ok()
            .and_then(|o| as_dict(&self.objects, o))
            .cloned()
            .ok_or_else(|| Error::InvalidPdf("no document catalog".into()))?;

        if let Some(cv) = catalog_version(&catalog)
            && version_key(&cv) > version_key(&self.version)
        {
            self.version = cv;
        }

        let pages = self.take_pages(page_ids, &map)?;
        let first_page = *pages
            .first()
            .ok_or_else(|| Error::InvalidPdf("the document has no readable pages".into()))?;

        let renames = self.merge_names(idx, &catalog)?;
        if !renames.is_empty() {
            self.rewrite_page_links(&pages, &renames);
        }
        let item = self.add_outline(name, first_page, &catalog, &renames)?;
        self.outline_items.push(item);
        self.merge_form(&catalog)?;
        self.merge_oc(&catalog);
        self.collect_labels(&catalog, pages.len());

        if catalog.has(b"StructTreeRoot") {
            self.struct_dropped += 1;
        }
        if idx == 0 {
            self.info = trailer
                .get(b"Info")
                .ok()
                .and_then(|o| as_dict(&self.objects, o))
                .cloned();
            for k in [
                &b"Metadata"[..],
                b"Lang",
                b"ViewerPreferences",
                b"PageLayout",
                b"OutputIntents",
                b"Extensions",
            ] {
                if let Ok(v) = catalog.get(k) {
                    if k == b"Metadata" && claims_conformance(&self.objects, v, self.ctx) {
                        // The merged file no longer meets it (tags dropped,
                        // other inputs, /Info and XMP out of sync): a false
                        // PDF/A or PDF/UA claim is worse than none.
                        self.xmp_dropped = true;
                        continue;
                    }
                    self.catalog_extras.push((k.to_vec(), v.clone()));
                }
            }
        }
        self.pages_so_far += pages.len() as i64;
        Ok(())
    }

    /// Move `doc`'s objects into the merged id space. Returns the input's
    /// trailer (references rewritten) and the old → new id map.
    fn absorb(&mut self, doc: Document) -> Result<(Dictionary, HashMap<ObjectId, ObjectId>)> {
        if version_key(&doc.version) > version_key(&self.version) {
            self.version = doc.version.clone();
        }
        let mut map = HashMap::with_capacity(doc.objects.len());
        for (id, o) in &doc.objects {
            // Object and xref streams are rebuilt on save; their old copies
            // would only cost memory until pruned.
            if matches!(o.type_name(), Ok(b"ObjStm" | b"XRef")) {
                continue;
            }
            let new = self.fresh_id()?;
            map.insert(*id, new);
        }
        let mut trailer = doc.trailer;
        for (i, (id, mut o)) in doc.objects.into_iter().enumerate() {
            if i % 512 == 0 {
                self.ctx.check()?;
            }
            let Some(new) = map.get(&id).copied() else {
                continue;
            };
            remap(&mut o, &map, true, 0);
            self.objects.insert(new, o);
        }
        remap_dict(&mut trailer, &map, true, 0);
        Ok((trailer, map))
    }

    /// Put the input's pages into the merged page tree; returns their new ids.
    fn take_pages(
        &mut self,
        old_ids: &[ObjectId],
        map: &HashMap<ObjectId, ObjectId>,
    ) -> Result<Vec<ObjectId>> {
        let mut used = HashSet::new();
        let mut old_nodes = HashSet::new();
        // A Resources dictionary inherited directly from a tree node is made
        // indirect once, so pages share it instead of each carrying a copy.
        let mut shared_resources: HashMap<ObjectId, ObjectId> = HashMap::new();
        let mut out = Vec::with_capacity(old_ids.len());
        for old in old_ids {
            self.ctx.check()?;
            let id = match map.get(old).copied() {
                Some(id) if dict_of(&self.objects, id).is_some() => {
                    if used.insert(id) {
                        id
                    } else {
                        // The same page object listed twice in the old tree:
                        // one object cannot have two places in the new one.
                        let copy = self.objects.get(&id).cloned().unwrap_or(Object::Null);
                        self.add_object(copy)?
                    }
                }
                _ => {
                    // lopdf counts an unreadable kid as a (blank) page, as
                    // viewers do; give it a real blank page.
                    self.blank_pages += 1;
                    self.add_object(Object::Dictionary(Dictionary::new()))?
                }
            };
            self.fix_page(id, &mut old_nodes, &mut shared_resources)?;
            self.kids.push(Object::Reference(id));
            out.push(id);
        }
        // The old intermediate nodes must not stay reachable (say through a
        // stray reference) with kids that no longer name them as parent.
        for id in old_nodes {
            if !used.contains(&id)
                && dict_of(&self.objects, id).is_some_and(|d| d.has_type(b"Pages"))
            {
                self.objects.insert(id, Object::Null);
            }
        }
        Ok(out)
    }

    fn fix_page(
        &mut self,
        id: ObjectId,
        old_nodes: &mut HashSet<ObjectId>,
        shared_resources: &mut HashMap<ObjectId, ObjectId>,
    ) -> Result<()> {
        const INHERITED: [&[u8]; 4] = [b"Resources", b"MediaBox", b"CropBox", b"Rotate"];
        let mut found: Vec<(&[u8], Object, ObjectId)> = Vec::new();
        {
            let Some(page) = dict_of(&self.objects, id) else {
                return Ok(());
            };
            let mut missing: Vec<&[u8]> = INHERITED
                .iter()
                .copied()
                .filter(|k| !page.has(k) || matches!(page.get(k), Ok(Object::Null)))
                .collect();
            let mut parent = key_ref(page, b"Parent");
            let mut seen = HashSet::new();
            let mut depth = 0;
            while let Some(pid) = parent {
                if !seen.insert(pid) || depth > self.ctx.limits.max_depth {
                    break;
                }
                depth += 1;
                let Some(node) = dict_of(&self.objects, pid) else {
                    break;
                };
                old_nodes.insert(pid);
                missing.retain(|k| match node.get(k) {
                    Ok(v) if !matches!(v, Object::Null) => {
                        found.push((k, v.clone(), pid));
                        false
                    }
                    _ => true,
                });
                parent = key_ref(node, b"Parent");
            }
        }
        let mut set: Vec<(&[u8], Object)> = Vec::with_capacity(found.len());
        for (k, v, from) in found {
            let v = match (k, v, from) {
                (b"Resources", Object::Dictionary(d), node) => {
                    let rid = match shared_resources.get(&node) {
                        Some(r) => *r,
                        None => {
                            let r = self.add_object(Object::Dictionary(d))?;
                            shared_resources.insert(node, r);
                            r
                        }
                    };
                    Object::Reference(rid)
                }
                (_, v, _) => v,
            };
            set.push((k, v));
        }
        let pages_id = self.pages_id;
        let Some(page) = dict_of_mut(&mut self.objects, id) else {
            return Ok(());
        };
        for (k, v) in set {
            page.set(k, v);
        }
        // Both are required; a page without them would not render anywhere.
        if !page.has(b"MediaBox") {
            page.set(
                "MediaBox",
                Object::Array(vec![0.into(), 0.into(), 612.into(), 792.into()]),
            );
        }
        if !page.has(b"Resources") {
            page.set("Resources", Dictionary::new());
        }
        page.set("Type", Object::Name(b"Page".to_vec()));
        page.set("Parent", Object::Reference(pages_id));
        Ok(())
    }

    /// Collect the input's named destinations (name tree and old-style
    /// dictionary) and other name trees into the merged ones.
    fn merge_names(&mut self, idx: usize, catalog: &Dictionary) -> Result<DestRenames> {
        let mut r = DestRenames::default();
        let names = key_dict(&self.objects, catalog, b"Names").cloned();
        if let Some(names) = &names {
            for (cat, root) in names.iter() {
                let entries = self.collect_name_tree(root)?;
                let mut seen = HashSet::new();
                for (k, v) in entries {
                    // A malformed tree may list a key twice; the first wins,
                    // as in a lookup.
                    if !seen.insert(k.clone()) {
                        continue;
                    }
                    if cat == b"Dests" {
                        let new = insert_unique(&mut self.dests, k.clone(), v, idx);
                        if new != k {
                            self.renamed_dests += 1;
                            r.strings.insert(k, new);
                        }
                    } else {
                        let tree = self.name_trees.entry(cat.clone()).or_default();
                        insert_unique(tree, k, v, idx);
                    }
                }
            }
        }
        if let Some(old) = key_dict(&self.objects, catalog, b"Dests").cloned() {
            for (k, v) in old.iter() {
                let new = insert_unique(&mut self.dests, k.clone(), v.clone(), idx);
                if &new != k {
                    self.renamed_dests += 1;
                }
                // Always recorded: name references must become strings.
                r.names.insert(k.clone(), new);
            }
        }
        Ok(r)
    }

    /// The (key, value) pairs of a name tree, walking `/Kids` with a bound.
    fn collect_name_tree(&self, root: &Object) -> Result<Vec<(Vec<u8>, Object)>> {
        let mut out = Vec::new();
        let mut stack: Vec<(&Object, u32)> = vec![(root, 0)];
        let mut seen = HashSet::new();
        while let Some((node, depth)) = stack.pop() {
            if let Object::Reference(id) = node
                && !seen.insert(*id)
            {
                continue;
            }
            let Some(d) = as_dict(&self.objects, node) else {
                continue;
            };
            if let Some(pairs) = key_array(&self.objects, d, b"Names") {
                for pair in pairs.chunks_exact(2) {
                    if let [Object::String(k, _), v] = pair {
                        out.push((k.clone(), v.clone()));
                    }
                }
            }
            if depth < self.ctx.limits.max_depth
                && let Some(kids) = key_array(&self.objects, d, b"Kids")
            {
                // Reversed so the stack pops kids in order.
                for k in kids.iter().rev() {
                    stack.push((k, depth + 1));
                }
            }
            if out.len() % 4096 == 0 {
                self.ctx.check()?;
            }
        }
        Ok(out)
    }

    /// Point the input's link annotations at the renamed destinations.
    fn rewrite_page_links(&mut self, pages: &[ObjectId], r: &DestRenames) {
        let mut annots = Vec::new();
        for p in pages {
            let Some(page) = dict_of(&self.objects, *p) else {
                continue;
            };
            match page.get(b"Annots") {
                Ok(Object::Reference(aid)) => annots.push(*aid),
                Ok(Object::Array(a)) => {
                    for x in a {
                        if let Object::Reference(id) = x {
                            annots.push(*id);
                        }
                    }
                }
                _ => {}
            }
        }
        // An /Annots array held in its own object: open it up.
        let mut ids = Vec::new();
        for id in annots {
            match self.objects.get(&id) {
                Some(Object::Array(a)) => ids.extend(a.iter().filter_map(|x| match x {
                    Object::Reference(r) => Some(*r),
                    _ => None,
                })),
                Some(Object::Dictionary(_)) => ids.push(id),
                _ => {}
            }
        }
        // Direct annotation dictionaries inside /Annots arrays.
        for p in pages {
            let mut later = Vec::new();
            if let Some(Object::Array(a)) =
                dict_of_mut(&mut self.objects, *p).and_then(|d| d.get_mut(b"Annots").ok())
            {
                for x in a.iter_mut() {
                    if let Object::Dictionary(d) = x {
                        self.rewritten_links += rewrite_dests_in(d, r, &mut later);
                    }
                }
            }
            ids.extend(later);
        }
        self.rewrite_dests_at(ids, r);
    }

    /// Rewrite `/Dest` and `/A` in the dictionaries `ids` (annotations,
    /// outline items or actions), following referenced actions.
    fn rewrite_dests_at(&mut self, mut ids: Vec<ObjectId>, r: &DestRenames) {
        let mut seen = HashSet::new();
        while let Some(id) = ids.pop() {
            if !seen.insert(id) {
                continue;
            }
            let mut later = Vec::new();
            if let Some(d) = dict_of_mut(&mut self.objects, id) {
                if d.has(b"S") {
                    self.rewritten_links += rewrite_action(d, r, 0, &mut later);
                } else {
                    self.rewritten_links += rewrite_dests_in(d, r, &mut later);
                }
            }
            ids.extend(later);
        }
    }

    /// Build this input's top-level outline item and hang its outline under it.
    fn add_outline(
        &mut self,
        name: &str,
        first_page: ObjectId,
        catalog: &Dictionary,
        r: &DestRenames,
    ) -> Result<ObjectId> {
        let item = self.fresh_id()?;
        let first =
            key_dict(&self.objects, catalog, b"Outlines").and_then(|o| key_ref(o, b"First"));
        let mut visited = HashSet::new();
        // The old outline root must not turn up as an item (a /First loop).
        if let Some(root) = key_ref(catalog, b"Outlines") {
            visited.insert(root);
        }
        let mut later = Vec::new();
        let (f, l, visible) = self.fix_outline(item, first, 0, &mut visited, r, &mut later)?;
        self.rewrite_dests_at(later, r);
        let mut d = Dictionary::new();
        d.set("Title", text(name));
        d.set("Parent", Object::Reference(self.outlines_id));
        d.set(
            "Dest",
            Object::Array(vec![
                Object::Reference(first_page),
                Object::Name(b"Fit".to_vec()),
            ]),
        );
        if let (Some(f), Some(l)) = (f, l) {
            d.set("First", Object::Reference(f));
            d.set("Last", Object::Reference(l));
            // Closed: a merged book shows one entry per input until opened.
            d.set("Count", Object::Integer(-visible));
        }
        self.objects.insert(item, Object::Dictionary(d));
        Ok(item)
    }

    /// Re-link the children of outline node `parent` (starting at `first`)
    /// and recompute every `/Count` below it. Returns (first, last, number of
    /// descendants visible when `parent` is open).
    fn fix_outline(
        &mut self,
        parent: ObjectId,
        first: Option<ObjectId>,
        depth: u32,
        visited: &mut HashSet<ObjectId>,
        r: &DestRenames,
        later: &mut Vec<ObjectId>,
    ) -> Result<(Option<ObjectId>, Option<ObjectId>, i64)> {
        let mut kids = Vec::new();
        let mut cur = first;
        while let Some(id) = cur {
            // A loop or an item shared by two lists: keep its first place only.
            if !visited.insert(id) {
                break;
            }
            let Some(d) = dict_of(&self.objects, id) else {
                break;
            };
            kids.push(id);
            cur = key_ref(d, b"Next");
        }
        if kids.len() % 256 == 0 {
            self.ctx.check()?;
        }
        let mut visible = 0i64;
        let deep = depth + 1 >= self.ctx.limits.max_depth.min(256);
        for (i, &kid) in kids.iter().enumerate() {
            let kid_first = dict_of(&self.objects, kid).and_then(|d| key_ref(d, b"First"));
            let (f, l, v) = if deep {
                (None, None, 0)
            } else {
                self.fix_outline(kid, kid_first, depth + 1, visited, r, later)?
            };
            let Some(d) = dict_of_mut(&mut self.objects, kid) else {
                continue;
            };
            self.outline_items_kept += 1;
            d.set("Parent", Object::Reference(parent));
            match i.checked_sub(1).and_then(|p| kids.get(p)) {
                Some(p) => d.set("Prev", Object::Reference(*p)),
                None => {
                    d.remove(b"Prev");
                }
            }
            match kids.get(i + 1) {
                Some(n) => d.set("Next", Object::Reference(*n)),
                None => {
                    d.remove(b"Next");
                }
            }
            let open = d.get(b"Count").ok().and_then(int).is_some_and(|c| c > 0);
            if let (Some(f), Some(l)) = (f, l) {
                d.set("First", Object::Reference(f));
                d.set("Last", Object::Reference(l));
                d.set("Count", Object::Integer(if open { v } else { -v }));
            } else {
                d.remove(b"First");
                d.remove(b"Last");
                d.remove(b"Count");
            }
            // Structure elements are dropped with the structure tree.
            d.remove(b"SE");
            if !r.is_empty() {
                self.rewritten_links += rewrite_dests_in(d, r, later);
            }
            visible += 1 + if open { v } else { 0 };
        }
        Ok((kids.first().copied(), kids.last().copied(), visible))
    }

    /// Fold the input's AcroForm into the merged one.
    fn merge_form(&mut self, catalog: &Dictionary) -> Result<()> {
        let Some(af) = key_dict(&self.objects, catalog, b"AcroForm").cloned() else {
            return Ok(());
        };
        if af.has(b"XFA") {
            self.xfa_dropped += 1;
        }
        let sig_flags = int(key(&self.objects, &af, b"SigFlags")).unwrap_or(0);
        if sig_flags & 1 != 0 {
            self.signed += 1;
        }
        let fields: Vec<Object> = key_array(&self.objects, &af, b"Fields")
            .map(<[Object]>::to_vec)
            .unwrap_or_default();
        let mut form = self.form.take().unwrap_or_default();

        // The fields whose partial names start fully-qualified names: named
        // top-level fields, or the first named descendants of unnamed ones.
        let mut roots = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<(ObjectId, u32)> = fields
            .iter()
            .rev()
            .filter_map(|f| match f {
                Object::Reference(id) => Some((*id, 0)),
                _ => None,
            })
            .collect();
        while let Some((id, depth)) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let Some(d) = dict_of(&self.objects, id) else {
                continue;
            };
            if d.get(b"T").is_ok_and(|t| matches!(t, Object::String(..))) {
                roots.push(id);
            } else if depth < self.ctx.limits.max_depth
                && let Some(kids) = key_array(&self.objects, d, b"Kids")
            {
                for k in kids.iter().rev() {
                    if let Object::Reference(kid) = k {
                        stack.push((*kid, depth + 1));
                    }
                }
            }
        }
        let own: HashSet<String> = roots
            .iter()
            .filter_map(|id| {
                dict_of(&self.objects, *id)?
                    .get(b"T")
                    .ok()
                    .and_then(decode_text)
            })
            .collect();
        let mut taken: HashSet<String> = HashSet::new();
        for id in roots {
            let Some(d) = dict_of_mut(&mut self.objects, id) else {
                continue;
            };
            let Some((raw, name)) = d.get(b"T").ok().and_then(|t| match t {
                Object::String(s, _) => Some((s.clone(), decode_text(t)?)),
                _ => None,
            }) else {
                continue;
            };
            if form.names.contains(&name) {
                let mut k = 2u64;
                let (new, suffix) = loop {
                    let suffix = format!("_{k}");
                    let cand = format!("{name}{suffix}");
                    if !form.names.contains(&cand) && !own.contains(&cand) && !taken.contains(&cand)
                    {
                        break (cand, suffix);
                    }
                    k += 1;
                };
                d.set(
                    "T",
                    Object::String(append_text(&raw, &suffix), StringFormat::Literal),
                );
                self.renamed_fields += 1;
                taken.insert(new);
            } else {
                taken.insert(name);
            }
        }
        form.names.extend(taken);

        // /DA and /Q are inherited from the AcroForm; the merged AcroForm
        // keeps the first input's, so later inputs' fields carry their own.
        let da = af.get(b"DA").ok().cloned();
        let q = af.get(b"Q").ok().cloned();
        let push_da = form.da.is_some() && da.is_some() && form.da != da;
        let push_q = form.q.is_some() && q.is_some() && form.q != q;
        if form.da.is_none() {
            form.da = da.clone();
        }
        if form.q.is_none() {
            form.q = q.clone();
        }
        for f in &fields {
            if let Object::Reference(id) = f
                && let Some(d) = dict_of_mut(&mut self.objects, *id)
            {
                if push_da
                    && !d.has(b"DA")
                    && let Some(v) = &da
                {
                    d.set("DA", v.clone());
                }
                if push_q
                    && !d.has(b"Q")
                    && let Some(v) = &q
                {
                    d.set("Q", v.clone());
                }
            }
        }
        form.fields.extend(fields);

        if let Some(dr) = key_dict(&self.objects, &af, b"DR") {
            for (cat, v) in dr.iter() {
                match as_dict(&self.objects, v) {
                    Some(entries) => {
                        let merged = match form.dr.get_mut(cat) {
                            Ok(Object::Dictionary(m)) => m,
                            _ => {
                                form.dr.set(cat.clone(), Dictionary::new());
                                match form.dr.get_mut(cat) {
                                    Ok(Object::Dictionary(m)) => m,
                                    _ => continue,
                                }
                            }
                        };
                        for (k, e) in entries.iter() {
                            // A name both inputs define keeps the first
                            // definition: fields refer to fonts by name only.
                            if !merged.has(k) {
                                merged.set(k.clone(), e.clone());
                            }
                        }
                    }
                    None => {
                        if !form.dr.has(cat) {
                            form.dr.set(cat.clone(), v.clone());
                        }
                    }
                }
            }
        }
        if matches!(
            key(&self.objects, &af, b"NeedAppearances"),
            Object::Boolean(true)
        ) {
            form.need_appearances = true;
        }
        form.sig_flags |= sig_flags & 3;
        if let Some(co) = key_array(&self.objects, &af, b"CO") {
            form.co.extend(co.iter().cloned());
        }
        self.form = Some(form);
        Ok(())
    }

    /// Fold the input's optional-content groups (layers) in: without them in
    /// the catalog, viewers may hide or ignore the input's layered content.
    fn merge_oc(&mut self, catalog: &Dictionary) {
        let Some(ocp) = key_dict(&self.objects, catalog, b"OCProperties") else {
            return;
        };
        let mut oc = self.oc.take().unwrap_or_default();
        if let Some(ocgs) = key_array(&self.objects, ocp, b"OCGs") {
            for g in ocgs {
                if !oc.ocgs.contains(g) {
                    oc.ocgs.push(g.clone());
                }
            }
        }
        if let Some(d) = key_dict(&self.objects, ocp, b"D") {
            match &mut oc.d {
                None => {
                    let mut base = d.clone();
                    for k in [&b"ON"[..], b"OFF", b"Locked", b"Order", b"RBGroups", b"AS"] {
                        if let Some(a) = key_array(&self.objects, d, k) {
                            base.set(k, Object::Array(a.to_vec()));
                        }
                    }
                    oc.d = Some(base);
                }
                Some(base) => {
                    for k in [&b"ON"[..], b"OFF", b"Locked", b"Order", b"RBGroups", b"AS"] {
                        let Some(add) = key_array(&self.objects, d, k) else {
                            continue;
                        };
                        match base.get_mut(k) {
                            Ok(Object::Array(a)) => a.extend(add.iter().cloned()),
                            _ => base.set(k, Object::Array(add.to_vec())),
                        }
                    }
                }
            }
        }
        self.oc = Some(oc);
    }

    fn collect_labels(&mut self, catalog: &Dictionary, pages: usize) {
        let mut entries = Vec::new();
        if let Ok(root) = catalog.get(b"PageLabels") {
            let mut stack = vec![(root, 0u32)];
            let mut seen = HashSet::new();
            while let Some((node, depth)) = stack.pop() {
                if let Object::Reference(id) = node
                    && !seen.insert(*id)
                {
                    continue;
                }
                let Some(d) = as_dict(&self.objects, node) else {
                    continue;
                };
                if let Some(nums) = key_array(&self.objects, d, b"Nums") {
                    for pair in nums.chunks_exact(2) {
                        if let [k, v] = pair
                            && let Some(k) = int(k)
                            && (0..pages as i64).contains(&k)
                        {
                            entries.push((k, v.clone()));
                        }
                    }
                }
                if depth < self.ctx.limits.max_depth
                    && let Some(kids) = key_array(&self.objects, d, b"Kids")
                {
                    for k in kids.iter().rev() {
                        stack.push((k, depth + 1));
                    }
                }
            }
        }
        entries.sort_by_key(|(k, _)| *k);
        entries.dedup_by_key(|(k, _)| *k);
        self.labels.push((self.pages_so_far, entries));
    }

    /// Build the catalog, page tree, outline, name trees and form; prune and
    /// deduplicate; hand back the document to write.
    fn finish(mut self, report: &mut Report) -> Result<Document> {
        let ctx = self.ctx;
        let page_count = self.kids.len() as i64;
        let mut pages = Dictionary::new();
        pages.set("Type", Object::Name(b"Pages".to_vec()));
        pages.set("Count", Object::Integer(page_count));
        pages.set("Kids", Object::Array(std::mem::take(&mut self.kids)));
        self.objects
            .insert(self.pages_id, Object::Dictionary(pages));

        let mut catalog = Dictionary::new();
        catalog.set("Type", Object::Name(b"Catalog".to_vec()));
        catalog.set("Pages", Object::Reference(self.pages_id));
        for (k, v) in std::mem::take(&mut self.catalog_extras) {
            catalog.set(k, v);
        }

        // Outline: inputs in order; each item is closed, so it counts one.
        let items = std::mem::take(&mut self.outline_items);
        for (i, id) in items.iter().enumerate() {
            if let Some(d) = dict_of_mut(&mut self.objects, *id) {
                if let Some(p) = i.checked_sub(1).and_then(|p| items.get(p)) {
                    d.set("Prev", Object::Reference(*p));
                }
                if let Some(n) = items.get(i + 1) {
                    d.set("Next", Object::Reference(*n));
                }
            }
        }
        if let (Some(f), Some(l)) = (items.first(), items.last()) {
            let mut o = Dictionary::new();
            o.set("Type", Object::Name(b"Outlines".to_vec()));
            o.set("First", Object::Reference(*f));
            o.set("Last", Object::Reference(*l));
            o.set("Count", Object::Integer(items.len() as i64));
            self.objects.insert(self.outlines_id, Object::Dictionary(o));
            catalog.set("Outlines", Object::Reference(self.outlines_id));
            catalog.set("PageMode", Object::Name(b"UseOutlines".to_vec()));
        }

        let mut names = Dictionary::new();
        let named_dests = self.dests.len();
        let dests = std::mem::take(&mut self.dests);
        let mut trees = std::mem::take(&mut self.name_trees);
        if !dests.is_empty() {
            trees.insert(b"Dests".to_vec(), dests);
        }
        for (cat, tree) in trees {
            if tree.is_empty() {
                continue;
            }
            let mut arr = Vec::with_capacity(tree.len() * 2);
            for (k, v) in tree {
                arr.push(Object::String(k, StringFormat::Literal));
                arr.push(v);
            }
            // A single leaf is a valid name tree; keys are sorted (BTreeMap),
            // as the spec requires.
            let mut node = Dictionary::new();
            node.set("Names", Object::Array(arr));
            let id = self.add_object(Object::Dictionary(node))?;
            names.set(cat, Object::Reference(id));
        }
        if !names.is_empty() {
            catalog.set("Names", names);
        }

        let mut field_count = 0;
        if let Some(form) = self.form.take() {
            field_count = form.fields.len();
            let mut af = Dictionary::new();
            af.set("Fields", Object::Array(form.fields));
            if !form.dr.is_empty() {
                af.set("DR", form.dr);
            }
            if let Some(da) = form.da {
                af.set("DA", da);
            }
            if let Some(q) = form.q {
                af.set("Q", q);
            }
            if form.need_appearances {
                af.set("NeedAppearances", true);
            }
            if form.sig_flags != 0 {
                af.set("SigFlags", Object::Integer(form.sig_flags));
            }
            if !form.co.is_empty() {
                af.set("CO", Object::Array(form.co));
            }
            let id = self.add_object(Object::Dictionary(af))?;
            catalog.set("AcroForm", Object::Reference(id));
        }

        if let Some(oc) = self.oc.take() {
            let mut ocp = Dictionary::new();
            ocp.set("OCGs", Object::Array(oc.ocgs));
            ocp.set("D", oc.d.unwrap_or_default());
            catalog.set("OCProperties", ocp);
        }

        if self.labels.iter().any(|(_, e)| !e.is_empty()) {
            let mut nums = Vec::new();
            for (start, entries) in std::mem::take(&mut self.labels) {
                // An input without labels, or whose labels start late, gets
                // plain numbers 1, 2, ... rather than the previous input's.
                if entries.first().is_none_or(|(k, _)| *k != 0) {
                    let mut d = Dictionary::new();
                    d.set("S", Object::Name(b"D".to_vec()));
                    nums.push(Object::Integer(start));
                    nums.push(Object::Dictionary(d));
                }
                for (k, v) in entries {
                    nums.push(Object::Integer(start + k));
                    nums.push(v);
                }
            }
            let mut pl = Dictionary::new();
            pl.set("Nums", Object::Array(nums));
            catalog.set("PageLabels", pl);
        }

        self.objects
            .insert(self.catalog_id, Object::Dictionary(catalog));

        let mut info = self.info.take().unwrap_or_default();
        // Not checked against PDF/X any more (see the XMP note).
        info.remove(b"GTS_PDFXVersion");
        info.remove(b"GTS_PDFXConformance");
        info.set("Producer", Object::string_literal("Folio"));
        let info_id = self.add_object(Object::Dictionary(info))?;

        let mut trailer = Dictionary::new();
        trailer.set("Root", Object::Reference(self.catalog_id));
        trailer.set("Info", Object::Reference(info_id));

        let mut doc = Document::new();
        doc.version = self.version.clone();
        doc.objects = std::mem::take(&mut self.objects);
        doc.trailer = trailer;
        doc.max_id = self.next_id;
        ctx.check()?;
        doc.prune_objects();
        ctx.check()?;
        let deduped = dedupe_objects(&mut doc, ctx)?;
        // A file identifier from the inputs: stable for equal inputs.
        let id = self
            .id_hash
            .finalize_reset()
            .get(..16)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        doc.trailer.set(
            "ID",
            Object::Array(vec![
                Object::String(id.clone(), StringFormat::Hexadecimal),
                Object::String(id, StringFormat::Hexadecimal),
            ]),
        );
        doc.max_id = doc.objects.keys().map(|k| k.0).max().unwrap_or(0);

        report.detail("objects_deduplicated", deduped as u64);
        report.detail("named_destinations", named_dests as u64);
        report.detail("destinations_renamed", self.renamed_dests as u64);
        report.detail("links_rewritten", self.rewritten_links as u64);
        report.detail("outline_items", self.outline_items_kept as u64);
        report.detail("form_fields", field_count as u64);
        report.detail("form_fields_renamed", self.renamed_fields as u64);
        if self.xfa_dropped > 0 {
            report.notes.push(format!(
                "dropped the XFA form data of {} input(s): merged XFA is invalid; the AcroForm fields are kept",
                self.xfa_dropped
            ));
        }
        if self.struct_dropped > 0 {
            report.notes.push(format!(
                "dropped the tagged-PDF structure (accessibility tags) of {} input(s): it cannot be merged",
                self.struct_dropped
            ));
        }
        if self.signed > 0 {
            report.notes.push(format!(
                "{} input(s) carry digital signatures, which do not validate in the merged file",
                self.signed
            ));
        }
        if self.xmp_dropped {
            report.notes.push(
                "dropped the first input's XMP metadata: it claims a PDF/A, PDF/UA or PDF/X conformance the merged file does not keep"
                    .into(),
            );
        }
        if self.blank_pages > 0 {
            report.notes.push(format!(
                "{} unreadable page(s) replaced by blank pages",
                self.blank_pages
            ));
        }
        if self.renamed_fields > 0 {
            report.notes.push(format!(
                "renamed {} form field(s) whose names were already used by an earlier input",
                self.renamed_fields
            ));
        }
        if self.renamed_dests > 0 {
            report.notes.push(format!(
                "renamed {} named destination(s) already used by an earlier input; links follow",
                self.renamed_dests
            ));
        }
        if self.decrypted > 0 {
            report.notes.push(format!(
                "{} encrypted input(s) were decrypted; the merged file is not encrypted",
                self.decrypted
            ));
        }
        if deduped > 0 {
            report.notes.push(format!(
                "stored {deduped} identical object(s) (fonts, images...) once"
            ));
        }
        Ok(doc)
    }
}

/// Whether an XMP metadata stream claims PDF/A, PDF/UA or PDF/X conformance.
fn claims_conformance(objs: &Objects, o: &Object, ctx: &Ctx) -> bool {
    const MARKS: [&[u8]; 4] = [b"pdfaid:", b"pdfuaid:", b"pdfxid:", b"GTS_PDFX"];
    let Object::Stream(s) = deref(objs, o) else {
        return false;
    };
    let decoded;
    let data: &[u8] = if s.dict.has(b"Filter") {
        // XMP packets are small; a huge one is not worth decoding here.
        let max = usize::try_from(ctx.limits.max_stream_bytes.min(16 << 20)).unwrap_or(16 << 20);
        match s.decompressed_content_with_limit(max) {
            Ok(d) => {
                decoded = d;
                &decoded
            }
            Err(_) => return false,
        }
    } else {
        &s.content
    };
    MARKS.iter().any(|m| data.windows(m.len()).any(|w| w == *m))
}

/// The version a catalog's `/Version` claims (it overrides the header's when later).
fn catalog_version(catalog: &Dictionary) -> Option<String> {
    match catalog.get(b"Version") {
        Ok(Object::Name(n)) => std::str::from_utf8(n).ok().map(str::to_string),
        _ => None,
    }
}

/// Feed `o` to `h` canonically (dictionary keys sorted).
fn hash_object(o: &Object, h: &mut Sha256, depth: usize) {
    if depth > MAX_NESTING {
        h.update(b"!");
        return;
    }
    match o {
        Object::Null => h.update(b"n"),
        Object::Boolean(b) => h.update(if *b { b"t" } else { b"f" }),
        Object::Integer(i) => {
            h.update(b"i");
            h.update(i.to_le_bytes());
        }
        Object::Real(r) => {
            h.update(b"r");
            h.update(r.to_bits().to_le_bytes());
        }
        Object::Name(n) => {
            h.update(b"/");
            h.update((n.len() as u64).to_le_bytes());
            h.update(n);
        }
        Object::String(s, _) => {
            h.update(b"(");
            h.update((s.len() as u64).to_le_bytes());
            h.update(s);
        }
        Object::Array(a) => {
            h.update(b"[");
            h.update((a.len() as u64).to_le_bytes());
            for x in a {
                hash_object(x, h, depth + 1);
            }
        }
        Object::Dictionary(d) => hash_dict(d, h, depth + 1),
        Object::Stream(s) => {
            hash_dict(&s.dict, h, depth + 1);
            h.update(s.content.len().to_le_bytes());
            h.update(&s.content);
        }
        Object::Reference((n, g)) => {
            h.update(b"R");
            h.update(n.to_le_bytes());
            h.update(g.to_le_bytes());
        }
    }
}

fn hash_dict(d: &Dictionary, h: &mut Sha256, depth: usize) {
    let mut entries: Vec<(&Vec<u8>, &Object)> = d.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    h.update(b"<");
    h.update((entries.len() as u64).to_le_bytes());
    for (k, v) in entries {
        h.update((k.len() as u64).to_le_bytes());
        h.update(k);
        hash_object(v, h, depth);
    }
}

/// Whether an object may be shared by everything that references an
/// identical copy. Streams and arrays have no identity of their own: two
/// identical ones hold the same data and name the same objects. Dictionaries
/// often do (pages, annotations, fields, outline items, layers are listed and
/// pointed back to), so only resource-like ones are shared.
fn shareable(o: &Object) -> bool {
    const TYPES: [&[u8]; 9] = [
        b"Font",
        b"FontDescriptor",
        b"Encoding",
        b"ExtGState",
        b"Pattern",
        b"Halftone",
        b"Mask",
        b"Group",
        b"CMap",
    ];
    /// Keys of resource dictionaries and of the small untyped dictionaries
    /// fonts and images use (CIDSystemInfo, DecodeParms), and of document
    /// information dictionaries (pdfTeX's /PTEX.InfoDict of embedded figures).
    const PLAIN_KEYS: [&[u8]; 29] = [
        b"Font",
        b"XObject",
        b"ExtGState",
        b"ColorSpace",
        b"Pattern",
        b"Shading",
        b"ProcSet",
        b"Properties",
        b"Registry",
        b"Ordering",
        b"Supplement",
        b"Predictor",
        b"Colors",
        b"BitsPerComponent",
        b"Columns",
        b"EarlyChange",
        b"K",
        b"Rows",
        b"BlackIs1",
        b"EncodedByteAlign",
        b"Title",
        b"Author",
        b"Subject",
        b"Keywords",
        b"Creator",
        b"Producer",
        b"CreationDate",
        b"ModDate",
        b"Trapped",
    ];
    match o {
        Object::Stream(_) | Object::Array(_) => true,
        Object::Dictionary(d) => match d.get(b"Type") {
            Ok(Object::Name(t)) => TYPES.contains(&t.as_slice()),
            Ok(_) => false,
            Err(_) => {
                d.has(b"ShadingType")
                    || d.has(b"FunctionType")
                    || (!d.is_empty() && d.iter().all(|(k, _)| PLAIN_KEYS.contains(&k.as_slice())))
            }
        },
        _ => false,
    }
}

/// Store identical objects (streams with the same dictionary and data, and
/// resource-like objects, see [`shareable`]) once and point every reference
/// at the kept copy. Returns how many were dropped.
///
/// Runs in rounds: sharing font files makes font descriptors identical, then
/// fonts, then resource dictionaries, then form XObjects.
fn dedupe_objects(doc: &mut Document, ctx: &Ctx) -> Result<usize> {
    let mut data_hash: HashMap<ObjectId, [u8; 32]> = HashMap::new();
    let mut total = 0;
    for _ in 0..DEDUP_ROUNDS {
        let mut first: HashMap<[u8; 32], ObjectId> = HashMap::new();
        let mut replace: HashMap<ObjectId, ObjectId> = HashMap::new();
        for (i, (id, o)) in doc.objects.iter().enumerate() {
            if i % 256 == 0 {
                ctx.check()?;
            }
            if !shareable(o) {
                continue;
            }
            let mut h = Sha256::new();
            match o {
                Object::Stream(s) => {
                    let dh = *data_hash
                        .entry(*id)
                        .or_insert_with(|| Sha256::digest(&s.content).into());
                    h.update(b"S");
                    hash_dict(&s.dict, &mut h, 0);
                    h.update(dh);
                }
                other => hash_object(other, &mut h, 0),
            }
            let k: [u8; 32] = h.finalize().into();
            match first.get(&k) {
                Some(keep) => {
                    replace.insert(*id, *keep);
                }
                None => {
                    first.insert(k, *id);
                }
            }
        }
        if replace.is_empty() {
            break;
        }
        for id in replace.keys() {
            doc.objects.remove(id);
        }
        for (i, o) in doc.objects.values_mut().enumerate() {
            if i % 1024 == 0 {
                ctx.check()?;
            }
            remap(o, &replace, false, 0);
        }
        remap_dict(&mut doc.trailer, &replace, false, 0);
        total += replace.len();
    }
    Ok(total)
}
