//! Page selections like `1-3,7,10-` (1-based, as users count pages).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Page(u32),
    Last,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Range {
    start: Bound,
    end: Bound,
}

/// A parsed page selection. Parse with `"1-3,7,10-".parse::<PageSpec>()`, then
/// [`PageSpec::resolve`] against a page count. Accepted items: `N`, `N-M`
/// (descending allowed), `N-` (to the end), `-M` (from the start), `last`,
/// and `all` / `*` / empty for every page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSpec {
    ranges: Vec<Range>,
    source: String,
}

impl PageSpec {
    /// Every page of the document.
    pub fn all() -> Self {
        PageSpec {
            ranges: vec![Range {
                start: Bound::Page(1),
                end: Bound::Last,
            }],
            source: "all".into(),
        }
    }

    /// The selected page numbers (1-based), in the order written, without
    /// repeats. Fails if a page is past the end or the selection is empty.
    pub fn resolve(&self, page_count: u32) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let value = |b: Bound| match b {
            Bound::Page(n) => n,
            Bound::Last => page_count,
        };
        for r in &self.ranges {
            let (a, b) = (value(r.start), value(r.end));
            for p in [a, b] {
                if p > page_count || p == 0 {
                    return Err(Error::PageOutOfRange {
                        page: p,
                        count: page_count,
                    });
                }
            }
            let pages: Box<dyn Iterator<Item = u32>> = if a <= b {
                Box::new(a..=b)
            } else {
                Box::new((b..=a).rev())
            };
            for p in pages {
                if seen.insert(p) {
                    out.push(p);
                }
            }
        }
        if out.is_empty() {
            return Err(Error::InvalidOptions(format!(
                "page selection '{}' selects no page",
                self.source
            )));
        }
        Ok(out)
    }
}

impl fmt::Display for PageSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn parse_bound(s: &str, whole: &str) -> Result<Bound> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("last") || s.eq_ignore_ascii_case("z") {
        return Ok(Bound::Last);
    }
    match s.parse::<u32>() {
        Ok(0) | Err(_) => Err(Error::InvalidOptions(format!(
            "bad page selection '{whole}': '{s}' is not a page number (pages start at 1)"
        ))),
        Ok(n) => Ok(Bound::Page(n)),
    }
}

impl FromStr for PageSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.is_empty() || t == "*" || t.eq_ignore_ascii_case("all") {
            return Ok(PageSpec::all());
        }
        if t.len() > 4096 {
            return Err(Error::InvalidOptions("page selection is too long".into()));
        }
        let mut ranges = Vec::new();
        for item in t.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(Error::InvalidOptions(format!(
                    "bad page selection '{t}': empty item"
                )));
            }
            let range = match item.split_once('-') {
                None => {
                    let b = parse_bound(item, t)?;
                    Range { start: b, end: b }
                }
                Some((a, b)) => Range {
                    start: if a.trim().is_empty() {
                        Bound::Page(1)
                    } else {
                        parse_bound(a, t)?
                    },
                    end: if b.trim().is_empty() {
                        Bound::Last
                    } else {
                        parse_bound(b, t)?
                    },
                },
            };
            ranges.push(range);
        }
        Ok(PageSpec {
            ranges,
            source: t.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str, n: u32) -> Result<Vec<u32>> {
        s.parse::<PageSpec>()?.resolve(n)
    }

    #[test]
    fn ranges_open_ends_and_order() {
        assert_eq!(sel("1-3,7,10-", 12).unwrap(), vec![1, 2, 3, 7, 10, 11, 12]);
        assert_eq!(sel("-2", 5).unwrap(), vec![1, 2]);
        assert_eq!(sel("3-1", 5).unwrap(), vec![3, 2, 1]);
        assert_eq!(sel("last", 5).unwrap(), vec![5]);
        assert_eq!(sel("", 3).unwrap(), vec![1, 2, 3]);
        assert_eq!(sel("2,2,1-2", 3).unwrap(), vec![2, 1]);
    }

    #[test]
    fn bad_selections_are_typed_errors() {
        assert_eq!(sel("0", 3).unwrap_err().code(), "invalid_options");
        assert_eq!(sel("a-b", 3).unwrap_err().code(), "invalid_options");
        assert_eq!(sel("1,,2", 3).unwrap_err().code(), "invalid_options");
        let e = sel("4", 3).unwrap_err();
        assert_eq!(e.code(), "page_out_of_range");
        assert!(e.to_string().contains("3 page"));
    }
}
