//! `warden rules test` on a Panther-layout repository.

use super::{scratch, write};

#[test]
fn warden_rules_test_on_a_panther_layout_finds_helpers_and_data_models_and_runs_mocks() {
    let repo = scratch("panther-layout");
    write(
        &repo.join("global_helpers/acme_helpers.yml"),
        "AnalysisType: global\nFilename: acme_helpers.py\nGlobalID: acme_helpers\n",
    );
    write(&repo.join("global_helpers/acme_helpers.py"), "def is_admin(name):\n    return name.endswith('-admin')\n\ndef lookup(ip):\n    return 'unknown'\n");
    write(&repo.join("data_models/okta.yml"), "AnalysisType: datamodel\nDataModelID: Acme.Okta\nLogTypes: [Okta.SystemLog]\nEnabled: true\nFilename: okta.py\nMappings:\n  - Name: actor_user\n    Method: actor\n  - Name: source_ip\n    Path: $.client.ipAddress\n");
    write(
        &repo.join("data_models/okta.py"),
        "def actor(event):\n    return event.deep_get('actor', 'alternateId')\n",
    );
    write(&repo.join("rules/acme/admin_sign_in.yml"), "AnalysisType: rule\nFilename: admin_sign_in.py\nRuleID: Acme.AdminSignIn\nEnabled: true\nLogTypes: [Okta.SystemLog]\nSeverity: Low\nTests:\n  - Name: admin from a known place\n    ExpectedResult: true\n    Mocks:\n      - objectName: lookup\n        returnValue: office\n    Log: { p_log_type: Okta.SystemLog, eventType: user.session.start, actor: { alternateId: bob-admin }, client: { ipAddress: 192.0.2.1 } }\n  - Name: admin from elsewhere\n    ExpectedResult: false\n    Log: { p_log_type: Okta.SystemLog, eventType: user.session.start, actor: { alternateId: bob-admin }, client: { ipAddress: 192.0.2.1 } }\n");
    write(&repo.join("rules/acme/admin_sign_in.py"), "from acme_helpers import is_admin, lookup\n\ndef rule(event):\n    return is_admin(event.udm('actor_user')) and lookup(event.udm('source_ip')) == 'office'\n\ndef title(event):\n    return f\"{event.udm('actor_user')} signed in\"\n");
    write(
        &repo.join("test_scenarios/attack.yml"),
        "Logs:\n  - a: 1\nFormat: json\n",
    );
    write(
        &repo.join("packs/acme.yml"),
        "AnalysisType: pack\nPackID: Acme\nPackDefinition: { IDs: [Acme.AdminSignIn] }\n",
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["rules", "test", "-v"])
        .arg(&repo)
        .env_remove("WARDEN_RULES")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("skipped 2 non-rule analysis files (not an analysis file, pack)"),
        "{stdout}"
    );
    assert!(stdout.contains("title: bob-admin signed in"), "{stdout}");
    assert!(
        stdout.ends_with("1 rule, 2 tests passed, 0 failed, 0 unsupported\n"),
        "{stdout}"
    );
}
