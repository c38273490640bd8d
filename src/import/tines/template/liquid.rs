//! The older Liquid dialect → minijinja: `{{ .action.path | filter: arg }}` outputs and the tags
//! Tines adds (`credential`, `global_resource`, `prompt`, `story_run_guid`, `line_break`) or
//! Liquid has (`if`/`elsif`/`unless`, `for`, `assign`, `comment`).

use super::formula::ruby_backrefs;
use super::{resolve, string_literal, Found, Place, Seg};

/// A `{{ … }}` body → a minijinja expression.
pub fn output(
    inner: &str,
    place: &Place,
    locals: &[String],
    found: &mut Found,
) -> Result<String, String> {
    let mut parts = split_top(inner, '|').into_iter();
    let primary = parts.next().unwrap_or_default();
    let mut expr = operand(primary.trim(), place, locals, found)?;
    for filter in parts {
        let (name, args) = match filter.split_once(':') {
            Some((name, args)) => (name.trim(), split_top(args, ',')),
            None => (filter.trim(), Vec::new()),
        };
        let args = args
            .iter()
            .map(|a| operand(a.trim(), place, locals, found))
            .collect::<Result<Vec<_>, _>>()?;
        expr = apply_filter(&expr, name, &args, filter)?;
    }
    Ok(expr)
}

/// One Liquid filter on `expr`.
fn apply_filter(expr: &str, name: &str, args: &[String], written: &str) -> Result<String, String> {
    let simple = |f: &str, n: usize| -> Result<String, String> {
        if args.len() != n {
            return Err(format!(
                "filter `{}` with {} arguments",
                written.trim(),
                args.len()
            ));
        }
        Ok(if n == 0 {
            format!("{expr} | {f}")
        } else {
            format!("{expr} | {f}({})", args.join(", "))
        })
    };
    let binary = |op: &str| -> Result<String, String> {
        match args {
            [arg] => Ok(format!("({expr} {op} {arg})")),
            _ => Err(format!("filter `{}` needs one argument", written.trim())),
        }
    };
    match name {
        // A whole-field expression keeps its JSON type in Warden: `as_object` is what it does.
        "as_object" => Ok(expr.to_owned()),
        "json" | "neat_json" | "to_json" => simple("json", 0),
        "parse_json" | "json_parse" => simple("from_json", 0),
        "jsonpath" => simple("jsonpath", 1),
        "upcase" => simple("upper", 0),
        "downcase" => simple("lower", 0),
        "capitalize" => simple("capitalize", 0),
        "strip" => simple("trim", 0),
        "size" => simple("length", 0),
        "first" => simple("first", 0),
        "last" => simple("last", 0),
        "uniq" => simple("unique", 0),
        "sort" => simple("sort", 0),
        "reverse" => simple("reverse", 0),
        "join" => simple("join", 1),
        "split" => simple("split", 1),
        "default" => simple("default", 1),
        "url_encode" => simple("urlencode", 0),
        "base64_encode" => simple("b64encode", 0),
        "base64_decode" => simple("b64decode", 0),
        "sha256" => simple("sha256", 0),
        "escape" => simple("escape", 0),
        "strip_newlines" => Ok(format!("{expr} | replace(\"\\n\", \"\")")),
        "newline_to_br" => Ok(format!("{expr} | replace(\"\\n\", \"<br />\\n\")")),
        "abs" => simple("abs", 0),
        "round" if args.is_empty() => simple("round", 0),
        "round" => simple("round", 1),
        "date" => simple("date", 1),
        "replace" => simple("replace", 2),
        "remove" => match args {
            [arg] => Ok(format!("{expr} | replace({arg}, \"\")")),
            _ => Err("filter `remove` needs one argument".into()),
        },
        "regex_replace" => match args {
            [pattern, replacement] => {
                let replacement = match serde_json::from_str::<String>(replacement) {
                    Ok(text) => string_literal(&ruby_backrefs(&text)),
                    Err(_) => replacement.clone(),
                };
                Ok(format!("{expr} | regex_replace({pattern}, {replacement})"))
            }
            _ => Err("filter `regex_replace` needs two arguments".into()),
        },
        "append" => binary("~"),
        "prepend" => match args {
            [arg] => Ok(format!("({arg} ~ {expr})")),
            _ => Err("filter `prepend` needs one argument".into()),
        },
        "plus" => binary("+"),
        "minus" => binary("-"),
        "times" => binary("*"),
        "divided_by" => binary("/"),
        "modulo" => binary("%"),
        other => Err(format!(
            "Liquid filter `{other}` has no minijinja equivalent"
        )),
    }
}

/// A literal or a path.
fn operand(
    text: &str,
    place: &Place,
    locals: &[String],
    found: &mut Found,
) -> Result<String, String> {
    if text.is_empty() {
        return Err("an empty expression".into());
    }
    if let Some(literal) = literal(text) {
        return Ok(literal);
    }
    let (root, segs) = path(text)?;
    let segs = segs
        .into_iter()
        .map(|seg| match seg {
            Seg::Computed(inner) => operand(&inner, place, locals, found).map(Seg::Computed),
            other => Ok(other),
        })
        .collect::<Result<Vec<_>, _>>()?;
    resolve(&root, &segs, place, locals, found)
}

fn literal(text: &str) -> Option<String> {
    let quoted = |q: char| {
        (text.len() >= 2 && text.starts_with(q) && text.ends_with(q))
            .then(|| string_literal(&text[1..text.len() - 1]))
    };
    if let Some(s) = quoted('"').or_else(|| quoted('\'')) {
        return Some(s);
    }
    if text.parse::<f64>().is_ok() {
        return Some(text.to_owned());
    }
    match text {
        "true" | "false" => Some(text.to_owned()),
        "nil" | "null" => Some("none".to_owned()),
        _ => None,
    }
}

/// `.a.b['c'][0]` (the leading dot is optional; Tines also writes `.a.['c']`).
fn path(text: &str) -> Result<(String, Vec<Seg>), String> {
    let text = text.strip_prefix('.').unwrap_or(text);
    let mut segs = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut name = String::new();
    let flush = |name: &mut String, segs: &mut Vec<Seg>| {
        if !name.is_empty() {
            segs.push(match name.parse::<i64>() {
                Ok(n) if !segs.is_empty() => Seg::Index(n),
                _ => Seg::Key(std::mem::take(name)),
            });
            name.clear();
        }
    };
    while i < chars.len() {
        match chars[i] {
            '.' => flush(&mut name, &mut segs),
            '[' => {
                flush(&mut name, &mut segs);
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .ok_or("a `[` is not closed")?;
                let inside: String = chars[i + 1..i + end].iter().collect();
                let inside = inside.trim();
                let unquoted = inside
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                segs.push(match (unquoted, inside.parse::<i64>()) {
                    (Some(key), _) => Seg::Key(key.to_owned()),
                    (None, Ok(n)) => Seg::Index(n),
                    // Translated by the caller, which knows the scope.
                    _ if !inside.is_empty() && !inside.contains('[') => {
                        Seg::Computed(inside.to_owned())
                    }
                    _ => return Err(format!("a computed index `[{inside}]`")),
                });
                i += end;
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' || c == '#' || c == '@' => {
                name.push(c)
            }
            c => return Err(format!("unexpected `{c}` in a path")),
        }
        i += 1;
    }
    flush(&mut name, &mut segs);
    if segs.is_empty() {
        return Err("an empty path".into());
    }
    match segs.remove(0) {
        Seg::Key(root) => Ok((root, segs)),
        _ => Err("a path starting with an index".into()),
    }
}

/// Splits at `sep` outside quotes.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == sep => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            None => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A `{% … %}` tag → minijinja text. Control-flow tags always give balanced output: a condition
/// that cannot be translated becomes `false` (its note says so), so the template still parses.
pub fn tag(
    inner: &str,
    place: &Place,
    locals: &mut Vec<String>,
    found: &mut Found,
) -> Result<String, String> {
    let (name, args) = inner
        .split_once(char::is_whitespace)
        .map_or((inner, ""), |(n, a)| (n, a.trim()));
    let expression = |e: Result<String, String>| e.map(|e| format!("{{{{ {e} }}}}"));
    match name {
        "credential" => expression(resolve(
            "CREDENTIAL",
            &[Seg::Key(args.to_owned())],
            place,
            locals,
            found,
        )),
        "global_resource" => expression(resolve(
            "RESOURCE",
            &[Seg::Key(args.to_owned())],
            place,
            locals,
            found,
        )),
        "story_run_guid" => Ok("{{ run.id }}".into()),
        "story" => expression(
            place
                .refs
                .stories
                .get(args)
                .map(|id| string_literal(id))
                .ok_or_else(|| format!("story `{args}` is not in this export")),
        ),
        "line_break" => Ok("\n".into()),
        "prompt" => {
            if !place.prompt {
                return Err("a prompt link outside an action that became a `prompt`".into());
            }
            found.prompts.push(args.to_owned());
            Ok(format!(
                "{{{{ prompt_url({}) }}}}",
                string_literal(&super::super::prompt_status(args))
            ))
        }
        "if" | "elsif" | "unless" => {
            let condition = match condition(args, place, locals, found) {
                Ok(c) => c,
                Err(why) => {
                    found.notes.push(format!(
                        "`{{% {inner} %}}`: {why}; the branch is never taken"
                    ));
                    "false".into()
                }
            };
            Ok(match name {
                "if" => format!("{{% if {condition} %}}"),
                "elsif" => format!("{{% elif {condition} %}}"),
                _ => format!("{{% if not ({condition}) %}}"),
            })
        }
        "else" => Ok("{% else %}".into()),
        "endif" | "endunless" => Ok("{% endif %}".into()),
        "for" => {
            let Some((var, over)) = args.split_once(" in ") else {
                return Err("a `for` without `in`".into());
            };
            let var = var.trim().to_owned();
            let over = match operand(over.trim(), place, locals, found) {
                Ok(o) => o,
                Err(why) => {
                    found.notes.push(format!(
                        "`{{% {inner} %}}`: {why}; the loop runs over nothing"
                    ));
                    "[]".into()
                }
            };
            locals.push(var.clone());
            Ok(format!("{{% for {var} in {over} %}}"))
        }
        "endfor" => Ok("{% endfor %}".into()),
        "assign" => {
            let (var, value) = args.split_once('=').ok_or("an `assign` without `=`")?;
            let var = var.trim().to_owned();
            let value = output(value.trim(), place, locals, found)?;
            locals.push(var.clone());
            Ok(format!("{{% set {var} = {value} %}}"))
        }
        "comment" => Ok("{#".into()),
        "endcomment" => Ok("#}".into()),
        other => Err(format!("Liquid tag `{other}` has no minijinja equivalent")),
    }
}

/// `a == "x" and b contains 'y'` → minijinja.
fn condition(
    text: &str,
    place: &Place,
    locals: &[String],
    found: &mut Found,
) -> Result<String, String> {
    let words = words(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let left = words[i];
        let (op, right) = match (words.get(i + 1), words.get(i + 2)) {
            (Some(op), Some(right)) if !matches!(*op, "and" | "or") => (Some(*op), Some(*right)),
            _ => (None, None),
        };
        let piece = match (op, right) {
            (None, _) => operand(left, place, locals, found)?,
            (Some("contains"), Some(right)) => format!(
                "({} in {})",
                operand(right, place, locals, found)?,
                operand(left, place, locals, found)?
            ),
            (Some(op @ ("==" | "!=")), Some("blank" | "empty")) => {
                let l = operand(left, place, locals, found)?;
                if op == "==" {
                    format!("(not {l})")
                } else {
                    format!("(not not {l})")
                }
            }
            (Some(op @ ("==" | "!=" | "<" | ">" | "<=" | ">=")), Some(right)) => format!(
                "({} {op} {})",
                operand(left, place, locals, found)?,
                operand(right, place, locals, found)?
            ),
            (Some(op), _) => return Err(format!("operator `{op}`")),
        };
        out.push(piece);
        i += if op.is_some() { 3 } else { 1 };
        match words.get(i) {
            Some(&c @ ("and" | "or")) => {
                out.push(c.to_owned());
                i += 1;
            }
            Some(other) => return Err(format!("unexpected `{other}` in a condition")),
            None => {}
        }
    }
    if out.is_empty() {
        return Err("an empty condition".into());
    }
    Ok(out.join(" "))
}

/// Words, keeping quoted strings whole.
fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quote = None;
    let mut start = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                start.get_or_insert(i);
            }
            None if c.is_whitespace() => {
                if let Some(s) = start.take() {
                    out.push(&text[s..i]);
                }
            }
            None => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}
