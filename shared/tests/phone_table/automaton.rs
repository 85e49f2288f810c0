//! libphonenumber's number patterns turned into one deterministic automaton over the digits 0-9.
//!
//! Every pattern of a region becomes a tagged branch of one NFA (Thompson construction from
//! regex-syntax's HIR); the subset construction gives a DFA whose states carry the set of tags
//! (patterns) that match the digits read so far in full. All regions' DFAs are then minimised
//! together, so the `\d{6}` tails that every region ends in are stored once.

use std::collections::HashMap;

use regex_syntax::hir::{Class, Hir, HirKind};

/// A set of digits: bit `d` stands for the digit `d`.
type Digits = u16;

/// Digits counted before the count saturates: above every national number's length (at most 17).
const MAX_DEPTH: usize = 20;

#[derive(Default)]
struct Nfa {
    epsilon: Vec<Vec<usize>>,
    steps: Vec<Vec<(Digits, usize)>>,
    tags: Vec<u16>,
}

impl Nfa {
    fn state(&mut self) -> usize {
        self.epsilon.push(Vec::new());
        self.steps.push(Vec::new());
        self.tags.push(0);
        self.epsilon.len() - 1
    }

    /// Adds `hir` starting at `from`; returns the state reached at its end.
    fn add(&mut self, hir: &Hir, from: usize) -> usize {
        match hir.kind() {
            HirKind::Empty => from,
            HirKind::Literal(lit) => lit
                .0
                .iter()
                .fold(from, |at, &b| self.step(at, digits_of_byte(b))),
            HirKind::Class(class) => self.step(from, digits_of_class(class)),
            HirKind::Look(look) => panic!("anchors ({look:?}) have no place in a number pattern"),
            HirKind::Capture(cap) => self.add(&cap.sub, from),
            HirKind::Concat(parts) => parts.iter().fold(from, |at, part| self.add(part, at)),
            HirKind::Alternation(alts) => {
                let end = self.state();
                for alt in alts {
                    let e = self.add(alt, from);
                    self.epsilon[e].push(end);
                }
                end
            }
            HirKind::Repetition(rep) => {
                let mut at = from;
                for _ in 0..rep.min {
                    at = self.add(&rep.sub, at);
                }
                match rep.max {
                    // A loop gets a fresh state so nothing else can flow back into `from`.
                    None => {
                        let looped = self.state();
                        self.epsilon[at].push(looped);
                        let e = self.add(&rep.sub, looped);
                        self.epsilon[e].push(looped);
                        looped
                    }
                    Some(max) => {
                        let end = self.state();
                        self.epsilon[at].push(end);
                        for _ in rep.min..max {
                            at = self.add(&rep.sub, at);
                            self.epsilon[at].push(end);
                        }
                        end
                    }
                }
            }
        }
    }

    fn step(&mut self, from: usize, digits: Digits) -> usize {
        let to = self.state();
        self.steps[from].push((digits, to));
        to
    }

    fn closure(&self, set: &mut Vec<usize>) {
        let mut i = 0;
        while i < set.len() {
            for &n in &self.epsilon[set[i]] {
                if !set.contains(&n) {
                    set.push(n);
                }
            }
            i += 1;
        }
        set.sort_unstable();
    }
}

fn digits_of_byte(b: u8) -> Digits {
    assert!(
        b.is_ascii_digit(),
        "a number pattern matched {:?}",
        b as char
    );
    1 << (b - b'0')
}

/// Only the ASCII digits of a class count: `\d` is Unicode-wide in regex-syntax.
fn digits_of_class(class: &Class) -> Digits {
    let mut set = 0;
    for d in 0..10u8 {
        let c = b'0' + d;
        let hit = match class {
            Class::Unicode(u) => u
                .ranges()
                .iter()
                .any(|r| r.start() <= c as char && c as char <= r.end()),
            Class::Bytes(b) => b.ranges().iter().any(|r| r.start() <= c && c <= r.end()),
        };
        if hit {
            set |= 1 << d;
        }
    }
    set
}

fn parse(pattern: &str) -> Hir {
    regex_syntax::ParserBuilder::new()
        .ignore_whitespace(true)
        .build()
        .parse(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

/// A DFA state: the tags of the patterns that match in full here, and where each digit leads
/// (`None`: nowhere, no pattern can match any more).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct State {
    pub tags: u16,
    pub next: [Option<u32>; 10],
}

/// Many regions' automata in one state list; `starts` says where each region begins.
#[derive(Default)]
pub struct Automata {
    pub states: Vec<State>,
}

impl Automata {
    /// Adds a DFA for `patterns`: (tag, lengths it may have as a bit set, pattern). A state
    /// carries a pattern's tag when the digits read so far match it in full and their count is
    /// one of its lengths, so the runtime needs no separate length check. Returns the start.
    pub fn add(&mut self, patterns: &[(u16, u32, String)]) -> u32 {
        let mut nfa = Nfa::default();
        let start = nfa.state();
        let mut lengths_of_tag = [0u32; 16];
        for (tag, lengths, pattern) in patterns {
            let s = nfa.state();
            nfa.epsilon[start].push(s);
            let end = nfa.add(&parse(pattern), s);
            nfa.tags[end] |= tag;
            lengths_of_tag[tag.trailing_zeros() as usize] |= lengths;
        }
        // Tags allowed after `depth` digits; past the longest length none is.
        let allowed = |depth: usize| -> u16 {
            (0..16)
                .filter(|&t| lengths_of_tag[t] & (1 << depth.min(31)) != 0)
                .fold(0, |m, t| m | 1 << t)
        };
        let mut first = vec![start];
        nfa.closure(&mut first);
        let first = (first, 0usize);
        let base = self.states.len() as u32;
        let mut ids: HashMap<(Vec<usize>, usize), u32> = HashMap::from([(first.clone(), base)]);
        let mut todo = vec![first];
        self.states.push(State {
            tags: 0,
            next: [None; 10],
        });
        while let Some((set, depth)) = todo.pop() {
            let id = ids[&(set.clone(), depth)];
            let tags = set.iter().fold(0, |t, &n| t | nfa.tags[n]) & allowed(depth);
            let mut state = State {
                tags,
                next: [None; 10],
            };
            // Past the longest length nothing can match: no state beyond it is needed.
            let deeper = (depth + 1).min(MAX_DEPTH);
            for d in 0..10 {
                let mut to: Vec<usize> = set
                    .iter()
                    .flat_map(|&n| nfa.steps[n].iter())
                    .filter(|(digits, _)| digits & (1 << d) != 0)
                    .map(|&(_, t)| t)
                    .collect();
                if to.is_empty() {
                    continue;
                }
                to.sort_unstable();
                to.dedup();
                nfa.closure(&mut to);
                let key = (to, deeper);
                let next = match ids.get(&key) {
                    Some(&n) => n,
                    None => {
                        let n = self.states.len() as u32;
                        self.states.push(State {
                            tags: 0,
                            next: [None; 10],
                        });
                        ids.insert(key.clone(), n);
                        todo.push(key);
                        n
                    }
                };
                state.next[d] = Some(next);
            }
            self.states[id as usize] = state;
        }
        base
    }

    /// Merges states that no input can tell apart (Moore's partition refinement) and drops the
    /// ones from which no pattern can match any more. `roots` are renumbered in place.
    pub fn minimize(&mut self, roots: &mut [u32]) {
        let live = self.live_states();
        let mut class: Vec<u32> = vec![0; self.states.len()];
        let mut count = 0;
        loop {
            let mut ids: HashMap<(u16, [Option<u32>; 10]), u32> = HashMap::new();
            let next_class: Vec<u32> = (0..self.states.len())
                .map(|s| {
                    let st = &self.states[s];
                    let sig = st
                        .next
                        .map(|t| t.filter(|&t| live[t as usize]).map(|t| class[t as usize]));
                    let len = ids.len() as u32;
                    *ids.entry((st.tags, sig)).or_insert(len)
                })
                .collect();
            let n = ids.len();
            class = next_class;
            if n == count {
                break;
            }
            count = n;
        }
        // One representative per class, numbered in the order of first appearance from the roots
        // (depth first) so a region's states sit together.
        let mut new_id: HashMap<u32, u32> = HashMap::new();
        let mut order = Vec::new();
        let mut stack: Vec<u32> = roots.iter().rev().copied().collect();
        while let Some(s) = stack.pop() {
            let c = class[s as usize];
            if new_id.contains_key(&c) {
                continue;
            }
            new_id.insert(c, order.len() as u32);
            order.push(s);
            for t in self.states[s as usize].next.iter().rev().flatten() {
                if live[*t as usize] {
                    stack.push(*t);
                }
            }
        }
        let states = order
            .iter()
            .map(|&s| {
                let st = &self.states[s as usize];
                State {
                    tags: st.tags,
                    next: st.next.map(|t| {
                        t.filter(|&t| live[t as usize])
                            .map(|t| new_id[&class[t as usize]])
                    }),
                }
            })
            .collect();
        for r in roots.iter_mut() {
            *r = new_id[&class[*r as usize]];
        }
        self.states = states;
    }

    /// States from which some pattern can still match.
    fn live_states(&self) -> Vec<bool> {
        let mut live: Vec<bool> = self.states.iter().map(|s| s.tags != 0).collect();
        loop {
            let mut changed = false;
            for s in 0..self.states.len() {
                if !live[s]
                    && self.states[s]
                        .next
                        .iter()
                        .flatten()
                        .any(|&t| live[t as usize])
                {
                    live[s] = true;
                    changed = true;
                }
            }
            if !changed {
                return live;
            }
        }
    }

    /// Tags of the patterns matching `digits` in full, starting from `start`.
    pub fn run(&self, start: u32, digits: &str) -> u16 {
        let mut s = start;
        for b in digits.bytes() {
            match self.states[s as usize].next[(b - b'0') as usize] {
                Some(t) => s = t,
                None => return 0,
            }
        }
        self.states[s as usize].tags
    }
}
