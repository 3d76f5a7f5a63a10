//! A faithful port of Python's `difflib.SequenceMatcher` (no junk function,
//! `autojunk=True`), enough to reproduce `ratio()` bit for bit.
//!
//! The label matcher depends on difflib's *block* algorithm — longest common
//! substring first (earliest in `a`, then earliest in `b` on ties), recursing on
//! both sides — which is not an LCS. The `autojunk` "popular element" purge of
//! `b` (only for `len(b) >= 200`) is implemented too, including the way
//! `find_longest_match` then extends a match through popular elements.

use std::collections::HashMap;

/// A matching block `(i, j, size)`: `a[i..i+size] == b[j..j+size]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    pub a: usize,
    pub b: usize,
    pub size: usize,
}

/// `difflib.SequenceMatcher(None, a, b)` over sequences of `T` (chars for strings).
#[derive(Debug)]
pub struct SequenceMatcher<'s, T: Eq + std::hash::Hash + Copy> {
    a: &'s [T],
    b: &'s [T],
    /// Element of `b` → its ascending indices in `b` (popular elements removed).
    b2j: HashMap<T, Vec<usize>>,
}

impl<'s, T: Eq + std::hash::Hash + Copy> SequenceMatcher<'s, T> {
    /// Builds the matcher (`__chain_b` with `autojunk=True`, no `isjunk`).
    pub fn new(a: &'s [T], b: &'s [T]) -> Self {
        let mut b2j: HashMap<T, Vec<usize>> = HashMap::new();
        for (i, &elt) in b.iter().enumerate() {
            b2j.entry(elt).or_default().push(i);
        }
        let n = b.len();
        if n >= 200 {
            let ntest = n / 100 + 1;
            b2j.retain(|_, idxs| idxs.len() <= ntest);
        }
        Self { a, b, b2j }
    }

    /// `find_longest_match(alo, ahi, blo, bhi)`. There is no `bjunk`, so only the
    /// first pair of extension loops can do anything (they may extend through
    /// popular elements, exactly as CPython does).
    pub fn find_longest_match(&self, alo: usize, ahi: usize, blo: usize, bhi: usize) -> Match {
        let (a, b) = (self.a, self.b);
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0usize);
        let mut j2len: HashMap<usize, usize> = HashMap::new();
        for (i, ai) in a.iter().enumerate().take(ahi).skip(alo) {
            let mut newj2len: HashMap<usize, usize> = HashMap::new();
            if let Some(js) = self.b2j.get(ai) {
                for &j in js {
                    if j < blo {
                        continue;
                    }
                    if j >= bhi {
                        break;
                    }
                    let prev = match j.checked_sub(1) {
                        Some(p) => j2len.get(&p).copied().unwrap_or(0),
                        None => 0,
                    };
                    let k = prev + 1;
                    newj2len.insert(j, k);
                    if k > bestsize {
                        besti = i + 1 - k;
                        bestj = j + 1 - k;
                        bestsize = k;
                    }
                }
            }
            j2len = newj2len;
        }
        // Extend with equal elements on both sides (no junk: `isbjunk` is always false).
        while besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1] {
            besti -= 1;
            bestj -= 1;
            bestsize += 1;
        }
        while besti + bestsize < ahi && bestj + bestsize < bhi && a[besti + bestsize] == b[bestj + bestsize] {
            bestsize += 1;
        }
        Match { a: besti, b: bestj, size: bestsize }
    }

    /// `get_matching_blocks()`: sorted, adjacent blocks collapsed, with the
    /// `(len(a), len(b), 0)` sentinel last.
    pub fn get_matching_blocks(&self) -> Vec<Match> {
        let (la, lb) = (self.a.len(), self.b.len());
        let mut queue = vec![(0usize, la, 0usize, lb)];
        let mut blocks: Vec<Match> = Vec::new();
        while let Some((alo, ahi, blo, bhi)) = queue.pop() {
            let m = self.find_longest_match(alo, ahi, blo, bhi);
            if m.size > 0 {
                blocks.push(m);
                if alo < m.a && blo < m.b {
                    queue.push((alo, m.a, blo, m.b));
                }
                if m.a + m.size < ahi && m.b + m.size < bhi {
                    queue.push((m.a + m.size, ahi, m.b + m.size, bhi));
                }
            }
        }
        blocks.sort();
        let mut out = Vec::with_capacity(blocks.len() + 1);
        let (mut i1, mut j1, mut k1) = (0usize, 0usize, 0usize);
        for m in blocks {
            if i1 + k1 == m.a && j1 + k1 == m.b {
                k1 += m.size;
            } else {
                if k1 > 0 {
                    out.push(Match { a: i1, b: j1, size: k1 });
                }
                (i1, j1, k1) = (m.a, m.b, m.size);
            }
        }
        if k1 > 0 {
            out.push(Match { a: i1, b: j1, size: k1 });
        }
        out.push(Match { a: la, b: lb, size: 0 });
        out
    }

    /// `ratio()` = `2*M / (len(a)+len(b))`, `1.0` when both are empty.
    pub fn ratio(&self) -> f64 {
        let matches: usize = self.get_matching_blocks().iter().map(|m| m.size).sum();
        let length = self.a.len() + self.b.len();
        if length == 0 { 1.0 } else { 2.0 * matches as f64 / length as f64 }
    }
}

/// `SequenceMatcher(None, a, b).ratio()` over the code points of two strings.
pub fn ratio(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    SequenceMatcher::new(&a, &b).ratio()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ratios() {
        // Values computed with CPython 3.11 difflib.
        assert_eq!(ratio("abcd", "bcde"), 0.75);
        assert_eq!(ratio("", ""), 1.0);
        assert_eq!(ratio("a", ""), 0.0);
        // Not an LCS: difflib picks the longest block "ab" then cannot use "cd".
        let r = ratio("abxcd", "cdyab");
        assert_eq!(r, 2.0 * 2.0 / 10.0);
    }

    #[test]
    fn blocks_shape() {
        let a: Vec<char> = "abxcd".chars().collect();
        let b: Vec<char> = "abcd".chars().collect();
        let m = SequenceMatcher::new(&a, &b).get_matching_blocks();
        assert_eq!(
            m,
            vec![Match { a: 0, b: 0, size: 2 }, Match { a: 3, b: 2, size: 2 }, Match { a: 5, b: 4, size: 0 }]
        );
    }
}
