//! Okta's pagination: the `since` request that starts a walk, the `rel="next"` target among an
//! answer's `Link` headers that continues it, and the page size a URL asked for.

use jiff::Timestamp;
use reqwest::header::{HeaderMap, LINK};
use reqwest::Url;

/// Okta's default when a `next` link carries no `limit`.
const OKTA_DEFAULT_LIMIT: usize = 100;

/// A polling request from `since` on the System Log endpoint `logs`: ascending, no `until`.
pub(super) fn since_url(logs: &Url, since: Timestamp, limit: u16) -> Url {
    let mut url = logs.clone();
    url.query_pairs_mut()
        .append_pair("since", &format!("{since:.3}"))
        .append_pair("sortOrder", "ASCENDING")
        .append_pair("limit", &limit.to_string());
    url
}

/// The `limit` a request asked for (a `next` link carries its own).
pub(super) fn limit_of(url: &Url) -> usize {
    url.query_pairs()
        .find(|(name, _)| name == "limit")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(OKTA_DEFAULT_LIMIT)
}

/// The `rel="next"` target among all `Link` header values (Okta sends `self` and `next` as
/// separate headers; one header may also hold several comma-separated links).
pub(super) fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(parse_link_header)
        .find(|(_, rels)| rels.iter().any(|rel| rel.eq_ignore_ascii_case("next")))
        .map(|(target, _)| target)
}

/// `<url>; rel="a b", <url2>; rel=c` → `[(url, [a, b]), (url2, [c])]`.
fn parse_link_header(value: &str) -> Vec<(String, Vec<String>)> {
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|i| open + i) else {
            break;
        };
        let target = rest[open + 1..close].trim().to_owned();
        rest = &rest[close + 1..];
        // Parameters run to the next comma outside quotes.
        let mut in_quotes = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                in_quotes ^= c == '"';
                c == ',' && !in_quotes
            })
            .map_or(rest.len(), |(i, _)| i);
        let rels = rest[..end]
            .split(';')
            .filter_map(|param| param.split_once('='))
            .filter(|(name, _)| name.trim().eq_ignore_ascii_case("rel"))
            .flat_map(|(_, value)| {
                value
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        links.push((target, rels));
        rest = &rest[end..];
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(links: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for link in links {
            headers.append(LINK, HeaderValue::from_str(link).unwrap());
        }
        headers
    }

    #[test]
    fn next_link_is_found_among_separate_link_headers() {
        let headers = headers(&[
            "<https://example.okta.com/api/v1/logs?limit=3>; rel=\"self\"",
            "<https://example.okta.com/api/v1/logs?limit=3&after=1630001102936_1>; rel=\"next\"",
        ]);
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://example.okta.com/api/v1/logs?limit=3&after=1630001102936_1")
        );
    }

    #[test]
    fn next_link_is_found_in_a_combined_header_with_unquoted_or_multiple_rels() {
        let headers = headers(&[
            "<https://a/x?b=1,2>; rel=\"self\", <https://a/y>; title=\"a, b\"; rel=\"prev next\"",
        ]);
        assert_eq!(next_link(&headers).as_deref(), Some("https://a/y"));
        let headers = self::headers(&["<https://a/z>;rel=next"]);
        assert_eq!(next_link(&headers).as_deref(), Some("https://a/z"));
    }

    #[test]
    fn only_self_means_no_next_link() {
        assert_eq!(next_link(&headers(&["<https://a/x>; rel=\"self\""])), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn since_request_is_a_polling_request() {
        let logs = Url::parse("https://example.okta.com/api/v1/logs").unwrap();
        let url = since_url(&logs, "2026-03-01T11:00:00Z".parse().unwrap(), 1000);
        assert_eq!(
            url.as_str(),
            "https://example.okta.com/api/v1/logs?since=2026-03-01T11%3A00%3A00.000Z&sortOrder=ASCENDING&limit=1000"
        );
        assert_eq!(limit_of(&url), 1000);
        assert_eq!(
            limit_of(&Url::parse("https://a/api/v1/logs?after=x").unwrap()),
            100
        );
    }
}
