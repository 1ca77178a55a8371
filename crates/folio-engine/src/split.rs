//! Extract a page selection into one file, or cut a document into chunks.
//!
//! Each output is built by copying, from the opened input, only the objects
//! reachable from a new catalog whose page tree lists the chosen pages in
//! the chosen order. On the way:
//! - inherited page attributes (`/Resources`, `/MediaBox`, `/CropBox`,
//!   `/Rotate`) are written onto each page, since its old ancestors are gone;
//! - outline items whose target page is gone are dropped (or, when some of
//!   their children stay, kept as plain headings without a target), named
//!   destinations to gone pages are dropped, link annotations to gone pages
//!   are removed, form fields whose widgets sat on gone pages leave the form;
//! - page labels are recomputed so each kept page keeps its label;
//! - the tagged-structure tree and article threads, which cannot be cut
//!   along pages, are dropped when pages go (the report says so);
//! - any other reference to a gone page becomes `null`, so no output ever
//!   carries a removed page along;
//! - a page's resources are cut down to the names its content uses, since
//!   producers often give every page one shared dictionary of all the
//!   document's images and fonts (see [`Source::prune_resources`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};

use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};
use rayon::prelude::*;

use crate::document::{self, INHERITABLE, NumberTexts, PageNode, WriteMode};
use crate::report::{OutputFile, PDF};
use crate::{Ctx, Error, Output, PageSpec, Report, Result};

#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub pages: PageSpec,
    pub password: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SplitOptions {
    /// Pages per chunk (≥ 1).
    pub every: u32,
    pub password: Option<String>,
}

/// Most outline items / name-tree entries followed, against hostile files.
const MAX_ITEMS: usize = 1_000_000;

/// One file with the pages of `opts.pages`, in the order given.
pub fn extract(input: &[u8], opts: &ExtractOptions, ctx: &Ctx) -> Result<Output> {
    let opened = document::open(input, opts.password.as_deref(), ctx)?;
    let numbers = document::number_texts(input, &opened.doc, ctx);
    let src = Source::new(&opened.doc, ctx);
    let count = src.page_count();
    let selection = opts.pages.resolve(count)?;
    ctx.progress(0.1);

    let mut report = Report::new("extract");
    report.inputs = 1;
    report.bytes_in = input.len() as u64;
    report.pages_in = count;
    if opened.was_encrypted {
        report
            .notes
            .push("the input was encrypted: the output is written without encryption".into());
    }
    let part = src.subset(&selection, &numbers)?;
    report.pages_out = selection.len() as u32;
    part.stats.add_to(&mut report);
    report.notes.extend(part.stats.notes());
    ctx.progress(1.0);
    Ok(Output::single(
        OutputFile {
            name: "extracted.pdf".into(),
            media_type: PDF,
            bytes: part.bytes,
        },
        report,
        ctx,
    ))
}

/// Files of `opts.every` pages each (the last may be shorter), named
/// `part-001.pdf`, `part-002.pdf`... (more digits past 999 parts).
pub fn split_every(input: &[u8], opts: &SplitOptions, ctx: &Ctx) -> Result<Output> {
    if opts.every == 0 {
        return Err(Error::InvalidOptions(
            "split --every needs a chunk size of at least 1 page".into(),
        ));
    }
    crate::parallel::need_workers_for(input.len());
    let opened = document::open(input, opts.password.as_deref(), ctx)?;
    let numbers = document::number_texts(input, &opened.doc, ctx);
    let src = Source::new(&opened.doc, ctx);
    let count = src.page_count();
    let all: Vec<u32> = (1..=count).collect();
    let chunks: Vec<&[u32]> = all.chunks(opts.every as usize).collect();
    let digits = chunks.len().to_string().len().max(3);
    ctx.progress(0.05);

    let done = AtomicUsize::new(0);
    let parts: Vec<Part> = chunks
        .par_iter()
        .map(|pages| {
            let part = src.subset(pages, &numbers)?;
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            ctx.progress(0.05 + 0.95 * n as f32 / chunks.len() as f32);
            Ok(part)
        })
        .collect::<Result<_>>()?;

    let mut report = Report::new("split");
    report.inputs = 1;
    report.bytes_in = input.len() as u64;
    report.pages_in = count;
    report.pages_out = count;
    if opened.was_encrypted {
        report
            .notes
            .push("the input was encrypted: the outputs are written without encryption".into());
    }
    let mut stats = Stats::default();
    let mut files = Vec::with_capacity(parts.len());
    for (i, part) in parts.into_iter().enumerate() {
        stats.merge(&part.stats);
        files.push(OutputFile {
            name: format!("part-{:0digits$}.pdf", i + 1),
            media_type: PDF,
            bytes: part.bytes,
        });
    }
    stats.add_to(&mut report);
    report.notes.extend(stats.notes());
    report.detail("parts", files.len() as u64);
    Ok(Output::many(files, report, ctx))
}

/// What was dropped to keep an output free of references to gone pages.
#[derive(Debug, Default, Clone)]
struct Stats {
    outline_items_dropped: usize,
    named_dests_dropped: usize,
    links_dropped: usize,
    fields_dropped: usize,
    structure_dropped: bool,
    threads_dropped: bool,
    /// Pages whose resource dictionary listed things their content never uses.
    pages_with_pruned_resources: usize,
}

impl Stats {
    fn merge(&mut self, o: &Stats) {
        self.outline_items_dropped += o.outline_items_dropped;
        self.named_dests_dropped += o.named_dests_dropped;
        self.links_dropped += o.links_dropped;
        self.fields_dropped += o.fields_dropped;
        self.structure_dropped |= o.structure_dropped;
        self.pages_with_pruned_resources += o.pages_with_pruned_resources;
        self.threads_dropped |= o.threads_dropped;
    }

    fn add_to(&self, r: &mut Report) {
        r.detail("outline_items_dropped", self.outline_items_dropped as u64);
        r.detail("named_dests_dropped", self.named_dests_dropped as u64);
        r.detail("links_dropped", self.links_dropped as u64);
        r.detail("form_fields_dropped", self.fields_dropped as u64);
        r.detail(
            "pages_with_pruned_resources",
            self.pages_with_pruned_resources as u64,
        );
    }

    fn notes(&self) -> Vec<String> {
        let mut n = Vec::new();
        if self.structure_dropped {
            n.push(
                "the tagged structure (accessibility tree) cannot be cut along pages and was dropped"
                    .into(),
            );
        }
        if self.threads_dropped {
            n.push("article threads were dropped".into());
        }
        if self.outline_items_dropped > 0 {
            n.push(format!(
                "{} bookmark(s) pointing to pages not in the output were dropped",
                self.outline_items_dropped
            ));
        }
        if self.fields_dropped > 0 {
            n.push(format!(
                "{} form field(s) on pages not in the output were dropped",
                self.fields_dropped
            ));
        }
        n
    }
}

/// One written output.
struct Part {
    bytes: Vec<u8>,
    stats: Stats,
}

/// Where a destination or action leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A page of this document.
    Page(ObjectId),
    /// Somewhere else (a URI, another file, a malformed destination...).
    Other,
    /// No destination at all.
    None,
}

/// The opened input, with what every output needs precomputed.
struct Source<'a> {
    doc: &'a Document,
    ctx: &'a Ctx,
    nodes: Vec<PageNode>,
    all_pages: HashSet<ObjectId>,
    /// Intermediate `/Pages` nodes of the input tree: never copied.
    tree_nodes: HashSet<ObjectId>,
    catalog_id: Option<ObjectId>,
    /// Named destinations: catalog `/Dests` (by name) and the `/Names /Dests`
    /// tree (by string), each to the page they lead to.
    dests_by_name: HashMap<Vec<u8>, Target>,
    dests_by_string: HashMap<Vec<u8>, Target>,
    /// Annotations of each page.
    annots: HashMap<ObjectId, Vec<ObjectId>>,
}

impl<'a> Source<'a> {
    fn new(doc: &'a Document, ctx: &'a Ctx) -> Self {
        let nodes = document::page_nodes(doc);
        let all_pages: HashSet<ObjectId> = nodes.iter().map(|n| n.id).collect();
        let catalog_id = doc.trailer.get(b"Root").and_then(Object::as_reference).ok();
        let mut src = Source {
            doc,
            ctx,
            nodes,
            all_pages,
            tree_nodes: HashSet::new(),
            catalog_id,
            dests_by_name: HashMap::new(),
            dests_by_string: HashMap::new(),
            annots: HashMap::new(),
        };
        src.tree_nodes = src.collect_tree_nodes();
        src.collect_named_dests();
        for n in &src.nodes {
            let ids = src.page_annots(n.id);
            src.annots.insert(n.id, ids);
        }
        src
    }

    fn page_count(&self) -> u32 {
        u32::try_from(self.nodes.len()).unwrap_or(u32::MAX)
    }

    fn catalog(&self) -> Option<&'a Dictionary> {
        self.doc.get_dictionary(self.catalog_id?).ok()
    }

    /// Follow references (a few levels) to the object itself.
    fn resolve(&self, mut obj: &'a Object) -> &'a Object {
        for _ in 0..8 {
            match obj {
                Object::Reference(id) => match self.doc.get_object(*id) {
                    Ok(o) => obj = o,
                    Err(_) => return &Object::Null,
                },
                _ => return obj,
            }
        }
        &Object::Null
    }

    fn dict_at(&self, d: &'a Dictionary, key: &[u8]) -> Option<&'a Dictionary> {
        self.resolve(d.get(key).ok()?).as_dict().ok()
    }

    fn collect_tree_nodes(&self) -> HashSet<ObjectId> {
        let mut out = HashSet::new();
        let Some(root) = self
            .catalog()
            .and_then(|c| c.get(b"Pages").ok())
            .and_then(|p| p.as_reference().ok())
        else {
            return out;
        };
        let mut queue = vec![root];
        while let Some(id) = queue.pop() {
            if self.all_pages.contains(&id) || !out.insert(id) || out.len() > MAX_ITEMS {
                continue;
            }
            if let Ok(d) = self.doc.get_dictionary(id)
                && let Ok(kids) = self.resolve_obj(d.get(b"Kids")).as_array()
            {
                queue.extend(kids.iter().filter_map(|k| k.as_reference().ok()));
            }
        }
        out
    }

    fn resolve_obj(&self, o: lopdf::Result<&'a Object>) -> &'a Object {
        match o {
            Ok(o) => self.resolve(o),
            Err(_) => &Object::Null,
        }
    }

    fn page_annots(&self, page: ObjectId) -> Vec<ObjectId> {
        let Ok(d) = self.doc.get_dictionary(page) else {
            return Vec::new();
        };
        match self.resolve_obj(d.get(b"Annots")) {
            Object::Array(a) => a.iter().filter_map(|x| x.as_reference().ok()).collect(),
            _ => Vec::new(),
        }
    }

    fn collect_named_dests(&mut self) {
        let Some(cat) = self.catalog() else { return };
        let mut by_name = HashMap::new();
        if let Some(d) = self.dict_at(cat, b"Dests") {
            for (k, v) in d.iter() {
                by_name.insert(k.clone(), self.explicit_target(v));
            }
        }
        let mut by_string = HashMap::new();
        if let Some(names) = self.dict_at(cat, b"Names")
            && let Some(tree) = names.get(b"Dests").ok()
        {
            for (k, v) in self.name_tree_entries(tree) {
                by_string.insert(k, self.explicit_target(v));
            }
        }
        self.dests_by_name = by_name;
        self.dests_by_string = by_string;
    }

    /// All `(key, value)` pairs of a name tree, in order.
    fn name_tree_entries(&self, root: &'a Object) -> Vec<(Vec<u8>, &'a Object)> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<(&'a Object, u32)> = vec![(root, 0)];
        while let Some((node, depth)) = stack.pop() {
            if let Object::Reference(id) = node
                && !seen.insert(*id)
            {
                continue;
            }
            let Ok(d) = self.resolve(node).as_dict() else {
                continue;
            };
            if let Ok(names) = self.resolve_obj(d.get(b"Names")).as_array() {
                for pair in names.chunks(2) {
                    if let [k, v] = pair
                        && let Ok(key) = self.resolve(k).as_str()
                    {
                        out.push((key.to_vec(), v));
                    }
                }
            }
            if depth < self.ctx.limits.max_depth
                && out.len() < MAX_ITEMS
                && let Ok(kids) = self.resolve_obj(d.get(b"Kids")).as_array()
            {
                // Reversed so the stack pops them in order.
                for k in kids.iter().rev() {
                    stack.push((k, depth + 1));
                }
            }
        }
        out
    }

    /// The page an explicit destination (`[page /XYZ ...]` or `<< /D [...] >>`) leads to.
    fn explicit_target(&self, dest: &'a Object) -> Target {
        match self.resolve(dest) {
            Object::Array(a) => match a.first() {
                Some(Object::Reference(id)) if self.all_pages.contains(id) => Target::Page(*id),
                _ => Target::Other,
            },
            Object::Dictionary(d) => match d.get(b"D") {
                Ok(inner) => match self.resolve(inner) {
                    Object::Array(_) => self.explicit_target(inner),
                    _ => Target::Other,
                },
                Err(_) => Target::Other,
            },
            _ => Target::Other,
        }
    }

    /// Where a `/Dest` value leads (explicit or named).
    fn dest_target(&self, dest: &'a Object) -> Target {
        match self.resolve(dest) {
            Object::Name(n) => self.dests_by_name.get(n).copied().unwrap_or(Target::Other),
            Object::String(s, _) => self
                .dests_by_string
                .get(s)
                .or_else(|| self.dests_by_name.get(s))
                .copied()
                .unwrap_or(Target::Other),
            _ => self.explicit_target(dest),
        }
    }

    /// Where an outline item or link annotation leads (`/Dest` or a `/GoTo` action).
    fn target_of(&self, d: &'a Dictionary) -> Target {
        if let Ok(dest) = d.get(b"Dest") {
            return self.dest_target(dest);
        }
        if let Ok(action) = d.get(b"A") {
            return self.action_target(action);
        }
        Target::None
    }

    fn action_target(&self, action: &'a Object) -> Target {
        let Ok(a) = self.resolve(action).as_dict() else {
            return Target::Other;
        };
        match a.get(b"S").and_then(Object::as_name) {
            Ok(b"GoTo") => match a.get(b"D") {
                Ok(d) => self.dest_target(d),
                Err(_) => Target::Other,
            },
            _ => Target::Other,
        }
    }

    /// Build and write the output holding `selection` (1-based page numbers).
    fn subset(&self, selection: &[u32], numbers: &NumberTexts) -> Result<Part> {
        self.ctx.check()?;
        let mut b = Builder::new(self, selection)?;
        b.build()?;
        let stats = b.stats.clone();
        let mut doc = b.copy()?;
        let pages = u32::try_from(selection.len()).unwrap_or(u32::MAX);
        let bytes = document::write_with_numbers(
            &mut doc,
            pages,
            WriteMode::Compact,
            Some(numbers),
            crate::deflate::LEVEL,
            self.ctx,
        )?;
        Ok(Part { bytes, stats })
    }
}

/// A page label: style, prefix, number.
type Label = (Option<Vec<u8>>, Option<Vec<u8>>, i64);

/// The state of building one output.
struct Builder<'s, 'a> {
    src: &'s Source<'a>,
    kept: Vec<ObjectId>,
    /// Pages of the input that are not in this output.
    gone: HashSet<ObjectId>,
    /// Objects replaced (or added) in the output.
    overrides: HashMap<ObjectId, Object>,
    next_id: u32,
    stats: Stats,
    selection: Vec<u32>,
}

impl<'s, 'a> Builder<'s, 'a> {
    fn new(src: &'s Source<'a>, selection: &[u32]) -> Result<Self> {
        let mut kept = Vec::with_capacity(selection.len());
        for &p in selection {
            let node =
                src.nodes
                    .get((p as usize).wrapping_sub(1))
                    .ok_or(Error::PageOutOfRange {
                        page: p,
                        count: src.page_count(),
                    })?;
            kept.push(node.id);
        }
        let kept_set: HashSet<ObjectId> = kept.iter().copied().collect();
        let gone = src.all_pages.difference(&kept_set).copied().collect();
        let next_id = src
            .doc
            .objects
            .keys()
            .map(|id| id.0)
            .max()
            .unwrap_or(0)
            .max(src.doc.max_id)
            .checked_add(1)
            .ok_or_else(|| Error::InvalidPdf("object numbers exhausted".into()))?;
        Ok(Builder {
            src,
            kept,
            gone,
            overrides: HashMap::new(),
            next_id,
            stats: Stats::default(),
            selection: selection.to_vec(),
        })
    }

    fn new_id(&mut self) -> Result<ObjectId> {
        let id = (self.next_id, 0);
        self.next_id = self
            .next_id
            .checked_add(1)
            .ok_or_else(|| Error::InvalidPdf("object numbers exhausted".into()))?;
        Ok(id)
    }

    fn is_dead(&self, t: Target) -> bool {
        matches!(t, Target::Page(id) if self.gone.contains(&id))
    }

    fn build(&mut self) -> Result<()> {
        let src = self.src;
        let Some(catalog_id) = src.catalog_id else {
            return Err(Error::InvalidPdf("the document has no catalog".into()));
        };
        let mut cat = src.catalog().cloned().unwrap_or_default();

        // The new page tree: one node, the pages in selection order.
        let tree_id = self.new_id()?;
        let mut kept_annots: HashSet<ObjectId> = HashSet::new();
        let nodes: HashMap<ObjectId, &PageNode> = src.nodes.iter().map(|n| (n.id, n)).collect();
        for &id in &self.kept.clone() {
            let mut page = src.doc.get_dictionary(id).cloned().unwrap_or_default();
            if let Some(node) = nodes.get(&id) {
                for key in INHERITABLE {
                    if !page.has(key)
                        && let Ok(v) = node.inherited.get(key)
                    {
                        page.set(key, v.clone());
                    }
                }
            }
            page.set("Parent", Object::Reference(tree_id));
            self.filter_links(&mut page, id);
            if self.src.prune_resources(&mut page) {
                self.stats.pages_with_pruned_resources += 1;
            }
            if let Some(a) = src.annots.get(&id) {
                kept_annots.extend(a.iter().copied());
            }
            self.overrides.insert(id, Object::Dictionary(page));
        }
        let mut tree = Dictionary::new();
        tree.set("Type", Object::Name(b"Pages".to_vec()));
        tree.set(
            "Kids",
            Object::Array(self.kept.iter().map(|&id| Object::Reference(id)).collect()),
        );
        tree.set("Count", self.kept.len() as i64);
        self.overrides.insert(tree_id, Object::Dictionary(tree));
        cat.set("Pages", Object::Reference(tree_id));

        let identity = self
            .selection
            .iter()
            .enumerate()
            .all(|(i, &p)| p as usize == i + 1);
        if !identity {
            self.relabel(&mut cat);
        }
        if !self.gone.is_empty() {
            if cat.remove(b"StructTreeRoot").is_some() {
                self.stats.structure_dropped = true;
                cat.remove(b"MarkInfo");
                // Pages keep `/StructParents`: harmless without the tree.
            }
            if cat.remove(b"Threads").is_some() {
                self.stats.threads_dropped = true;
            }
            if let Ok(open) = cat.get(b"OpenAction")
                && let t @ Target::Page(_) = match src.resolve(open) {
                    Object::Array(_) => src.explicit_target(open),
                    _ => src.action_target(open),
                }
                && self.is_dead(t)
            {
                cat.remove(b"OpenAction");
            }
            self.rebuild_outlines(&mut cat)?;
            self.rebuild_named_dests(&mut cat)?;
            self.filter_form(&mut cat, &kept_annots)?;
        }
        self.overrides.insert(catalog_id, Object::Dictionary(cat));
        Ok(())
    }

    /// Drop link annotations of `page` that lead to gone pages.
    fn filter_links(&mut self, page: &mut Dictionary, page_id: ObjectId) {
        let src = self.src;
        let Some(annots) = src.annots.get(&page_id) else {
            return;
        };
        let mut kept = Vec::with_capacity(annots.len());
        let mut dropped = 0;
        for &a in annots {
            let dead = match src.doc.get_dictionary(a) {
                Ok(d) if d.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Link") => {
                    self.is_dead(src.target_of(d))
                }
                _ => false,
            };
            if dead {
                dropped += 1;
            } else {
                kept.push(Object::Reference(a));
            }
        }
        if dropped > 0 {
            self.stats.links_dropped += dropped;
            page.set("Annots", Object::Array(kept));
        }
    }

    /// Page labels as the kept pages showed them in the input.
    fn relabel(&mut self, cat: &mut Dictionary) {
        let src = self.src;
        let Some(labels) = src.dict_at_obj(cat.get(b"PageLabels").ok()) else {
            return;
        };
        // Ranges: (first page index, style, prefix, start number).
        let mut ranges: Vec<(i64, Label)> = Vec::new();
        for (k, v) in src.number_tree_entries(labels) {
            let d = src.resolve(v).as_dict().ok();
            let style = d
                .and_then(|d| d.get(b"S").and_then(Object::as_name).ok())
                .map(<[u8]>::to_vec);
            let prefix = d
                .and_then(|d| src.resolve_obj(d.get(b"P")).as_str().ok())
                .map(<[u8]>::to_vec);
            let start = d
                .and_then(|d| d.get(b"St").and_then(Object::as_i64).ok())
                .unwrap_or(1);
            ranges.push((k, (style, prefix, start)));
        }
        ranges.sort_by_key(|r| r.0);
        let mut nums = Vec::new();
        let mut prev: Option<Label> = None;
        for (i, &p) in self.selection.iter().enumerate() {
            let idx = i64::from(p) - 1;
            let label = match ranges.iter().rev().find(|r| r.0 <= idx) {
                Some((first, (s, pre, st))) => {
                    (s.clone(), pre.clone(), st.saturating_add(idx - first))
                }
                // Not covered: viewers show the page number.
                None => (Some(b"D".to_vec()), None, idx + 1),
            };
            let continues = prev
                .as_ref()
                .is_some_and(|(s, pre, n)| *s == label.0 && *pre == label.1 && n + 1 == label.2);
            if !continues {
                let mut d = Dictionary::new();
                if let Some(s) = &label.0 {
                    d.set("S", Object::Name(s.clone()));
                }
                if let Some(pre) = &label.1 {
                    d.set("P", Object::String(pre.clone(), StringFormat::Literal));
                }
                if label.2 != 1 {
                    d.set("St", label.2);
                }
                nums.push(Object::Integer(i as i64));
                nums.push(Object::Dictionary(d));
            }
            prev = Some(label);
        }
        let mut tree = Dictionary::new();
        tree.set("Nums", Object::Array(nums));
        cat.set("PageLabels", Object::Dictionary(tree));
    }

    fn rebuild_outlines(&mut self, cat: &mut Dictionary) -> Result<()> {
        let src = self.src;
        let Ok(root_id) = cat.get(b"Outlines").and_then(Object::as_reference) else {
            return Ok(());
        };
        let Ok(root) = src.doc.get_dictionary(root_id) else {
            return Ok(());
        };
        let mut seen = HashSet::new();
        seen.insert(root_id);
        let first = root.get(b"First").and_then(Object::as_reference).ok();
        let (items, visible) = self.outline_level(first, root_id, 0, &mut seen)?;
        let mut root = root.clone();
        match (items.first(), items.last()) {
            (Some(&f), Some(&l)) => {
                root.set("First", Object::Reference(f));
                root.set("Last", Object::Reference(l));
                root.set("Count", visible);
                self.overrides.insert(root_id, Object::Dictionary(root));
            }
            _ => {
                cat.remove(b"Outlines");
            }
        }
        Ok(())
    }

    /// Rebuild the sibling list starting at `first`; returns the kept items
    /// and how many entries they show when their parent is open.
    fn outline_level(
        &mut self,
        first: Option<ObjectId>,
        parent: ObjectId,
        depth: u32,
        seen: &mut HashSet<ObjectId>,
    ) -> Result<(Vec<ObjectId>, i64)> {
        let src = self.src;
        let mut kept: Vec<ObjectId> = Vec::new();
        let mut visible = 0i64;
        let mut cur = first;
        while let Some(id) = cur {
            if !seen.insert(id) || seen.len() > MAX_ITEMS {
                break;
            }
            if seen.len().is_multiple_of(1000) {
                src.ctx.check()?;
            }
            let Ok(item) = src.doc.get_dictionary(id) else {
                break;
            };
            cur = item.get(b"Next").and_then(Object::as_reference).ok();
            let (children, child_visible) = if depth < src.ctx.limits.max_depth {
                let f = item.get(b"First").and_then(Object::as_reference).ok();
                self.outline_level(f, id, depth + 1, seen)?
            } else {
                (Vec::new(), 0)
            };
            let dead = self.is_dead(src.target_of(item));
            if dead && children.is_empty() {
                self.stats.outline_items_dropped += 1;
                continue;
            }
            let mut it = item.clone();
            it.set("Parent", Object::Reference(parent));
            if dead {
                // A heading whose own page is gone but whose children stay.
                it.remove(b"Dest");
                it.remove(b"A");
            }
            let open = item.get(b"Count").and_then(Object::as_i64).unwrap_or(0) > 0;
            match (children.first(), children.last()) {
                (Some(&f), Some(&l)) => {
                    it.set("First", Object::Reference(f));
                    it.set("Last", Object::Reference(l));
                    it.set("Count", if open { child_visible } else { -child_visible });
                }
                _ => {
                    it.remove(b"First");
                    it.remove(b"Last");
                    it.remove(b"Count");
                }
            }
            it.remove(b"Prev");
            it.remove(b"Next");
            visible += 1 + if open { child_visible } else { 0 };
            kept.push(id);
            self.overrides.insert(id, Object::Dictionary(it));
        }
        for (i, id) in kept.iter().enumerate() {
            if let Some(Object::Dictionary(d)) = self.overrides.get_mut(id) {
                if i > 0 {
                    d.set("Prev", Object::Reference(kept[i - 1]));
                }
                if let Some(&n) = kept.get(i + 1) {
                    d.set("Next", Object::Reference(n));
                }
            }
        }
        Ok((kept, visible))
    }

    /// Drop named destinations that lead to gone pages (catalog `/Dests`
    /// and the `/Names /Dests` tree, rewritten as one flat node).
    fn rebuild_named_dests(&mut self, cat: &mut Dictionary) -> Result<()> {
        let src = self.src;
        if let Ok(dests) = cat.get(b"Dests") {
            let target_id = dests.as_reference().ok();
            if let Ok(d) = src.resolve(dests).as_dict() {
                let mut kept = Dictionary::new();
                for (k, v) in d.iter() {
                    if self.is_dead(src.explicit_target(v)) {
                        self.stats.named_dests_dropped += 1;
                    } else {
                        kept.set(k.clone(), v.clone());
                    }
                }
                match target_id {
                    Some(id) => {
                        self.overrides.insert(id, Object::Dictionary(kept));
                    }
                    None => cat.set("Dests", Object::Dictionary(kept)),
                }
            }
        }
        let names_ref = cat.get(b"Names").and_then(Object::as_reference).ok();
        let Some(names) = src.dict_at_obj(cat.get(b"Names").ok()) else {
            return Ok(());
        };
        let Ok(tree) = names.get(b"Dests") else {
            return Ok(());
        };
        let mut flat = Vec::new();
        for (k, v) in src.name_tree_entries(tree) {
            if self.is_dead(src.explicit_target(v)) {
                self.stats.named_dests_dropped += 1;
            } else {
                flat.push(Object::String(k, StringFormat::Literal));
                flat.push(v.clone());
            }
        }
        let tree_id = self.new_id()?;
        let mut node = Dictionary::new();
        node.set("Names", Object::Array(flat));
        self.overrides.insert(tree_id, Object::Dictionary(node));
        let mut names = names.clone();
        names.set("Dests", Object::Reference(tree_id));
        match names_ref {
            Some(id) => {
                self.overrides.insert(id, Object::Dictionary(names));
            }
            None => cat.set("Names", Object::Dictionary(names)),
        }
        Ok(())
    }

    /// Remove from the interactive form the fields whose widgets sat on
    /// gone pages.
    fn filter_form(&mut self, cat: &mut Dictionary, kept_annots: &HashSet<ObjectId>) -> Result<()> {
        let src = self.src;
        let acro_ref = cat.get(b"AcroForm").and_then(Object::as_reference).ok();
        let Some(acro) = src.dict_at_obj(cat.get(b"AcroForm").ok()) else {
            return Ok(());
        };
        let gone_annots: HashSet<ObjectId> = self
            .gone
            .iter()
            .filter_map(|p| src.annots.get(p))
            .flatten()
            .copied()
            .collect();
        let Ok(fields) = src.resolve_obj(acro.get(b"Fields")).as_array() else {
            return Ok(());
        };
        let mut dropped: HashSet<ObjectId> = HashSet::new();
        let mut seen = HashSet::new();
        let mut kept_fields = Vec::new();
        for f in fields {
            match f.as_reference() {
                Ok(id) => {
                    if self.keep_field(id, 0, kept_annots, &gone_annots, &mut dropped, &mut seen) {
                        kept_fields.push(f.clone());
                    }
                }
                Err(_) => kept_fields.push(f.clone()),
            }
        }
        if dropped.is_empty() {
            return Ok(());
        }
        let mut acro = acro.clone();
        acro.set("Fields", Object::Array(kept_fields));
        if let Ok(co) = src.resolve_obj(acro.get(b"CO")).as_array() {
            let co: Vec<Object> = co
                .iter()
                .filter(|o| o.as_reference().map_or(true, |id| !dropped.contains(&id)))
                .cloned()
                .collect();
            acro.set("CO", Object::Array(co));
        }
        match acro_ref {
            Some(id) => {
                self.overrides.insert(id, Object::Dictionary(acro));
            }
            None => cat.set("AcroForm", Object::Dictionary(acro)),
        }
        Ok(())
    }

    /// Whether field `id` stays; rewrites its `/Kids` when some go.
    fn keep_field(
        &mut self,
        id: ObjectId,
        depth: u32,
        kept_annots: &HashSet<ObjectId>,
        gone_annots: &HashSet<ObjectId>,
        dropped: &mut HashSet<ObjectId>,
        seen: &mut HashSet<ObjectId>,
    ) -> bool {
        let src = self.src;
        if !seen.insert(id) || depth > src.ctx.limits.max_depth {
            return true;
        }
        let Ok(d) = src.doc.get_dictionary(id) else {
            return true;
        };
        if let Ok(kids) = src.resolve_obj(d.get(b"Kids")).as_array() {
            let mut kept = Vec::with_capacity(kids.len());
            for k in kids {
                match k.as_reference() {
                    Ok(kid)
                        if !self.keep_field(
                            kid,
                            depth + 1,
                            kept_annots,
                            gone_annots,
                            dropped,
                            seen,
                        ) => {}
                    _ => kept.push(k.clone()),
                }
            }
            if kept.is_empty() && !kids.is_empty() {
                dropped.insert(id);
                self.stats.fields_dropped += 1;
                return false;
            }
            if kept.len() != kids.len() {
                let mut nd = d.clone();
                nd.set("Kids", Object::Array(kept));
                self.overrides.insert(id, Object::Dictionary(nd));
            }
            return true;
        }
        // A widget: gone when it sat on a gone page.
        let on_gone_page = matches!(d.get(b"P"), Ok(Object::Reference(p)) if self.gone.contains(p));
        let gone = gone_annots.contains(&id) || (on_gone_page && !kept_annots.contains(&id));
        if gone {
            dropped.insert(id);
            if d.has(b"T") {
                self.stats.fields_dropped += 1;
            }
        }
        !gone
    }

    /// Copy everything reachable from the trailer into a new document,
    /// taking replaced objects from `overrides` and turning references to
    /// gone pages and old page-tree nodes into `null`.
    fn copy(&self) -> Result<Document> {
        let src = self.src;
        let mut out = Document::with_version(src.doc.version.clone());
        out.trailer = Dictionary::new();
        for key in [&b"Root"[..], b"Info", b"ID"] {
            if let Ok(v) = src.doc.trailer.get(key) {
                out.trailer.set(key, v.clone());
            }
        }
        let banned = |id: &ObjectId| {
            (src.tree_nodes.contains(id) || self.gone.contains(id))
                && !self.overrides.contains_key(id)
        };
        let mut queue: VecDeque<ObjectId> = VecDeque::new();
        let mut seen: HashSet<ObjectId> = HashSet::new();
        let push_refs =
            |obj: &mut Object, queue: &mut VecDeque<ObjectId>, seen: &mut HashSet<ObjectId>| {
                let mut stack: Vec<&mut Object> = vec![obj];
                while let Some(o) = stack.pop() {
                    match o {
                        Object::Reference(id) => {
                            if banned(id) {
                                *o = Object::Null;
                            } else if seen.insert(*id) {
                                queue.push_back(*id);
                            }
                        }
                        Object::Array(a) => stack.extend(a.iter_mut()),
                        Object::Dictionary(d) => stack.extend(d.iter_mut().map(|(_, v)| v)),
                        Object::Stream(s) => stack.extend(s.dict.iter_mut().map(|(_, v)| v)),
                        _ => {}
                    }
                }
            };
        let mut trailer = std::mem::take(&mut out.trailer);
        for (_, v) in trailer.iter_mut() {
            push_refs(v, &mut queue, &mut seen);
        }
        out.trailer = trailer;
        let mut n = 0usize;
        while let Some(id) = queue.pop_front() {
            n += 1;
            if n.is_multiple_of(1000) {
                src.ctx.check()?;
            }
            let Some(mut obj) = self
                .overrides
                .get(&id)
                .cloned()
                .or_else(|| src.doc.get_object(id).ok().cloned())
            else {
                continue;
            };
            push_refs(&mut obj, &mut queue, &mut seen);
            out.objects.insert(id, obj);
        }
        out.max_id = out.objects.keys().map(|id| id.0).max().unwrap_or(0);
        Ok(out)
    }
}

impl<'a> Source<'a> {
    fn dict_at_obj(&self, o: Option<&'a Object>) -> Option<&'a Dictionary> {
        self.resolve(o?).as_dict().ok()
    }

    /// All `(key, value)` pairs of a number tree.
    fn number_tree_entries(&self, root: &'a Dictionary) -> Vec<(i64, &'a Object)> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<(&'a Dictionary, u32)> = vec![(root, 0)];
        while let Some((d, depth)) = stack.pop() {
            if let Ok(nums) = self.resolve_obj(d.get(b"Nums")).as_array() {
                for pair in nums.chunks(2) {
                    if let [k, v] = pair
                        && let Ok(key) = self.resolve(k).as_i64()
                    {
                        out.push((key, v));
                    }
                }
            }
            if depth < self.ctx.limits.max_depth
                && out.len() < MAX_ITEMS
                && let Ok(kids) = self.resolve_obj(d.get(b"Kids")).as_array()
            {
                for k in kids.iter().rev() {
                    if let Object::Reference(id) = k
                        && !seen.insert(*id)
                    {
                        continue;
                    }
                    if let Ok(kd) = self.resolve(k).as_dict() {
                        stack.push((kd, depth + 1));
                    }
                }
            }
        }
        out
    }
}

/// Resource categories cut down to what a page uses. Colour spaces and
/// marked-content properties stay whole: `/DefaultRGB` and friends are used
/// without being named, and both are small.
const PRUNED_CATEGORIES: [&[u8]; 5] = [b"XObject", b"Font", b"ExtGState", b"Shading", b"Pattern"];

/// How deep nested forms / Type 3 glyphs / patterns without resources of
/// their own are followed.
const MAX_RESOURCE_NESTING: u32 = 8;

impl<'a> Source<'a> {
    /// Cut `page`'s resources down to the names its content streams use.
    ///
    /// A resource is used only through its name in a content stream, so the
    /// names appearing anywhere in the page's content (as name tokens: a
    /// superset of those the operators use) are kept. Streams that borrow
    /// the page's resources (forms, Type 3 glyphs and patterns without
    /// `/Resources` of their own) add their names too. When any content
    /// cannot be decoded, nothing is pruned. Returns whether anything went.
    fn prune_resources(&self, page: &mut Dictionary) -> bool {
        let Ok(res_obj) = page.get(b"Resources") else {
            return false;
        };
        let Ok(res) = self.resolve(res_obj).as_dict() else {
            return false;
        };
        let mut names: HashSet<Vec<u8>> = HashSet::new();
        let contents: Vec<&Object> = match page.get(b"Contents") {
            Ok(c) => match self.resolve(c) {
                Object::Array(a) => a.iter().collect(),
                _ => vec![c],
            },
            Err(_) => Vec::new(),
        };
        for c in contents {
            let Ok(stream) = self.resolve(c).as_stream() else {
                continue;
            };
            if !self.add_names(stream, &mut names) {
                return false;
            }
        }
        // Streams that inherit the page's resources.
        let mut seen: HashSet<ObjectId> = HashSet::new();
        for _ in 0..MAX_RESOURCE_NESTING {
            let before = names.len();
            for cat in [&b"XObject"[..], b"Font", b"Pattern"] {
                let Some(sub) = self.dict_at(res, cat) else {
                    continue;
                };
                for (k, v) in sub.iter() {
                    if !names.contains(k) {
                        continue;
                    }
                    if let Object::Reference(id) = v
                        && !seen.insert(*id)
                    {
                        continue;
                    }
                    for stream in self.borrowing_streams(v) {
                        if !self.add_names(stream, &mut names) {
                            return false;
                        }
                    }
                }
            }
            if names.len() == before {
                break;
            }
        }
        let mut new_res = res.clone();
        let mut changed = false;
        for cat in PRUNED_CATEGORIES {
            let Some(sub) = self.dict_at(res, cat) else {
                continue;
            };
            let mut kept = Dictionary::new();
            for (k, v) in sub.iter() {
                if names.contains(k) {
                    kept.set(k.clone(), v.clone());
                }
            }
            if kept.len() != sub.len() {
                changed = true;
                new_res.set(cat, Object::Dictionary(kept));
            }
        }
        if changed {
            page.set("Resources", Object::Dictionary(new_res));
        }
        changed
    }

    /// The content streams behind resource `v` that have no `/Resources`
    /// of their own (so they use the page's): a form XObject, a tiling
    /// pattern, or the glyph procedures of a Type 3 font.
    fn borrowing_streams(&self, v: &'a Object) -> Vec<&'a lopdf::Stream> {
        match self.resolve(v) {
            Object::Stream(s) if !s.dict.has(b"Resources") => {
                let is_form =
                    s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Form");
                let is_pattern = s.dict.has(b"PatternType");
                if is_form || is_pattern {
                    vec![s]
                } else {
                    Vec::new()
                }
            }
            Object::Dictionary(d)
                if !d.has(b"Resources")
                    && d.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Type3") =>
            {
                self.dict_at(d, b"CharProcs")
                    .map(|procs| {
                        procs
                            .iter()
                            .filter_map(|(_, p)| self.resolve(p).as_stream().ok())
                            .collect()
                    })
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// Add the name tokens of `stream`'s decoded data; false if it does not decode.
    fn add_names(&self, stream: &lopdf::Stream, names: &mut HashSet<Vec<u8>>) -> bool {
        let limit = usize::try_from(self.ctx.limits.max_stream_bytes).unwrap_or(usize::MAX);
        match stream.decompressed_content_with_limit(limit) {
            Ok(data) => {
                name_tokens(&data, names);
                true
            }
            Err(_) => false,
        }
    }
}

/// Every `/Name` token of a content stream, `#xx` escapes decoded.
fn name_tokens(data: &[u8], names: &mut HashSet<Vec<u8>>) {
    let is_delim = |b: u8| b.is_ascii_whitespace() || b == 0 || b"()<>[]{}/%".contains(&b);
    let mut i = 0;
    while i < data.len() {
        if data[i] != b'/' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let mut name = Vec::new();
        while j < data.len() && !is_delim(data[j]) {
            let b = data[j];
            if b == b'#'
                && let Some(hex) = data.get(j + 1..j + 3)
                && let Ok(h) = std::str::from_utf8(hex)
                && let Ok(v) = u8::from_str_radix(h, 16)
            {
                name.push(v);
                j += 3;
                continue;
            }
            name.push(b);
            j += 1;
        }
        names.insert(name);
        i = j;
    }
}
