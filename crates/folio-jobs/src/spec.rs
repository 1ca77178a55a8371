//! What a job runs: an operation, its options, and references to its inputs.
//!
//! The spec is stored as JSON in the job table, so it is versioned: a worker
//! refuses a spec version it does not know instead of misreading it. Options
//! mirror the CLI flags (same names, without dashes) so the HTTP form fields,
//! the CLI and the stored spec all say the same thing.

use serde::{Deserialize, Serialize};

use crate::InputRef;

/// The spec format written by this version of Folio.
pub const SPEC_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Compress,
    Merge,
    ImagesToPdf,
    Split,
    Rotate,
    Text,
    Render,
}

/// What kind of file an operation accepts as input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Image,
}

impl Operation {
    pub const ALL: [Operation; 7] = [
        Operation::Compress,
        Operation::Merge,
        Operation::ImagesToPdf,
        Operation::Split,
        Operation::Rotate,
        Operation::Text,
        Operation::Render,
    ];

    /// The name used in URLs (`POST /v1/{name}`), metrics and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Compress => "compress",
            Operation::Merge => "merge",
            Operation::ImagesToPdf => "images-to-pdf",
            Operation::Split => "split",
            Operation::Rotate => "rotate",
            Operation::Text => "text",
            Operation::Render => "render",
        }
    }

    /// Inputs accepted per job: (minimum, maximum).
    pub fn input_count(self) -> (usize, usize) {
        match self {
            Operation::Merge | Operation::ImagesToPdf => (1, 500),
            _ => (1, 1),
        }
    }

    pub fn input_kind(self) -> FileKind {
        match self {
            Operation::ImagesToPdf => FileKind::Image,
            _ => FileKind::Pdf,
        }
    }

    /// The option names (form fields) this operation understands, besides the
    /// common ones (`password`, `priority`).
    pub fn option_names(self) -> &'static [&'static str] {
        match self {
            Operation::Compress => &["level", "target_size", "min_ssim", "sanitize"],
            Operation::Merge => &["sanitize"],
            Operation::ImagesToPdf => &["page_size", "margin", "dpi"],
            Operation::Split => &["pages", "every"],
            Operation::Rotate => &["angle", "pages"],
            Operation::Text => &["pages"],
            Operation::Render => &["page", "dpi"],
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Operation {
    type Err = OptionsError;
    fn from_str(s: &str) -> Result<Self, OptionsError> {
        Operation::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| OptionsError::UnknownOperation(s.to_string()))
    }
}

/// Options per operation, named like the CLI flags. Enumerations (`level`,
/// `page_size`) and page selections stay strings here: the engine owns their
/// grammar and validates them (the API does so before queueing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OpOptions {
    Compress {
        level: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_size: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ssim: Option<f32>,
        /// Remove JavaScript, launch actions, embedded files and XFA.
        #[serde(default, skip_serializing_if = "is_false")]
        sanitize: bool,
    },
    Merge {
        #[serde(default, skip_serializing_if = "is_false")]
        sanitize: bool,
    },
    ImagesToPdf {
        page_size: String,
        margin: f32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dpi: Option<f32>,
    },
    Split {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pages: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        every: Option<u32>,
    },
    Rotate {
        angle: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pages: Option<String>,
    },
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pages: Option<String>,
    },
    Render {
        page: u32,
        dpi: f32,
    },
}

impl OpOptions {
    pub fn operation(&self) -> Operation {
        match self {
            OpOptions::Compress { .. } => Operation::Compress,
            OpOptions::Merge { .. } => Operation::Merge,
            OpOptions::ImagesToPdf { .. } => Operation::ImagesToPdf,
            OpOptions::Split { .. } => Operation::Split,
            OpOptions::Rotate { .. } => Operation::Rotate,
            OpOptions::Text { .. } => Operation::Text,
            OpOptions::Render { .. } => Operation::Render,
        }
    }

    /// Build options from form fields (`name=value` pairs, CLI flag names
    /// without dashes; `-` and `_` are interchangeable). Unknown fields, a
    /// repeated field or an unparsable number are errors, not silently ignored.
    pub fn from_fields(op: Operation, fields: &[(String, String)]) -> Result<Self, OptionsError> {
        let mut seen = std::collections::HashSet::new();
        for (k, _) in fields {
            let k = normalize(k);
            if !op.option_names().contains(&k.as_str()) {
                return Err(OptionsError::UnknownOption {
                    operation: op,
                    name: k,
                });
            }
            if !seen.insert(k.clone()) {
                return Err(OptionsError::Invalid(format!("option '{k}' given twice")));
            }
        }
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| normalize(k) == name)
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        fn num<T: std::str::FromStr>(
            name: &str,
            v: Option<String>,
        ) -> Result<Option<T>, OptionsError> {
            v.map(|s| {
                s.parse::<T>().map_err(|_| {
                    OptionsError::Invalid(format!("option '{name}': '{s}' is not a valid number"))
                })
            })
            .transpose()
        }
        Ok(match op {
            Operation::Compress => OpOptions::Compress {
                level: get("level").unwrap_or_else(|| "balanced".into()),
                target_size: num("target_size", get("target_size"))?,
                min_ssim: num("min_ssim", get("min_ssim"))?,
                sanitize: flag("sanitize", get("sanitize"))?,
            },
            Operation::Merge => OpOptions::Merge {
                sanitize: flag("sanitize", get("sanitize"))?,
            },
            Operation::ImagesToPdf => OpOptions::ImagesToPdf {
                page_size: get("page_size").unwrap_or_else(|| "auto".into()),
                margin: num("margin", get("margin"))?.unwrap_or(0.0),
                dpi: num("dpi", get("dpi"))?,
            },
            Operation::Split => OpOptions::Split {
                pages: get("pages"),
                every: num("every", get("every"))?,
            },
            Operation::Rotate => OpOptions::Rotate {
                angle: num("angle", get("angle"))?.ok_or_else(|| {
                    OptionsError::Invalid("option 'angle' is required (90, 180 or 270)".into())
                })?,
                pages: get("pages"),
            },
            Operation::Text => OpOptions::Text {
                pages: get("pages"),
            },
            Operation::Render => OpOptions::Render {
                page: num("page", get("page"))?.unwrap_or(1),
                dpi: num("dpi", get("dpi"))?.unwrap_or(72.0),
            },
        })
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A boolean form field: `true/false`, `1/0`, `yes/no`, `on/off`.
fn flag(name: &str, v: Option<String>) -> Result<bool, OptionsError> {
    match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(other) => Err(OptionsError::Invalid(format!(
            "option '{name}': '{other}' is not true or false"
        ))),
    }
}

impl OpOptions {
    /// Whether the result is to be sanitized (compress and merge only).
    pub fn sanitize(&self) -> bool {
        matches!(
            self,
            OpOptions::Compress { sanitize: true, .. } | OpOptions::Merge { sanitize: true }
        )
    }

    /// Force sanitizing where the operation supports it (`FOLIO_FORCE_SANITIZE`).
    pub fn force_sanitize(&mut self) {
        match self {
            OpOptions::Compress { sanitize, .. } | OpOptions::Merge { sanitize } => {
                *sanitize = true
            }
            _ => {}
        }
    }
}

fn normalize(k: &str) -> String {
    k.trim().to_ascii_lowercase().replace('-', "_")
}

/// A complete job request as stored with the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// [`SPEC_VERSION`] at the time of writing.
    pub version: u32,
    pub options: OpOptions,
    /// Inputs in the order they were uploaded.
    pub inputs: Vec<InputRef>,
    /// Password for encrypted inputs. Never shown in job documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Soft time limit in seconds (the job is asked to stop), if not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_timeout_secs: Option<u64>,
}

impl JobSpec {
    pub fn new(options: OpOptions, inputs: Vec<InputRef>) -> Self {
        JobSpec {
            version: SPEC_VERSION,
            options,
            inputs,
            password: None,
            soft_timeout_secs: None,
        }
    }

    pub fn operation(&self) -> Operation {
        self.options.operation()
    }

    /// Parse a stored spec, refusing versions this build does not know.
    pub fn from_json(s: &str) -> Result<Self, OptionsError> {
        let v: serde_json::Value = serde_json::from_str(s)
            .map_err(|e| OptionsError::Invalid(format!("bad job spec: {e}")))?;
        let version = v.get("version").and_then(|x| x.as_u64()).unwrap_or(0);
        if version != u64::from(SPEC_VERSION) {
            return Err(OptionsError::UnsupportedVersion(version));
        }
        serde_json::from_value(v).map_err(|e| OptionsError::Invalid(format!("bad job spec: {e}")))
    }

    pub fn to_json(&self) -> String {
        // A spec is plain data (strings and numbers): serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Text that determines the result: operation, options and the inputs'
    /// content hashes (not their names). Equal material → equal output, so
    /// the result can be reused. `None` when the job must not be cached (a
    /// password is involved: its result should not be handed to others).
    pub fn cache_material(&self) -> Option<String> {
        if self.password.is_some() {
            return None;
        }
        let opts = serde_json::to_string(&self.options).ok()?;
        let hashes: Vec<&str> = self.inputs.iter().map(|i| i.sha256.as_str()).collect();
        Some(format!("v{}|{opts}|{}", self.version, hashes.join(",")))
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsError {
    #[error(
        "unknown operation '{0}' (use compress, merge, images-to-pdf, split, rotate, text or render)"
    )]
    UnknownOperation(String),
    #[error("unknown option '{name}' for {operation} (accepted: {})", accepted(*operation))]
    UnknownOption { operation: Operation, name: String },
    #[error("{0}")]
    Invalid(String),
    #[error("job spec version {0} is not supported by this build")]
    UnsupportedVersion(u64),
}

fn accepted(op: Operation) -> String {
    let mut names: Vec<&str> = op.option_names().to_vec();
    names.push("password");
    names.push("priority");
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn operations_round_trip() {
        for op in Operation::ALL {
            assert_eq!(op.as_str().parse::<Operation>().unwrap(), op);
        }
        assert!("explode".parse::<Operation>().is_err());
    }

    #[test]
    fn form_fields_build_options() {
        let o = OpOptions::from_fields(
            Operation::Compress,
            &f(&[("level", "strong"), ("target-size", "1000")]),
        )
        .unwrap();
        assert_eq!(
            o,
            OpOptions::Compress {
                level: "strong".into(),
                target_size: Some(1000),
                min_ssim: None,
                sanitize: false,
            }
        );
        let r = OpOptions::from_fields(Operation::Rotate, &f(&[("angle", "90")])).unwrap();
        assert_eq!(r.operation(), Operation::Rotate);
    }

    #[test]
    fn sanitize_is_a_flag_of_compress_and_merge() {
        let o = OpOptions::from_fields(Operation::Merge, &f(&[("sanitize", "true")])).unwrap();
        assert!(o.sanitize());
        let o = OpOptions::from_fields(Operation::Compress, &f(&[("sanitize", "0")])).unwrap();
        assert!(!o.sanitize());
        // Absent from stored specs unless set (old specs read the same).
        assert!(!serde_json::to_string(&o).unwrap().contains("sanitize"));
        assert!(OpOptions::from_fields(Operation::Merge, &f(&[("sanitize", "maybe")])).is_err());
        assert!(OpOptions::from_fields(Operation::Text, &f(&[("sanitize", "1")])).is_err());
        let mut t = OpOptions::from_fields(Operation::Text, &[]).unwrap();
        t.force_sanitize();
        assert!(!t.sanitize());
        let mut m = OpOptions::from_fields(Operation::Merge, &[]).unwrap();
        m.force_sanitize();
        assert!(m.sanitize());
    }

    #[test]
    fn bad_fields_are_errors() {
        assert!(matches!(
            OpOptions::from_fields(Operation::Rotate, &f(&[("angle", "x")])),
            Err(OptionsError::Invalid(_))
        ));
        assert!(matches!(
            OpOptions::from_fields(Operation::Rotate, &[]),
            Err(OptionsError::Invalid(_))
        ));
        assert!(matches!(
            OpOptions::from_fields(Operation::Merge, &f(&[("level", "1")])),
            Err(OptionsError::UnknownOption { .. })
        ));
        assert!(
            OpOptions::from_fields(Operation::Text, &f(&[("pages", "1"), ("pages", "2")])).is_err()
        );
    }

    #[test]
    fn spec_is_versioned() {
        let spec = JobSpec::new(OpOptions::Merge { sanitize: false }, vec![]);
        let json = spec.to_json();
        assert_eq!(JobSpec::from_json(&json).unwrap(), spec);
        let future = json.replace("\"version\":1", "\"version\":99");
        assert_eq!(
            JobSpec::from_json(&future),
            Err(OptionsError::UnsupportedVersion(99))
        );
    }

    #[test]
    fn cache_material_ignores_names_not_content() {
        let input = |name: &str, sha: &str| InputRef {
            key: format!("k-{name}"),
            name: name.into(),
            size: 1,
            sha256: sha.into(),
        };
        let a = JobSpec::new(
            OpOptions::Merge { sanitize: false },
            vec![input("a.pdf", "11")],
        );
        let b = JobSpec::new(
            OpOptions::Merge { sanitize: false },
            vec![input("b.pdf", "11")],
        );
        let c = JobSpec::new(
            OpOptions::Merge { sanitize: false },
            vec![input("a.pdf", "22")],
        );
        assert_eq!(a.cache_material(), b.cache_material());
        assert_ne!(a.cache_material(), c.cache_material());
        let mut p = a.clone();
        p.password = Some("x".into());
        assert_eq!(p.cache_material(), None);
    }
}
