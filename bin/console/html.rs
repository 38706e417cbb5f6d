//! HTML building blocks: escaping (every topic name, group name, remark and message body that
//! reaches a page comes from a peer and is untrusted), query-string encoding for links, and the
//! page frame (navigation, banners, the one stylesheet and script) every handler returns.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for an HTML element or a double-quoted attribute.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

/// Percent-encodes a query-string value (everything but RFC 3986's unreserved characters).
pub fn urlenc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The navigation entries, one per page family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Brokers of every cluster.
    Cluster,
    /// Topics.
    Topics,
    /// Consumer groups.
    Groups,
    /// Message lookup.
    Messages,
    /// Live TPS charts.
    Charts,
}

const NAV: [(Nav, &str, &str); 5] = [
    (Nav::Cluster, "/cluster", "Cluster"),
    (Nav::Topics, "/topics", "Topics"),
    (Nav::Groups, "/groups", "Consumer groups"),
    (Nav::Messages, "/messages", "Messages"),
    (Nav::Charts, "/charts", "Live TPS"),
];

/// A banner above the page content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Banner {
    /// Something done as asked.
    Ok(String),
    /// Something the reader must act on: the text says what to do.
    Error(String),
}

/// A rendered page: the frame is added by [`IntoResponse`].
#[derive(Debug)]
pub struct Page {
    /// `<title>` and `<h1>`.
    pub title: String,
    /// Highlighted navigation entry.
    pub nav: Nav,
    /// Name server list shown in the header.
    pub namesrv: String,
    /// Banners, in order.
    pub banners: Vec<Banner>,
    /// The content, already escaped.
    pub body: String,
    /// HTTP status (400 for a bad form value, 502 when the cluster cannot be reached).
    pub status: StatusCode,
}

impl Page {
    /// An empty page with status 200.
    pub fn new(title: impl Into<String>, nav: Nav, namesrv: &str) -> Page {
        Page {
            title: title.into(),
            nav,
            namesrv: namesrv.to_string(),
            banners: Vec::new(),
            body: String::new(),
            status: StatusCode::OK,
        }
    }

    /// Adds an error banner and sets `status`.
    pub fn error(&mut self, status: StatusCode, text: impl Into<String>) {
        self.banners.push(Banner::Error(text.into()));
        self.status = status;
    }

    /// Adds a success banner.
    pub fn ok(&mut self, text: impl Into<String>) {
        self.banners.push(Banner::Ok(text.into()));
    }

    /// The whole document.
    pub fn render(&self) -> String {
        let mut nav = String::new();
        for (which, href, label) in NAV {
            let class = if which == self.nav {
                " class=\"active\""
            } else {
                ""
            };
            nav.push_str(&format!("<a href=\"{href}\"{class}>{label}</a>"));
        }
        let mut banners = String::new();
        for b in &self.banners {
            let (class, text) = match b {
                Banner::Ok(t) => ("banner ok", t),
                Banner::Error(t) => ("banner error", t),
            };
            banners.push_str(&format!(
                "<div class=\"{class}\" role=\"alert\">{}</div>",
                esc(text)
            ));
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · mqconsole</title><link rel=\"stylesheet\" href=\"/static/console.css\">\
             <script src=\"/static/console.js\" defer></script></head>\
             <body><header><span class=\"brand\">mqconsole</span><nav>{nav}</nav>\
             <span class=\"namesrv\">name server {ns}</span></header>\
             <main><h1>{title}</h1>{banners}{body}</main></body></html>\n",
            title = esc(&self.title),
            ns = esc(&self.namesrv),
            body = self.body,
        )
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        (self.status, Html(self.render())).into_response()
    }
}

/// A `<table>` with a header row; `rows` are already-escaped cells. `class` is set on each
/// `<tr>` by `row_class` (e.g. `down` for a dead broker).
pub fn table(headers: &[&str], rows: &[(String, Vec<String>)]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in headers {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead><tbody>");
    for (class, cells) in rows {
        if class.is_empty() {
            out.push_str("<tr>");
        } else {
            out.push_str(&format!("<tr class=\"{}\">", esc(class)));
        }
        for c in cells {
            out.push_str(&format!("<td>{c}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// An epoch-millisecond time as `yyyy-MM-dd HH:mm:ss` UTC, or `-` for 0.
pub fn time(ms: i64) -> String {
    if ms <= 0 {
        return "-".into();
    }
    let t = rmq_admin::format::human_seconds(ms);
    format!("{t} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_cannot_open_tags_or_leave_attributes() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(urlenc("%RETRY%g|a b&c"), "%25RETRY%25g%7Ca%20b%26c");
        assert_eq!(urlenc("Topic_A-1.x~"), "Topic_A-1.x~");
    }

    #[test]
    fn the_frame_escapes_banners_and_marks_the_active_page() {
        let mut p = Page::new("Topics <x>", Nav::Topics, "ns:1");
        p.error(StatusCode::BAD_REQUEST, "bad <value>");
        let html = p.render();
        assert!(html.contains("<h1>Topics &lt;x&gt;</h1>"), "{html}");
        assert!(html.contains("bad &lt;value&gt;"), "{html}");
        assert!(html.contains("<a href=\"/topics\" class=\"active\">"), "{html}");
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
    }
}
