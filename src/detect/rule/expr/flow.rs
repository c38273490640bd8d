//! Expressions rendered on one line, for messages.

use crate::yaml::{resolve_plain, Node, NodeKind, Resolved};

/// A node on one line in YAML flow style, at most about 160 characters, for messages.
pub(super) fn flow(node: &Node) -> String {
    let mut out = String::new();
    write_flow(node, &mut out);
    if out.chars().count() > 160 {
        out = out.chars().take(157).collect();
        out.push_str("...");
    }
    out
}

fn write_flow(node: &Node, out: &mut String) {
    match &node.kind {
        NodeKind::Plain(text) => out.push_str(text),
        NodeKind::Str(text) => {
            let plain_reads_the_same = !text.is_empty()
                && resolve_plain(text) == Resolved::Str(text)
                && text.trim() == text
                && !text.contains([
                    ',', ':', '{', '}', '[', ']', '#', '&', '*', '!', '|', '>', '\'', '"', '%',
                    '@', '`',
                ]);
            if plain_reads_the_same {
                out.push_str(text);
            } else {
                out.push_str(&serde_json::to_string(text).unwrap_or_default());
            }
        }
        NodeKind::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(item, out);
            }
            out.push(']');
        }
        NodeKind::Map(entries) => {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&key.name);
                out.push_str(": ");
                write_flow(value, out);
            }
            out.push('}');
        }
    }
}
