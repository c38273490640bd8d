//! Splitting an ingest body into events: one JSON object, a JSON array of objects, or NDJSON;
//! gzip recognised by its magic bytes. Pure.
//!
//! Events come out as raw JSON text, not parsed: the detection stage parses each one exactly
//! once, into whatever representation it evaluates. A malformed NDJSON line is reported with its
//! line number and the other lines are kept; a malformed array or object rejects the body.

use super::budget::{DecompressionBudget, Share};
use serde_json::value::RawValue;
use std::io::Read;

/// One event's text and where it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent<'a> {
    /// The JSON text.
    pub json: &'a str,
    /// Where it came from.
    pub at: Position,
}

/// Where an event was in its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Line `n` (1-based) of an NDJSON body, or the line a single object starts on.
    Line(usize),
    /// Element `n` (0-based) of a JSON array.
    Item(usize),
}

/// A body that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Decompressed, the body is larger than allowed.
    #[error("the body decompresses to more than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Too much is being decompressed at once (the shared budget is spent); retry shortly.
    #[error("the server is decompressing too much at once; retry shortly")]
    Busy,
    /// The gzip stream is corrupt.
    #[error("the body looks gzip-compressed but does not decompress: {0}")]
    Gzip(String),
    /// Not UTF-8 text: binary data, or a compression other than gzip.
    #[error("the body is not UTF-8 text (send JSON, a JSON array or NDJSON, optionally gzipped)")]
    NotText,
    /// A JSON array or object that does not parse.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json said.
        message: String,
    },
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The body as text: gunzipped if it starts with gzip's magic bytes (at most `limit` bytes
/// once decompressed), then checked to be UTF-8.
pub fn text(bytes: &[u8], limit: usize) -> Result<std::borrow::Cow<'_, str>, BodyError> {
    text_within(bytes, limit, None)
}

/// [`text`], with the decompressed bytes' memory taken from `share` as it is allocated (waiting
/// [`DecompressionBudget::WAIT`](super::budget::DecompressionBudget::WAIT) at most, else
/// [`BodyError::Busy`]). Keep the share until the text is dropped.
pub fn text_within<'a>(
    bytes: &'a [u8],
    limit: usize,
    mut share: Option<&mut Share>,
) -> Result<std::borrow::Cow<'a, str>, BodyError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
        let mut out: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = decoder
                .read(&mut chunk)
                .map_err(|e| BodyError::Gzip(e.to_string()))?;
            if n == 0 {
                break;
            }
            if out.len() + n > limit {
                return Err(BodyError::TooLarge { limit });
            }
            if out.len() + n > out.capacity() {
                // Grow as a Vec would (doubling), and count what is allocated, not what is used.
                let capacity = (out.capacity() * 2).max(out.len() + n).min(limit);
                if let Some(share) = share.as_deref_mut() {
                    if !share.grow(capacity - out.capacity(), DecompressionBudget::WAIT) {
                        return Err(BodyError::Busy);
                    }
                }
                out.reserve_exact(capacity - out.len());
            }
            out.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8(out)
            .map(Into::into)
            .map_err(|_| BodyError::NotText)
    } else {
        std::str::from_utf8(bytes)
            .map(Into::into)
            .map_err(|_| BodyError::NotText)
    }
}

/// Splits `text` into events. NDJSON lines are not validated here (the caller parses each, and
/// reports a bad one by its line); an array or a single object must be valid JSON.
pub fn split(text: &str) -> Result<Vec<RawEvent<'_>>, BodyError> {
    let trimmed = text.trim_start();
    let first_line = 1 + text[..text.len() - trimmed.len()].matches('\n').count();
    if trimmed.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(json_error)?;
        return Ok(items
            .into_iter()
            .enumerate()
            .map(|(n, item)| RawEvent {
                json: item.get(),
                at: Position::Item(n),
            })
            .collect());
    }
    // One (possibly pretty-printed) object, or NDJSON: a single value spanning the whole body
    // is one event; anything else is read line by line.
    if trimmed.starts_with('{') {
        if let Ok(single) = serde_json::from_str::<&RawValue>(text) {
            return Ok(vec![RawEvent {
                json: single.get(),
                at: Position::Line(first_line),
            }]);
        }
    }
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| RawEvent {
            json: line,
            at: Position::Line(n + 1),
        })
        .collect())
}

fn json_error(e: serde_json::Error) -> BodyError {
    BodyError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn events(text: &str) -> Vec<(String, Position)> {
        split(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.json.to_owned(), e.at))
            .collect()
    }

    #[test]
    fn one_object_an_array_or_ndjson() {
        assert_eq!(
            events("\n{\n  \"a\": 1\n}\n"),
            [("{\n  \"a\": 1\n}".into(), Position::Line(2))]
        );
        assert_eq!(
            events("[{\"a\":1}, {\"b\":2}]"),
            [
                ("{\"a\":1}".into(), Position::Item(0)),
                ("{\"b\":2}".into(), Position::Item(1))
            ]
        );
        assert_eq!(
            events("{\"a\":1}\n\n{oops\n{\"b\":2}\r\n"),
            [
                ("{\"a\":1}".into(), Position::Line(1)),
                ("{oops".into(), Position::Line(3)),
                ("{\"b\":2}".into(), Position::Line(4))
            ]
        );
    }

    #[test]
    fn a_broken_array_is_reported_with_its_position() {
        let error = split("[{\"a\":1},\n {\"b\":}]").unwrap_err();
        assert!(
            matches!(error, BodyError::Json { line: 2, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn gzip_is_recognised_and_bounded() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"a\":1}\n").unwrap();
        let bytes = gz.finish().unwrap();
        assert_eq!(text(&bytes, 100).unwrap(), "{\"a\":1}\n");
        assert_eq!(text(&bytes, 4), Err(BodyError::TooLarge { limit: 4 }));
        assert!(matches!(text(&bytes[..8], 100), Err(BodyError::Gzip(_))));
    }

    #[test]
    fn gzip_takes_its_memory_from_the_shared_budget() {
        let plain = "{\"a\":1}\n".repeat(100_000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(plain.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        let budget = DecompressionBudget::new(4 << 20);
        let mut share = budget.share();
        let text = text_within(&bytes, 8 << 20, Some(&mut share)).unwrap();
        assert_eq!(text.len(), plain.len());
        assert!(share.bytes() >= plain.len(), "the allocation is counted");
        assert_eq!(budget.in_use(), share.bytes());
        drop((text, share));
        assert_eq!(budget.in_use(), 0);

        let small = DecompressionBudget::new(1000);
        let mut share = small.share();
        assert_eq!(
            text_within(&bytes, 8 << 20, Some(&mut share)),
            Err(BodyError::Busy)
        );
        // Plain text needs no share.
        assert!(text_within(b"{}", 10, Some(&mut share)).is_ok());
    }

    #[test]
    fn binary_is_not_text() {
        assert_eq!(
            text(&[0xff, 0xfe, 0x00, 0x81], 100),
            Err(BodyError::NotText)
        );
    }
}
