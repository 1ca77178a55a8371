//! What every operation returns: output files plus a report of what was done.

use serde::Serialize;

/// One produced file. Most operations produce exactly one; `split --every`
/// produces several (the service zips them).
#[derive(Debug, Clone)]
pub struct OutputFile {
    /// A suggested file name (no directories), e.g. `part-001.pdf`.
    pub name: String,
    /// IANA media type: `application/pdf`, `text/plain; charset=utf-8`, `image/png`.
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
}

/// What an operation did, for humans (CLI) and machines (`--json`, the API).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub operation: &'static str,
    /// Number of input files.
    pub inputs: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Pages over all inputs (0 for images).
    pub pages_in: u32,
    /// Pages over all outputs (0 for text/render outputs).
    pub pages_out: u32,
    pub elapsed_ms: u64,
    /// True when the output is the unchanged input because nothing we tried
    /// made it smaller (compress never writes a larger file).
    pub kept_original: bool,
    /// Plain-language notes on what was done or skipped.
    pub notes: Vec<String>,
    /// Operation-specific numbers (objects deduplicated, images re-encoded, SSIM...).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl Report {
    pub fn new(operation: &'static str) -> Self {
        Report {
            operation,
            ..Default::default()
        }
    }

    /// Record an operation-specific figure under `key`.
    pub fn detail(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.details.insert(key.to_string(), value.into());
    }

    /// Output size relative to input (1.0 = unchanged, 0.5 = half).
    pub fn ratio(&self) -> f64 {
        if self.bytes_in == 0 {
            1.0
        } else {
            self.bytes_out as f64 / self.bytes_in as f64
        }
    }
}

/// Output files and the report.
#[derive(Debug, Clone)]
pub struct Output {
    pub files: Vec<OutputFile>,
    pub report: Report,
}

impl Output {
    /// Build an output of one file, filling `bytes_out` and `elapsed_ms`.
    pub fn single(file: OutputFile, mut report: Report, ctx: &crate::Ctx) -> Self {
        report.bytes_out = file.bytes.len() as u64;
        report.elapsed_ms = ctx.elapsed().as_millis() as u64;
        Output {
            files: vec![file],
            report,
        }
    }

    /// Build an output of several files, filling `bytes_out` and `elapsed_ms`.
    pub fn many(files: Vec<OutputFile>, mut report: Report, ctx: &crate::Ctx) -> Self {
        report.bytes_out = files.iter().map(|f| f.bytes.len() as u64).sum();
        report.elapsed_ms = ctx.elapsed().as_millis() as u64;
        Output { files, report }
    }
}

pub const PDF: &str = "application/pdf";
pub const TEXT: &str = "text/plain; charset=utf-8";
pub const PNG: &str = "image/png";
