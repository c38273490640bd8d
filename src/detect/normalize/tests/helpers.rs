//! The checks and readers normalisation is built on, against their definitions.

use super::super::{okta, time};
use jiff::tz::Offset;
use jiff::Timestamp;

#[test]
fn the_email_check_reads_ascii_bytes_as_it_reads_characters() {
    // The definition: the local part has no whitespace or control character.
    fn by_chars(text: &str) -> bool {
        let Some((local, domain)) = text.split_once('@') else {
            return false;
        };
        text.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && !local.chars().any(|c| c.is_whitespace() || c.is_control())
            && domain.contains('.')
            && !domain.ends_with('.')
            && okta::is_host_name(domain)
    }
    let locals = [
        "a",
        "a b",
        "a\tb",
        "a\u{b}b",
        "a\u{7f}",
        "a~!#$%&'*+/=?^_`{|}",
        "é",
        "a\u{85}",
        "a\u{a0}",
        "a\u{2028}",
        "\u{1}",
        "",
    ];
    for local in locals {
        for domain in ["example.com", "example", "example.com.", "-a.com", "a_b.io"] {
            let text = format!("{local}@{domain}");
            assert_eq!(okta::looks_like_email(&text), by_chars(&text), "{text:?}");
        }
    }
}

#[test]
fn host_names_are_checked_label_by_label() {
    let long_label = "a".repeat(63);
    let too_long_label = "a".repeat(64);
    let long_name = [long_label.as_str(); 4].join(".");
    for (name, expected) in [
        ("example.com", true),
        ("example.com.", true),
        ("a_b-c.io", true),
        (long_label.as_str(), true),
        (too_long_label.as_str(), false),
        (&long_name[..253], true),
        (long_name.as_str(), false),
        ("", false),
        (".", false),
        ("a..b", false),
        (".a", false),
        ("a.-b", false),
        ("a-.b", false),
        ("a b.c", false),
        ("é.com", false),
        ("a.b..", false),
    ] {
        assert_eq!(okta::is_host_name(name), expected, "{name:?}");
    }
}

#[test]
fn the_usual_time_forms_are_read_as_jiff_reads_them() {
    let jiff = |text: &str| {
        text.parse::<Timestamp>().ok().or_else(|| {
            let civil = text.parse::<jiff::civil::DateTime>().ok()?;
            Offset::UTC.to_timestamp(civil).ok()
        })
    };
    let mut read = 0;
    for date in [
        "0000-01-01",
        "1970-01-01",
        "2020-02-29",
        "2021-02-29",
        "2024-12-31",
        "9999-12-31",
    ]
    .into_iter()
    .chain([
        "2020-00-10",
        "2020-13-10",
        "2020-04-31",
        "2020-04-00",
        "20x0-01-01",
    ]) {
        for separator in ["T", " ", "t", "_"] {
            for clock in [
                "00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "1:00:00",
            ] {
                for fraction in ["", ".", ".4", ".496", ".123456789", ".1234567891", ".4a"] {
                    for zone in ["", "Z", "z", "+00:00", "-07:00", " "] {
                        let text = format!("{date}{separator}{clock}{fraction}{zone}");
                        if let Some(at) = time::parse_usual(&text) {
                            assert_eq!(Some(at), jiff(&text), "{text}");
                            read += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(read > 100, "{read}");
}
