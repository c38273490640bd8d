//! Rendering: the console's own minijinja [`Environment`] (HTML auto-escaping by the `.html`
//! names; separate from the stories' template environment), the layout every page is wrapped in
//! (done here in Rust: the enabled minijinja features have no `extends`), the error page, and the
//! small formatters the pages share.

use super::assets::{css_url, js_url};
use super::Console;
use crate::clock::rfc3339;
use crate::run::Millis;
use crate::store;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, Value};
use serde::Serialize;

/// What the pages know of the request's session.
#[derive(Debug, Clone)]
pub(super) struct Session {
    /// The token every form carries.
    pub csrf: String,
    /// A signed-in session (false in `--dev` without one).
    pub signed_in: bool,
}

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("signin.html", include_str!("templates/signin.html")),
    ("error.html", include_str!("templates/error.html")),
    ("runs.html", include_str!("templates/runs.html")),
    ("run.html", include_str!("templates/run.html")),
    ("stories.html", include_str!("templates/stories.html")),
    ("story.html", include_str!("templates/story.html")),
    ("alerts.html", include_str!("templates/alerts.html")),
    ("alert.html", include_str!("templates/alert.html")),
    ("prompts.html", include_str!("templates/prompts.html")),
    ("rules.html", include_str!("templates/rules.html")),
    ("health.html", include_str!("templates/health.html")),
];

/// The console's environment with every template added.
pub(super) fn environment() -> Environment<'static> {
    // Lenient undefined (the default): an optional field a page lacks renders empty instead of
    // failing the whole page.
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        if let Err(error) = env.add_template(name, source) {
            // A template that does not parse is a build mistake the unit tests catch.
            tracing::error!(template = name, %error, "Console template does not parse.");
        }
    }
    env
}

/// The sections in the navigation: `(key, path, label)`.
const NAV: &[(&str, &str, &str)] = &[
    ("runs", "/runs", "Runs"),
    ("stories", "/stories", "Stories"),
    ("alerts", "/alerts", "Alerts"),
    ("prompts", "/prompts", "Prompts"),
    ("rules", "/rules", "Rules"),
    ("health", "/health", "Health"),
];

impl Console {
    /// Renders `template` with `context` inside the layout.
    pub(super) fn render(
        &self,
        template: &str,
        title: &str,
        section: &str,
        session: &Session,
        context: Value,
    ) -> Result<Response, PageError> {
        let env = &self.0.env;
        let body = env
            .get_template(template)
            .and_then(|t| t.render(minijinja::context! { csrf => &session.csrf, ..context }))
            .map_err(PageError::render)?;
        let nav: Vec<_> = NAV
            .iter()
            .map(|(key, path, label)| {
                minijinja::context! { path => *path, label => *label, current => *key == section }
            })
            .collect();
        let page = env
            .get_template("layout.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    title => title,
                    nav => nav,
                    body => Value::from_safe_string(body),
                    css => Value::from_safe_string(css_url()),
                    js => Value::from_safe_string(js_url()),
                    csrf => &session.csrf,
                    signed_in => session.signed_in,
                    show_nav => !section.is_empty(),
                })
            })
            .map_err(PageError::render)?;
        Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
    }
}

/// A page that could not be shown: its status and a sentence for the reader.
#[derive(Debug)]
pub(super) struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    /// An error with its message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }

    /// 404 for `what`.
    pub fn not_found(what: impl std::fmt::Display) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, format!("There is no {what}."))
    }

    /// A store error: 503 when the database cannot be reached now, else 500; logged, not shown.
    pub fn store(error: store::Error) -> PageError {
        if error.is_unavailable() {
            tracing::warn!(%error, "Console page: the database cannot be reached.");
            PageError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database cannot be reached right now; this page will work again when it can.",
            )
        } else {
            tracing::error!(%error, "Console page: store error.");
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Warden could not read this page's data; the error is in its log.",
            )
        }
    }

    fn render(error: minijinja::Error) -> PageError {
        tracing::error!(error = %format!("{error:#}"), "Console template failed.");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "This page could not be drawn; the error is in Warden's log.",
        )
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        // A minimal page that needs no template (the template itself may be what failed).
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status}</title>\
             <link rel=\"stylesheet\" href=\"{css}\"></head><body><main id=\"main\" class=\"error\">\
             <h1>{status}</h1><p role=\"alert\">{message}</p><p><a href=\"/\">Back to the console</a>\
             </p></main></body></html>",
            status = self.status,
            css = css_url(),
            message = escape_html(&self.message),
        );
        (
            self.status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

/// Text made safe inside HTML.
pub(super) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
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

/// A time as the pages show it: `2026-12-03 07:55:01Z`.
pub(super) fn when(millis: Millis) -> String {
    let text = rfc3339(millis);
    // `2026-12-03T07:55:01.123Z` → `2026-12-03 07:55:01Z`.
    let text = text.replacen('T', " ", 1);
    match text.find('.') {
        Some(dot) => format!("{}Z", &text[..dot]),
        None => text,
    }
}

/// A duration in words: `850 ms`, `12.4 s`, `3 min 5 s`, `2 h 4 min`.
pub(super) fn duration(millis: Millis) -> String {
    let millis = millis.max(0);
    if millis < 1000 {
        format!("{millis} ms")
    } else if millis < 60_000 {
        format!("{:.1} s", millis as f64 / 1000.0)
    } else if millis < 3_600_000 {
        format!("{} min {} s", millis / 60_000, (millis % 60_000) / 1000)
    } else {
        format!(
            "{} h {} min",
            millis / 3_600_000,
            (millis % 3_600_000) / 60_000
        )
    }
}

/// Any serializable value as a template value.
pub(super) fn ser(value: impl Serialize) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// JSON pretty-printed for a `<pre>`.
pub(super) fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{duration, environment, escape_html, when, TEMPLATES};

    #[test]
    fn every_template_parses() {
        let env = environment();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn times_and_durations_read_as_words() {
        assert_eq!(when(0), "1970-01-01 00:00:00Z");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_400), "12.4 s");
        assert_eq!(duration(185_000), "3 min 5 s");
        assert_eq!(duration(7_440_000), "2 h 4 min");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href='x'>&"),
            "&lt;a href=&#39;x&#39;&gt;&amp;"
        );
    }
}
