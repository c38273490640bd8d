//! Property tests: random and mutated YAML never panics or hangs the parser or the validator.

use proptest::prelude::*;

#[path = "../support/mutate.rs"]
mod mutate;
use mutate::mutate;
use warden::story::{check_story, Catalog};

const SEED: &str = include_str!("../../stories/panther-okta-admin-grant.yml");

fn catalog() -> Catalog {
    let loaded = warden::story::load::load(&[], std::path::Path::new("templates")).unwrap();
    Catalog {
        integrations: loaded.integrations,
        story_ids: ["panther-okta-admin-grant".to_owned()].into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_seed_story_never_panics(edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..12)) {
        let source = mutate(SEED, &edits);
        let result = check_story("fuzz", &source, &catalog());
        if let Err(diagnostics) = result {
            // Every diagnostic points inside the file.
            let lines = source.lines().count().max(1) as u32 + 1;
            for d in diagnostics {
                prop_assert!(d.span.line >= 1 && d.span.line <= lines, "{d:?} outside {lines} lines");
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(source in "\\PC{0,400}") {
        let _ = check_story("fuzz", &source, &catalog());
    }

    #[test]
    fn yaml_shaped_noise_never_panics(source in "([a-z_]{1,6}: ?|- |  |\\{|\\}|\\[|\\]|&a |\\*a|\"|'|\\{\\{ |\\}\\}|\n){0,120}") {
        let _ = check_story("fuzz", &source, &catalog());
    }
}

#[test]
fn nested_aliases_are_rejected_quickly() {
    let mut source = String::from("name: x\nactions: {}\nl0: &l0 [a, a, a, a, a, a, a, a, a, a]\n");
    for i in 1..12 {
        let p = i - 1;
        source.push_str(&format!(
            "l{i}: &l{i} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"
        ));
    }
    let diagnostics = check_story("laughs", &source, &Catalog::default()).unwrap_err();
    assert_eq!(diagnostics[0].code, warden::diagnostic::Code::YamlLimit);
}

#[test]
fn a_template_loop_cannot_hang_validation_or_rendering() {
    let source = SEED.replace(
        "outcome: confirmed by user",
        "outcome: \"{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}\"",
    );
    let story = check_story("fuel", &source, &catalog())
        .expect("valid: loops are allowed, fuel bounds them");
    let action = story.action("record_confirmation").unwrap();
    let mut templates = Vec::new();
    action
        .config
        .each_template(&mut |_, t| templates.push(t.clone()));
    let looping = templates
        .iter()
        .find(|t| t.source.contains("range"))
        .unwrap();
    let context = warden::template::Context::default();
    let error = looping.compiled().unwrap().render(&context).unwrap_err();
    assert!(error.to_string().to_lowercase().contains("fuel"), "{error}");
}
