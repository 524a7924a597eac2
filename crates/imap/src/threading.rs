//! The two threading algorithms of RFC 5256 §3 (ORDEREDSUBJECT and REFERENCES), REFS
//! (draft-ietf-morg-inthread: REFERENCES without subject grouping, by arrival date,
//! threads in the order of their newest messages), and the THREAD response they make.
//! Hand-written: no crate implements RFC 5256's variant of JWZ threading (dummy
//! pruning, subject grouping and date order are its own).
//!
//! Threads live in an arena of nodes indexed by number; every walk over them is a loop
//! with an explicit stack, never recursion, so a chain of a hundred thousand replies (or
//! a hostile one) cannot overflow the stack. Ties in date order fall back to the order
//! in the mailbox (RFC 5256 §3).

use std::collections::HashMap;

use crate::sortkeys::Fields;

/// One message to thread.
pub struct Item<'a> {
    /// What the response says for it: its sequence number, or its UID for UID THREAD.
    pub number: u32,
    /// The date threads are ordered by, Unix seconds: for ORDEREDSUBJECT and REFERENCES
    /// its sent date (INTERNALDATE when it has no readable Date), for REFS its
    /// INTERNALDATE (when it arrived).
    pub date: i64,
    /// What its header says.
    pub fields: &'a Fields,
}

/// A node of the thread tree: a message, or a dummy standing for one that is referenced
/// but not among the messages threaded.
#[derive(Clone, Default)]
struct Node {
    /// The message's index in the items, None for a dummy.
    item: Option<usize>,
    /// The node above, None at the top.
    parent: Option<usize>,
    /// The nodes below, in order.
    children: Vec<usize>,
}

/// The tree being built.
struct Tree<'a> {
    /// The messages, in mailbox order.
    items: &'a [Item<'a>],
    /// Every node; nodes are never freed (an unlinked one is simply not reached).
    nodes: Vec<Node>,
}

impl<'a> Tree<'a> {
    fn new_node(&mut self, item: Option<usize>) -> usize {
        self.nodes.push(Node {
            item,
            ..Node::default()
        });
        self.nodes.len() - 1
    }

    /// Makes `child` (which has no parent) the last child of `parent`.
    fn link(&mut self, parent: usize, child: usize) {
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.nodes[child].parent.take() {
            self.nodes[p].children.retain(|&c| c != child);
        }
    }

    /// True when `node` is `ancestor` or below it.
    fn is_under(&self, mut node: usize, ancestor: usize) -> bool {
        if self.nodes[ancestor].children.is_empty() {
            return node == ancestor;
        }
        loop {
            if node == ancestor {
                return true;
            }
            match self.nodes[node].parent {
                Some(p) => node = p,
                None => return false,
            }
        }
    }

    /// The date order key of a node: its message's (date, place in the mailbox), or
    /// for a dummy, that of its first child.
    fn key(&self, node: usize) -> (i64, usize) {
        let mut n = node;
        loop {
            if let Some(i) = self.nodes[n].item {
                return (self.items[i].date, i);
            }
            match self.nodes[n].children.first() {
                Some(&c) => n = c,
                None => return (i64::MAX, usize::MAX),
            }
        }
    }

    /// The message a node stands for in subject grouping: itself, or a dummy's first
    /// child.
    fn message(&self, node: usize) -> Option<&'a Fields> {
        let n = match self.nodes[node].item {
            Some(_) => node,
            None => *self.nodes[node].children.first()?,
        };
        self.nodes[n].item.map(|i| self.items[i].fields)
    }

    fn sort_children(&mut self, node: usize) {
        let mut children = std::mem::take(&mut self.nodes[node].children);
        children.sort_by_key(|&c| self.key(c));
        self.nodes[node].children = children;
    }

    /// Every node reachable from `roots`, each after all of its descendants.
    fn post_order(&self, roots: &[usize]) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(usize, bool)> = roots.iter().rev().map(|&r| (r, false)).collect();
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                out.push(n);
            } else {
                stack.push((n, true));
                stack.extend(self.nodes[n].children.iter().rev().map(|&c| (c, false)));
            }
        }
        out
    }
}

/// Steps 1 to 3 of THREAD=REFERENCES (RFC 5256 §3), which REFS shares: the messages
/// linked by their references, dummies pruned; the tree and its top-level nodes.
fn linked<'a>(items: &'a [Item<'a>]) -> (Tree<'a>, Vec<usize>) {
    let mut t = Tree {
        items,
        nodes: Vec::with_capacity(items.len() * 2),
    };
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(items.len() * 2);
    // (1) Link messages by their references.
    for (i, item) in items.iter().enumerate() {
        let f = item.fields;
        // (1A) A message whose Message-ID is missing, or already taken by an earlier
        // message, gets a node of its own that nothing can reference.
        let node = match f.message_id.as_deref() {
            Some(id) => match by_id.get(id) {
                Some(&n) if t.nodes[n].item.is_none() => {
                    t.nodes[n].item = Some(i);
                    n
                }
                Some(_) => t.new_node(Some(i)),
                None => {
                    let n = t.new_node(Some(i));
                    by_id.insert(id, n);
                    n
                }
            },
            None => t.new_node(Some(i)),
        };
        let mut prev: Option<usize> = None;
        for r in &f.references {
            let r_node = match by_id.get(r.as_str()) {
                Some(&n) => n,
                None => {
                    let n = t.new_node(None);
                    by_id.insert(r, n);
                    n
                }
            };
            // Each reference is the parent of the next, unless that one already has a
            // parent or the link would make a loop.
            if let Some(p) = prev
                && p != r_node
                && t.nodes[r_node].parent.is_none()
                && !t.is_under(p, r_node)
            {
                t.link(p, r_node);
            }
            prev = Some(r_node);
        }
        // (1B) The message goes under its last reference, whatever parent it had.
        t.unlink(node);
        if let Some(p) = prev
            && p != node
            && !t.is_under(p, node)
        {
            t.link(p, node);
        }
    }
    // (2) Every node without a parent is at the top.
    let roots: Vec<usize> = (0..t.nodes.len())
        .filter(|&n| t.nodes[n].parent.is_none())
        .collect();
    // (3) Prune dummies, deepest first: a dummy without children goes; one with
    // children gives them to its parent, except at the top, where only a single child
    // is promoted.
    let order = t.post_order(&roots);
    for &n in &order {
        if t.nodes[n].children.is_empty() {
            continue;
        }
        let children = std::mem::take(&mut t.nodes[n].children);
        let mut kept = Vec::with_capacity(children.len());
        for c in children {
            if t.nodes[c].item.is_some() {
                kept.push(c);
                continue;
            }
            for g in std::mem::take(&mut t.nodes[c].children) {
                t.nodes[g].parent = Some(n);
                kept.push(g);
            }
        }
        t.nodes[n].children = kept;
    }
    let mut top = Vec::with_capacity(roots.len());
    for r in roots {
        if t.nodes[r].item.is_some() {
            top.push(r);
            continue;
        }
        match t.nodes[r].children.len() {
            0 => {}
            1 => {
                let c = t.nodes[r].children[0];
                t.nodes[c].parent = None;
                top.push(c);
            }
            _ => top.push(r),
        }
    }
    (t, top)
}

/// THREAD=REFERENCES (RFC 5256 §3, "REFERENCES"): the threads of `items` (in mailbox
/// order), as the text after `* THREAD`.
pub fn references(items: &[Item<'_>]) -> String {
    let (mut t, mut top) = linked(items);
    // (4) The top in date order (a dummy by its earliest child).
    for &n in &top {
        if t.nodes[n].item.is_none() {
            t.sort_children(n);
        }
    }
    top.sort_by_key(|&n| t.key(n));
    // (5) Threads whose first messages share a base subject are gathered.
    let mut table: HashMap<&str, usize> = HashMap::new();
    for &n in &top {
        let Some(f) = t.message(n) else { continue };
        if f.subject.is_empty() {
            continue;
        }
        let dummy = t.nodes[n].item.is_none();
        match table.get(f.subject.as_str()) {
            None => {
                table.insert(&f.subject, n);
            }
            Some(&old) => {
                let old_dummy = t.nodes[old].item.is_none();
                let old_reply = t.message(old).is_some_and(|o| o.reply);
                if !old_dummy && (dummy || (old_reply && !f.reply)) {
                    table.insert(&f.subject, n);
                }
            }
        }
    }
    let mut slots: Vec<Option<usize>> = top.iter().copied().map(Some).collect();
    let mut slot_of: HashMap<usize, usize> = top.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    for i in 0..slots.len() {
        let Some(n) = slots[i] else { continue };
        let Some(f) = t.message(n) else { continue };
        if f.subject.is_empty() {
            continue;
        }
        let subject = f.subject.as_str();
        let reply = f.reply;
        let Some(&old) = table.get(subject) else {
            continue;
        };
        if old == n {
            continue;
        }
        let dummy = t.nodes[n].item.is_none();
        let old_dummy = t.nodes[old].item.is_none();
        let old_reply = t.message(old).is_some_and(|o| o.reply);
        slots[i] = None;
        if dummy && old_dummy {
            for c in std::mem::take(&mut t.nodes[n].children) {
                t.nodes[c].parent = None;
                t.link(old, c);
            }
        } else if old_dummy || (reply && !old_reply) {
            t.link(old, n);
        } else {
            let d = t.new_node(None);
            let at = slot_of[&old];
            t.link(d, old);
            t.link(d, n);
            slots[at] = Some(d);
            slot_of.insert(d, at);
            table.insert(subject, d);
        }
    }
    let top: Vec<usize> = slots.into_iter().flatten().collect();
    // (6) Every set of siblings in date order, the deepest first.
    for n in t.post_order(&top) {
        if t.nodes[n].children.len() > 1 {
            t.sort_children(n);
        }
    }
    let mut top = top;
    top.sort_by_key(|&n| t.key(n));
    write(&t, &top)
}

/// THREAD=REFS (draft-ietf-morg-inthread): REFERENCES' linking and pruning (steps 1
/// to 3) without its subject grouping (step 5); siblings in order of arrival (`date` is
/// INTERNALDATE here), and the threads in order of their newest message's arrival, so
/// the thread that last grew comes last. Ties go by the place in the mailbox.
pub fn refs(items: &[Item<'_>]) -> String {
    let (mut t, mut top) = linked(items);
    for n in t.post_order(&top) {
        if t.nodes[n].children.len() > 1 {
            t.sort_children(n);
        }
    }
    // The newest (date, place) under each node, children before parents.
    let mut newest = vec![(i64::MIN, 0usize); t.nodes.len()];
    for n in t.post_order(&top) {
        let own = t.nodes[n]
            .item
            .map_or((i64::MIN, 0), |i| (t.items[i].date, i));
        newest[n] = t.nodes[n]
            .children
            .iter()
            .map(|&c| newest[c])
            .fold(own, std::cmp::max);
    }
    top.sort_by_key(|&n| newest[n]);
    write(&t, &top)
}

/// THREAD=ORDEREDSUBJECT (RFC 5256 §3): messages grouped by base subject, each group a
/// thread whose first message (by date) is the parent of all the others; threads in the
/// order of their first messages.
pub fn ordered_subject(items: &[Item<'_>]) -> String {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&items[a], &items[b]);
        x.fields
            .subject
            .cmp(&y.fields.subject)
            .then(x.date.cmp(&y.date))
            .then(a.cmp(&b))
    });
    let mut t = Tree {
        items,
        nodes: Vec::with_capacity(items.len()),
    };
    let mut top = Vec::new();
    let mut current: Option<(usize, &str)> = None;
    for i in order {
        let subject = items[i].fields.subject.as_str();
        let n = t.new_node(Some(i));
        match current {
            Some((first, s)) if s == subject => t.link(first, n),
            _ => {
                top.push(n);
                current = Some((n, subject));
            }
        }
    }
    top.sort_by_key(|&n| t.key(n));
    write(&t, &top)
}

/// The thread-list text of RFC 5256 §4 for the top-level nodes `top`: one parenthesised
/// list per thread; a message with one child is followed by it in the same list, one
/// with several by a parenthesised list per child; a dummy shows only its children.
fn write(t: &Tree<'_>, top: &[usize]) -> String {
    use std::fmt::Write as _;
    enum Step {
        /// Write the thread from this node down.
        Node(usize),
        /// Write this text.
        Text(&'static str),
    }
    let mut out = String::with_capacity(t.items.len() * 8);
    let mut stack: Vec<Step> = Vec::new();
    for &n in top.iter().rev() {
        stack.push(Step::Text(")"));
        stack.push(Step::Node(n));
        stack.push(Step::Text("("));
    }
    while let Some(step) = stack.pop() {
        let mut n = match step {
            Step::Text(s) => {
                out.push_str(s);
                continue;
            }
            Step::Node(n) => n,
        };
        // A run of single children, written one after the other.
        loop {
            if let Some(i) = t.nodes[n].item {
                if !out.ends_with('(') {
                    out.push(' ');
                }
                let _ = write!(out, "{}", t.items[i].number);
            }
            match t.nodes[n].children.as_slice() {
                [] => break,
                [only] if t.nodes[n].item.is_some() => n = *only,
                children => {
                    if t.nodes[n].item.is_some() {
                        out.push(' ');
                    }
                    for &c in children.iter().rev() {
                        stack.push(Step::Text(")"));
                        stack.push(Step::Node(c));
                        stack.push(Step::Text("("));
                    }
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(id: &str, refs: &[&str], subject: &str) -> Fields {
        let (base, reply) = crate::sortkeys::base_subject(subject);
        Fields {
            subject: base.to_ascii_uppercase(),
            reply,
            message_id: (!id.is_empty()).then(|| id.to_string()),
            references: refs.iter().map(|r| r.to_string()).collect(),
            ..Fields::default()
        }
    }

    fn run(algo: fn(&[Item<'_>]) -> String, msgs: &[(&str, &[&str], &str, i64)]) -> String {
        let f: Vec<Fields> = msgs
            .iter()
            .map(|(id, refs, s, _)| fields(id, refs, s))
            .collect();
        let items: Vec<Item> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| Item {
                number: i as u32 + 1,
                date: m.3,
                fields: &f[i],
            })
            .collect();
        algo(&items)
    }

    #[test]
    fn references_threads() {
        // 1 <- 2 <- 3, 2 <- 4; 5 alone; 6 answers a message not here (dummy, pruned).
        let t = run(
            references,
            &[
                ("a", &[], "one", 1),
                ("b", &["a"], "Re: one", 2),
                ("c", &["a", "b"], "Re: one", 3),
                ("d", &["a", "b"], "Re: one", 4),
                ("e", &[], "two", 5),
                ("f", &["zz"], "three", 6),
            ],
        );
        assert_eq!(t, "(1 2 (3)(4))(5)(6)");
        // Two answers to a missing message: a dummy at the top keeps them together.
        let t = run(
            references,
            &[
                ("x", &["gone"], "Re: lost", 2),
                ("y", &["gone"], "Re: lost", 1),
            ],
        );
        assert_eq!(t, "((2)(1))");
        // Same base subject, no references: the reply goes under the original.
        let t = run(
            references,
            &[("p", &[], "Re: news", 2), ("q", &[], "news", 3)],
        );
        assert_eq!(t, "(2 1)");
        // Two originals with one subject: a dummy over both.
        let t = run(references, &[("p", &[], "news", 2), ("q", &[], "news", 1)]);
        assert_eq!(t, "((2)(1))");
        // A loop in the references is not followed; duplicate ids are kept apart.
        let t = run(
            references,
            &[
                ("a", &["b"], "x", 1),
                ("b", &["a"], "y", 2),
                ("a", &[], "z", 3),
            ],
        );
        assert_eq!(t, "(2 1)(3)");
    }

    #[test]
    fn refs_threads() {
        // As REFERENCES links them: 1 <- 2 <- 3, 2 <- 4; 5 alone; but the threads go by
        // their newest message: 5 (date 5) before 1's thread, whose 4 arrived last.
        // Siblings by arrival: 4 (date 3) before 3 (date 9)... 3 is newest overall.
        let t = run(
            refs,
            &[
                ("a", &[], "one", 1),
                ("b", &["a"], "Re: one", 2),
                ("c", &["a", "b"], "Re: one", 9),
                ("d", &["a", "b"], "Re: one", 3),
                ("e", &[], "two", 5),
            ],
        );
        assert_eq!(t, "(5)(1 2 (4)(3))");
        // No subject grouping: a reply by subject alone stays a thread of its own, and
        // two originals with one subject are two threads.
        let t = run(
            refs,
            &[
                ("p", &[], "Re: news", 2),
                ("q", &[], "news", 3),
                ("r", &[], "news", 1),
            ],
        );
        assert_eq!(t, "(3)(1)(2)");
        // Two answers to a missing message: kept together under a dummy, ordered by the
        // newer of them.
        let t = run(
            refs,
            &[
                ("x", &["gone"], "Re: lost", 4),
                ("y", &["gone"], "Re: lost", 1),
                ("z", &[], "other", 3),
            ],
        );
        assert_eq!(t, "(3)((2)(1))");
    }

    #[test]
    fn ordered_subject_threads() {
        let t = run(
            ordered_subject,
            &[
                ("", &[], "b", 5),
                ("", &[], "Re: a", 2),
                ("", &[], "a", 1),
                ("", &[], "B", 4),
                ("", &[], "a", 3),
                ("", &[], "c", 6),
            ],
        );
        assert_eq!(t, "(3 (2)(5))(4 1)(6)");
    }

    #[test]
    fn deep_chains_do_not_recurse() {
        let n = 100_000;
        let f: Vec<Fields> = (0..n)
            .map(|i| Fields {
                message_id: Some(format!("m{i}")),
                references: if i == 0 {
                    vec![]
                } else {
                    vec![format!("m{}", i - 1)]
                },
                ..Fields::default()
            })
            .collect();
        let items: Vec<Item> = (0..n)
            .map(|i| Item {
                number: i as u32 + 1,
                date: i as i64,
                fields: &f[i],
            })
            .collect();
        let t = references(&items);
        assert!(t.starts_with("(1 2 3 ") && t.ends_with(" 100000)"));
    }
}
