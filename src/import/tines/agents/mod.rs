//! One Tines agent → one Warden action: its kind and options, with a comment at each option that
//! could not be translated (and the same text in the report).

mod http;
mod transform;

use super::export::{truthy, Agent};
use super::template::{self, Found, Place};
use super::yaml::Y;
use serde_json::{Map, Value};

/// An action ready to be written.
#[derive(Debug, Clone)]
pub struct Action {
    /// `type:`.
    pub kind: &'static str,
    /// `options:`, with comments at the options left out.
    pub options: Y,
    /// Comments above the action: what was left out of it as a whole, and why.
    pub comments: Vec<String>,
    /// Everything left out, for the report (the same texts as the comments).
    pub left_out: Vec<String>,
    /// Credentials, resources and prompt statuses its templates read.
    pub found: Found,
    /// Credentials the action itself needs declared (a webhook's secret), with what they hold.
    pub declares: Vec<(String, String)>,
}

/// What converting an agent may use.
pub struct Ctx<'a> {
    /// The action's id.
    pub id: &'a str,
    /// The story's slug, for generated webhook paths.
    pub story_slug: &'a str,
    /// The actions linked into this one, in link order.
    pub parents: &'a [String],
    /// Where its templates stand (credentials, prompt and item flags are set per field).
    pub place: Place<'a>,
    /// What other actions read of this one's own output (`body`, `status`, …), which decides
    /// whether a request with prompt links can become a `prompt` (it emits only the answer).
    pub read_downstream: &'a [String],
}

/// Collects an action's options and what was left out of them.
pub(super) struct Build<'c, 'a> {
    pub(super) cx: &'c Ctx<'a>,
    pub(super) options: Y,
    pub(super) comments: Vec<String>,
    pub(super) left_out: Vec<String>,
    pub(super) found: Found,
    pub(super) declares: Vec<(String, String)>,
}

/// Field flags for [`Build::value`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Field {
    pub(super) credentials: bool,
    pub(super) prompt: bool,
    pub(super) item: bool,
}

impl<'c, 'a> Build<'c, 'a> {
    pub(super) fn new(cx: &'c Ctx<'a>) -> Self {
        Build {
            cx,
            options: Y::map(),
            comments: Vec::new(),
            left_out: Vec::new(),
            found: Found::default(),
            declares: Vec::new(),
        }
    }

    /// Translates a JSON value whose strings are templates; notes go to `notes`.
    pub(super) fn translate(&mut self, value: &Value, field: Field, notes: &mut Vec<String>) -> Y {
        match value {
            Value::String(s) => Y::Str(self.text(s, field, notes)),
            Value::Array(items) => Y::Seq(
                items
                    .iter()
                    .map(|i| self.translate(i, field, notes))
                    .collect(),
            ),
            Value::Object(map) => {
                let mut out = Y::map();
                for (k, v) in map {
                    let v = self.translate(v, field, notes);
                    out.set(k.clone(), v);
                }
                out
            }
            other => Y::from_json(other),
        }
    }

    /// Translates one string.
    pub(super) fn text(&mut self, text: &str, field: Field, notes: &mut Vec<String>) -> String {
        let place = Place {
            credentials: field.credentials,
            prompt: field.prompt,
            item: field.item,
            ..self.cx.place
        };
        let mut found = Found::default();
        let out = template::translate(text, &place, &mut found);
        notes.append(&mut found.notes);
        self.found.credentials.append(&mut found.credentials);
        self.found.resources.append(&mut found.resources);
        self.found.prompts.append(&mut found.prompts);
        out
    }

    /// Sets an option, with comments for what was left out of it.
    pub(super) fn put(&mut self, key: &str, value: Y, notes: Vec<String>) {
        let entry = self.options.set(key, value);
        for note in notes {
            entry.comments.push(format!("Not translated: {note}"));
            self.left_out.push(format!("`{key}`: {note}"));
        }
    }

    /// Translates option `key` of `options` into `to` when present.
    pub(super) fn option(
        &mut self,
        options: &Map<String, Value>,
        key: &str,
        to: &str,
        field: Field,
    ) {
        if let Some(value) = options.get(key) {
            let mut notes = Vec::new();
            let y = self.translate(value, field, &mut notes);
            self.put(to, y, notes);
        }
    }

    /// Something of the action as a whole that was left out.
    pub(super) fn leave_out(&mut self, note: impl Into<String>) {
        let note = note.into();
        self.comments.push(format!("Not translated: {note}"));
        self.left_out.push(note);
    }

    /// A comment that is not a loss (a difference worth knowing).
    pub(super) fn remark(&mut self, note: impl Into<String>) {
        self.comments.push(note.into());
    }

    /// Every option not in `known` is reported, so nothing is dropped silently.
    pub(super) fn unknown_options(&mut self, options: &Map<String, Value>, known: &[&str]) {
        for (key, value) in options {
            if !known.contains(&key.as_str()) {
                self.leave_out(format!(
                    "option `{key}` ({}) has no equivalent",
                    short(value)
                ));
            }
        }
    }

    pub(super) fn finish(self, kind: &'static str) -> Action {
        Action {
            kind,
            options: self.options,
            comments: self.comments,
            left_out: self.left_out,
            found: self.found,
            declares: self.declares,
        }
    }
}

/// A value shortened for a comment.
pub(super) fn short(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = text.replace('\n', " ");
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// A JSON value shortened for a comment.
pub fn short_value(value: &Value) -> String {
    short(value)
}

/// A number of seconds as a Warden duration, in the largest unit that divides it (`3600` → `1h`).
pub(super) fn seconds(value: &Value) -> Option<Y> {
    let secs = super::export::number(value)?;
    if secs < 1.0 || secs.fract() != 0.0 {
        return None;
    }
    let secs = secs as u64;
    let text = [(86_400, "d"), (3_600, "h"), (60, "m")]
        .iter()
        .find(|(unit, _)| secs % unit == 0)
        .map_or_else(
            || format!("{secs}s"),
            |(unit, name)| format!("{}{name}", secs / unit),
        );
    Some(Y::str(text))
}

/// Converts one agent.
pub fn convert(agent: &Agent, cx: &Ctx) -> Action {
    let mut b = Build::new(cx);
    if agent.disabled {
        b.leave_out("the action is disabled in Tines; Warden has no disabled actions, so it runs");
    }
    let kind = match agent.kind.as_str() {
        "Agents::WebhookAgent" => webhook(&mut b, &agent.options),
        "Agents::HTTPRequestAgent" => http::request(&mut b, &agent.options),
        "Agents::TriggerAgent" => transform::trigger(&mut b, &agent.options),
        "Agents::EventTransformationAgent" => transform::transform(&mut b, agent),
        "Agents::SendToStoryAgent" => send_to_story(&mut b, &agent.options),
        "Agents::IMAPAgent" => {
            b.leave_out("Receive Email (IMAP) has no equivalent: this webhook stands in for it; post each email to it");
            imap_webhook(&mut b)
        }
        "Agents::EmailAgent" => {
            b.leave_out("Send Email has no equivalent: send mail through your mail provider's API with an http_request");
            placeholder(&mut b, agent)
        }
        other => {
            b.leave_out(format!("action type `{other}` has no equivalent"));
            placeholder(&mut b, agent)
        }
    };
    b.finish(kind)
}

/// A message transform standing where an action could not be translated, so the links around
/// it (and what downstream reads) stay in place.
pub(super) fn placeholder(b: &mut Build, agent: &Agent) -> &'static str {
    b.options = Y::map();
    b.options.set("mode", Y::str("message"));
    let mut payload = Y::map();
    payload.set("not_translated", Y::str(agent.kind.clone()));
    payload.set("name", Y::str(template::escape_literal(&agent.name)));
    b.options.set("payload", payload);
    "transform"
}

fn webhook(b: &mut Build, options: &Map<String, Value>) -> &'static str {
    let path = options
        .get("path")
        .and_then(Value::as_str)
        .map(url_slug)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| url_slug(&format!("{}-{}", b.cx.story_slug, b.cx.id)));
    b.put("path", Y::str(path), Vec::new());
    let secret = secret_name(b.cx);
    b.put("secret_credential", Y::str(secret.clone()), Vec::new());
    b.declares.push((
        secret,
        "Secret last segment of this webhook's URL (Tines kept it in the export; choose a new one)"
            .into(),
    ));
    if let Some(verbs) = options.get("verbs").and_then(Value::as_str) {
        let mut methods = Vec::new();
        let mut notes = Vec::new();
        for verb in verbs
            .split(',')
            .map(|v| v.trim().to_ascii_uppercase())
            .filter(|v| !v.is_empty())
        {
            match verb.as_str() {
                "GET" | "POST" | "PUT" => methods.push(Y::str(verb)),
                other => notes.push(format!(
                    "method `{other}`: a webhook accepts GET, POST and PUT"
                )),
            }
        }
        if methods.is_empty() {
            methods.push(Y::str("POST"));
        }
        b.put("methods", Y::Seq(methods), notes);
    }
    for key in ["response", "response_code", "response_headers"] {
        if let Some(value) = options.get(key) {
            b.leave_out(format!(
                "`{key}` ({}): a webhook's custom response has no equivalent; Warden answers 202 with the run id",
                short(value)
            ));
        }
    }
    if options.contains_key("rules") || options.contains_key("match_rules") {
        b.remark("Its `rules` are checked by the trigger added after it.");
    } else if options.contains_key("must_match") {
        b.leave_out("`must_match` without rules");
    }
    b.unknown_options(
        options,
        &[
            "path",
            "secret",
            "verbs",
            "include_headers",
            "response",
            "response_code",
            "response_headers",
            "rules",
            "match_rules",
            "must_match",
        ],
    );
    "webhook"
}

/// An IMAP action becomes the story's entry webhook.
fn imap_webhook(b: &mut Build) -> &'static str {
    let path = url_slug(&format!("{}-{}", b.cx.story_slug, b.cx.id));
    b.put("path", Y::str(path), Vec::new());
    let secret = secret_name(b.cx);
    b.put("secret_credential", Y::str(secret.clone()), Vec::new());
    b.declares
        .push((secret, "Secret last segment of this webhook's URL".into()));
    "webhook"
}

fn send_to_story(b: &mut Build, options: &Map<String, Value>) -> &'static str {
    let written = options.get("story").map(short).unwrap_or_default();
    let stories = &b.cx.place.refs.stories;
    let story = stories.get(&written).cloned().or_else(|| {
        // `{{ .STORY.slug }}`, `<<STORY.slug>>`, `=STORY.slug` or Liquid's `{% story Name %}`.
        let inner = written
            .trim_start_matches("{{")
            .trim_end_matches("}}")
            .trim_start_matches("{%")
            .trim_end_matches("%}")
            .trim_start_matches("<<")
            .trim_end_matches(">>")
            .trim()
            .trim_start_matches('.')
            .trim_start_matches('=');
        let key = inner
            .strip_prefix("STORY.")
            .or_else(|| inner.strip_prefix("story "))
            .unwrap_or(inner)
            .trim();
        stories.get(key).cloned()
    });
    let Some(story) = story else {
        b.leave_out(format!(
            "send to story `{written}`: the story is not in this export (export it with its parent)"
        ));
        b.options.set("mode", Y::str("message"));
        let mut payload = Y::map();
        payload.set("not_translated", Y::str("Agents::SendToStoryAgent"));
        payload.set("story", Y::str(template::escape_literal(&written)));
        b.options.set("payload", payload);
        return "transform";
    };
    b.put("story", Y::str(story), Vec::new());
    b.option(options, "payload", "payload", Field::default());
    // Tines' Send to Story emits the sub-story's exit event.
    b.put("wait", Y::Bool(true), Vec::new());
    b.unknown_options(options, &["story", "payload"]);
    "send_to_story"
}

/// A webhook's secret credential, named after its story too: stories imported together (a story
/// and those it sends to) often each have an `entry` webhook, and each needs its own secret.
pub fn secret_name(cx: &Ctx) -> String {
    format!("{}_{}_secret", cx.story_slug.replace('-', "_"), cx.id)
}

/// A webhook path Warden accepts: lowercase letters, digits, `-` and `_`.
fn url_slug(text: &str) -> String {
    let slug: String = text
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    slug.trim_matches(|c| c == '-' || c == '_').to_owned()
}

/// `include_headers` false: the webhook's Tines event is the body itself.
pub fn body_only(agent: &Agent) -> bool {
    agent.kind == "Agents::WebhookAgent"
        && agent
            .options
            .get("include_headers")
            .is_some_and(|v| !truthy(v))
}
