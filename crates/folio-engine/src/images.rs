//! Images (JPEG, PNG, TIFF) to PDF, passing compressed data through untouched
//! wherever PDF can carry it.

use crate::{Ctx, Error, Input, Output, Result};

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum PageSize {
    /// The page is the image's size at its resolution (or `dpi`).
    #[default]
    Auto,
    A4,
    Letter,
}

impl std::str::FromStr for PageSize {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(PageSize::Auto),
            "a4" => Ok(PageSize::A4),
            "letter" => Ok(PageSize::Letter),
            other => Err(Error::InvalidOptions(format!(
                "unknown page size '{other}' (use auto, a4 or letter)"
            ))),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImagesOptions {
    pub page_size: PageSize,
    /// Margin around the image, in PDF points (1/72 in).
    pub margin_pt: f32,
    /// Override the image's own resolution (pixels per inch) for `auto` pages.
    pub dpi: Option<f32>,
}

pub fn images_to_pdf(inputs: &[Input<'_>], opts: &ImagesOptions, ctx: &Ctx) -> Result<Output> {
    let _ = (inputs, opts, ctx);
    Err(Error::UnsupportedFeature(
        "images-to-pdf is not implemented yet".into(),
    ))
}
