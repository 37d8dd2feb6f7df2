//! Cutting pages into passages: paragraphs are gathered up to [`TARGET_CHARS`]; a heading
//! always starts a new passage (and is filed with the ones under it, across pages); a
//! passage never spans two pages, so its page is exact; and no passage is longer than
//! [`MAX_CHARS`], even from a PDF with no breaks at all: a long paragraph is cut at a
//! sentence's end, else at a space, else anywhere.

use crate::extract::Page;

/// A passage grows by paragraphs until about this many characters.
pub const TARGET_CHARS: usize = 900;
/// No passage is longer (the local model reads about 256 tokens, ~1,000 characters).
pub const MAX_CHARS: usize = 1200;

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub ordinal: u32,
    pub page: u32,
    /// Character offsets in the page's text.
    pub start: usize,
    pub end: usize,
    pub heading: String,
    pub content: String,
}

impl Chunk {
    /// What is embedded: the heading gives a passage its context.
    pub fn embedding_text(&self) -> String {
        if self.heading.is_empty() || self.content.starts_with(&self.heading) {
            self.content.clone()
        } else {
            format!("{}\n{}", self.heading, self.content)
        }
    }
}

pub fn chunk(pages: &[Page]) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut heading = String::new();
    for page in pages {
        let mut cutter = Cutter {
            page,
            out: &mut out,
            chars: CharIndex::default(),
            open: None,
        };
        for (start, end) in paragraphs(&page.text) {
            if let Some((_, h)) = page.headings.iter().find(|(at, _)| *at == start) {
                cutter.flush(&heading);
                heading = h.clone();
            }
            let len = page.text[start..end].chars().count();
            if len > MAX_CHARS {
                cutter.flush(&heading);
                for (s, e) in split_long(&page.text[start..end]) {
                    cutter.emit(start + s, start + e, &heading);
                }
                continue;
            }
            match cutter.open {
                Some((s, e)) if page.text[s..e].chars().count() + 2 + len > TARGET_CHARS => {
                    cutter.flush(&heading);
                    cutter.open = Some((start, end));
                }
                Some((s, _)) => cutter.open = Some((s, end)),
                None => cutter.open = Some((start, end)),
            }
        }
        cutter.flush(&heading);
    }
    out
}

struct Cutter<'a> {
    page: &'a Page,
    out: &'a mut Vec<Chunk>,
    chars: CharIndex,
    /// The passage being gathered: byte range in the page's text.
    open: Option<(usize, usize)>,
}

impl Cutter<'_> {
    fn flush(&mut self, heading: &str) {
        if let Some((s, e)) = self.open.take() {
            self.emit(s, e, heading);
        }
    }

    fn emit(&mut self, start: usize, end: usize, heading: &str) {
        let content = self.page.text[start..end].trim();
        if content.is_empty() {
            return;
        }
        let start_char = self.chars.at(&self.page.text, start);
        let end_char = self.chars.at(&self.page.text, end);
        self.out.push(Chunk {
            ordinal: self.out.len() as u32,
            page: self.page.number,
            start: start_char,
            end: end_char,
            heading: heading.to_string(),
            content: content.to_string(),
        });
    }
}

/// Byte offset → character offset, for offsets asked in increasing order.
#[derive(Default)]
struct CharIndex {
    byte: usize,
    char: usize,
}

impl CharIndex {
    fn at(&mut self, text: &str, byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.char = 0;
        }
        self.char += text[self.byte..byte].chars().count();
        self.byte = byte;
        self.char
    }
}

/// Byte ranges of the paragraphs (separated by blank lines), trimmed.
fn paragraphs(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    for part in text.split("\n\n") {
        let lead = part.len() - part.trim_start().len();
        let body = part.trim();
        if !body.is_empty() {
            out.push((at + lead, at + lead + body.len()));
        }
        at += part.len() + 2;
    }
    out
}

/// Cuts a long paragraph into pieces of at most [`MAX_CHARS`]: each piece ends at the
/// last sentence end in its window, else the last whitespace, else at the window's end.
fn split_long(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let rest = &text[start..];
        // Byte index of the window's end (MAX_CHARS characters on).
        let window = rest
            .char_indices()
            .nth(MAX_CHARS)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        if window == rest.len() {
            out.push((start, text.len()));
            break;
        }
        let slice = &rest[..window];
        let floor = window / 2;
        let cut = last_sentence_end(slice)
            .filter(|&i| i >= floor)
            .or_else(|| slice.rfind(char::is_whitespace).filter(|&i| i >= floor))
            .unwrap_or(window);
        let cut = cut.max(1);
        out.push((start, start + cut));
        start += cut;
        // The next piece starts at its first non-space.
        start += text[start..].len() - text[start..].trim_start().len();
    }
    out
}

fn last_sentence_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (1..b.len())
        .rev()
        .find(|&i| b[i].is_ascii_whitespace() && matches!(b[i - 1], b'.' | b'!' | b'?' | b';'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(number: u32, text: &str, headings: &[(usize, &str)]) -> Page {
        Page {
            number,
            text: text.to_string(),
            headings: headings.iter().map(|(a, h)| (*a, h.to_string())).collect(),
        }
    }

    #[test]
    fn short_paragraphs_are_gathered_and_headings_start_passages() {
        let p1 = page(
            1,
            "Intro\n\nAlpha.\n\nBeta.\n\nMethods\n\nGamma.",
            &[(0, "Intro"), (22, "Methods")],
        );
        let p2 = page(2, "Delta.", &[]);
        let chunks = chunk(&[p1, p2]);
        let got: Vec<_> = chunks
            .iter()
            .map(|c| {
                (
                    c.page,
                    c.heading.as_str(),
                    c.content.as_str(),
                    c.start,
                    c.end,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "Intro", "Intro\n\nAlpha.\n\nBeta.", 0, 20),
                (1, "Methods", "Methods\n\nGamma.", 22, 37),
                (2, "Methods", "Delta.", 0, 6),
            ]
        );
        assert_eq!(chunks[2].embedding_text(), "Methods\nDelta.");
        assert_eq!(chunks[2].ordinal, 2);
    }

    #[test]
    fn a_page_without_any_break_is_still_cut_within_the_bound() {
        let sentence = "Lorem ipsum dolor sit amet consectetur. ";
        let text = sentence.repeat(500);
        let chunks = chunk(&[page(1, text.trim(), &[])]);
        assert!(chunks.len() >= 15, "{} chunks", chunks.len());
        for c in &chunks {
            assert!(c.content.chars().count() <= MAX_CHARS);
            assert!(
                c.content.ends_with('.'),
                "cut at a sentence: {:?}",
                &c.content[c.content.len() - 10..]
            );
        }
        // Nothing is lost between the pieces.
        let joined: String = chunks
            .iter()
            .map(|c| c.content.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(joined, text.trim());
    }

    #[test]
    fn offsets_are_characters_and_text_without_spaces_is_cut_anywhere() {
        let text = format!("Ærø {}", "x".repeat(3000));
        let chunks = chunk(&[page(1, &text, &[])]);
        assert!(chunks
            .iter()
            .all(|c| c.content.chars().count() <= MAX_CHARS));
        let page_chars: Vec<char> = text.chars().collect();
        for c in &chunks {
            let at: String = page_chars[c.start..c.end].iter().collect();
            assert_eq!(at.trim(), c.content);
        }
    }
}
