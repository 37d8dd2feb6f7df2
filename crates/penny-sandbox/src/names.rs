//! File names that cross the sandbox boundary: user-given input names and the
//! paths the script leaves in `output/` are made safe, and typed by extension.

use std::collections::HashSet;

const MAX_NAME_BYTES: usize = 120;

/// One path component made safe: letters, digits, `._- +=,@()` and spaces kept,
/// anything else (separators, control characters, quotes…) becomes `_`; no
/// leading dots, no `..`; empty results become `fallback`.
pub(crate) fn sanitize_component(raw: &str, fallback: &str) -> String {
    let mapped: String = raw
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "._- +=,@()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim().trim_start_matches('.').trim();
    let mut name = truncate_keeping_extension(trimmed);
    if name.is_empty() || name.chars().all(|c| c == '.' || c == '_') {
        name = fallback.to_owned();
    }
    name
}

fn truncate_keeping_extension(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let mut stem_end = MAX_NAME_BYTES - ext.len();
    while !name.is_char_boundary(stem_end) {
        stem_end -= 1;
    }
    format!("{}{ext}", &name[..stem_end])
}

/// Input names for one run: the last component of whatever the user sent,
/// sanitized, unique within the run.
pub(crate) fn input_names<'a>(raw: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    raw.enumerate()
        .map(|(i, name)| {
            let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
            let base = sanitize_component(last, &format!("input-{}", i + 1));
            unique(base, &mut seen)
        })
        .collect()
}

fn unique(base: String, seen: &mut HashSet<String>) -> String {
    if seen.insert(base.clone()) {
        return base;
    }
    let (stem, ext) = match base.rfind('.') {
        Some(i) if i > 0 => base.split_at(i),
        _ => (base.as_str(), ""),
    };
    let mut n = 2;
    loop {
        let candidate = format!("{stem}-{n}{ext}");
        if seen.insert(candidate.clone()) {
            return candidate;
        }
        n += 1;
    }
}

/// A path relative to `output/` as the sandbox reported it, each component
/// sanitized, joined with `/`. Never a host path: callers store it as a name.
pub(crate) fn output_name(raw: &[u8], index: usize) -> String {
    let text = String::from_utf8_lossy(raw);
    let parts: Vec<String> = text
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .map(|p| sanitize_component(p, "_"))
        .collect();
    if parts.is_empty() {
        format!("output-{}", index + 1)
    } else {
        parts.join("/")
    }
}

/// Content type from the extension; unknown ones are opaque bytes.
pub(crate) fn mime_for(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("pdf") => "application/pdf",
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        Some("html" | "htm") => "text/html",
        Some("md") => "text/markdown",
        Some("txt" | "log") => "text/plain",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_lose_paths_dots_and_duplicates() {
        let names = input_names(
            [
                "../../etc/passwd",
                ".bashrc",
                "a/b\\c.csv",
                "..",
                "",
                "c.csv",
                "x\0y\n.txt",
            ]
            .into_iter(),
        );
        assert_eq!(
            names,
            ["passwd", "bashrc", "c.csv", "input-4", "input-5", "c-2.csv", "x_y_.txt"]
        );
    }

    #[test]
    fn long_names_keep_their_extension() {
        let name = sanitize_component(&format!("{}.png", "é".repeat(200)), "f");
        assert!(name.len() <= MAX_NAME_BYTES && name.ends_with(".png"));
    }

    #[test]
    fn output_names_are_relative_and_clean() {
        assert_eq!(output_name(b"charts/../a.png", 0), "charts/a.png");
        assert_eq!(output_name(b"/", 3), "output-4");
        assert_eq!(mime_for("charts/a.PNG"), "image/png");
        assert_eq!(mime_for("data"), "application/octet-stream");
    }
}
