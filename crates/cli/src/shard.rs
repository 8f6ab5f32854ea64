//! `--shard i/n`: one of `n` disjoint parts of the ticker list, chosen by a stable hash of each
//! symbol, so that `n` independent processes (a Kubernetes Indexed Job, a Slurm array, GNU
//! parallel) split a portfolio without talking to each other.
//!
//! A ticker belongs to shard `fnv1a64(symbol) mod n`, where `symbol` is the normalised symbol
//! (ASCII upper case, as `backfill` stores it: `air.pa` and `AIR.PA` are the same ticker) taken as
//! bytes, and `fnv1a64` is 64-bit FNV-1a (offset basis `0xcbf29ce484222325`, prime
//! `0x100000001b3`). The hash is part of the command's interface: it never changes between
//! versions, so shard `i` of `n` names the same tickers on every machine and in every release.

use backfill_domain::Symbol;

/// Shard `index` of `count` (`0 <= index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The most shards a portfolio may be split into.
pub const MAX_SHARDS: u32 = 100_000;

impl Shard {
    /// Whether `symbol` falls in this shard.
    pub fn contains(self, symbol: &Symbol) -> bool {
        shard_of(symbol, self.count) == self.index
    }

    /// Parses `i/n`, e.g. `0/3`, with a sentence about what was expected when it is not one.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let t = text.trim();
        let expected = "expected `i/n`: shard i (counted from 0) of n, e.g. `0/3`, `1/3`, `2/3`";
        let Some((i, n)) = t.split_once('/') else {
            return Err(format!("`{t}` is not a shard; {expected}"));
        };
        let (Ok(index), Ok(count)) = (i.trim().parse::<u32>(), n.trim().parse::<u32>()) else {
            return Err(format!("`{t}` is not a shard; {expected}"));
        };
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "`{t}` splits into {count} shards; expected between 1 and {MAX_SHARDS}"
            ));
        }
        if index >= count {
            return Err(format!(
                "`{t}`: shards of {count} are numbered 0 to {}; {expected}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard of `count` that `symbol` belongs to (see the module docs).
pub fn shard_of(symbol: &Symbol, count: u32) -> u32 {
    (fnv1a64(symbol.as_str().as_bytes()) % u64::from(count.max(1))) as u32
}

/// 64-bit FNV-1a.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    /// Pinned values: changing the hash would move tickers between shards of running
    /// deployments, so these must never change.
    #[test]
    fn the_hash_is_pinned() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"MSFT"), 0xe4bf_0daf_276e_fd73);
        let cases = [
            ("MSFT", 2),
            ("AAPL", 1),
            ("AIR.PA", 0),
            ("^GSPC", 0),
            ("EURUSD=X", 2),
            ("7203.T", 2),
        ];
        for (s, want) in cases {
            assert_eq!(shard_of(&sym(s), 3), want, "{s}");
        }
        assert_eq!(shard_of(&sym("msft"), 3), shard_of(&sym("MSFT"), 3));
    }

    #[test]
    fn shards_split_a_portfolio_into_disjoint_complete_parts() {
        let tickers: Vec<Symbol> = (0..500).map(|i| sym(&format!("T{i}.X"))).collect();
        for n in [1, 2, 3, 7] {
            let mut seen = vec![0; tickers.len()];
            for i in 0..n {
                let s = Shard { index: i, count: n };
                for (k, t) in tickers.iter().enumerate() {
                    seen[k] += usize::from(s.contains(t));
                }
            }
            assert!(seen.iter().all(|c| *c == 1), "n = {n}");
        }
        // Roughly balanced: each of 3 shards holds between a quarter and ~40 % of 500 tickers.
        for i in 0..3 {
            let s = Shard { index: i, count: 3 };
            let k = tickers.iter().filter(|t| s.contains(t)).count();
            assert!((125..=210).contains(&k), "shard {i}: {k}");
        }
    }

    #[test]
    fn bad_shards_say_what_was_expected() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "1", "a/b", "0/0", "-1/3", "1/3/4"] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
    }
}
