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

use lopdf::{Dictionary, Document, Object, ObjectId, Writer};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::{Ctx, Result};

/// Merging can make parents identical (two font dictionaries that pointed to
/// two copies of one font program), so passes repeat until nothing merges;
/// this bounds the work on pathological files.
const MAX_ROUNDS: usize = 8;

type Hash = [u8; 32];

/// Merge identical objects, rewriting references to the one kept (the lowest
/// object number). Returns how many objects were merged away.
pub fn deduplicate(doc: &mut Document, ctx: &Ctx) -> Result<usize> {
    let protected: HashSet<ObjectId> = doc
        .trailer
        .iter()
        .filter_map(|(_, v)| v.as_reference().ok())
        .collect();

    // Stream data never changes during dedup: hash it once.
    let content_hashes: HashMap<ObjectId, Hash> = doc
        .objects
        .par_iter()
        .filter_map(|(&id, obj)| match obj {
            Object::Stream(s) => Some((id, Sha256::digest(&s.content).into())),
            _ => None,
        })
        .collect();

    let mut merged = 0;
    for _ in 0..MAX_ROUNDS {
        ctx.check()?;
        let keys: Vec<(ObjectId, Hash)> = doc
            .objects
            .par_iter()
            .filter(|(id, obj)| !protected.contains(id) && mergeable(obj))
            .filter_map(|(&id, obj)| key_of(obj, content_hashes.get(&id)).map(|k| (id, k)))
            .collect();

        // `objects` is ordered by id, so the first holder of a key is the
        // lowest id: the one kept.
        let mut first: HashMap<Hash, ObjectId> = HashMap::with_capacity(keys.len());
        let mut replace: HashMap<ObjectId, ObjectId> = HashMap::new();
        for (id, key) in keys {
            match first.get(&key) {
                Some(&keep) => {
                    replace.insert(id, keep);
                }
                None => {
                    first.insert(key, id);
                }
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

/// The serialised form of `obj` (stream data by its hash), hashed.
fn key_of(obj: &Object, content: Option<&Hash>) -> Option<Hash> {
    let mut bytes = Vec::new();
    match obj {
        Object::Stream(s) => {
            bytes.extend_from_slice(b"S");
            Writer::write_object(&mut bytes, &Object::Dictionary(s.dict.clone())).ok()?;
            bytes.extend_from_slice(content?);
        }
        other => {
            bytes.extend_from_slice(b"O");
            Writer::write_object(&mut bytes, other).ok()?;
        }
    }
    Some(Sha256::digest(&bytes).into())
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
}
