//! DOCX: paragraphs of `word/document.xml` in order, `Heading*`/`Title` styles as
//! headings, explicit and last-rendered page breaks as pages (so a passage's page is
//! where Word last laid it out). The archive is read with a bound on how much it may
//! inflate to: a zip bomb named `.docx` is refused, not unpacked.

use std::io::Read;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{ExtractError, Extracted, Page, MAX_TEXT_BYTES};

/// `document.xml` may not inflate to more than this (its text is much less).
const MAX_XML_BYTES: u64 = 4 * MAX_TEXT_BYTES;

pub(super) fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let corrupt = |e: &dyn std::fmt::Display| ExtractError::Corrupt(e.to_string());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| corrupt(&e))?;
    let entry = archive
        .by_name("word/document.xml")
        .map_err(|_| ExtractError::Corrupt("not a Word document (no word/document.xml)".into()))?;
    // The declared size can lie; the read is bounded whatever it says.
    if entry.size() > MAX_XML_BYTES {
        return Err(ExtractError::TooLarge(MAX_TEXT_BYTES >> 20));
    }
    let mut xml = Vec::new();
    entry
        .take(MAX_XML_BYTES + 1)
        .read_to_end(&mut xml)
        .map_err(|e| corrupt(&e))?;
    if xml.len() as u64 > MAX_XML_BYTES {
        return Err(ExtractError::TooLarge(MAX_TEXT_BYTES >> 20));
    }
    parse(&xml)
}

fn parse(xml: &[u8]) -> Result<Extracted, ExtractError> {
    let mut reader = Reader::from_reader(xml);
    let mut pages = vec![Page::new(1)];
    let mut para = String::new();
    let mut heading = false;
    let mut in_text = false;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| ExtractError::Corrupt(format!("document.xml: {e}")))?;
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"p" => {
                    para.clear();
                    heading = false;
                }
                b"t" => in_text = true,
                b"tab" => para.push('\t'),
                b"pStyle" => {
                    heading = e.attributes().flatten().any(|a| {
                        a.key.local_name().as_ref() == b"val"
                            && (a.value.starts_with(b"Heading") || a.value.as_ref() == b"Title")
                    })
                }
                b"br" => {
                    let page_break = e.attributes().flatten().any(|a| {
                        a.key.local_name().as_ref() == b"type" && a.value.as_ref() == b"page"
                    });
                    if page_break {
                        end_paragraph(&mut pages, &mut para, heading);
                        let next = pages.len() as u32 + 1;
                        pages.push(Page::new(next));
                    } else {
                        para.push('\n');
                    }
                }
                b"lastRenderedPageBreak" => {
                    end_paragraph(&mut pages, &mut para, heading);
                    let next = pages.len() as u32 + 1;
                    pages.push(Page::new(next));
                }
                _ => {}
            },
            Event::Text(t) if in_text => {
                let text = t
                    .unescape()
                    .map_err(|e| ExtractError::Corrupt(format!("document.xml: {e}")))?;
                para.push_str(&text);
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => end_paragraph(&mut pages, &mut para, heading),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    // A page break at the very end leaves an empty page: drop trailing empties.
    while pages.len() > 1 && pages.last().is_some_and(|p| p.text.is_empty()) {
        pages.pop();
    }
    let title = pages
        .iter()
        .find_map(|p| p.headings.first())
        .map(|(_, h)| h.clone());
    Ok(Extracted { title, pages })
}

fn end_paragraph(pages: &mut [Page], para: &mut String, heading: bool) {
    let text = std::mem::take(para);
    if let Some(page) = pages.last_mut() {
        if heading {
            page.push_heading(&text);
        } else {
            page.push_block(&text);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paragraphs_headings_and_page_breaks() {
        let xml = br#"<w:document xmlns:w="w"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Summary</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Sales &amp; costs </w:t></w:r><w:r><w:t>rose.</w:t></w:r></w:p>
            <w:p><w:r><w:br w:type="page"/></w:r></w:p>
            <w:p><w:r><w:t>Page two.</w:t></w:r></w:p>
        </w:body></w:document>"#;
        let out = super::parse(xml).expect("docx xml");
        assert_eq!(out.pages.len(), 2);
        assert_eq!(out.pages[0].text, "Summary\n\nSales & costs rose.");
        assert_eq!(out.pages[0].headings, vec![(0, "Summary".into())]);
        assert_eq!(out.pages[1].text, "Page two.");
        assert_eq!(out.title.as_deref(), Some("Summary"));
    }
}
