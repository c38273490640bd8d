//! The pages are current, and every filter, function, scope and kind is documented with
//! examples that render as written.

use super::filters::{Callable, Origin, ENTRIES};
use super::{actions, pages, templates};
use crate::template::{names, FUNCTIONS, SCOPES};
use std::path::Path;

fn documented(callable: Callable, name: &str) -> Option<&'static super::filters::Entry> {
    ENTRIES
        .iter()
        .find(|e| e.callable == callable && e.name == name)
}

/// The names `src/template/filters/mod.rs` registers with `call` (`add_filter`, `add_function`).
fn registered(call: &str) -> Vec<String> {
    let source = include_str!("../template/filters/mod.rs");
    let needle = format!("{call}(\"");
    source
        .match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &source[at + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect()
}

#[test]
fn committed_pages_match_the_generated_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for page in pages() {
        let path = dir.join(page.file);
        if update {
            std::fs::write(&path, &page.text).unwrap();
        }
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("docs/{} is committed", page.file));
        assert!(
            committed == page.text,
            "docs/{} is stale: run `cargo run -- docs` (or UPDATE_GOLDEN=1 cargo test --lib docs)",
            page.file
        );
    }
}

#[test]
fn every_registered_filter_and_function_of_warden_is_documented() {
    let filters = registered("add_filter");
    let functions = registered("add_function");
    assert!(
        filters.contains(&"regex_extract".to_owned()),
        "the source was read"
    );
    assert!(functions.contains(&"prompt_url".to_owned()));
    for (callable, names) in [(Callable::Filter, filters), (Callable::Function, functions)] {
        for name in names {
            let entry = documented(callable, &name)
                .unwrap_or_else(|| panic!("`{name}` is registered but not in docs::filters"));
            assert_eq!(entry.origin, Origin::Warden, "`{name}` is Warden's own");
        }
    }
}

#[test]
fn every_known_filter_and_function_is_documented_and_exists() {
    for name in names::Callable::Filter.known_names() {
        assert!(
            documented(Callable::Filter, name).is_some(),
            "filter `{name}` (template::names) has no entry in docs::filters"
        );
    }
    for name in FUNCTIONS {
        assert!(
            documented(Callable::Function, name).is_some(),
            "function `{name}` has no entry in docs::filters"
        );
    }
    for entry in ENTRIES {
        match entry.callable {
            Callable::Filter => assert!(
                names::is_known(names::Callable::Filter, entry.name),
                "documented filter `{}` does not exist",
                entry.name
            ),
            Callable::Function => assert!(FUNCTIONS.contains(&entry.name), "{}", entry.name),
        }
        assert!(
            !entry.examples.is_empty(),
            "`{}` has no example",
            entry.name
        );
    }
}

#[test]
fn every_example_renders_as_documented() {
    let mut wrong = Vec::new();
    for entry in ENTRIES {
        for example in entry.examples {
            let actual = templates::render(example.source, example.data);
            let expected = example
                .result
                .map(|json| serde_json::from_str(json).expect("the documented result is JSON"))
                .map_err(str::to_owned);
            if actual != expected {
                wrong.push(format!(
                    "{}: {}\n  documented {expected:?}\n  rendered   {actual:?}",
                    entry.name, example.source
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_scope_is_documented() {
    for scope in SCOPES {
        assert!(
            templates::SCOPES.iter().any(|(root, ..)| root == scope),
            "scope `{scope}` is not documented"
        );
    }
}

#[test]
fn every_kind_and_mode_of_the_schema_is_documented() {
    let schema = crate::story::schema::story_schema(&Default::default());
    for variant in schema["$defs"]["Action"]["oneOf"].as_array().unwrap() {
        let kind = variant["properties"]["type"]["const"].as_str().unwrap();
        assert!(
            actions::KINDS.contains(&kind),
            "kind `{kind}` is not documented"
        );
        if kind == "transform" {
            for mode in variant["properties"]["options"]["oneOf"]
                .as_array()
                .unwrap()
            {
                let mode = mode["properties"]["mode"]["const"].as_str().unwrap();
                assert!(
                    actions::MODES.contains(&mode),
                    "mode `{mode}` is not documented"
                );
            }
        }
    }
}
