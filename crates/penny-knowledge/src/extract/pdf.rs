//! PDF: the text of each page, in reading order as the file lays it out (pdf-extract on
//! lopdf). A PDF that needs a password to open is refused with that reason; one that the
//! parser cannot read is "damaged".

use super::{normalize_newlines, ExtractError, Extracted, Page};

pub(super) fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let pages = pdf_extract::extract_text_from_mem_by_pages(bytes).map_err(|e| {
        let message = e.to_string();
        let lower = message.to_ascii_lowercase();
        if lower.contains("decrypt") || lower.contains("password") || lower.contains("encrypt") {
            ExtractError::Encrypted
        } else {
            ExtractError::Corrupt(message)
        }
    })?;
    let pages = pages
        .into_iter()
        .enumerate()
        .map(|(i, text)| Page {
            number: i as u32 + 1,
            text: tidy(&text),
            headings: Vec::new(),
        })
        .collect();
    Ok(Extracted { title: None, pages })
}

/// pdf-extract writes a newline per laid-out line and blank lines between blocks; lines
/// of a paragraph are joined back (a hyphen at a line's end joins without a space).
fn tidy(page: &str) -> String {
    let page = normalize_newlines(page);
    let mut out = String::with_capacity(page.len());
    for para in page.split("\n\n") {
        let mut joined = String::new();
        for line in para.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if joined.ends_with('-') {
                joined.pop();
            } else if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(line);
        }
        if !joined.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&joined);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::tidy;

    #[test]
    fn lines_of_a_paragraph_are_joined() {
        assert_eq!(
            tidy("The quick brown\nfox jum-\nped.\n\n\nNext  para"),
            "The quick brown fox jumped.\n\nNext  para"
        );
    }
}
