//! Markdown: headings as headings, every other block as a paragraph of its text.

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

use super::{Extracted, Page};

pub(super) fn extract(source: &str) -> Extracted {
    let mut page = Page::new(1);
    let mut block = String::new();
    let mut in_heading = false;
    for event in Parser::new(source) {
        match event {
            Event::Start(Tag::Heading { .. }) => {
                page.push_block(&std::mem::take(&mut block));
                in_heading = true;
            }
            Event::End(TagEnd::Heading(_)) => {
                page.push_heading(&std::mem::take(&mut block));
                in_heading = false;
            }
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableRow)
                if !in_heading =>
            {
                page.push_block(&std::mem::take(&mut block))
            }
            Event::Text(t) | Event::Code(t) => block.push_str(&t),
            Event::SoftBreak | Event::HardBreak => block.push(if in_heading { ' ' } else { '\n' }),
            Event::End(TagEnd::TableCell) => block.push_str(" | "),
            _ => {}
        }
    }
    page.push_block(&block);
    Extracted {
        title: page.headings.first().map(|(_, h)| h.clone()),
        pages: vec![page],
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn headings_are_marked_where_they_start() {
        let out = super::extract("# Intro\n\nSome *text* here.\n\n## Part two\n\n- a\n- b\n");
        let page = &out.pages[0];
        assert_eq!(page.text, "Intro\n\nSome text here.\n\nPart two\n\na\n\nb");
        assert_eq!(
            page.headings,
            vec![(0, "Intro".into()), (24, "Part two".into())]
        );
        assert_eq!(out.title.as_deref(), Some("Intro"));
    }
}
