//! Merging byte-identical objects and dropping unreachable ones.
//!
//! Two objects that serialise to the same bytes (and, for streams, carry the
//! same data) are interchangeable for every reader, except where identity
//! itself means something: a page appears once in the page tree, an
//! annotation belongs to one page, a form field or structure element is one
//! node of a tree, an optional-content group is one layer. Those are never
//! merged; everything else (fonts, images, forms, resources, colour spaces,
//! the numbers behind indirect `/Length`s...) is.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use lopdf::{Dictionary, Document, Object, ObjectId, Writer};
use rayon::prelude::*;

use crate::{Ctx, Result};

/// Merging can make parents identical (two font dictionaries that pointed to
/// two copies of one font program), so passes repeat until nothing merges;
/// this bounds the work on pathological files.
const MAX_ROUNDS: usize = 8;

/// Streams with byte-identical data share one class number.
type Class = u32;

/// The distinct objects seen under one key hash: the id kept for each, and
/// its serialised bytes once a later object has been compared with it.
type Forms = Vec<(ObjectId, Option<Vec<u8>>)>;

/// Merge identical objects, rewriting references to the one kept (the lowest
/// object number). Returns how many objects were merged away.
pub fn deduplicate(doc: &mut Document, ctx: &Ctx) -> Result<usize> {
    deduplicate_with(doc, ctx, &RandomState::new())
}

/// [`deduplicate`] with the hasher of the serialised forms given (tests use
/// one where every form collides).
fn deduplicate_with(
    doc: &mut Document,
    ctx: &Ctx,
    hasher: &(impl BuildHasher + Sync),
) -> Result<usize> {
    let protected: HashSet<ObjectId> = doc
        .trailer
        .iter()
        .filter_map(|(_, v)| v.as_reference().ok())
        .collect();

    // Stream data never changes during dedup: class it once.
    let classes = content_classes(doc, hasher);
    // Keys are 64-bit hashes of each object's serialised form; objects whose
    // keys match are compared in full before one replaces the other, so a
    // hash collision can never merge two different objects. (A SHA-256 key
    // needed no such check, but its first use probes the CPU with `cpuid`,
    // a trap to the hypervisor on virtual machines: ~0.1 ms of every run.)

    let mut merged = 0;
    for _ in 0..MAX_ROUNDS {
        ctx.check()?;
        let keys: Vec<(ObjectId, u64)> = doc
            .objects
            .par_iter()
            .filter(|(id, obj)| !protected.contains(id) && mergeable(obj))
            .filter_map(|(&id, obj)| {
                serialized(obj, classes.get(&id)).map(|b| (id, hasher.hash_one(&b)))
            })
            .collect();

        // `objects` is ordered by id, so the first holder of a form is the
        // lowest id: the one kept. Each hash lists the distinct forms seen
        // (one, barring a collision) with their bytes, serialised at the first
        // hit only; a hit is checked byte for byte.
        let form = |id: ObjectId| {
            doc.objects
                .get(&id)
                .and_then(|o| serialized(o, classes.get(&id)))
        };
        let mut first: HashMap<u64, Forms> = HashMap::with_capacity(keys.len());
        let mut replace: HashMap<ObjectId, ObjectId> = HashMap::new();
        for (id, key) in keys {
            let Some(forms) = first.get_mut(&key) else {
                first.insert(key, vec![(id, None)]);
                continue;
            };
            // Every id in `keys` serialised once already: this is `Some`.
            let Some(mine) = form(id) else {
                continue;
            };
            let same = forms.iter_mut().find_map(|(f, bytes)| {
                let theirs = bytes.get_or_insert_with(|| form(*f).unwrap_or_default());
                (*theirs == mine).then_some(*f)
            });
            match same {
                Some(keep) => {
                    replace.insert(id, keep);
                }
                None => forms.push((id, Some(mine))),
            }
        }
        if replace.is_empty() {
            break;
        }
        for id in replace.keys() {
            doc.objects.remove(id);
        }
        for obj in doc.objects.values_mut() {
            rewrite(obj, &replace);
        }
        for (_, v) in doc.trailer.iter_mut() {
            rewrite(v, &replace);
        }
        merged += replace.len();
    }
    Ok(merged)
}

/// Number the distinct stream contents: equal data, equal class. The data
/// is hashed in parallel and grouped by hash; streams whose hashes match are
/// compared byte for byte, so classes are exact.
fn content_classes(doc: &Document, hasher: &(impl BuildHasher + Sync)) -> HashMap<ObjectId, Class> {
    let hashed: Vec<(ObjectId, &[u8], u64)> = doc
        .objects
        .par_iter()
        .filter_map(|(&id, obj)| match obj {
            Object::Stream(s) => Some((id, s.content.as_slice(), hasher.hash_one(&s.content))),
            _ => None,
        })
        .collect();
    let mut seen: HashMap<u64, Vec<(&[u8], Class)>> = HashMap::with_capacity(hashed.len());
    let mut classes = HashMap::with_capacity(hashed.len());
    let mut next: Class = 0;
    for (id, data, h) in hashed {
        let same = seen.entry(h).or_default();
        let class = match same.iter().find(|(d, _)| *d == data) {
            Some(&(_, c)) => c,
            None => {
                let c = next;
                same.push((data, c));
                next += 1;
                c
            }
        };
        classes.insert(id, class);
    }
    classes
}

/// The serialised form of `obj`, stream data by its class.
fn serialized(obj: &Object, class: Option<&Class>) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    match obj {
        Object::Stream(s) => {
            bytes.extend_from_slice(b"S");
            Writer::write_object(&mut bytes, &Object::Dictionary(s.dict.clone())).ok()?;
            bytes.extend_from_slice(&class?.to_le_bytes());
        }
        other => {
            bytes.extend_from_slice(b"O");
            Writer::write_object(&mut bytes, other).ok()?;
        }
    }
    Some(bytes)
}

/// Types whose objects have an identity beyond their content.
const IDENTITY_TYPES: &[&[u8]] = &[
    b"Catalog",
    b"Pages",
    b"Page",
    b"Annot",
    b"Outlines",
    b"StructTreeRoot",
    b"StructElem",
    b"MCR",
    b"OBJR",
    b"OCG",
    b"OCMD",
    b"Sig",
    b"DocTimeStamp",
    b"XRef",
    b"ObjStm",
    b"Encrypt",
];

/// Keys that mark a node of a tree (page tree, outline, form fields,
/// structure tree) or an annotation: such dictionaries are never merged.
const IDENTITY_KEYS: &[&[u8]] = &[
    b"Parent", b"Kids", b"Rect", b"FT", b"T", b"First", b"Last", b"Next", b"Prev",
];

fn mergeable(obj: &Object) -> bool {
    let dict: &Dictionary = match obj {
        Object::Dictionary(d) => d,
        Object::Stream(s) => &s.dict,
        _ => return true,
    };
    if let Ok(t) = dict.get(b"Type").and_then(Object::as_name)
        && IDENTITY_TYPES.contains(&t)
    {
        return false;
    }
    if IDENTITY_KEYS.iter().any(|k| dict.has(k)) {
        return false;
    }
    // `/P` pointing at a page: an annotation or a structure element.
    !matches!(dict.get(b"P"), Ok(Object::Reference(_)))
}

/// Replace every reference found in `replace`, without recursion (nesting
/// depth comes from the input).
fn rewrite(obj: &mut Object, replace: &HashMap<ObjectId, ObjectId>) {
    let mut stack: Vec<&mut Object> = vec![obj];
    while let Some(o) = stack.pop() {
        match o {
            Object::Reference(id) => {
                if let Some(&to) = replace.get(id) {
                    *id = to;
                }
            }
            Object::Array(items) => stack.extend(items.iter_mut()),
            Object::Dictionary(d) => stack.extend(d.iter_mut().map(|(_, v)| v)),
            Object::Stream(s) => stack.extend(s.dict.iter_mut().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// Drop everything not reachable from the trailer. Returns how many objects went.
pub fn prune(doc: &mut Document) -> usize {
    doc.prune_objects().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Stream, dictionary};

    #[test]
    fn identical_streams_merge_and_parents_follow() {
        let mut doc = Document::with_version("1.5");
        let font_a = doc.add_object(Stream::new(dictionary! {}, b"same font".to_vec()));
        let font_b = doc.add_object(Stream::new(dictionary! {}, b"same font".to_vec()));
        let desc_a = doc.add_object(dictionary! { "FontFile2" => font_a });
        let desc_b = doc.add_object(dictionary! { "FontFile2" => font_b });
        let page_a = doc.add_object(dictionary! { "Type" => "Page", "X" => desc_a });
        let page_b = doc.add_object(dictionary! { "Type" => "Page", "X" => desc_b });
        let root = doc.add_object(dictionary! { "A" => page_a, "B" => page_b });
        doc.trailer.set("Root", root);
        let n = deduplicate(&mut doc, &Ctx::default()).unwrap();
        assert_eq!(n, 2, "the font and then its descriptor");
        let pa = doc.get_dictionary(page_a).unwrap();
        let pb = doc.get_dictionary(page_b).unwrap();
        assert_eq!(pa.get(b"X").unwrap(), pb.get(b"X").unwrap());
        assert!(doc.objects.contains_key(&page_b), "pages are never merged");
    }

    #[test]
    fn only_byte_identical_objects_merge() {
        let mut doc = Document::with_version("1.5");
        // Same dictionary, data differing in one byte: never merged.
        let a = doc.add_object(Stream::new(dictionary! {}, b"data A".to_vec()));
        let b = doc.add_object(Stream::new(dictionary! {}, b"data B".to_vec()));
        // Same data, dictionaries differing: never merged.
        let c = doc.add_object(Stream::new(dictionary! { "K" => 1 }, b"data A".to_vec()));
        // A true twin of `a`, and two equal arrays.
        let d = doc.add_object(Stream::new(dictionary! {}, b"data A".to_vec()));
        let e = doc.add_object(vec![Object::Integer(1), Object::Real(2.5)]);
        let f = doc.add_object(vec![Object::Integer(1), Object::Real(2.5)]);
        let root = doc.add_object(
            dictionary! { "L" => vec![a.into(), b.into(), c.into(), d.into(), e.into(), f.into()] },
        );
        doc.trailer.set("Root", root);
        let n = deduplicate(&mut doc, &Ctx::default()).unwrap();
        assert_eq!(n, 2, "d into a, f into e");
        for kept in [a, b, c, e] {
            assert!(doc.objects.contains_key(&kept), "{kept:?} went");
        }
        assert!(!doc.objects.contains_key(&d) && !doc.objects.contains_key(&f));
        let list = doc
            .get_dictionary(root)
            .unwrap()
            .get(b"L")
            .unwrap()
            .as_array()
            .unwrap();
        let ids: Vec<ObjectId> = list.iter().map(|o| o.as_reference().unwrap()).collect();
        assert_eq!(ids, vec![a, b, c, a, e, e]);
    }

    /// Every serialised form hashes alike: all keys collide.
    struct Colliding;
    struct Zero;
    impl std::hash::Hasher for Zero {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, _: &[u8]) {}
    }
    impl BuildHasher for Colliding {
        type Hasher = Zero;
        fn build_hasher(&self) -> Zero {
            Zero
        }
    }

    #[test]
    fn colliding_hashes_merge_nothing_more() {
        let build = || {
            let mut doc = Document::with_version("1.5");
            let mut ids: Vec<Object> = Vec::new();
            for d in [b"x".as_slice(), b"y", b"x", b"z", b"y"] {
                ids.push(
                    doc.add_object(Stream::new(dictionary! {}, d.to_vec()))
                        .into(),
                );
            }
            for i in 0..4 {
                ids.push(doc.add_object(vec![Object::Integer(i % 2)]).into());
            }
            let root = doc.add_object(dictionary! { "L" => ids });
            doc.trailer.set("Root", root);
            doc
        };
        let mut normal = build();
        let mut colliding = build();
        let n = deduplicate(&mut normal, &Ctx::default()).unwrap();
        let m = deduplicate_with(&mut colliding, &Ctx::default(), &Colliding).unwrap();
        assert_eq!(n, 4, "x, y and the two integer arrays");
        assert_eq!(m, n);
        assert_eq!(
            normal.objects.keys().collect::<Vec<_>>(),
            colliding.objects.keys().collect::<Vec<_>>()
        );
        assert_eq!(
            format!("{:?}", normal.objects),
            format!("{:?}", colliding.objects)
        );
    }
}
