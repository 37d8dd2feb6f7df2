//! Removes credentials from text that may reach a user or a log: `user:pass@` in URLs,
//! key-like query parameters and bearer tokens.

/// Query parameters whose values are secrets.
const SECRET_PARAMS: [&str; 8] = [
    "api-key",
    "api_key",
    "apikey",
    "key",
    "token",
    "access_token",
    "secret",
    "password",
];

pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&redact_word(word));
    }
    out
}

fn redact_word(word: &str) -> String {
    // Key-looking words: provider keys (sk-…, sk-ant-…) and PENNY's own.
    let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
    if ["sk-", "sk_", "pk_", "rt_", "inv_"]
        .iter()
        .any(|p| bare.starts_with(p) && bare.len() > p.len() + 8)
    {
        return word.replace(bare, "[redacted]");
    }
    let Some(scheme_end) = word.find("://") else {
        return redact_params(word);
    };
    let rest = &word[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host = match authority.rfind('@') {
        Some(at) => format!("[redacted]@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    format!(
        "{}{}{}",
        &word[..scheme_end + 3],
        host,
        redact_params(&rest[authority_end..])
    )
}

fn redact_params(s: &str) -> String {
    let Some(q) = s.find('?') else {
        return s.to_string();
    };
    let (path, query) = s.split_at(q + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                format!("{k}=[redacted]")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn credentials_in_urls_and_keys_are_removed() {
        assert_eq!(
            redact("error for url (http://user:hunter2@10.0.0.1:8080/v1?api-key=abc&x=1)"),
            "error for url (http://[redacted]@10.0.0.1:8080/v1?api-key=[redacted]&x=1)"
        );
        assert_eq!(
            redact("Incorrect API key provided: sk-proj-abcdefghijklmnop."),
            "Incorrect API key provided: [redacted]."
        );
        assert_eq!(redact("plain words stay"), "plain words stay");
    }
}
