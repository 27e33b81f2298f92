//! HTML building blocks: escaping, the page frame, small tables.
//!
//! Every text that comes from the store goes through [`esc`]: made visible
//! like the terminal output ([`safe`]: controls and bidi overrides become
//! escapes), then HTML-escaped, so a stored string can neither inject markup
//! nor disguise itself.

use super::http::Response;
use crate::cli::output::safe;

/// The style sheet, embedded.
pub const STYLE: &str = include_str!("style.css");

/// The icon: a dot on a line, as the trail graph draws an atom.
pub const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><path d=\"M8 0v16\" stroke=\"#2f6fdf\" stroke-width=\"2\"/><circle cx=\"8\" cy=\"8\" r=\"5\" fill=\"#2f6fdf\"/></svg>";

/// `text` safe inside HTML text and double- or single-quoted attributes.
pub fn esc(text: &str) -> String {
    let text = safe(text);
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: the navigation, `title` as heading, then `body`.
pub fn page(title: &str, active: &str, body: &str) -> Response {
    let nav: String = [
        ("/", "Timeline"),
        ("/graph", "Trails"),
        ("/tokens", "Tokens"),
        ("/status", "Status"),
    ]
    .iter()
    .map(|(href, label)| {
        let class = if *label == active {
            " class=\"active\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{class}>{label}</a>")
    })
    .collect();
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · atom</title><link rel=\"stylesheet\" href=\"/style.css\"><link rel=\"icon\" href=\"/favicon.svg\"></head>\
         <body><header><span class=\"brand\">atom</span><nav>{nav}</nav>\
         <form class=\"search\" action=\"/\" method=\"get\" role=\"search\">\
         <input type=\"search\" name=\"q\" placeholder=\"Search summaries and metadata\" aria-label=\"Search\"></form>\
         </header><main><h1>{t}</h1>\n{body}</main></body></html>\n",
        t = esc(title)
    );
    Response::new(200, "text/html; charset=utf-8", html)
}

/// A plain answer to a request that was refused before routing.
pub fn refused(status: u16, why: &str) -> Response {
    Response::new(
        status,
        "text/plain; charset=utf-8",
        format!("error: {why}\n"),
    )
}

/// A two-column table of label and (already escaped) value.
pub fn fields(rows: &[(&str, String)]) -> String {
    let mut out = String::from("<table class=\"fields\">");
    for (k, v) in rows {
        out.push_str(&format!("<tr><th>{}</th><td>{v}</td></tr>", esc(k)));
    }
    out.push_str("</table>");
    out
}

/// A thousands-separated number, as a dashboard shows totals.
pub fn number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_neutralises_markup_and_invisible_characters() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(esc("a\u{202e}b\n"), "a\\u{202e}b\\n");
    }

    #[test]
    fn numbers_get_separators() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1,000");
        assert_eq!(number(1234567), "1,234,567");
    }
}
