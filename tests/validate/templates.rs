//! Integration templates with several requests (`steps:`): what each step, `when` and `output`
//! may read, and the mistakes reported with positions.

use std::path::Path;
use warden::diagnostic::Code;
use warden::story::check_integration;

fn check(source: &str) -> Vec<(Code, u32, u32, String)> {
    match check_integration("vendor/test", Path::new("vendor/test.yml"), source) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics
            .into_iter()
            .map(|d| (d.code, d.span.line, d.span.column, d.message))
            .collect(),
    }
}

const HEAD: &str = "name: T
inputs: { user: { description: who } }
credentials: { okta: token }
resources: { okta_url: { description: org } }
";

#[test]
fn steps_read_earlier_steps_and_output_reads_all() {
    let source = format!(
        "{HEAD}steps:
  user:
    request: {{ url: \"{{{{ resources.okta_url }}}}/u/{{{{ inputs.user }}}}\" }}
  suspend:
    when: \"{{{{ user.body.status == 'ACTIVE' }}}}\"
    request:
      method: POST
      url: \"{{{{ resources.okta_url }}}}/u/{{{{ user.body.id }}}}/suspend\"
      headers: {{ Authorization: \"SSWS {{{{ credentials.okta }}}}\" }}
output:
  suspended: \"{{{{ suspend is defined }}}}\"
  id: \"{{{{ user.body.id }}}}\"
"
    );
    assert_eq!(check(&source), Vec::new());
}

#[test]
fn a_step_cannot_read_a_later_one() {
    let source = format!(
        "{HEAD}steps:
  first:
    when: \"{{{{ second.status == 200 }}}}\"
    request: {{ url: \"{{{{ resources.okta_url }}}}\" }}
  second:
    request: {{ url: \"{{{{ resources.okta_url }}}}/{{{{ frist.body.id }}}}\" }}
"
    );
    let found = check(&source);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found.iter().all(|d| d.0 == Code::UnknownVariable),
        "{found:?}"
    );
    assert_eq!((found[0].1, found[1].1), (7, 10), "{found:?}");
    assert!(found[0].3.contains("second"), "{found:?}");
    assert!(found[1].3.contains("frist"), "{found:?}");
}

#[test]
fn a_template_sends_one_request_or_steps() {
    let both = format!(
        "{HEAD}request: {{ url: \"{{{{ resources.okta_url }}}}\" }}
steps:
  one:
    request: {{ url: \"{{{{ resources.okta_url }}}}\" }}
"
    );
    assert_eq!(
        check(&both).iter().map(|d| (d.0, d.1)).collect::<Vec<_>>(),
        [(Code::KindConflict, 7)]
    );
    let neither = check(HEAD);
    assert_eq!(neither.len(), 1, "{neither:?}");
    assert_eq!((neither[0].0, neither[0].1), (Code::MissingKey, 1));
}

#[test]
fn step_names_are_snake_case_and_not_scopes() {
    let source = format!(
        "{HEAD}steps:
  inputs:
    request: {{ url: \"{{{{ resources.okta_url }}}}\" }}
  Get-User:
    request: {{ url: \"{{{{ resources.okta_url }}}}\" }}
"
    );
    let found = check(&source);
    assert_eq!(
        found.iter().map(|d| (d.0, d.1)).collect::<Vec<_>>(),
        [(Code::InvalidId, 6), (Code::InvalidId, 8)],
        "{found:?}"
    );
}

#[test]
fn credentials_stay_out_of_when_and_output() {
    let source = format!(
        "{HEAD}steps:
  user:
    when: \"{{{{ credentials.okta != '' }}}}\"
    request: {{ url: \"{{{{ resources.okta_url }}}}\" }}
output: {{ token: \"{{{{ credentials.okta }}}}\" }}
"
    );
    let found = check(&source);
    assert_eq!(
        found.iter().map(|d| d.0).collect::<Vec<_>>(),
        [
            Code::CredentialOutsideRequest,
            Code::CredentialOutsideRequest
        ],
        "{found:?}"
    );
}
