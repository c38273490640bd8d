//! The link graph of an export: links by index, the loops Warden cannot run (its stories are
//! acyclic) found and cut, and each action's ancestors, nearest first (what its templates read).

use super::export::LinkType;
use std::collections::{BTreeSet, VecDeque};

/// A kept link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// Source node.
    pub source: usize,
    /// Receiving node.
    pub receiver: usize,
    /// Which way events leave the source.
    pub kind: LinkType,
}

/// Splits `edges` into those kept and those that close a loop (found by a depth-first walk in
/// node order, so the result does not depend on link order).
pub fn cut_cycles(nodes: usize, edges: &[Edge]) -> (Vec<Edge>, Vec<Edge>) {
    let mut sorted = edges.to_vec();
    sorted.sort();
    sorted.dedup();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; nodes];
    let mut back = BTreeSet::new();
    for start in 0..nodes {
        if mark[start] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, index of the next outgoing edge).
        let mut stack = vec![(start, 0usize)];
        mark[start] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let out: Vec<&Edge> = sorted.iter().filter(|e| e.source == node).collect();
            if let Some(edge) = out.get(*next).copied() {
                *next += 1;
                match mark[edge.receiver] {
                    Mark::New => {
                        mark[edge.receiver] = Mark::Open;
                        stack.push((edge.receiver, 0));
                    }
                    Mark::Open => {
                        back.insert(*edge);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    sorted.into_iter().partition(|e| !back.contains(e))
}

/// The ancestors of `node` along `edges`, nearest first (ties in node order).
pub fn ancestors(node: usize, edges: &[Edge]) -> Vec<usize> {
    let mut seen = BTreeSet::from([node]);
    let mut order = Vec::new();
    let mut queue = VecDeque::from([node]);
    while let Some(n) = queue.pop_front() {
        let mut parents: Vec<usize> = edges
            .iter()
            .filter(|e| e.receiver == n)
            .map(|e| e.source)
            .collect();
        parents.sort();
        for p in parents {
            if seen.insert(p) {
                order.push(p);
                queue.push_back(p);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(source: usize, receiver: usize) -> Edge {
        Edge {
            source,
            receiver,
            kind: LinkType::Default,
        }
    }

    #[test]
    fn a_loop_is_cut_at_the_link_that_closes_it() {
        let (kept, cut) = cut_cycles(3, &[edge(0, 1), edge(1, 2), edge(2, 1)]);
        assert_eq!(kept, vec![edge(0, 1), edge(1, 2)]);
        assert_eq!(cut, vec![edge(2, 1)]);
    }

    #[test]
    fn ancestors_are_listed_nearest_first() {
        let edges = [edge(0, 1), edge(1, 3), edge(2, 3), edge(0, 2)];
        assert_eq!(ancestors(3, &edges), vec![1, 2, 0]);
    }
}
