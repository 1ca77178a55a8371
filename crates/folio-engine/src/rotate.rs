//! Rotate pages by a multiple of 90°.
//!
//! The new `/Rotate` of a page is its effective rotation (its own entry, or
//! the one it inherits from the page tree) plus the angle, modulo 360,
//! written on the page itself. Only the selected pages change; the rest of
//! the document is carried over as it is (rewritten compactly).

use lopdf::Object;

use crate::document::{self, WriteMode};
use crate::report::{OutputFile, PDF};
use crate::{Ctx, Error, Output, PageSpec, Report, Result};

#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// 90, 180 or 270, clockwise as viewers show it. Anything else is
    /// `invalid_options` (0 and 360 included: they would do nothing). A
    /// counter-clockwise quarter turn is 270.
    pub angle: u16,
    pub pages: PageSpec,
    pub password: Option<String>,
}

pub fn rotate(input: &[u8], opts: &RotateOptions, ctx: &Ctx) -> Result<Output> {
    if !matches!(opts.angle, 90 | 180 | 270) {
        return Err(Error::InvalidOptions(format!(
            "cannot rotate by {}°: use 90, 180 or 270 (clockwise; 270 turns counter-clockwise)",
            opts.angle
        )));
    }
    let opened = document::open(input, opts.password.as_deref(), ctx)?;
    let mut doc = opened.doc;
    let numbers = document::number_texts(input, &doc, ctx);
    let nodes = document::page_nodes(&doc);
    let count = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    let selection = opts.pages.resolve(count)?;

    let mut report = Report::new("rotate");
    report.inputs = 1;
    report.bytes_in = input.len() as u64;
    report.pages_in = count;
    report.pages_out = count;
    if opened.was_encrypted {
        report
            .notes
            .push("the input was encrypted: the output is written without encryption".into());
    }

    for (i, &p) in selection.iter().enumerate() {
        if i % 256 == 0 {
            ctx.check()?;
        }
        let Some(node) = (p as usize).checked_sub(1).and_then(|i| nodes.get(i)) else {
            return Err(Error::PageOutOfRange { page: p, count });
        };
        let current = {
            let own = doc
                .get_dictionary(node.id)
                .ok()
                .and_then(|d| d.get(b"Rotate").ok());
            let value = own.or_else(|| node.inherited.get(b"Rotate").ok());
            value.map_or(0, |v| normalize(resolve_number(&doc, v)))
        };
        let new = (current + i64::from(opts.angle)) % 360;
        if let Ok(page) = doc.get_dictionary_mut(node.id) {
            page.set("Rotate", new);
        }
    }
    ctx.progress(0.5);
    document::repair_page_tree(&mut doc, ctx.limits.max_depth);
    doc.prune_objects();
    let bytes = document::write_with_numbers(
        &mut doc,
        count,
        WriteMode::Compact,
        Some(&numbers),
        crate::deflate::LEVEL,
        ctx,
    )?;
    report.detail("pages_rotated", selection.len() as u64);
    report.detail("angle", u64::from(opts.angle));
    ctx.progress(1.0);
    Ok(Output::single(
        OutputFile {
            name: "rotated.pdf".into(),
            media_type: PDF,
            bytes,
        },
        report,
        ctx,
    ))
}

/// A number, through at most one reference; anything else counts as 0.
fn resolve_number(doc: &lopdf::Document, v: &Object) -> f64 {
    let v = match v {
        Object::Reference(id) => match doc.get_object(*id) {
            Ok(o) => o,
            Err(_) => return 0.0,
        },
        other => other,
    };
    match v {
        Object::Integer(i) => *i as f64,
        Object::Real(r) => f64::from(*r),
        _ => 0.0,
    }
}

/// A `/Rotate` value as viewers apply it: a multiple of 90 in 0..360.
/// Negative multiples wrap (-90 is 270); values that are not multiples of
/// 90 count as 0, as pdf.js and pdfium do.
fn normalize(v: f64) -> i64 {
    if !v.is_finite() || v.fract() != 0.0 || v.abs() > 1e12 {
        return 0;
    }
    let r = v as i64;
    if r % 90 != 0 {
        return 0;
    }
    r.rem_euclid(360)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn rotate_values_normalize_like_viewers() {
        assert_eq!(normalize(0.0), 0);
        assert_eq!(normalize(90.0), 90);
        assert_eq!(normalize(-90.0), 270);
        assert_eq!(normalize(450.0), 90);
        assert_eq!(normalize(-720.0), 0);
        assert_eq!(normalize(45.0), 0);
        assert_eq!(normalize(90.5), 0);
        assert_eq!(normalize(f64::NAN), 0);
    }
}
