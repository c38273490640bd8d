//! The console's CSS and JS, embedded in the binary and served under content-hashed names
//! (`console.3f2a….css`): a new build changes the name, so browsers may keep each one a year.

use crate::hex::hex;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// One embedded file and the name it is served under.
struct Asset {
    name: String,
    body: &'static str,
    content_type: &'static str,
}

fn assets() -> &'static [Asset; 2] {
    static ASSETS: OnceLock<[Asset; 2]> = OnceLock::new();
    ASSETS.get_or_init(|| {
        [
            hashed("console", "css", CSS, "text/css; charset=utf-8"),
            hashed("console", "js", JS, "text/javascript; charset=utf-8"),
        ]
    })
}

fn hashed(stem: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    let digest = hex(&Sha256::digest(body.as_bytes()));
    Asset {
        name: format!("{stem}.{}.{ext}", &digest[..12]),
        body,
        content_type,
    }
}

/// `/static/console.<hash>.css`.
pub(super) fn css_url() -> String {
    format!("/static/{}", assets()[0].name)
}

/// `/static/console.<hash>.js`.
pub(super) fn js_url() -> String {
    format!("/static/{}", assets()[1].name)
}

/// `GET /static/{name}`: an embedded file, cached for a year (its name changes with it).
pub(super) async fn serve(Path(name): Path<String>) -> Response {
    match assets().iter().find(|a| a.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn asset_urls_carry_a_hash_of_their_content() {
        let css = super::css_url();
        assert!(
            css.starts_with("/static/console.") && css.ends_with(".css"),
            "{css}"
        );
        assert_eq!(css.len(), "/static/console.".len() + 12 + ".css".len());
        assert_ne!(super::js_url(), css);
    }
}
