//! The provider's HTML pages as the tests read them: text with HTML's character
//! references undone, the hidden inputs of a form, and the consent form.

/// Undoes the HTML escaping of the provider's pages, for asserting on their text.
pub fn html_text(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `<input …>` tags of a page, each without its `<input` and `>`.
fn input_tags(html: &str) -> Vec<&str> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(tag, _)| tag))
        .collect()
}

/// The value of `attr="…"` inside `tag`, if any (still escaped).
fn attr<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// The hidden inputs of a page, in order, as `(name, value)` unescaped: what a browser
/// would submit with the form.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    input_tags(html)
        .into_iter()
        .filter(|tag| attr(tag, "type") == Some("hidden"))
        .filter_map(|tag| {
            Some((
                html_text(attr(tag, "name")?),
                html_text(attr(tag, "value")?),
            ))
        })
        .collect()
}

/// The value of the hidden input `name` in a page.
pub fn hidden_input(html: &str, name: &str) -> String {
    hidden_inputs(html)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value)
        .unwrap_or_else(|| panic!("no hidden input '{name}' in the page:\n{html}"))
}

/// The values a browser would submit from the consent form.
#[derive(Debug, Clone)]
pub struct ConsentForm {
    pub request_id: String,
    pub csrf: String,
    pub personas: Vec<String>,
    /// The persona whose radio button is checked.
    pub checked: Option<String>,
    pub html: String,
}

impl ConsentForm {
    pub fn parse(html: &str) -> ConsentForm {
        let radios: Vec<&str> = input_tags(html)
            .into_iter()
            .filter(|t| attr(t, "type") == Some("radio") && attr(t, "name") == Some("username"))
            .collect();
        ConsentForm {
            request_id: hidden_input(html, "request_id"),
            csrf: hidden_input(html, "csrf"),
            personas: radios
                .iter()
                .filter_map(|t| attr(t, "value"))
                .map(String::from)
                .collect(),
            checked: radios
                .iter()
                .find(|t| t.split_whitespace().any(|w| w == "checked"))
                .and_then(|t| attr(t, "value"))
                .map(String::from),
            html: html.to_string(),
        }
    }
}
