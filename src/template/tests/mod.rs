//! The template module's unit tests, by idea: compiling fields and what they
//! read, rendering them, and keeping credentials out of errors.

mod compile;
mod missing_data;
mod redaction;
mod render;

use super::*;
use serde_json::{json, Value as Json};

fn ctx(vars: Json) -> Context {
    match vars {
        Json::Object(map) => Context::new(map),
        other => panic!("context must be an object, got {other}"),
    }
}

fn alert_ctx() -> Context {
    ctx(json!({
        "receive_alert": {"body": {"ip": "10.0.0.1", "count": 3, "tags": ["a", "b"], "note": null}},
        "vt_lookup": {"body": {"data": {"attributes": {"last_analysis_stats": {"malicious": 7}}}}},
        "credentials": {"virustotal": "vt-s3cr3t-t0ken", "token": "hunter2-secret"},
    }))
}

fn render(source: &str, ctx: &Context) -> Result<Json, Error> {
    compile(source)?.render(ctx)
}

fn render_err(source: &str, ctx: &Context) -> String {
    render(source, ctx)
        .expect_err("render should fail")
        .to_string()
}

fn vars(source: &str) -> Vec<String> {
    compile(source).expect("compiles").variables()
}
