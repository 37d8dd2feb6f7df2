//! The `rag` benchmark's public-domain corpus: the King James Version, verse by verse,
//! with the World English Bible's wording of the same verses as questions. Both come
//! from Debian's SWORD modules (`sword-text-kjv`, `sword-text-web`), read with
//! `diatheke`; `make bench-rag` installs them.
//!
//! The KJV is laid out as a text PDF (a book starts a page; verses wrap at a word), the
//! way a printed Bible's PDF reads. A WEB verse asks for its KJV verse in other words,
//! so a search must find it by meaning as much as by shared words: the label is the
//! verse itself, found in a passage when the passage holds either half of its text.

use std::collections::HashMap;

use anyhow::{bail, Context};
use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};

const KJV: &str = "engKJV2006eb";
const WEB: &str = "engWEB2015eb";

/// The books of the Protestant canon, in order (the KJV is read up to the size asked).
#[rustfmt::skip]
const BOOKS: [&str; 66] = [
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges",
    "Ruth", "1 Samuel", "2 Samuel", "1 Kings", "2 Kings", "1 Chronicles", "2 Chronicles",
    "Ezra", "Nehemiah", "Esther", "Job", "Psalms", "Proverbs", "Ecclesiastes",
    "Song of Solomon", "Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea",
    "Joel", "Amos", "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah",
    "Haggai", "Zechariah", "Malachi", "Matthew", "Mark", "Luke", "John", "Acts", "Romans",
    "1 Corinthians", "2 Corinthians", "Galatians", "Ephesians", "Philippians",
    "Colossians", "1 Thessalonians", "2 Thessalonians", "1 Timothy", "2 Timothy", "Titus",
    "Philemon", "Hebrews", "James", "1 Peter", "2 Peter", "1 John", "2 John", "3 John",
    "Jude", "Revelation",
];

/// Characters per printed line and lines per page (9 pt Helvetica on A4).
const LINE_CHARS: usize = 95;
const PAGE_LINES: usize = 60;
/// Verses shorter than this make poor questions (a name list, "Jesus wept").
const MIN_QUESTION_CHARS: usize = 60;

/// One verse: its reference, the KJV text (in the PDF) and the WEB text (the question).
#[derive(Debug, Clone)]
pub struct Verse {
    pub book: &'static str,
    pub chapter: u32,
    pub verse: u32,
    pub kjv: String,
    pub web: Option<String>,
}

impl Verse {
    pub fn reference(&self) -> String {
        format!("{} {}:{}", self.book, self.chapter, self.verse)
    }

    /// Whether `passage` holds this verse: either half of its text, whitespace collapsed
    /// (a passage boundary inside a verse leaves one half whole on one side).
    pub fn is_in(&self, passage: &str) -> bool {
        let passage = collapse(passage);
        let words: Vec<&str> = self.kjv.split_whitespace().collect();
        if words.is_empty() {
            return false;
        }
        let half = words.len() / 2;
        let (first, second) = (words[..half.max(1)].join(" "), words[half..].join(" "));
        passage.contains(&first) || passage.contains(&second)
    }
}

/// The KJV from Genesis on until its text reaches `chars`, with the WEB wording of each
/// verse where the WEB has the same verse.
pub async fn load(chars: usize) -> anyhow::Result<Vec<Verse>> {
    let mut verses = Vec::new();
    let mut total = 0;
    for book in BOOKS {
        let web: HashMap<(u32, u32), String> = read_book(WEB, book)
            .await?
            .into_iter()
            .map(|(c, v, text)| ((c, v), text))
            .collect();
        for (chapter, verse, kjv) in read_book(KJV, book).await? {
            total += kjv.len() + 8;
            let web = web.get(&(chapter, verse)).cloned();
            verses.push(Verse {
                book,
                chapter,
                verse,
                kjv,
                web,
            });
            if total >= chars {
                return Ok(verses);
            }
        }
    }
    Ok(verses)
}

/// `n` questions spread evenly over the verses (those long enough in both translations).
pub fn questions(verses: &[Verse], n: usize) -> Vec<&Verse> {
    let usable: Vec<&Verse> = verses
        .iter()
        .filter(|v| {
            v.kjv.len() >= MIN_QUESTION_CHARS
                && v.web
                    .as_ref()
                    .is_some_and(|w| w.len() >= MIN_QUESTION_CHARS)
        })
        .collect();
    let step = (usable.len() / n.max(1)).max(1);
    usable.into_iter().step_by(step).take(n).collect()
}

/// `(chapter, verse, text)` of every verse of `book` in `module`.
async fn read_book(module: &str, book: &str) -> anyhow::Result<Vec<(u32, u32, String)>> {
    let out = tokio::process::Command::new("diatheke")
        .args(["-b", module, "-f", "plain", "-k", book])
        .output()
        .await
        .context("running diatheke (make bench-rag installs it)")?;
    if !out.status.success() {
        bail!("diatheke -b {module} -k {book} failed: {}", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut verses: Vec<(u32, u32, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line == format!("({module})") {
            continue;
        }
        match split_reference(line) {
            Some((c, v, rest)) => verses.push((c, v, collapse(rest))),
            // A verse's text that went on over a line break.
            None => match verses.last_mut() {
                Some(last) => {
                    last.2.push(' ');
                    last.2.push_str(&collapse(line));
                }
                None => bail!("diatheke printed {line:?} before the first verse of {book}"),
            },
        }
    }
    if verses.is_empty() {
        bail!("diatheke has no {book} in {module} (is sword-text-kjv/-web installed?)");
    }
    Ok(verses)
}

/// `Genesis 1:2: And the earth…` → `(1, 2, "And the earth…")`. The book's name is
/// diatheke's own (`I Samuel` for 1 Samuel), so only the `chapter:verse: ` after a name
/// is looked for.
fn split_reference(line: &str) -> Option<(u32, u32, &str)> {
    let (head, text) = line.split_once(": ")?;
    let (_name, reference) = head.rsplit_once(' ')?;
    let (chapter, verse) = reference.split_once(':')?;
    Some((chapter.parse().ok()?, verse.parse().ok()?, text))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The verses as a text PDF: each book from a new page under its name, each verse a
/// paragraph `chapter:verse text` wrapped at words. Returns the file and its page count.
pub fn pdf(verses: &[Verse]) -> anyhow::Result<(Vec<u8>, usize)> {
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut book = "";
    for v in verses {
        if v.book != book {
            book = v.book;
            pages.push(vec![book.to_string(), String::new()]);
        }
        for line in wrap(&format!("{}:{} {}", v.chapter, v.verse, ascii(&v.kjv))) {
            if pages.last().is_none_or(|p| p.len() >= PAGE_LINES) {
                pages.push(Vec::new());
            }
            if let Some(page) = pages.last_mut() {
                page.push(line);
            }
        }
    }
    let count = pages.len();
    Ok((write_pdf(&pages)?, count))
}

/// Lines of at most [`LINE_CHARS`], broken at spaces.
fn wrap(paragraph: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in paragraph.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > LINE_CHARS {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The standard fonts' WinAnsi encoding covers ASCII; the KJV module is ASCII but for a
/// rare sign, which becomes a space.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii() { c } else { ' ' })
        .collect()
}

fn write_pdf(pages: &[Vec<String>]) -> anyhow::Result<Vec<u8>> {
    let mut doc = Document::with_version("1.5");
    let tree = doc.new_object_id();
    let helvetica = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let fonts = doc.add_object(dictionary! {"Font" => dictionary! {"F1" => helvetica}});
    let mut kids: Vec<Object> = Vec::with_capacity(pages.len());
    for lines in pages {
        let mut ops = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 9.into()]),
            Operation::new("TL", vec![12.into()]),
            Operation::new("Td", vec![50.into(), 790.into()]),
        ];
        for line in lines {
            ops.push(Operation::new(
                "Tj",
                vec![Object::string_literal(line.as_str())],
            ));
            ops.push(Operation::new("T*", vec![]));
        }
        ops.push(Operation::new("ET", vec![]));
        let stream = Content { operations: ops }
            .encode()
            .context("encoding a page")?;
        let contents = doc.add_object(Stream::new(dictionary! {}, stream));
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => tree, "Contents" => contents,
        });
        kids.push(page.into());
    }
    let count = i64::try_from(kids.len())?;
    doc.objects.insert(
        tree,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => fonts,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => tree});
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).context("writing the PDF")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_off_their_verse() {
        assert_eq!(
            split_reference("I Samuel 3:10: And the LORD came: and stood"),
            Some((3, 10, "And the LORD came: and stood"))
        );
        assert_eq!(
            split_reference("Genesis 1:2: And the earth"),
            Some((1, 2, "And the earth"))
        );
        assert_eq!(split_reference("(engKJV2006eb)"), None);
        assert_eq!(split_reference("and it was so: and God"), None);
    }

    #[test]
    fn a_verse_is_found_by_either_half() {
        let v = Verse {
            book: "Genesis",
            chapter: 1,
            verse: 3,
            kjv: "And God said, Let there be light: and there was light.".into(),
            web: None,
        };
        assert!(v.is_in("…the deep.\nAnd God said, Let there be light: and there"));
        assert!(v.is_in("be light: and there was light. And God saw"));
        assert!(!v.is_in("And God said, Let"));
    }

    #[test]
    fn lines_wrap_at_words_within_the_width() {
        let text = "word ".repeat(100);
        let lines = wrap(&text);
        assert!(lines.iter().all(|l| l.len() <= LINE_CHARS));
        assert_eq!(lines.join(" "), text.trim());
    }
}
