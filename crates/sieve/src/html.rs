//! HTML reduced to text for `body :text` (RFC 5173 §5.3 asks for the text of text/html
//! parts): tags dropped, `<script>`/`<style>` content dropped, block tags become line
//! ends, common entities decoded. One pass, no allocation beyond the output: this runs
//! on every message a body test looks at, and mail-parser's converter cost more than
//! the rest of a 100-rule run.

/// The text of an HTML document.
pub(crate) fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find(['<', '&']) {
        out.push_str(&rest[..lt]);
        let tail = &rest[lt..];
        if tail.starts_with('&') {
            let (text, used) = entity(tail);
            out.push_str(text);
            rest = &tail[used..];
            continue;
        }
        let Some(gt) = tail.find('>') else {
            // An unclosed tag: the rest is not text.
            return out;
        };
        let tag = &tail[1..gt];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        rest = &tail[gt + 1..];
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            // Skip to the closing tag, whatever its case.
            let close = format!("</{name}");
            rest = match find_ascii_ci(rest, &close) {
                Some(at) => rest[at..].find('>').map_or("", |g| &rest[at + g + 1..]),
                None => "",
            };
            continue;
        }
        if matches!(
            name.as_str(),
            "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table"
        ) && !out.ends_with('\n')
        {
            out.push('\n');
        }
    }
    out.push_str(rest);
    out
}

fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Decodes the entity at the start of `s` (which starts with `&`): the text it stands
/// for and how many bytes it took. Unknown entities stay as written.
fn entity(s: &str) -> (&'static str, usize) {
    const NAMED: [(&str, &str); 6] = [
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&apos;", "'"),
        ("&nbsp;", " "),
    ];
    for (name, text) in NAMED {
        // Compared as bytes: slicing the str could cut a character in two.
        if s.as_bytes()
            .get(..name.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(name.as_bytes()))
        {
            return (text, name.len());
        }
    }
    ("&", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_go_and_text_stays() {
        assert_eq!(
            to_text("<p>Send the <b>coordinates</b> &amp; wait</p><script>x<y</script>done"),
            "\nSend the coordinates & wait\ndone"
        );
        assert_eq!(to_text("a < b"), "a ");
        assert_eq!(to_text("&copy; 2026"), "&copy; 2026");
        assert_eq!(to_text("<STYLE>p{}</Style>ok"), "ok");
        // An entity-like prefix before a multi-byte character must not split it.
        assert_eq!(to_text("&amé &a€"), "&amé &a€");
    }
}
