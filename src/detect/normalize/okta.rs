//! The Okta indicator fields (`p_any_*`): see the table in the module documentation.

use super::Indicator;
use crate::detect::eval::{lookup, JsonNode, JsonObject};
use std::borrow::Cow;
use std::net::IpAddr;

/// The indicator fields, in the order they are set; an [`Indicator`]'s field is an index here.
pub(super) const INDICATOR_FIELDS: [&str; 5] = [
    "p_any_ip_addresses",
    "p_any_emails",
    "p_any_usernames",
    "p_any_domain_names",
    "p_any_actor_ids",
];
const IPS: usize = 0;
const EMAILS: usize = 1;
const USERNAMES: usize = 2;
const DOMAINS: usize = 3;
const ACTOR_IDS: usize = 4;

/// Appends the event's indicators to `out`, sorted by field and then text (byte order, so IPs
/// sort as text), each listed once. Texts are borrowed from the event where they can be.
pub(super) fn indicators<'e, O: JsonObject + ?Sized>(event: &'e O, out: &mut Vec<Indicator<'e>>) {
    let mut add = |field, text| out.push(Indicator { field, text });

    if let Some(ip) = get_str(event, &["client", "ipAddress"]).and_then(parse_ip) {
        add(IPS, ip);
    }
    for hop in get_array(event, &["request", "ipChain"]) {
        if let Some(ip) = object_str(hop, "ip").and_then(parse_ip) {
            add(IPS, ip);
        }
    }

    let actor = lookup(event, "actor").and_then(JsonNode::as_object);
    let actor_str = |key| actor.and_then(|actor| lookup(actor, key)?.as_str());
    if let Some(id) = actor_str("alternateId").filter(|id| is_named(id)) {
        add(USERNAMES, Cow::Borrowed(id));
        if looks_like_email(id) {
            add(EMAILS, Cow::Borrowed(id));
        }
    }
    for target in get_array(event, &["target"]) {
        let Some(id) = object_str(target, "alternateId").filter(|id| is_named(id)) else {
            continue;
        };
        if object_str(target, "type").is_some_and(|t| t.eq_ignore_ascii_case("User")) {
            add(USERNAMES, Cow::Borrowed(id));
        }
        if looks_like_email(id) {
            add(EMAILS, Cow::Borrowed(id));
        }
    }

    if let Some(domain) = get_str(event, &["securityContext", "domain"]).and_then(domain_name) {
        add(DOMAINS, domain);
    }
    if let Some(id) = actor_str("id").filter(|id| !id.is_empty()) {
        add(ACTOR_IDS, Cow::Borrowed(id));
    }

    out.sort_unstable();
    out.dedup();
}

/// The value at `path` (object keys only, case-insensitive lookup).
fn get<'v, O: JsonObject + ?Sized>(object: &'v O, path: &[&str]) -> Option<&'v O::Node> {
    let (last, parents) = path.split_last()?;
    let mut current = object;
    for key in parents {
        current = lookup(current, key)?.as_object()?;
    }
    lookup(current, last)
}

fn get_str<'v, O: JsonObject + ?Sized>(object: &'v O, path: &[&str]) -> Option<&'v str> {
    get(object, path)?.as_str()
}

/// The elements of the array at `path`; none when it is missing, `null` or not an array.
fn get_array<'v, O: JsonObject + ?Sized>(object: &'v O, path: &[&str]) -> &'v [O::Node] {
    get(object, path)
        .and_then(JsonNode::as_array)
        .unwrap_or_default()
}

/// `value[key]` as a string, when `value` is an object.
fn object_str<'v, N: JsonNode>(value: &'v N, key: &str) -> Option<&'v str> {
    lookup(value.as_object()?, key)?.as_str()
}

/// An IP address in canonical form, when `text` is one.
fn parse_ip(text: &str) -> Option<Cow<'_, str>> {
    match text.parse::<IpAddr>().ok()? {
        // The IPv4 parser takes only the canonical form (no leading zeros, no spaces).
        IpAddr::V4(_) => Some(Cow::Borrowed(text)),
        ip @ IpAddr::V6(_) => Some(Cow::Owned(ip.to_string())),
    }
}

/// Whether an `alternateId` names someone: not empty and not Okta's `unknown` placeholder.
fn is_named(id: &str) -> bool {
    // A visible ASCII first byte (the usual case) is something `trim` keeps.
    let visible = id.as_bytes().first().is_some_and(|&b| b > b' ' && b < 0x7f);
    (visible || !id.trim().is_empty()) && !id.eq_ignore_ascii_case("unknown")
}

/// `local@domain.tld`: one `@`, a non-empty local part without spaces or control characters, and
/// a host name with at least two labels. Deliberately simple: it only has to tell emails from
/// Okta's other `alternateId`s (app names, group names, client ids).
pub(super) fn looks_like_email(text: &str) -> bool {
    let Some(at) = text.bytes().position(|b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&text[..at], &text[at + 1..]);
    // An ASCII local part (the usual one) is checked byte by byte: its whitespace and control
    // characters are the bytes up to the space, and DEL.
    let plain_local = if local.is_ascii() {
        !local.bytes().any(|b| b <= b' ' || b == 0x7f)
    } else {
        !local.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    text.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && plain_local
        && domain.as_bytes().contains(&b'.')
        && !domain.ends_with('.')
        && is_host_name(domain)
}

/// A host name, lower-cased and without its trailing dot (see [`is_host_name`]).
fn domain_name(text: &str) -> Option<Cow<'_, str>> {
    if !is_host_name(text) {
        return None;
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    Some(if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    })
}

/// Whether `text`, less one trailing dot, is a host name: labels of letters, digits, `-` and `_`
/// (not starting or ending with `-`), each 1–63 bytes, 253 at most in all.
pub(super) fn is_host_name(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text).as_bytes();
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    // One pass: `start` is where the current label began.
    let mut start = 0;
    for (i, &b) in name.iter().enumerate() {
        if b == b'.' {
            if !is_label(&name[start..i]) {
                return false;
            }
            start = i + 1;
        } else if !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return false;
        }
    }
    is_label(&name[start..])
}

/// A label's length and ends (its bytes are checked by [`is_host_name`]).
fn is_label(label: &[u8]) -> bool {
    !label.is_empty() && label.len() <= 63 && label[0] != b'-' && label[label.len() - 1] != b'-'
}
