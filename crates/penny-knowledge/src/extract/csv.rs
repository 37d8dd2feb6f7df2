//! CSV: each row as one paragraph of `column: value` pairs, so a passage keeps the
//! header's meaning with its values.

use super::{ExtractError, Extracted, Page};

pub(super) fn extract(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ExtractError::Corrupt(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut page = Page::new(1);
    for row in reader.records() {
        let row = row.map_err(|e| ExtractError::Corrupt(e.to_string()))?;
        let line = row
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(i, v)| match headers.get(i).filter(|h| !h.is_empty()) {
                Some(h) => format!("{h}: {}", v.trim()),
                None => v.trim().to_string(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        page.push_block(&line);
    }
    Ok(Extracted {
        title: None,
        pages: vec![page],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_keep_their_headers() {
        let out = super::extract(b"city,population\nOslo,709000\nBergen,\n").expect("csv");
        assert_eq!(
            out.pages[0].text,
            "city: Oslo; population: 709000\n\ncity: Bergen"
        );
    }
}
