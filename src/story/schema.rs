//! The JSON Schema of the story format, for editors (yaml-language-server) and CI.
//!
//! Option types derive their schemas (their `///` docs become descriptions); the action envelope,
//! where the kind decides the options, is assembled here. Objects are closed
//! (`additionalProperties: false`) so editors flag the same unknown keys `warden validate` does.

use super::integration::Integration;
use super::kinds::transform::{
    DeduplicateOptions, DelayOptions, ExplodeOptions, ExtractOptions, ImplodeOptions,
    MessageOptions, ThrottleOptions,
};
use super::kinds::{
    HttpRequestOptions, PromptOptions, SendToStoryOptions, TriggerOptions, WebhookOptions,
};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const ID_PATTERN: &str = "^[a-z][a-z0-9_]{0,63}$";
const LINK_PATTERN: &str = "^[a-z][a-z0-9_]{0,63}(\\.(no_match|failure))?$";

/// The story schema, with one `uses:` variant per loaded integration template.
pub fn story_schema(integrations: &BTreeMap<String, Arc<Integration>>) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let mut variants = vec![
        builtin("webhook", "Entry point: POST /webhook/{path}/{secret} starts a run.", options_ref::<WebhookOptions>(&mut generator)),
        builtin("http_request", "One outbound HTTP call; the response is the event.", options_ref::<HttpRequestOptions>(&mut generator)),
        builtin("trigger", "Passes the event on when the rules match, otherwise along `.no_match`.", options_ref::<TriggerOptions>(&mut generator)),
        builtin("transform", "Tines event-transform modes: message, extract, explode, implode, deduplicate, delay, throttle.", transform_options(&mut generator)),
        builtin("prompt", "Asks a person (Slack buttons or signed links) and waits durably.", options_ref::<PromptOptions>(&mut generator)),
        builtin("send_to_story", "Runs another story with an event.", options_ref::<SendToStoryOptions>(&mut generator)),
    ];
    variants.extend(integrations.values().map(integration_variant));
    let definitions = generator.take_definitions(true);

    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Warden story",
        "description": "A graph of actions run by Warden. Validate with `warden validate`.",
        "type": "object",
        "required": ["name", "actions"],
        "additionalProperties": false,
        "properties": {
            "name": { "type": "string", "description": "Display name." },
            "description": { "type": "string", "description": "What the story does." },
            "credentials": {
                "type": "object",
                "description": "Credentials the story uses directly (name: what it holds). Values come from WARDEN_CREDENTIAL_<NAME> or the credentials file, never from the story.",
                "additionalProperties": { "type": "string" }
            },
            "resources": {
                "type": "object",
                "description": "Resources the story uses directly (name: what it holds). Values come from WARDEN_RESOURCE_<NAME> or the resources file.",
                "additionalProperties": { "type": "string" }
            },
            "strict_data": {
                "type": "boolean",
                "default": false,
                "description": "A template that reads missing event data fails its step. By default missing data renders empty (null for a whole-field expression) and the step records the missing paths; `| required` makes one field strict."
            },
            "actions": {
                "type": "object",
                "description": "The actions, keyed by snake_case id.",
                "propertyNames": { "pattern": ID_PATTERN },
                "additionalProperties": { "$ref": "#/$defs/Action" }
            }
        },
        "$defs": merge(definitions, json!({
            "Action": { "oneOf": variants },
            "Links": {
                "description": "The actions this one follows: an id, or a list. `id.no_match` follows a trigger's non-matches, `id.failure` an action's failures.",
                "anyOf": [
                    { "type": "string", "pattern": LINK_PATTERN },
                    { "type": "array", "items": { "type": "string", "pattern": LINK_PATTERN }, "uniqueItems": true }
                ]
            }
        }))
    });
    close_objects(&mut schema);
    schema
}

fn merge(mut definitions: Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(extra) = extra {
        definitions.extend(extra);
    }
    Value::Object(definitions)
}

fn options_ref<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<T>().to_value()
}

fn common_properties() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "name": { "type": "string", "description": "Display name." },
        "description": { "type": "string", "description": "What the action does." },
        "from": { "$ref": "#/$defs/Links" }
    }) else {
        unreachable!("a literal object")
    };
    map
}

fn builtin(kind: &str, description: &str, options: Value) -> Value {
    let mut properties = common_properties();
    properties.insert(
        "type".into(),
        json!({ "const": kind, "description": description }),
    );
    properties.insert("options".into(), options);
    json!({
        "type": "object",
        "required": ["type", "options"],
        "additionalProperties": false,
        "properties": properties
    })
}

/// One variant per mode: the mode's options plus `mode: <name>`.
fn transform_options(generator: &mut SchemaGenerator) -> Value {
    let modes = [
        ("message", generator.root_schema_for::<MessageOptions>()),
        ("extract", generator.root_schema_for::<ExtractOptions>()),
        ("explode", generator.root_schema_for::<ExplodeOptions>()),
        ("implode", generator.root_schema_for::<ImplodeOptions>()),
        (
            "deduplicate",
            generator.root_schema_for::<DeduplicateOptions>(),
        ),
        ("delay", generator.root_schema_for::<DelayOptions>()),
        ("throttle", generator.root_schema_for::<ThrottleOptions>()),
    ];
    let variants: Vec<Value> = modes
        .into_iter()
        .map(|(mode, schema)| {
            let mut schema = schema.to_value();
            if let Value::Object(object) = &mut schema {
                object.remove("$schema");
                object.remove("$defs");
                object.remove("title");
                let properties = object.entry("properties").or_insert_with(|| json!({}));
                properties["mode"] = json!({ "const": mode });
                let required = object.entry("required").or_insert_with(|| json!([]));
                if let Value::Array(required) = required {
                    required.push(json!("mode"));
                }
            }
            schema
        })
        .collect();
    json!({ "oneOf": variants })
}

fn integration_variant(integration: &Arc<Integration>) -> Value {
    let spec = &integration.spec;
    let mut inputs = Map::new();
    let mut required = Vec::new();
    for (name, input) in spec.inputs.iter() {
        inputs.insert(
            name.value.clone(),
            json!({ "description": input.description }),
        );
        if input.is_required() {
            required.push(name.value.clone());
        }
    }
    let mut properties = common_properties();
    properties.insert(
        "uses".into(),
        json!({ "const": integration.id, "description": spec.description.clone().unwrap_or_else(|| spec.name.clone()) }),
    );
    properties.insert(
        "with".into(),
        json!({ "type": "object", "properties": inputs, "required": required, "additionalProperties": false }),
    );
    let mut variant = json!({
        "type": "object",
        "required": ["uses"],
        "additionalProperties": false,
        "properties": properties
    });
    if !required.is_empty() {
        variant["required"] = json!(["uses", "with"]);
    }
    variant
}

/// Marks every object schema with declared properties as closed, recursively.
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.contains_key("properties") && !object.contains_key("additionalProperties") {
                object.insert("additionalProperties".into(), Value::Bool(false));
            }
            object.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}
