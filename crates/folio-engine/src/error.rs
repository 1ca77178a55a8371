//! One error type for every engine operation.
//!
//! Each variant maps to a stable code string (`Error::code`) that the CLI prints
//! and the HTTP service exposes in its problem documents. Codes are part of the
//! public contract: add new ones, never rename.

use std::fmt;

/// Which of the [`crate::Limits`] was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    InputBytes,
    Pages,
    ImagePixels,
    StreamBytes,
    DocumentBytes,
    Depth,
    WallTime,
    Inputs,
    OutputBytes,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::InputBytes => "input_bytes",
            LimitKind::Pages => "pages",
            LimitKind::ImagePixels => "image_pixels",
            LimitKind::StreamBytes => "stream_bytes",
            LimitKind::DocumentBytes => "document_bytes",
            LimitKind::Depth => "depth",
            LimitKind::WallTime => "wall_time",
            LimitKind::Inputs => "inputs",
            LimitKind::OutputBytes => "output_bytes",
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not a PDF we can read (no header, no usable xref, no page tree...).
    #[error("not a readable PDF: {0}")]
    InvalidPdf(String),
    /// The PDF needs a user password and none was given.
    #[error("the PDF is encrypted: a password is required to open it")]
    Encrypted,
    /// A password was given but it opens neither the user nor the owner lock.
    #[error("the password does not open this PDF")]
    WrongPassword,
    /// One of the configured [`crate::Limits`] was crossed.
    #[error("limit exceeded: {limit} (maximum {max}, found {found})")]
    LimitExceeded {
        limit: LimitKind,
        max: u64,
        found: u64,
    },
    /// An image input we cannot embed (unknown format, corrupt, unsupported variant).
    #[error("unsupported image: {0}")]
    UnsupportedImage(String),
    /// The PDF uses something the engine does not support for this operation.
    #[error("unsupported feature: {0}")]
    UnsupportedFeature(String),
    /// Options that make no sense (bad page range, angle 45, zero chunk size...).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// A page range names pages the document does not have.
    #[error("page {page} is out of range: the document has {count} page(s)")]
    PageOutOfRange { page: u32, count: u32 },
    /// The written output failed the second-parser check; nothing was written.
    #[error("output check failed: {0}")]
    InternalOutputCheck(String),
    /// The caller cancelled the operation.
    #[error("the operation was cancelled")]
    Cancelled,
    /// A bug or an impossible state; never caused by the input alone.
    #[error("internal error: {0}")]
    Internal(String),
    /// An error in one input of a multi-input operation (merge): the code is
    /// the inner error's, the message also names the input (1-based index).
    #[error("input {index} ('{name}'): {source}")]
    Input {
        index: usize,
        name: String,
        source: Box<Error>,
    },
}

impl Error {
    /// The stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidPdf(_) => "invalid_pdf",
            Error::Encrypted => "encrypted",
            Error::WrongPassword => "wrong_password",
            Error::LimitExceeded { .. } => "limit_exceeded",
            Error::UnsupportedImage(_) => "unsupported_image",
            Error::UnsupportedFeature(_) => "unsupported_feature",
            Error::InvalidOptions(_) => "invalid_options",
            Error::PageOutOfRange { .. } => "page_out_of_range",
            Error::InternalOutputCheck(_) => "internal_output_check",
            Error::Cancelled => "cancelled",
            Error::Internal(_) => "internal",
            Error::Input { source, .. } => source.code(),
        }
    }

    /// Whether running the same operation again could succeed. Only internal
    /// faults qualify: a corrupt or hostile input fails the same way every time.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Input { source, .. } => source.is_retryable(),
            other => matches!(other, Error::Internal(_)),
        }
    }

    /// The error without the per-input context of [`Error::Input`].
    pub fn root(&self) -> &Error {
        match self {
            Error::Input { source, .. } => source.root(),
            other => other,
        }
    }

    /// Wrap `self` with the input it came from (`index` is 0-based here,
    /// shown 1-based).
    pub fn in_input(self, index: usize, name: &str) -> Error {
        Error::Input {
            index: index + 1,
            name: name.to_string(),
            source: Box::new(self),
        }
    }

    pub(crate) fn limit(limit: LimitKind, max: u64, found: u64) -> Self {
        Error::LimitExceeded { limit, max, found }
    }
}

/// Map lopdf's errors onto ours: decompression bombs become limit errors,
/// password failures become `wrong_password`, everything else `invalid_pdf`.
impl From<lopdf::Error> for Error {
    fn from(e: lopdf::Error) -> Self {
        match e {
            lopdf::Error::InvalidPassword => Error::WrongPassword,
            lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { limit }) => {
                Error::LimitExceeded {
                    limit: LimitKind::StreamBytes,
                    max: limit as u64,
                    found: limit as u64 + 1,
                }
            }
            lopdf::Error::RecursionLimit | lopdf::Error::ReferenceLimit => Error::LimitExceeded {
                limit: LimitKind::Depth,
                max: 0,
                found: 0,
            },
            other => Error::InvalidPdf(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
