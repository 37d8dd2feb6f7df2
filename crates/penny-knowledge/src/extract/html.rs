//! HTML: the text of the body in document order, `h1`–`h6` as headings, each block
//! element a paragraph; scripts, styles and navigation are left out.

use scraper::{ElementRef, Html, Node, Selector};

use super::{collapse_whitespace, Extracted, Page};

const SKIPPED: [&str; 8] = [
    "script", "style", "noscript", "template", "nav", "svg", "head", "iframe",
];
const BLOCKS: [&str; 20] = [
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "li",
    "tr",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "figure",
    "br",
];

pub(super) fn extract(source: &str) -> Extracted {
    let doc = Html::parse_document(source);
    let title = Selector::parse("title")
        .ok()
        .and_then(|s| doc.select(&s).next())
        .map(|t| collapse_whitespace(&t.text().collect::<String>()))
        .filter(|t| !t.is_empty());
    let mut walk = Walk {
        page: Page::new(1),
        block: String::new(),
    };
    walk.element(doc.root_element());
    walk.flush();
    Extracted {
        title,
        pages: vec![walk.page],
    }
}

struct Walk {
    page: Page,
    block: String,
}

impl Walk {
    fn flush(&mut self) {
        let text = collapse_whitespace(&std::mem::take(&mut self.block));
        self.page.push_block(&text);
    }

    fn element(&mut self, el: ElementRef<'_>) {
        let name = el.value().name();
        if SKIPPED.contains(&name) {
            return;
        }
        if matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
            self.flush();
            self.page.push_heading(&el.text().collect::<String>());
            return;
        }
        let block = BLOCKS.contains(&name);
        if block {
            self.flush();
        }
        for child in el.children() {
            match child.value() {
                Node::Text(t) => self.block.push_str(t),
                Node::Element(_) => {
                    if let Some(child) = ElementRef::wrap(child) {
                        self.element(child);
                    }
                }
                _ => {}
            }
        }
        if matches!(name, "td" | "th") {
            self.block.push_str(" | ");
        }
        if block {
            self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn body_text_with_headings_and_without_scripts() {
        let out = super::extract(
            "<html><head><title> The  Page </title><style>p{}</style></head><body>\
             <nav>Home | About</nav><h1>Rivers</h1><p>The <b>Nile</b> is long.</p>\
             <script>alert(1)</script><div>Second<br>line</div></body></html>",
        );
        assert_eq!(out.title.as_deref(), Some("The Page"));
        let page = &out.pages[0];
        assert_eq!(page.text, "Rivers\n\nThe Nile is long.\n\nSecond\n\nline");
        assert_eq!(page.headings, vec![(0, "Rivers".into())]);
    }
}
