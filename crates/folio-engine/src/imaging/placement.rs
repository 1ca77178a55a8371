//! Where and how large each image XObject is drawn, hence its effective
//! resolution (pixels per inch on the page).
//!
//! Downsampling is only safe when we know the *largest* size an image is
//! drawn at: an image shown once as a thumbnail and once full-page must keep
//! the full-page resolution. So every page's content is walked with a CTM
//! stack (`q`/`Q`/`cm`), following Form XObjects, tiling patterns, soft-mask
//! groups of ExtGStates and annotation appearances. Each `Do` of an image
//! records the size of the unit square under the CTM.
//!
//! The walk is bounded (depth, an operation budget, stream size limits). When
//! a budget runs out the result is marked incomplete, and callers must then
//! not downsample at all: an unseen use could be larger than the seen ones.

use std::collections::{BTreeSet, HashMap, HashSet};

use hayro_syntax::content::UntypedIter;
use hayro_syntax::object::Object as HObject;
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};

use crate::{Ctx, Result};

/// Operations processed over the whole document before giving up (keeps a
/// form drawn a million times from stalling the job).
const OP_BUDGET: u64 = 20_000_000;

/// An operator no content stream uses, appended to each one walked: seeing
/// it means the parser read the whole stream.
const END_SENTINEL: &[u8] = b"folio_end_of_content";

/// Largest drawn size of one image and the resulting lowest resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Largest drawn width over all uses, in points (1/72 in).
    pub max_points_w: f64,
    /// Largest drawn height over all uses, in points.
    pub max_points_h: f64,
    /// `Width` pixels over `max_points_w` inches.
    pub min_ppi_x: f64,
    /// `Height` pixels over `max_points_h` inches.
    pub min_ppi_y: f64,
    /// Number of `Do` invocations seen.
    pub uses: u32,
}

impl Placement {
    /// The lower of the two axis resolutions.
    pub fn min_ppi(&self) -> f64 {
        self.min_ppi_x.min(self.min_ppi_y)
    }
}

/// The placements of all images drawn in a document.
#[derive(Debug, Clone, Default)]
pub struct Placements {
    pub map: HashMap<ObjectId, Placement>,
    /// False when the walk as a whole could not be trusted (a page the
    /// loader lost, the operation budget spent): any image may be drawn
    /// larger than recorded.
    pub complete: bool,
    /// Images reachable from a content stream that could not be read to its
    /// end (syntax error, depth limit, undecodable stream): the unread part
    /// may draw them larger.
    pub uncertain: HashSet<ObjectId>,
    /// The pages (1-based) each image is drawn on, or may be drawn on (an
    /// unreadable page counts every image its resources reach). The quality
    /// gate uses it to back off the images of a page that fell below its
    /// SSIM floor.
    pub pages: HashMap<ObjectId, BTreeSet<u32>>,
}

impl Placements {
    pub fn get(&self, id: ObjectId) -> Option<&Placement> {
        self.map.get(&id)
    }

    /// The placement of `id` when it is safe to resample from it: the walk
    /// saw every place that can draw the image.
    pub fn trusted(&self, id: ObjectId) -> Option<&Placement> {
        if self.complete && !self.uncertain.contains(&id) {
            self.map.get(&id)
        } else {
            None
        }
    }
}

/// An affine matrix `[a b c d e f]` in PDF's row-vector convention.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Matrix(pub [f64; 6]);

impl Matrix {
    pub const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    /// `self × other`: apply `self` first, then `other` (so `cm` is
    /// `M.then(ctm)`).
    pub fn then(&self, o: &Matrix) -> Matrix {
        let [a, b, c, d, e, f] = self.0;
        let [oa, ob, oc, od, oe, of] = o.0;
        Matrix([
            a * oa + b * oc,
            a * ob + b * od,
            c * oa + d * oc,
            c * ob + d * od,
            e * oa + f * oc + oe,
            e * ob + f * od + of,
        ])
    }

    /// Drawn size of the unit square: lengths of the images of (1,0) and (0,1).
    pub fn unit_size(&self) -> (f64, f64) {
        let [a, b, c, d, _, _] = self.0;
        (a.hypot(b), c.hypot(d))
    }

    fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + c * y + e, b * x + d * y + f)
    }

    fn from_object(doc: &Document, obj: Option<&Object>) -> Option<Matrix> {
        let arr = resolve(doc, obj?)?.as_array().ok()?;
        if arr.len() != 6 {
            return None;
        }
        let mut m = [0.0; 6];
        for (slot, v) in m.iter_mut().zip(arr) {
            *slot = number(resolve(doc, v)?)?;
        }
        m.iter().all(|v| v.is_finite()).then_some(Matrix(m))
    }
}

fn number(o: &Object) -> Option<f64> {
    match o {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(*r as f64),
        _ => None,
    }
}

/// Follow a reference (bounded by lopdf's own dereference limit).
fn resolve<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Object> {
    doc.dereference(o).ok().map(|(_, o)| o)
}

fn resolve_dict<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Dictionary> {
    match resolve(doc, o)? {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

/// Accumulated uses of one image.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    w: f64,
    h: f64,
    uses: u32,
}

/// Resource dictionaries in lookup order (nearest first).
type Resources<'a> = Vec<&'a Dictionary>;

struct Walker<'a> {
    doc: &'a Document,
    ctx: &'a Ctx,
    acc: HashMap<ObjectId, Acc>,
    /// Forms and patterns currently being walked: stops reference loops.
    active: HashSet<ObjectId>,
    ops_left: u64,
    complete: bool,
    uncertain: HashSet<ObjectId>,
    /// The page being walked (1-based) and the pages each image was seen on.
    page: u32,
    pages: HashMap<ObjectId, BTreeSet<u32>>,
}

/// Compute the placement of every image drawn in `doc`.
///
/// Errors only on cancellation or the wall-time limit; malformed content
/// marks the result incomplete instead.
pub fn placements(doc: &Document, ctx: &Ctx) -> Result<Placements> {
    let mut w = Walker {
        doc,
        ctx,
        acc: HashMap::new(),
        active: HashSet::new(),
        ops_left: OP_BUDGET,
        complete: true,
        uncertain: HashSet::new(),
        page: 0,
        pages: HashMap::new(),
    };
    let max_stream = usize::try_from(ctx.limits.max_stream_bytes).unwrap_or(usize::MAX);
    for (page_no, page_id) in doc.get_pages() {
        ctx.check()?;
        w.page = page_no;
        let Ok(page) = doc.get_dictionary(page_id) else {
            // A page the loader could not find may draw anything.
            w.complete = false;
            continue;
        };
        // `/UserUnit` (PDF 1.6) scales default user space: on a page with
        // UserUnit 10, one unit is 10/72 inch.
        let unit = page
            .get(b"UserUnit")
            .ok()
            .and_then(|o| resolve(doc, o))
            .and_then(number)
            .filter(|u| u.is_finite() && *u > 0.0)
            .unwrap_or(1.0);
        let base = Matrix([unit, 0.0, 0.0, unit, 0.0, 0.0]);
        let resources = page_resources(doc, page_id);
        match doc.get_page_content_with_limit(page_id, max_stream) {
            Ok(content) => w.walk(content, &resources, base, base, 0)?,
            Err(e) => {
                tracing::debug!(?page_id, "page content unreadable: {e}");
                w.taint(&resources);
            }
        }
        w.walk_annotations(page_id, &resources, base)?;
    }
    let mut map = HashMap::new();
    for (id, a) in w.acc {
        // Only images whose size we can read get a placement.
        let Some((pw, ph)) = image_size(doc, id) else {
            continue;
        };
        if a.w <= 1e-6 || a.h <= 1e-6 {
            // Drawn with no area: invisible, nothing to learn from it.
            continue;
        }
        map.insert(
            id,
            Placement {
                max_points_w: a.w,
                max_points_h: a.h,
                min_ppi_x: pw as f64 / (a.w / 72.0),
                min_ppi_y: ph as f64 / (a.h / 72.0),
                uses: a.uses,
            },
        );
    }
    Ok(Placements {
        map,
        complete: w.complete,
        uncertain: w.uncertain,
        pages: w.pages,
    })
}

/// `/Width` and `/Height` of an image XObject.
pub fn image_size(doc: &Document, id: ObjectId) -> Option<(u32, u32)> {
    let dict = &doc.get_object(id).ok()?.as_stream().ok()?.dict;
    let w = dict
        .get(b"Width")
        .ok()
        .and_then(|o| resolve(doc, o))?
        .as_i64()
        .ok()?;
    let h = dict
        .get(b"Height")
        .ok()
        .and_then(|o| resolve(doc, o))?
        .as_i64()
        .ok()?;
    Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))
}

/// The page's resource chain: its own `/Resources`, then inherited ones.
fn page_resources(doc: &Document, page_id: ObjectId) -> Resources<'_> {
    let mut out = Vec::new();
    if let Ok((direct, ids)) = doc.get_page_resources(page_id) {
        out.extend(direct);
        out.extend(ids.into_iter().filter_map(|id| doc.get_dictionary(id).ok()));
    }
    out
}

impl<'a> Walker<'a> {
    /// Look up `name` in the `category` (XObject, Pattern, ExtGState) of the
    /// nearest resource dictionary that has it.
    fn lookup(&self, res: &[&'a Dictionary], category: &[u8], name: &[u8]) -> Option<&'a Object> {
        for r in res {
            if let Some(cat) = r.get(category).ok().and_then(|o| resolve_dict(self.doc, o))
                && let Ok(v) = cat.get(name)
            {
                return Some(v);
            }
        }
        None
    }

    /// Resources for a form/pattern: its own, else inherited from the caller
    /// (old PDFs omit them in forms).
    fn child_resources(&self, dict: &'a Dictionary, parent: &[&'a Dictionary]) -> Resources<'a> {
        match dict
            .get(b"Resources")
            .ok()
            .and_then(|o| resolve_dict(self.doc, o))
        {
            Some(r) => vec![r],
            None => parent.to_vec(),
        }
    }

    /// Decoded content of a form or pattern; when unreadable, everything its
    /// resources can draw becomes uncertain.
    fn stream_content(&mut self, s: &Stream, res: &[&'a Dictionary]) -> Option<Vec<u8>> {
        let max = usize::try_from(self.ctx.limits.max_stream_bytes).unwrap_or(usize::MAX);
        match s.get_plain_content_with_limit(max) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!("form/pattern content unreadable: {e}");
                self.taint(res);
                None
            }
        }
    }

    /// Mark every image reachable from `res` (through forms, patterns and
    /// soft-mask groups) as uncertain: a stream using these resources was not
    /// read to its end.
    fn taint(&mut self, res: &[&'a Dictionary]) {
        let doc = self.doc;
        let mut stack: Vec<&'a Dictionary> = res.to_vec();
        let mut seen: HashSet<ObjectId> = HashSet::new();
        let mut budget = 200_000u32;
        let mut visit = |this: &mut Self, o: &'a Object, stack: &mut Vec<&'a Dictionary>| -> bool {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                return false;
            }
            let Object::Reference(id) = o else {
                return true;
            };
            if !seen.insert(*id) {
                return true;
            }
            let Ok(Object::Stream(s)) = doc.get_object(*id) else {
                return true;
            };
            if matches!(s.dict.get(b"Subtype"), Ok(Object::Name(n)) if n == b"Image") {
                this.uncertain.insert(*id);
                this.pages.entry(*id).or_default().insert(this.page);
            } else if let Some(r) = s
                .dict
                .get(b"Resources")
                .ok()
                .and_then(|o| resolve_dict(doc, o))
            {
                stack.push(r);
            }
            true
        };
        while let Some(r) = stack.pop() {
            for cat in [&b"XObject"[..], b"Pattern"] {
                let Some(d) = r.get(cat).ok().and_then(|o| resolve_dict(doc, o)) else {
                    continue;
                };
                for (_, v) in d.iter() {
                    if !visit(self, v, &mut stack) {
                        self.complete = false;
                        return;
                    }
                }
            }
            let Some(gs) = r.get(b"ExtGState").ok().and_then(|o| resolve_dict(doc, o)) else {
                continue;
            };
            for (_, g) in gs.iter() {
                let group = resolve_dict(doc, g)
                    .and_then(|g| g.get(b"SMask").ok())
                    .and_then(|m| resolve_dict(doc, m))
                    .and_then(|m| m.get(b"G").ok());
                if let Some(group) = group
                    && !visit(self, group, &mut stack)
                {
                    self.complete = false;
                    return;
                }
            }
        }
    }

    /// Walk one content stream. `base` is the CTM at the start of the stream
    /// (what tiling patterns are relative to); `ctm` starts equal to it.
    fn walk(
        &mut self,
        content: Vec<u8>,
        res: &[&'a Dictionary],
        base: Matrix,
        start: Matrix,
        depth: u32,
    ) -> Result<()> {
        let mut ctm = start;
        let mut stack: Vec<Matrix> = Vec::new();
        let mut overflow = 0u32;
        // hayro's content parser (the renderer's own: zero-copy, several
        // times faster than lopdf's) stops quietly at a syntax error. A
        // sentinel operator after the content tells whether the stream was
        // read to its end: an unterminated string, array or inline image
        // swallows it.
        // Appended to the decoded stream the caller hands over (no copy).
        let mut data = content;
        data.push(b'\n');
        data.extend_from_slice(END_SENTINEL);
        data.push(b'\n');
        let mut ops = UntypedIter::new(&data);
        let mut finished = false;
        while let Some(op) = ops.next() {
            let operator: &[u8] = &op.operator[..];
            if operator == END_SENTINEL {
                finished = true;
                break;
            }
            if self.ops_left == 0 {
                self.complete = false;
                return Ok(());
            }
            self.ops_left -= 1;
            if self.ops_left.is_multiple_of(65_536) {
                self.ctx.check()?;
            }
            match operator {
                // Viewers cap the graphics-state stack; past the cap we only
                // count, so the matching Q's still pair up.
                b"q" if stack.len() < 4096 => stack.push(ctm),
                b"q" => overflow += 1,
                b"Q" if overflow > 0 => overflow -= 1,
                b"Q" => {
                    if let Some(m) = stack.pop() {
                        ctm = m;
                    }
                }
                b"cm" => {
                    let mut m = [0.0; 6];
                    let mut n = 0;
                    let mut ok = true;
                    for o in op.operands() {
                        match (o, m.get_mut(n)) {
                            (HObject::Number(v), Some(slot)) if v.as_f64().is_finite() => {
                                *slot = v.as_f64()
                            }
                            _ => ok = false,
                        }
                        n += 1;
                    }
                    if ok && n == 6 {
                        ctm = Matrix(m).then(&ctm);
                    }
                }
                b"Do" => {
                    if let Some(HObject::Name(name)) = op.operands().next() {
                        self.do_xobject(name.as_ref(), res, ctm, depth)?;
                    }
                }
                b"scn" | b"SCN" => {
                    if let Some(HObject::Name(name)) = op.operands().last() {
                        self.do_pattern(name.as_ref(), res, base, depth)?;
                    }
                }
                b"gs" => {
                    if let Some(HObject::Name(name)) = op.operands().next() {
                        self.do_extgstate(name.as_ref(), res, ctm, depth)?;
                    }
                }
                _ => {}
            }
        }
        if !finished {
            // Viewers differ after a syntax error (some resync and draw the
            // rest): what this stream can draw is uncertain.
            self.taint(res);
        }
        Ok(())
    }

    fn do_xobject(
        &mut self,
        name: &[u8],
        res: &[&'a Dictionary],
        ctm: Matrix,
        depth: u32,
    ) -> Result<()> {
        let doc = self.doc;
        let Some(Object::Reference(id)) = self.lookup(res, b"XObject", name) else {
            // Direct (non-reference) streams cannot occur in valid PDFs.
            return Ok(());
        };
        let id = *id;
        let Ok(Object::Stream(s)) = doc.get_object(id) else {
            return Ok(());
        };
        match s.dict.get(b"Subtype").ok().and_then(|o| resolve(doc, o)) {
            Some(Object::Name(n)) if n == b"Image" => {
                let (w, h) = ctm.unit_size();
                if w.is_finite() && h.is_finite() {
                    let a = self.acc.entry(id).or_default();
                    a.w = a.w.max(w);
                    a.h = a.h.max(h);
                    a.uses = a.uses.saturating_add(1);
                }
                self.pages.entry(id).or_default().insert(self.page);
            }
            Some(Object::Name(n)) if n == b"Form" => {
                self.walk_form(id, s, res, ctm, depth)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Walk a form XObject drawn with CTM `ctm`.
    fn walk_form(
        &mut self,
        id: ObjectId,
        s: &'a Stream,
        res: &[&'a Dictionary],
        ctm: Matrix,
        depth: u32,
    ) -> Result<()> {
        let child = self.child_resources(&s.dict, res);
        if depth >= self.ctx.limits.max_depth {
            self.taint(&child);
            return Ok(());
        }
        if !self.active.insert(id) {
            // A form drawing itself: viewers stop there as well.
            return Ok(());
        }
        let m =
            Matrix::from_object(self.doc, s.dict.get(b"Matrix").ok()).unwrap_or(Matrix::IDENTITY);
        let inner = m.then(&ctm);
        if let Some(content) = self.stream_content(s, &child) {
            let r = self.walk(content, &child, inner, inner, depth + 1);
            self.active.remove(&id);
            return r;
        }
        self.active.remove(&id);
        Ok(())
    }

    /// A tiling pattern set as colour: its cells draw its content with the
    /// pattern matrix relative to the *stream's* base CTM, not the current one.
    fn do_pattern(
        &mut self,
        name: &[u8],
        res: &[&'a Dictionary],
        base: Matrix,
        depth: u32,
    ) -> Result<()> {
        let doc = self.doc;
        let Some(Object::Reference(id)) = self.lookup(res, b"Pattern", name) else {
            return Ok(());
        };
        let id = *id;
        let Ok(Object::Stream(s)) = doc.get_object(id) else {
            // Shading patterns are dictionaries: no images there.
            return Ok(());
        };
        let child = self.child_resources(&s.dict, res);
        if depth >= self.ctx.limits.max_depth {
            self.taint(&child);
            return Ok(());
        }
        if !self.active.insert(id) {
            return Ok(());
        }
        let m = Matrix::from_object(doc, s.dict.get(b"Matrix").ok()).unwrap_or(Matrix::IDENTITY);
        let inner = m.then(&base);
        let r = match self.stream_content(s, &child) {
            Some(content) => self.walk(content, &child, inner, inner, depth + 1),
            None => Ok(()),
        };
        self.active.remove(&id);
        r
    }

    /// A soft mask set by `gs` paints its group form at the current CTM.
    fn do_extgstate(
        &mut self,
        name: &[u8],
        res: &[&'a Dictionary],
        ctm: Matrix,
        depth: u32,
    ) -> Result<()> {
        let doc = self.doc;
        let Some(gs) = self
            .lookup(res, b"ExtGState", name)
            .and_then(|o| resolve_dict(doc, o))
        else {
            return Ok(());
        };
        let Some(smask) = gs.get(b"SMask").ok().and_then(|o| resolve_dict(doc, o)) else {
            return Ok(());
        };
        let Some(Object::Reference(gid)) = smask.get(b"G").ok() else {
            return Ok(());
        };
        let gid = *gid;
        if let Ok(Object::Stream(g)) = doc.get_object(gid) {
            self.walk_form(gid, g, res, ctm, depth)?;
        }
        Ok(())
    }

    /// Annotation appearances are forms mapped onto the annotation's `/Rect`
    /// (PDF 32000-1 §12.5.5).
    fn walk_annotations(
        &mut self,
        page_id: ObjectId,
        res: &[&'a Dictionary],
        base: Matrix,
    ) -> Result<()> {
        let doc = self.doc;
        let Ok(page) = doc.get_dictionary(page_id) else {
            return Ok(());
        };
        let Some(annots) = page.get(b"Annots").ok().and_then(|o| resolve(doc, o)) else {
            return Ok(());
        };
        let Ok(annots) = annots.as_array() else {
            return Ok(());
        };
        for annot in annots.iter().take(100_000) {
            self.ctx.check()?;
            let Some(a) = resolve_dict(doc, annot) else {
                continue;
            };
            let Some(rect) = rect(doc, a.get(b"Rect").ok()) else {
                continue;
            };
            let Some(ap) = a.get(b"AP").ok().and_then(|o| resolve_dict(doc, o)) else {
                continue;
            };
            for key in [&b"N"[..], b"R", b"D"] {
                let Ok(entry) = ap.get(key) else { continue };
                // Either one appearance stream or a dictionary of states.
                let mut streams: Vec<ObjectId> = Vec::new();
                match entry {
                    Object::Reference(id) => match doc.get_object(*id) {
                        Ok(Object::Stream(_)) => streams.push(*id),
                        Ok(Object::Dictionary(states)) => {
                            streams.extend(states.iter().filter_map(|(_, v)| v.as_reference().ok()))
                        }
                        _ => {}
                    },
                    Object::Dictionary(states) => {
                        streams.extend(states.iter().filter_map(|(_, v)| v.as_reference().ok()))
                    }
                    _ => {}
                }
                for sid in streams.into_iter().take(64) {
                    let Ok(Object::Stream(s)) = doc.get_object(sid) else {
                        continue;
                    };
                    let Some(ctm) = appearance_ctm(doc, s, rect) else {
                        continue;
                    };
                    let ctm = ctm.then(&base);
                    // walk_form applies the form's /Matrix itself; pass the
                    // rectangle mapping only.
                    self.walk_form(sid, s, res, ctm, 0)?;
                }
            }
        }
        Ok(())
    }
}

fn rect(doc: &Document, o: Option<&Object>) -> Option<[f64; 4]> {
    let arr = resolve(doc, o?)?.as_array().ok()?;
    if arr.len() != 4 {
        return None;
    }
    let mut r = [0.0; 4];
    for (slot, v) in r.iter_mut().zip(arr) {
        *slot = number(resolve(doc, v)?)?;
    }
    r.iter().all(|v| v.is_finite()).then_some([
        r[0].min(r[2]),
        r[1].min(r[3]),
        r[0].max(r[2]),
        r[1].max(r[3]),
    ])
}

/// The matrix A that maps the appearance's transformed BBox onto `rect`.
fn appearance_ctm(doc: &Document, s: &Stream, rect: [f64; 4]) -> Option<Matrix> {
    let bbox = self::rect(doc, s.dict.get(b"BBox").ok())?;
    let m = Matrix::from_object(doc, s.dict.get(b"Matrix").ok()).unwrap_or(Matrix::IDENTITY);
    let corners = [
        m.apply(bbox[0], bbox[1]),
        m.apply(bbox[2], bbox[1]),
        m.apply(bbox[0], bbox[3]),
        m.apply(bbox[2], bbox[3]),
    ];
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (x, y) in corners {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let (bw, bh) = (x1 - x0, y1 - y0);
    if bw <= 1e-9 || bh <= 1e-9 {
        return None;
    }
    let sx = (rect[2] - rect[0]) / bw;
    let sy = (rect[3] - rect[1]) / bh;
    Some(Matrix([
        sx,
        0.0,
        0.0,
        sy,
        rect[0] - x0 * sx,
        rect[1] - y0 * sy,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_composition_follows_pdf_order() {
        // Scale by 2 then translate by (10, 0): the origin lands on (10, 0).
        let s = Matrix([2.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
        let t = Matrix([1.0, 0.0, 0.0, 1.0, 10.0, 0.0]);
        let st = s.then(&t);
        assert_eq!(st.apply(0.0, 0.0), (10.0, 0.0));
        assert_eq!(st.apply(1.0, 0.0), (12.0, 0.0));
        // Rotation keeps the unit-square size.
        let r = Matrix([0.0, 3.0, -4.0, 0.0, 5.0, 5.0]);
        assert_eq!(r.unit_size(), (3.0, 4.0));
    }
}
