//! A story's action graph drawn as SVG on the server, pure: actions in layers by their longest
//! distance from an entry point (stories are acyclic, validation guarantees it), links as curves
//! labelled with their kind, optional per-action counts, and a run's path highlighted. Styling is
//! by class (the CSP allows no inline style); text is escaped.

use super::view::escape_html;
use crate::story::kinds::LinkKind;
use crate::story::Story;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

const WIDTH: i64 = 210;
const HEIGHT: i64 = 62;
const HGAP: i64 = 36;
const VGAP: i64 = 56;
const MARGIN: i64 = 16;

/// What to draw over the bare graph.
#[derive(Debug, Default)]
pub(super) struct Overlay {
    /// Per action: succeeded, failed and waiting steps.
    pub counts: Option<HashMap<String, [i64; 3]>>,
    /// Actions this run reached.
    pub reached: HashSet<String>,
    /// Links this run's events travelled: `(from, to)` action ids.
    pub travelled: HashSet<(String, String)>,
}

/// Each action's layer: its longest distance from an action with no sources.
fn layers(story: &Story) -> Vec<usize> {
    let mut layer = vec![0usize; story.actions.len()];
    // Relaxing along every link at most `n` times settles the longest paths of an acyclic graph;
    // the bound keeps a malformed graph from looping.
    for _ in 0..story.actions.len() {
        let mut changed = false;
        for (index, action) in story.actions.iter().enumerate() {
            for link in &action.receivers {
                if layer[link.action] < layer[index] + 1 {
                    layer[link.action] = layer[index] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    layer
}

/// The story's graph as an `<svg>` element.
pub(super) fn draw(story: &Story, overlay: &Overlay) -> String {
    let layer = layers(story);
    let depth = layer.iter().max().map_or(0, |d| d + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (index, l) in layer.iter().enumerate() {
        rows[*l].push(index);
    }
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1).max(1) as i64;
    let width = MARGIN * 2 + widest * WIDTH + (widest - 1) * HGAP;
    let height = MARGIN * 2 + depth as i64 * HEIGHT + (depth as i64 - 1).max(0) * VGAP;
    let mut position = vec![(0i64, 0i64); story.actions.len()];
    for (row, members) in rows.iter().enumerate() {
        let count = members.len() as i64;
        let row_width = count * WIDTH + (count - 1).max(0) * HGAP;
        let left = (width - row_width) / 2;
        for (i, index) in members.iter().enumerate() {
            position[*index] = (
                left + i as i64 * (WIDTH + HGAP),
                MARGIN + row as i64 * (HEIGHT + VGAP),
            );
        }
    }
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\" role=\"img\" aria-labelledby=\"graph-title\">\
         <title id=\"graph-title\">Action graph of {}</title>\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"9\" \
         markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\"><path class=\"arrow\" d=\"M0,0 L10,5 L0,10 z\"/>\
         </marker></defs>",
        escape_html(&story.name)
    );
    for (index, action) in story.actions.iter().enumerate() {
        for link in &action.receivers {
            let target = &story.actions[link.action];
            let (x1, y1) = position[index];
            let (x2, y2) = position[link.action];
            let (x1, y1) = (x1 + WIDTH / 2, y1 + HEIGHT);
            let (x2, y2) = (x2 + WIDTH / 2, y2);
            let bend = (y2 - y1) / 2;
            let on = overlay
                .travelled
                .contains(&(action.id.clone(), target.id.clone()));
            let kind = match link.kind {
                LinkKind::Default => "default",
                LinkKind::NoMatch => "no_match",
                LinkKind::Failure => "failure",
            };
            // The label sits beside the curve's middle, on the side it bends away from.
            let (lx, anchor) = match x2.cmp(&x1) {
                std::cmp::Ordering::Less => ((x1 + x2) / 2 - 10, "end"),
                std::cmp::Ordering::Equal => (x1 + 8, "start"),
                std::cmp::Ordering::Greater => ((x1 + x2) / 2 + 10, "start"),
            };
            let _ = write!(
                svg,
                "<path class=\"edge edge-{kind}{on}\" d=\"M{x1},{y1} C{x1},{c1} {x2},{c2} {x2},{y2}\" \
                 marker-end=\"url(#arrow)\"/><text class=\"edge-label edge-{kind}\" x=\"{lx}\" \
                 y=\"{ly}\" text-anchor=\"{anchor}\">{kind}</text>",
                on = if on { " on" } else { "" },
                c1 = y1 + bend,
                c2 = y2 - bend,
                ly = (y1 + y2) / 2 - 4,
            );
        }
    }
    for (index, action) in story.actions.iter().enumerate() {
        let (x, y) = position[index];
        let on = overlay.reached.contains(&action.id);
        let _ = write!(
            svg,
            "<g class=\"node{on}\"><rect x=\"{x}\" y=\"{y}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" rx=\"6\"/>\
             <text class=\"node-id\" x=\"{tx}\" y=\"{y1}\">{id}</text>\
             <text class=\"node-kind\" x=\"{tx}\" y=\"{y2}\">{kind}</text>",
            on = if on { " on" } else { "" },
            tx = x + 10,
            y1 = y + 20,
            y2 = y + 36,
            id = escape_html(&truncate(&action.id, 26)),
            kind = action.config.kind_name(),
        );
        if let Some(counts) = &overlay.counts {
            let [ok, failed, waiting] = counts.get(&action.id).copied().unwrap_or_default();
            let _ = write!(
                svg,
                "<text class=\"node-counts\" x=\"{tx}\" y=\"{y3}\">{ok} ok · \
                 <tspan class=\"{fc}\">{failed} failed</tspan> · {waiting} waiting</text>",
                tx = x + 10,
                y3 = y + 53,
                fc = if failed > 0 { "bad" } else { "" },
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::{draw, layers, Overlay};
    use crate::story::validate::{check_story, Catalog};

    const STORY: &str = r#"
name: Graph
credentials:
  hook_secret: The webhook secret.
actions:
  hook:
    type: webhook
    options: {path: graph, secret_credential: hook_secret}
  check:
    type: trigger
    from: hook
    options:
      rules: [{type: field==value, path: "{{ hook.body.x }}", value: "1"}]
  yes:
    type: transform
    from: check
    options: {mode: message, payload: {ok: true}}
  no:
    type: transform
    from: check.no_match
    options: {mode: message, payload: {ok: false}}
"#;

    fn story() -> crate::story::Story {
        let catalog = Catalog::default();
        check_story("graph", STORY, &catalog).unwrap_or_else(|d| panic!("{d:?}"))
    }

    #[test]
    fn actions_are_layered_by_their_distance_from_the_webhook() {
        assert_eq!(layers(&story()), vec![0, 1, 2, 2]);
    }

    #[test]
    fn links_are_labelled_and_the_run_path_is_highlighted() {
        let overlay = Overlay {
            reached: ["hook", "check", "yes"].map(String::from).into(),
            travelled: [("check".to_owned(), "yes".to_owned())].into(),
            ..Overlay::default()
        };
        let svg = draw(&story(), &overlay);
        assert!(svg.contains(">no_match</text>"), "{svg}");
        assert!(svg.contains("class=\"edge edge-default on\""), "{svg}");
        assert_eq!(svg.matches("class=\"node on\"").count(), 3, "{svg}");
        assert!(!svg.contains("style="), "inline styles break the CSP");
    }
}
