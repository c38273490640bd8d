//! Tines templates → minijinja: the older Liquid dialect (`{{ .action.path | filter: x }}`,
//! `{% credential x %}`, `{% prompt x %}`) and the newer formulas (`<<action.path>>` pills and
//! whole-field `=EXPR`). Both read the event by action key; Warden reads upstream actions by id,
//! so every path is resolved here against the action's ancestors.
//!
//! What has no translation is never dropped silently: the piece is left out of the field and a
//! note saying what and why is returned, to become a comment at the field.

pub mod formula;
pub mod liquid;

use std::collections::{BTreeMap, BTreeSet};

/// Story-wide facts templates are resolved against.
#[derive(Debug, Clone, Default)]
pub struct Refs {
    /// Tines event key (the snake_cased name) → the ids of the actions writing it, in export
    /// order (several when names repeat).
    pub by_key: BTreeMap<String, Vec<String>>,
    /// Webhooks whose Tines event is the body itself (`include_headers: false`): Warden's always
    /// has `body`, so `hook.x` reads `hook.body.x`.
    pub body_only: BTreeSet<String>,
    /// Triggers: Tines' `rule_matched` is Warden's `matched`.
    pub triggers: BTreeSet<String>,
    /// The entry webhook, which receives a sent-to story's `INPUT`s.
    pub entry: Option<String>,
    /// Stories by Tines slug, name and guid → Warden story id.
    pub stories: BTreeMap<String, String>,
}

/// Where a template stands.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// Story-wide references.
    pub refs: &'a Refs,
    /// Ancestors of the action, nearest first.
    pub upstream: &'a [String],
    /// Credentials may be rendered here (a request's headers, body or auth).
    pub credentials: bool,
    /// `PROMPT()` / `{% prompt %}` may become `prompt_url()` here (a prompt's request).
    pub prompt: bool,
    /// `LOOP` is bound here (a looping message payload).
    pub item: bool,
    /// Formulas are on (schema_version above 3): a leading `=` makes a whole-field formula.
    pub formulas: bool,
}

/// What translating a field found beyond its text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// What was left out, and why (one comment line each).
    pub notes: Vec<String>,
    /// Credentials read (Warden names).
    pub credentials: BTreeSet<String>,
    /// Resources read (Warden names).
    pub resources: BTreeSet<String>,
    /// Prompt statuses linked (`{% prompt x %}`, `PROMPT("x")`).
    pub prompts: Vec<String>,
}

/// One step of a path after its root.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    /// `.name` or `["name"]`.
    Key(String),
    /// `[0]`.
    Index(i64),
    /// `[expr]`, already translated.
    Computed(String),
}

/// Translates one string field. Returns the minijinja text; notes in `found`.
pub fn translate(text: &str, place: &Place, found: &mut Found) -> String {
    let out = translate_pieces(text, place, found);
    // Pieces translate one at a time; their sum must still parse (a Liquid `{% endif %}` without
    // its `{% if %}`, a `{% comment %}` never closed). A field that does not is left out whole.
    match crate::template::compile(&out) {
        Ok(_) => out,
        Err(error) => {
            found.notes.push(format!(
                "`{}`: the translation does not parse as minijinja ({error}); the field is left empty",
                text.replace('\n', " ")
            ));
            String::new()
        }
    }
}

fn translate_pieces(text: &str, place: &Place, found: &mut Found) -> String {
    if place.formulas {
        if let Some(expr) = text.strip_prefix('=') {
            return match formula::translate(expr, place, &[], found) {
                Ok(jinja) => format!("{{{{ {jinja} }}}}"),
                Err(why) => {
                    found.notes.push(format!("formula `{text}`: {why}"));
                    String::new()
                }
            };
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut locals: Vec<String> = Vec::new();
    loop {
        let next = ["{{", "{%", "<<"]
            .iter()
            .filter(|open| **open != "<<" || place.formulas || looks_like_pill(rest))
            .filter_map(|open| rest.find(open).map(|i| (i, *open)))
            .min();
        let Some((at, open)) = next else {
            out.push_str(&escape_literal(rest));
            break;
        };
        out.push_str(&escape_literal(&rest[..at]));
        let after = &rest[at + 2..];
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => ">>",
        };
        let Some(end) = find_close(after, close) else {
            // An unclosed marker is text.
            out.push_str(&escape_literal(&rest[at..at + 2]));
            rest = after;
            continue;
        };
        let inner = after[..end].trim();
        let piece = match open {
            "{{" => liquid::output(inner, place, &locals, found).map(|e| format!("{{{{ {e} }}}}")),
            "{%" => liquid::tag(inner, place, &mut locals, found),
            _ => formula::translate(inner, place, &[], found).map(|e| format!("{{{{ {e} }}}}")),
        };
        match piece {
            Ok(jinja) => out.push_str(&jinja),
            Err(why) => {
                let written = &rest[at..at + 2 + end + 2];
                found.notes.push(format!("`{written}`: {why}"));
            }
        }
        rest = &after[end + 2..];
    }
    out
}

/// A `<<…>>` in a schema_version 3 export is a pill only when it reads like one.
fn looks_like_pill(text: &str) -> bool {
    text.find("<<").is_some_and(|i| {
        text[i + 2..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
    }) && text.contains(">>")
}

/// The end of a `{{`/`{%`/`<<` piece, skipping quoted strings.
fn find_close(text: &str, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if bytes[i..].starts_with(close.as_bytes()) => return Some(i),
            None => {}
        }
        i += 1;
    }
    // Quotes may be unbalanced in the wild: fall back to the first closer.
    text.find(close)
}

/// Literal text with minijinja's own markers written so they stay text.
pub fn escape_literal(text: &str) -> String {
    if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' && matches!(chars.peek(), Some('{' | '%' | '#')) {
            out.push_str("{{ '{' }}");
        } else {
            out.push(c);
        }
    }
    out
}

/// Renders a path for minijinja: `.name` for identifiers, `["key"]` otherwise.
pub fn render_path(root: &str, segs: &[Seg]) -> String {
    let mut out = root.to_owned();
    for seg in segs {
        match seg {
            Seg::Key(k) if is_identifier(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Key(k) => out.push_str(&format!("[{}]", string_literal(k))),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Computed(expr) => out.push_str(&format!("[{expr}]")),
        }
    }
    out
}

/// A minijinja string literal.
pub fn string_literal(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn is_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            s,
            "and"
                | "or"
                | "not"
                | "in"
                | "is"
                | "if"
                | "else"
                | "true"
                | "false"
                | "none"
                | "True"
                | "False"
                | "None"
                | "loop"
                | "self"
        )
}

/// Resolves a Tines path (root and steps) to a minijinja expression where it stands, or says
/// why it has none. `locals` are names bound by the template itself (loop variables).
pub fn resolve(
    root: &str,
    segs: &[Seg],
    place: &Place,
    locals: &[String],
    found: &mut Found,
) -> Result<String, String> {
    let first = || match segs.first() {
        Some(Seg::Key(k)) => Ok(k.clone()),
        _ => Err(format!("`{root}` must be followed by a name")),
    };
    match root {
        "CREDENTIAL" => {
            let name = super::names::action_id(&super::names::snake_case(&first()?));
            found.credentials.insert(name.clone());
            if !place.credentials {
                return Err(format!(
                    "credential `{name}` is used where Warden never renders credentials (a URL, a query or a stored event); send it in a header, the body or auth"
                ));
            }
            Ok(render_path(
                "credentials",
                &[&[Seg::Key(name)], &segs[1..]].concat(),
            ))
        }
        "RESOURCE" => {
            let name = super::names::action_id(&super::names::snake_case(&first()?));
            found.resources.insert(name.clone());
            Ok(render_path(
                "resources",
                &[&[Seg::Key(name)], &segs[1..]].concat(),
            ))
        }
        "INPUT" => match &place.refs.entry {
            Some(entry) => Ok(render_path(
                entry,
                &[&[Seg::Key("body".into())], segs].concat(),
            )),
            None => Err("`INPUT` has no entry webhook to come from in this story".into()),
        },
        "LOCAL" => Err("`LOCAL` variables have no equivalent in Warden".into()),
        "LOOP" => match segs.first() {
            Some(Seg::Key(k)) if place.item && matches!(k.as_str(), "value" | "index" | "key") => {
                Ok(render_path("item", segs))
            }
            _ if place.item => Err(
                "only `LOOP.value`, `LOOP.index` and `LOOP.key` have an equivalent (`item.*`)"
                    .into(),
            ),
            _ => Err("`LOOP` is bound only in a looping message transform".into()),
        },
        "META" => match segs.first() {
            Some(Seg::Key(k)) if k == "story_run_guid" => Ok("run.id".into()),
            _ => Err("only `META.story_run_guid` has an equivalent (`run.id`)".into()),
        },
        "STORY" => {
            let key = first()?;
            place
                .refs
                .stories
                .get(&key)
                .map(|id| string_literal(id))
                .ok_or_else(|| format!("story `{key}` is not in this export"))
        }
        _ if locals.iter().any(|l| l == root) => Ok(render_path(root, segs)),
        // Liquid's loop variable inside `{% for %}`.
        "forloop" if !locals.is_empty() => match segs.first() {
            Some(Seg::Key(k))
                if matches!(
                    k.as_str(),
                    "index" | "index0" | "first" | "last" | "length" | "revindex" | "revindex0"
                ) =>
            {
                Ok(render_path("loop", segs))
            }
            _ => Err("this `forloop` attribute has no minijinja equivalent".into()),
        },
        _ => resolve_action(root, segs, place),
    }
}

/// An upstream action's output. With several upstream writers of one key (repeated names), the
/// nearest that ran is read.
fn resolve_action(key: &str, segs: &[Seg], place: &Place) -> Result<String, String> {
    let Some(ids) = place.refs.by_key.get(key) else {
        return Err(format!(
            "no action is named `{key}` in this story, so Tines would read nothing"
        ));
    };
    let upstream: Vec<&String> = place
        .upstream
        .iter()
        .filter(|id| ids.contains(id))
        .collect();
    let path = |id: &str| {
        if place.refs.triggers.contains(id)
            && segs.first() == Some(&Seg::Key("rule_matched".into()))
        {
            render_path(id, &[&[Seg::Key("matched".into())], &segs[1..]].concat())
        } else if place.refs.body_only.contains(id) {
            render_path(id, &[&[Seg::Key("body".into())], segs].concat())
        } else {
            render_path(id, segs)
        }
    };
    match upstream.as_slice() {
        [] => Err(format!(
            "`{key}` is not upstream of this action, so Tines would read nothing here"
        )),
        [one] => Ok(path(one)),
        several => {
            let last = path(several[several.len() - 1]);
            Ok(several[..several.len() - 1]
                .iter()
                .rev()
                .fold(last, |otherwise, id| {
                    format!("({} if {id} is defined else {otherwise})", path(id))
                }))
        }
    }
}

#[cfg(test)]
mod tests;
