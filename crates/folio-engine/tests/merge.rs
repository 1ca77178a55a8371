//! `merge` on real files: page order, outlines, named destinations, links,
//! forms, deduplication, errors; every dev PDF merged with a small one.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use folio_engine::merge::{MergeOptions, merge};
use folio_engine::{Ctx, Input, Output};
use lopdf::{Dictionary, Document, Object, ObjectId};

const SMALL: &str = "pdf20__Simple_PDF_2.0_file.pdf";

fn bytes(name: &str) -> Vec<u8> {
    let c = support::corpus().expect("corpus");
    std::fs::read(c.join("dev/pdf").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run_with(names: &[&str], opts: &MergeOptions, ctx: &Ctx) -> folio_engine::Result<Output> {
    let datas: Vec<Vec<u8>> = names.iter().map(|n| bytes(n)).collect();
    let inputs: Vec<Input> = names
        .iter()
        .zip(&datas)
        .map(|(n, d)| Input::new(n, d))
        .collect();
    merge(&inputs, opts, ctx)
}

fn run(names: &[&str]) -> Output {
    run_with(names, &MergeOptions::default(), &Ctx::default())
        .unwrap_or_else(|e| panic!("{names:?}: {e}"))
}

fn pdf(out: &Output) -> &[u8] {
    &out.files[0].bytes
}

fn load(b: &[u8]) -> Document {
    Document::load_mem(b).expect("lopdf re-opens the output")
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    match o {
        Object::Reference(id) => doc.get_object(*id).unwrap_or(&Object::Null),
        o => o,
    }
}

fn dict<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Dictionary> {
    deref(doc, o).as_dict().ok()
}

fn title(doc: &Document, d: &Dictionary) -> String {
    lopdf::decode_text_string(deref(doc, d.get(b"Title").expect("Title"))).expect("decodable title")
}

/// (id, dict) of the outline items in the list starting at `first`.
fn outline_list<'a>(
    doc: &'a Document,
    first: Option<&'a Object>,
) -> Vec<(ObjectId, &'a Dictionary)> {
    let mut out = vec![];
    let mut cur = first.and_then(|o| o.as_reference().ok());
    let mut seen = HashSet::new();
    while let Some(id) = cur {
        assert!(seen.insert(id), "outline loop at {id:?}");
        let d = doc.get_dictionary(id).expect("outline item");
        out.push((id, d));
        cur = d.get(b"Next").ok().and_then(|o| o.as_reference().ok());
    }
    out
}

/// Every title in the outline subtree below `node`, depth first.
fn titles_below(doc: &Document, node: &Dictionary, out: &mut Vec<String>) {
    for (_, d) in outline_list(doc, node.get(b"First").ok()) {
        out.push(title(doc, d));
        titles_below(doc, d, out);
    }
}

/// Check /First /Last /Next /Prev /Parent /Count under `node` (id `id`);
/// returns the number of descendants visible when `node` is open.
fn check_outline(doc: &Document, id: ObjectId, node: &Dictionary) -> i64 {
    let kids = outline_list(doc, node.get(b"First").ok());
    if kids.is_empty() {
        assert!(!node.has(b"Last"), "Last without First");
        return 0;
    }
    let last = node.get(b"Last").unwrap().as_reference().unwrap();
    assert_eq!(last, kids.last().unwrap().0, "Last is the end of the list");
    let mut visible = 0;
    for (i, (kid, d)) in kids.iter().enumerate() {
        assert_eq!(d.get(b"Parent").unwrap().as_reference().unwrap(), id);
        let prev = d.get(b"Prev").ok().map(|p| p.as_reference().unwrap());
        assert_eq!(prev, i.checked_sub(1).map(|p| kids[p].0), "Prev of {kid:?}");
        let v = check_outline(doc, *kid, d);
        let count = d.get(b"Count").ok().map(|c| c.as_i64().unwrap());
        match count {
            Some(c) if c > 0 => {
                assert_eq!(c, v);
                visible += 1 + v
            }
            Some(c) => {
                assert_eq!(-c, v);
                visible += 1
            }
            None => {
                assert_eq!(v, 0, "children without Count");
                visible += 1
            }
        }
    }
    visible
}

/// The outline of a document: (top-level title, titles below it).
fn outline(doc: &Document) -> Vec<(String, Vec<String>)> {
    let Ok(root) = doc.catalog().unwrap().get(b"Outlines") else {
        return vec![];
    };
    let root = dict(doc, root).unwrap();
    outline_list(doc, root.get(b"First").ok())
        .into_iter()
        .map(|(_, d)| {
            let mut below = vec![];
            titles_below(doc, d, &mut below);
            (title(doc, d), below)
        })
        .collect()
}

/// All titles of a document's outline, depth first.
fn all_titles(doc: &Document) -> Vec<String> {
    let mut out = vec![];
    for (t, below) in outline(doc) {
        out.push(t);
        out.extend(below);
    }
    out
}

/// Entries of the catalog's /Names /Dests tree.
fn name_tree_dests(doc: &Document) -> Vec<(Vec<u8>, Object)> {
    let mut out = vec![];
    let cat = doc.catalog().unwrap();
    let Some(names) = cat.get(b"Names").ok().and_then(|n| dict(doc, n)) else {
        return out;
    };
    let Some(root) = names.get(b"Dests").ok() else {
        return out;
    };
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        let d = dict(doc, n).unwrap();
        if let Ok(arr) = d.get(b"Names") {
            for pair in deref(doc, arr).as_array().unwrap().chunks(2) {
                out.push((pair[0].as_str().unwrap().to_vec(), pair[1].clone()));
            }
        }
        if let Ok(kids) = d.get(b"Kids") {
            stack.extend(deref(doc, kids).as_array().unwrap().iter());
        }
    }
    out
}

/// Number of named destinations an input has (tree + old-style dictionary).
fn input_dest_count(doc: &Document) -> usize {
    let old = doc
        .catalog()
        .unwrap()
        .get(b"Dests")
        .ok()
        .and_then(|d| dict(doc, d))
        .map_or(0, |d| d.len());
    name_tree_dests(doc).len() + old
}

/// The page a destination value (array, or dict with /D) points to.
fn dest_page(doc: &Document, v: &Object) -> Option<ObjectId> {
    let v = deref(doc, v);
    let arr = match v {
        Object::Array(a) => a,
        Object::Dictionary(d) => deref(doc, d.get(b"D").ok()?).as_array().ok()?,
        _ => return None,
    };
    arr.first()?.as_reference().ok()
}

fn page_index(doc: &Document) -> HashMap<ObjectId, usize> {
    doc.page_iter().enumerate().map(|(i, id)| (id, i)).collect()
}

fn page_counts(names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .map(|n| load(&bytes(n)).get_pages().len())
        .collect()
}

fn check_valid(out: &Output, names: &[&str]) {
    check_valid_pages(out, names, page_counts(names).iter().sum());
}

fn check_valid_pages(out: &Output, names: &[&str], expected: usize) {
    let b = pdf(out);
    support::qpdf_check(b).unwrap_or_else(|e| panic!("{names:?}: qpdf --check: {e}"));
    assert_eq!(support::qpdf_pages(b), Some(expected as u32), "{names:?}");
    assert_eq!(out.report.pages_out as usize, expected);
    assert_eq!(out.report.inputs, names.len());
}

#[test]
fn pairs_and_triples_are_valid_with_summed_pages() {
    for names in [
        &["pdfjs__tracemonkey.pdf", "pysample__libreoffice-form.pdf"][..],
        &[
            "pdfjs__tracemonkey.pdf",
            "pysample__pdflatex-forms.pdf",
            "deb__beamerexample-conference-talk.pdf",
        ],
        &[
            "pysample__google-doc-document.pdf",
            "pdfjs__freeculture.pdf",
            "pdfcpu__go.pdf",
        ],
    ] {
        let out = run(names);
        check_valid(&out, names);
        let doc = load(pdf(&out));
        assert_eq!(
            doc.get_dictionary(doc.trailer.get(b"Info").unwrap().as_reference().unwrap())
                .unwrap()
                .get(b"Producer")
                .unwrap()
                .as_str()
                .unwrap(),
            b"Folio"
        );
    }
}

#[test]
fn outline_has_one_item_per_input_holding_its_outline() {
    let names = [
        "pdfjs__tracemonkey.pdf",
        "deb__beamerexample-conference-talk.pdf",
        "pdfjs__freeculture.pdf",
    ];
    let out = run(&names);
    check_valid(&out, &names);
    let doc = load(pdf(&out));
    let got = outline(&doc);
    assert_eq!(got.len(), names.len(), "one top-level item per input");
    let pages = page_index(&doc);
    let counts = page_counts(&names);
    let mut start = 0;
    for (i, name) in names.iter().enumerate() {
        assert_eq!(got[i].0, *name);
        let original = all_titles(&load(&bytes(name)));
        assert_eq!(
            got[i].1, original,
            "{name}: original outline under its item"
        );
        if name.contains("beamer") || name.contains("freeculture") {
            assert!(!original.is_empty(), "{name} has an outline");
        }
        // The item opens the input's first page.
        let root = dict(&doc, doc.catalog().unwrap().get(b"Outlines").unwrap()).unwrap();
        let item = &outline_list(&doc, root.get(b"First").ok())[i];
        let p = dest_page(&doc, item.1.get(b"Dest").unwrap()).unwrap();
        assert_eq!(pages[&p], start, "{name}: item points to its first page");
        start += counts[i];
    }
    // Links between items and counts are consistent everywhere.
    let root_id = doc
        .catalog()
        .unwrap()
        .get(b"Outlines")
        .unwrap()
        .as_reference()
        .unwrap();
    let root = doc.get_dictionary(root_id).unwrap();
    let visible = check_outline(&doc, root_id, root);
    assert_eq!(root.get(b"Count").unwrap().as_i64().unwrap(), visible);
}

#[test]
fn outline_destinations_point_into_their_input() {
    let names = ["deb__beamerexample-conference-talk.pdf"; 2];
    let out = run(&names);
    let doc = load(pdf(&out));
    let pages = page_index(&doc);
    let n = page_counts(&names[..1])[0];
    let tree: HashMap<Vec<u8>, Object> = name_tree_dests(&doc).into_iter().collect();
    let root = dict(&doc, doc.catalog().unwrap().get(b"Outlines").unwrap()).unwrap();
    for (i, (_, item)) in outline_list(&doc, root.get(b"First").ok())
        .into_iter()
        .enumerate()
    {
        let mut stack = outline_list(&doc, item.get(b"First").ok());
        assert!(!stack.is_empty());
        while let Some((_, d)) = stack.pop() {
            stack.extend(outline_list(&doc, d.get(b"First").ok()));
            let target = d
                .get(b"Dest")
                .ok()
                .or_else(|| dict(&doc, d.get(b"A").ok()?)?.get(b"D").ok())
                .expect("item has a destination");
            let page = match deref(&doc, target) {
                Object::String(s, _) => dest_page(&doc, &tree[s]),
                other => dest_page(&doc, other),
            }
            .expect("destination resolves");
            let p = pages[&page];
            assert!(
                (i * n..(i + 1) * n).contains(&p),
                "item '{}' of input {i} points to page {p}",
                title(&doc, d)
            );
        }
    }
}

#[test]
fn named_destinations_are_merged_and_resolve() {
    let names = [
        "deb__beamerexample-conference-talk.pdf",
        "pysample__google-doc-document.pdf",
        "pysample__pdflatex-forms.pdf",
        "deb__beamerexample-conference-talk.pdf",
    ];
    let out = run(&names);
    check_valid(&out, &names);
    let doc = load(pdf(&out));
    let pages = page_index(&doc);
    let dests = name_tree_dests(&doc);
    let expected: usize = names
        .iter()
        .map(|n| input_dest_count(&load(&bytes(n))))
        .sum();
    assert!(expected > 50);
    assert_eq!(dests.len(), expected, "every named destination kept");
    let keys: HashSet<&Vec<u8>> = dests.iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), dests.len(), "unique names");
    let sorted = dests.windows(2).all(|w| w[0].0 < w[1].0);
    assert!(sorted, "name tree keys sorted");
    for (k, v) in &dests {
        let p = dest_page(&doc, v).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(k)));
        assert!(
            pages.contains_key(&p),
            "{} points to a page",
            String::from_utf8_lossy(k)
        );
    }
    // The old-style /Dests dictionary of the Google Docs file is folded in.
    assert!(keys.contains(&b"h.k8kqc8625erp".to_vec()));
    assert!(!doc.catalog().unwrap().has(b"Dests"));
    assert!(out.report.details["destinations_renamed"].as_u64().unwrap() > 0);
}

/// Every Link annotation's target page index, following named destinations.
fn link_targets(doc: &Document) -> Vec<(usize, usize)> {
    let pages = page_index(doc);
    let tree: HashMap<Vec<u8>, Object> = name_tree_dests(doc).into_iter().collect();
    let mut out = vec![];
    for (i, pid) in doc.page_iter().enumerate() {
        let page = doc.get_dictionary(pid).unwrap();
        let Ok(annots) = page.get(b"Annots") else {
            continue;
        };
        for a in deref(doc, annots).as_array().unwrap() {
            let a = dict(doc, a).unwrap();
            if a.get(b"Subtype").ok().and_then(|s| s.as_name().ok()) != Some(b"Link") {
                continue;
            }
            let target = match a.get(b"Dest") {
                Ok(d) => Some(d),
                Err(_) => a
                    .get(b"A")
                    .ok()
                    .and_then(|x| dict(doc, x))
                    .filter(|x| x.get(b"S").ok().and_then(|s| s.as_name().ok()) == Some(b"GoTo"))
                    .and_then(|x| x.get(b"D").ok()),
            };
            let Some(target) = target else { continue };
            let page = match deref(doc, target) {
                Object::String(s, _) => dest_page(doc, tree.get(s).expect("named dest exists")),
                Object::Name(n) => panic!("name destination left: {}", String::from_utf8_lossy(n)),
                other => dest_page(doc, other),
            };
            out.push((i, pages[&page.expect("link resolves")]));
        }
    }
    out
}

#[test]
fn internal_links_keep_their_targets_after_renaming() {
    let names = ["deb__beamerexample-conference-talk.pdf"; 2];
    let single = link_targets(&load(&bytes(names[0])));
    assert!(single.len() > 20, "beamer has navigation links");
    let out = run(&names);
    let doc = load(pdf(&out));
    let n = page_counts(&names[..1])[0];
    let merged = link_targets(&doc);
    assert_eq!(merged.len(), 2 * single.len());
    // Same links, the second copy shifted by one document.
    let mut expected = single.clone();
    expected.extend(single.iter().map(|(a, b)| (a + n, b + n)));
    assert_eq!(merged, expected);
    assert!(out.report.details["links_rewritten"].as_u64().unwrap() > 0);
}

/// Fully-qualified names of terminal fields.
fn field_names(doc: &Document) -> Vec<String> {
    fn walk(doc: &Document, o: &Object, prefix: &str, out: &mut Vec<String>, depth: u32) {
        let d = dict(doc, o).unwrap();
        let name = match d.get(b"T") {
            Ok(t) => {
                let t = lopdf::decode_text_string(t).unwrap();
                if prefix.is_empty() {
                    t
                } else {
                    format!("{prefix}.{t}")
                }
            }
            Err(_) => prefix.to_string(),
        };
        let kids: Vec<&Object> = d
            .get(b"Kids")
            .ok()
            .map(|k| deref(doc, k).as_array().unwrap().iter().collect())
            .unwrap_or_default();
        let field_kids: Vec<&Object> = kids
            .into_iter()
            .filter(|k| dict(doc, k).is_some_and(|k| k.has(b"T")))
            .collect();
        if field_kids.is_empty() || depth > 32 {
            out.push(name);
        } else {
            for k in field_kids {
                walk(doc, k, &name, out, depth + 1);
            }
        }
    }
    let mut out = vec![];
    let cat = doc.catalog().unwrap();
    let Some(af) = cat.get(b"AcroForm").ok().and_then(|a| dict(doc, a)) else {
        return out;
    };
    for f in deref(doc, af.get(b"Fields").unwrap()).as_array().unwrap() {
        walk(doc, f, "", &mut out, 0);
    }
    out
}

#[test]
fn form_fields_are_all_kept_with_unique_names() {
    for names in [
        &[
            "pysample__libreoffice-form.pdf",
            "pysample__libreoffice-form.pdf",
        ][..],
        &[
            "pysample__pdflatex-forms.pdf",
            "pysample__libreoffice-form.pdf",
            "pysample__pdflatex-forms.pdf",
        ],
    ] {
        let out = run(names);
        check_valid(&out, names);
        let doc = load(pdf(&out));
        let got = field_names(&doc);
        let mut expected = 0;
        for n in names {
            let f = field_names(&load(&bytes(n)));
            assert!(!f.is_empty(), "{n} has fields");
            let unique: HashSet<&String> = f.iter().collect();
            assert_eq!(unique.len(), f.len(), "{n} has unique names itself");
            expected += f.len();
        }
        assert_eq!(got.len(), expected, "{names:?}: all fields present");
        let unique: HashSet<&String> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "{names:?}: unique names: {got:?}");
        assert!(out.report.details["form_fields_renamed"].as_u64().unwrap() > 0);
        // The renamed copy keeps the original name with a suffix.
        assert!(got.iter().any(|n| n.contains("_2")), "{got:?}");
        // Every widget is still on a page.
        let af = dict(&doc, doc.catalog().unwrap().get(b"AcroForm").unwrap()).unwrap();
        assert!(af.has(b"DR"));
    }
}

#[test]
fn xfa_is_dropped_and_noted_need_appearances_kept() {
    let names = [
        "pdfjs__xfa_filled_imm1344e.pdf",
        "pysample__libreoffice-form.pdf",
    ];
    let out = run(&names);
    check_valid(&out, &names);
    let doc = load(pdf(&out));
    let af = dict(&doc, doc.catalog().unwrap().get(b"AcroForm").unwrap()).unwrap();
    assert!(!af.has(b"XFA"));
    assert!(
        out.report.notes.iter().any(|n| n.contains("XFA")),
        "{:?}",
        out.report.notes
    );
    assert!(out.report.notes.iter().any(|n| n.contains("structure")));
    assert!(!doc.catalog().unwrap().has(b"StructTreeRoot"));
    let input = load(&bytes(names[1]));
    let ia = dict(&input, input.catalog().unwrap().get(b"AcroForm").unwrap()).unwrap();
    if let Ok(Object::Boolean(true)) = ia.get(b"NeedAppearances") {
        assert_eq!(af.get(b"NeedAppearances").unwrap(), &Object::Boolean(true));
    }
    let fields = field_names(&doc).len();
    let expected: usize = names
        .iter()
        .map(|n| field_names(&load(&bytes(n))).len())
        .sum();
    assert_eq!(fields, expected);
}

#[test]
fn identical_streams_are_stored_once() {
    let one = run(&["pdfjs__tracemonkey.pdf"]);
    let two = run(&["pdfjs__tracemonkey.pdf", "pdfjs__tracemonkey.pdf"]);
    check_valid(&two, &["pdfjs__tracemonkey.pdf"; 2]);
    let (a, b) = (pdf(&one).len(), pdf(&two).len());
    eprintln!("tracemonkey: single rewrite {a} bytes, merged twice {b} bytes");
    assert!(b < a * 13 / 10, "twice the file: {b} bytes vs {a} for one");
    assert!(two.report.details["objects_deduplicated"].as_u64().unwrap() > 10);
    // Fonts are shared by both copies: page 1 and page 15 use the same font objects.
    let doc = load(pdf(&two));
    let pages: Vec<ObjectId> = doc.page_iter().collect();
    let fonts = |p: ObjectId| -> Vec<ObjectId> {
        let mut v: Vec<ObjectId> = doc
            .get_page_fonts(p)
            .unwrap()
            .values()
            .filter_map(|d| d.get(b"FontDescriptor").ok()?.as_reference().ok())
            .collect();
        v.sort();
        v
    };
    let f1 = fonts(pages[0]);
    assert!(!f1.is_empty());
    // Font dictionaries are not merged, but their font files are.
    let files = |ids: &[ObjectId]| -> Vec<ObjectId> {
        let mut v: Vec<ObjectId> = ids
            .iter()
            .filter_map(|d| {
                let fd = doc.get_dictionary(*d).ok()?;
                ["FontFile", "FontFile2", "FontFile3"]
                    .iter()
                    .find_map(|k| fd.get(k.as_bytes()).ok()?.as_reference().ok())
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(files(&f1), files(&fonts(pages[14])));
}

fn pdftotext_pages(b: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.pdf");
    std::fs::write(&f, b).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-q")
        .arg(&f)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut pages: Vec<String> = text.split('\x0c').map(str::to_string).collect();
    pages.pop(); // after the last form feed
    pages
}

#[test]
fn page_text_comes_in_argument_order() {
    let names = [
        "pysample__pdflatex-forms.pdf",
        "pdfjs__tracemonkey.pdf",
        "deb__beamerexample-conference-talk.pdf",
        "pysample__google-doc-document.pdf",
    ];
    let out = run(&names);
    let merged = pdftotext_pages(pdf(&out));
    let mut expected = vec![];
    for n in names {
        expected.extend(pdftotext_pages(&bytes(n)));
    }
    assert_eq!(merged.len(), expected.len());
    let mut checked = 0;
    for (i, (got, want)) in merged.iter().zip(&expected).enumerate() {
        if let Some(first) = want.split_whitespace().next() {
            assert_eq!(got.split_whitespace().next(), Some(first), "page {}", i + 1);
            checked += 1;
        }
    }
    assert!(checked > 30);
}

#[test]
fn page_labels_are_offset() {
    let names = [
        "pdfjs__tracemonkey.pdf",
        "deb__beamerexample-conference-talk.pdf",
    ];
    let out = run(&names);
    let doc = load(pdf(&out));
    let pl = dict(&doc, doc.catalog().unwrap().get(b"PageLabels").unwrap()).unwrap();
    let nums = deref(&doc, pl.get(b"Nums").unwrap()).as_array().unwrap();
    let keys: Vec<i64> = nums.chunks(2).map(|p| p[0].as_i64().unwrap()).collect();
    assert_eq!(keys[0], 0, "the unlabelled first input is numbered");
    assert!(
        keys.contains(&14),
        "the second input's labels start at its first page"
    );
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

fn render_page(b: &[u8], page: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("r.pdf");
    std::fs::write(&f, b).unwrap();
    let out = std::process::Command::new("pdftoppm")
        .args(["-r", "30", "-f", &page.to_string(), "-l", &page.to_string()])
        .arg(&f)
        .output()
        .expect("pdftoppm (poppler-utils) installed");
    assert!(!out.stdout.is_empty());
    out.stdout
}

#[test]
fn inherited_page_attributes_are_copied() {
    // This calibre book keeps Resources/MediaBox on page-tree nodes.
    let names = [SMALL, "pdfcpu__BuildingWebappsWithGo.pdf"];
    let input_bytes = bytes(names[1]);
    let input = load(&input_bytes);
    let inherits = input.page_iter().any(|p| {
        let d = input.get_dictionary(p).unwrap();
        !d.has(b"MediaBox") || !d.has(b"Resources")
    });
    assert!(inherits, "the test file inherits page attributes");
    let out = run(&names);
    let doc = load(pdf(&out));
    let root = doc
        .catalog()
        .unwrap()
        .get(b"Pages")
        .unwrap()
        .as_reference()
        .unwrap();
    for p in doc.page_iter() {
        let d = doc.get_dictionary(p).unwrap();
        assert!(d.has(b"MediaBox") && d.has(b"Resources"), "{p:?}");
        assert_eq!(d.get(b"Parent").unwrap().as_reference().unwrap(), root);
    }
    let ipages: Vec<ObjectId> = input.page_iter().collect();
    let opages: Vec<ObjectId> = doc.page_iter().skip(1).collect();
    let mb = |doc: &Document, mut id: ObjectId| -> Vec<f32> {
        loop {
            let d = doc.get_dictionary(id).unwrap();
            if let Ok(m) = d.get(b"MediaBox") {
                return deref(doc, m)
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_float().unwrap())
                    .collect();
            }
            id = d.get(b"Parent").unwrap().as_reference().unwrap();
        }
    };
    for (i, o) in ipages.iter().zip(&opages) {
        assert_eq!(mb(&input, *i), mb(&doc, *o));
    }
    // Same pixels: resources resolved as before.
    for page in [1, 5] {
        assert!(
            render_page(&input_bytes, page) == render_page(pdf(&out), page + 1),
            "page {page} renders the same"
        );
    }
}

#[test]
fn first_inputs_metadata_is_kept_unless_it_claims_conformance() {
    // tika's GDPR file claims PDF/A-1a in XMP: the merged file cannot keep it.
    let names = ["tika__gdpr-regulation.pdf", SMALL];
    let out = run(&names);
    let doc = load(pdf(&out));
    assert!(!doc.catalog().unwrap().has(b"Metadata"));
    assert!(
        out.report.notes.iter().any(|n| n.contains("PDF/A")),
        "{:?}",
        out.report.notes
    );
    // The PDF 2.0 sample's XMP claims nothing: kept.
    let names = [SMALL, "tika__gdpr-regulation.pdf"];
    let out = run(&names);
    let doc = load(pdf(&out));
    let m = doc.catalog().unwrap().get(b"Metadata").unwrap();
    let m = deref(&doc, m).as_stream().unwrap();
    assert!(m.dict.has_type(b"Metadata"));
    assert!(!out.report.notes.iter().any(|n| n.contains("PDF/A")));
}

#[test]
fn merged_pages_render_like_their_inputs() {
    // Filled form twice (renamed fields keep values and appearances), and
    // layered (optional content) artwork whose layers must stay defined.
    let names = [
        "pdfjs__prefilled_f1040.pdf",
        "pdfjs__prefilled_f1040.pdf",
        "pdfjs__personwithdog.pdf",
        "pdfjs__issue9949.pdf",
    ];
    let out = run(&names);
    check_valid(&out, &names);
    let mut merged_page = 0;
    for n in names {
        let b = bytes(n);
        for p in 1..=load(&b).get_pages().len() {
            merged_page += 1;
            assert!(
                render_page(&b, p) == render_page(pdf(&out), merged_page),
                "{n} page {p} (merged page {merged_page}) renders the same"
            );
        }
    }
}

#[test]
fn one_input_is_rewritten_with_its_item() {
    let out = run(&[SMALL]);
    check_valid(&out, &[SMALL]);
    let doc = load(pdf(&out));
    let o = outline(&doc);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].0, SMALL);
    assert!(o[0].1.is_empty());
}

#[test]
fn encrypted_inputs() {
    let names = [
        "pdfjs__tracemonkey.pdf",
        "pysample__libreoffice-writer-password.pdf",
    ];
    let e = run_with(&names, &MergeOptions::default(), &Ctx::default()).unwrap_err();
    assert_eq!(e.code(), "encrypted");
    let msg = e.to_string();
    assert!(
        msg.contains("input 2") && msg.contains("libreoffice-writer-password"),
        "{msg}"
    );
    let wrong = MergeOptions {
        password: Some("nope".into()),
    };
    let e = run_with(&names, &wrong, &Ctx::default()).unwrap_err();
    assert_eq!(e.code(), "wrong_password");
    let right = MergeOptions {
        password: Some("openpassword".into()),
    };
    let out = run_with(&names, &right, &Ctx::default()).unwrap();
    let pages = 14
        + folio_engine::document::open(&bytes(names[1]), Some("openpassword"), &Ctx::default())
            .unwrap()
            .page_count as usize;
    check_valid_pages(&out, &names, pages);
    assert!(out.report.notes.iter().any(|n| n.contains("decrypted")));
    // Owner-password-only files open without a password.
    let names = [
        "pdfjs__secHandler.pdf",
        "qpdf__minimal-signed-restricted.pdf",
    ];
    let out = run(&names);
    check_valid(&out, &names);
    assert!(
        out.report.notes.iter().any(|n| n.contains("signature")),
        "{:?}",
        out.report.notes
    );
}

#[test]
fn garbage_and_bad_options() {
    let good = bytes(SMALL);
    let garbage = b"this is not a pdf at all".to_vec();
    let inputs = [
        Input::new("ok.pdf", &good),
        Input::new("junk.bin", &garbage),
    ];
    let e = merge(&inputs, &MergeOptions::default(), &Ctx::default()).unwrap_err();
    assert_eq!(e.code(), "invalid_pdf");
    assert!(e.to_string().contains("junk.bin"), "{e}");

    let e = merge(&[], &MergeOptions::default(), &Ctx::default()).unwrap_err();
    assert_eq!(e.code(), "invalid_options");

    let mut ctx = Ctx::default();
    ctx.limits.max_pages = 20;
    let e = run_with(
        &["pdfjs__tracemonkey.pdf"; 2],
        &MergeOptions::default(),
        &ctx,
    )
    .unwrap_err();
    assert_eq!(e.code(), "limit_exceeded");
    assert!(e.to_string().contains("pages"), "{e}");

    let mut ctx = Ctx::default();
    ctx.limits.max_inputs = 2;
    let e = run_with(&[SMALL; 3], &MergeOptions::default(), &ctx).unwrap_err();
    assert_eq!(e.code(), "limit_exceeded");

    let mut ctx = Ctx::default();
    ctx.limits.max_total_input_bytes = 10_000;
    let e = run_with(&[SMALL; 3], &MergeOptions::default(), &ctx).unwrap_err();
    assert_eq!(e.code(), "limit_exceeded");

    let flag = Arc::new(AtomicBool::new(true));
    let ctx = Ctx::default().with_cancel(flag);
    let e = run_with(&[SMALL; 2], &MergeOptions::default(), &ctx).unwrap_err();
    assert_eq!(e.code(), "cancelled");
}

#[test]
fn hostile_files_fail_cleanly_or_merge_validly() {
    for e in support::dev_pdfs() {
        if e.category != "hostile" {
            continue;
        }
        let name = e.path.file_name().unwrap().to_str().unwrap();
        match run_with(&[SMALL, name], &MergeOptions::default(), &Ctx::default()) {
            Ok(out) => {
                // A file qpdf finds errors in (Brotli streams it cannot
                // decode) keeps them; the merged structure must still be sound.
                if support::qpdf_check(&bytes(name)).is_ok() {
                    support::qpdf_check(pdf(&out)).unwrap_or_else(|err| panic!("{name}: {err}"));
                }
                assert_eq!(
                    support::qpdf_pages(pdf(&out)),
                    Some(out.report.pages_out),
                    "{name}"
                );
                eprintln!("{name}: merged, {} pages", out.report.pages_out);
                if name == "qpdf__pages-loop.pdf" {
                    // A page tree whose root lists itself: its page once.
                    assert_eq!(out.report.pages_out, 2);
                }
            }
            Err(err) => {
                assert!(
                    [
                        "invalid_pdf",
                        "encrypted",
                        "limit_exceeded",
                        "unsupported_feature"
                    ]
                    .contains(&err.code()),
                    "{name}: {err}"
                );
                assert!(
                    err.to_string().contains(name),
                    "{name}: error names it: {err}"
                );
                eprintln!("{name}: {}", err);
            }
        }
    }
}

#[test]
fn every_dev_pdf_merges_with_a_small_one() {
    for e in support::dev_pdfs() {
        if e.category == "hostile" {
            continue;
        }
        let name = e.path.file_name().unwrap().to_str().unwrap();
        let t = std::time::Instant::now();
        let out = run_with(&[name, SMALL], &MergeOptions::default(), &Ctx::default())
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        let b = pdf(&out);
        support::qpdf_check(b).unwrap_or_else(|err| panic!("{name}: {err}"));
        let expected = e.pages.expect("page count in manifest") as u32 + 1;
        assert_eq!(support::qpdf_pages(b), Some(expected), "{name}");
        let o = outline(&load(b));
        assert_eq!(o.len(), 2, "{name}");
        eprintln!(
            "{name}: {} -> {} bytes, {:?}",
            e.path.metadata().unwrap().len(),
            b.len(),
            t.elapsed()
        );
    }
}
