//! Text out of a document, page by page, with the headings it has. Each format has a
//! module of its own; [`extract`] picks one by the bytes' kind and the file's name.
//!
//! Extraction runs on a blocking thread and never trusts its input: archives are read
//! with a bound on what they inflate to, and a parser that panics on a hostile file is a
//! clear "could not read" error, not a dead worker.

mod csv;
mod docx;
mod html;
mod markdown;
mod pdf;

use std::panic::AssertUnwindSafe;

/// A page of extracted text. `headings` are byte offsets in `text` where a heading starts,
/// with the heading's text; formats without pages have one page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// 1-based.
    pub number: u32,
    pub text: String,
    pub headings: Vec<(usize, String)>,
}

impl Page {
    fn new(number: u32) -> Self {
        Page {
            number,
            ..Page::default()
        }
    }

    /// Appends a block (a paragraph, a list item, a table row) as a paragraph of its own.
    fn push_block(&mut self, block: &str) {
        let block = block.trim();
        if block.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
        }
        self.text.push_str(block);
    }

    /// Appends a heading: a block that later chunks are filed under.
    fn push_heading(&mut self, heading: &str) {
        let heading = collapse_whitespace(heading);
        if heading.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
        }
        self.headings.push((self.text.len(), heading.clone()));
        self.text.push_str(&heading);
    }
}

/// What came out of a document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    /// The document's own title, when it states one (HTML `<title>`, a PDF's Info).
    pub title: Option<String>,
    pub pages: Vec<Page>,
}

impl Extracted {
    pub fn chars(&self) -> usize {
        self.pages.iter().map(|p| p.text.chars().count()).sum()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtractError {
    #[error("this kind of file cannot be read as text ({0})")]
    Unsupported(String),
    #[error("the PDF is protected by a password")]
    Encrypted,
    #[error("the file is damaged or not what its name says: {0}")]
    Corrupt(String),
    #[error("the file inflates to more than {0} MB of text; it is refused")]
    TooLarge(u64),
    #[error("the file holds no text")]
    Empty,
}

/// The kinds PENNY reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Docx,
    Html,
    Markdown,
    Csv,
    Text,
}

impl Kind {
    /// Chooses by content first (magic bytes), then by the MIME type and file name.
    pub fn detect(bytes: &[u8], mime: &str, filename: &str) -> Result<Kind, ExtractError> {
        let name = filename.to_ascii_lowercase();
        let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        if bytes.starts_with(b"%PDF-") {
            return Ok(Kind::Pdf);
        }
        if bytes.starts_with(b"PK\x03\x04") {
            return if ext == "docx" || mime.contains("wordprocessingml") {
                Ok(Kind::Docx)
            } else {
                Err(ExtractError::Unsupported(format!(
                    "a zip archive named {filename:?}"
                )))
            };
        }
        let kind = match (ext, mime) {
            ("pdf", _) | (_, "application/pdf") => Kind::Pdf,
            ("docx", _) => Kind::Docx,
            ("html" | "htm", _) | (_, "text/html") => Kind::Html,
            ("md" | "markdown", _) | (_, "text/markdown") => Kind::Markdown,
            ("csv", _) | (_, "text/csv") => Kind::Csv,
            ("txt" | "text" | "log" | "json" | "xml" | "yaml" | "yml" | "toml" | "rst", _) => {
                Kind::Text
            }
            (_, m) if m.starts_with("text/") => Kind::Text,
            _ if std::str::from_utf8(&bytes[..bytes.len().min(4096)]).is_ok()
                && !bytes.contains(&0) =>
            {
                Kind::Text
            }
            _ => return Err(ExtractError::Unsupported(mime.to_string())),
        };
        Ok(kind)
    }
}

/// Most text one document may give (after inflating): 64 MB.
pub const MAX_TEXT_BYTES: u64 = 64 << 20;

/// Extracts `bytes` as `kind`. CPU-bound: call it from a blocking thread.
pub fn extract(bytes: &[u8], kind: Kind) -> Result<Extracted, ExtractError> {
    // The parsers are third-party code fed hostile input: a panic is a damaged file.
    let out = std::panic::catch_unwind(AssertUnwindSafe(|| match kind {
        Kind::Pdf => pdf::extract(bytes),
        Kind::Docx => docx::extract(bytes),
        Kind::Html => Ok(html::extract(&lossy(bytes))),
        Kind::Markdown => Ok(markdown::extract(&lossy(bytes))),
        Kind::Csv => csv::extract(bytes),
        Kind::Text => Ok(text(&lossy(bytes))),
    }))
    .map_err(|_| ExtractError::Corrupt("the reader gave up on it".into()))??;
    let total: usize = out.pages.iter().map(|p| p.text.len()).sum();
    if total as u64 > MAX_TEXT_BYTES {
        return Err(ExtractError::TooLarge(MAX_TEXT_BYTES >> 20));
    }
    if out.pages.iter().all(|p| p.text.trim().is_empty()) {
        return Err(ExtractError::Empty);
    }
    Ok(out)
}

fn lossy(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.strip_prefix('\u{feff}').unwrap_or(&s).to_string()
}

/// Plain text: form feeds are page breaks (as `pdftotext` writes them).
fn text(s: &str) -> Extracted {
    let pages = s
        .split('\u{c}')
        .enumerate()
        .map(|(i, body)| Page {
            number: i as u32 + 1,
            text: normalize_newlines(body).trim().to_string(),
            headings: Vec::new(),
        })
        .collect();
    Extracted { title: None, pages }
}

fn normalize_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

pub(crate) fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_by_content_before_name() {
        assert_eq!(Kind::detect(b"%PDF-1.7", "", "x.txt"), Ok(Kind::Pdf));
        assert_eq!(
            Kind::detect(b"PK\x03\x04rest", "", "report.docx"),
            Ok(Kind::Docx)
        );
        assert!(matches!(
            Kind::detect(b"PK\x03\x04rest", "application/zip", "a.zip"),
            Err(ExtractError::Unsupported(_))
        ));
        assert_eq!(Kind::detect(b"# hi", "", "notes.md"), Ok(Kind::Markdown));
        assert_eq!(Kind::detect(b"a,b\n1,2", "text/csv", "t"), Ok(Kind::Csv));
        assert_eq!(Kind::detect(b"hello", "", "noext"), Ok(Kind::Text));
        assert!(Kind::detect(b"\x00\x01\x02", "application/octet-stream", "bin").is_err());
    }

    #[test]
    fn form_feeds_are_pages() {
        let out = extract(b"one\x0ctwo\r\nlines", Kind::Text).expect("text");
        assert_eq!(out.pages.len(), 2);
        assert_eq!(out.pages[1].number, 2);
        assert_eq!(out.pages[1].text, "two\nlines");
    }

    #[test]
    fn a_file_without_text_is_refused() {
        assert_eq!(extract(b"  \n ", Kind::Text), Err(ExtractError::Empty));
    }
}
