//! The store scan behind [`Store::problems`](crate::Store::problems).

use backfill_domain::{Interval, Symbol};
use parquet::file::statistics::Statistics;

use crate::backend::{Backend, join};
use crate::encode::decode_symbol;
use crate::layout::{
    actions_key as actions_path, is_part_name as part_name_ok, ledger_key as ledger_path,
};
use crate::{Store, StoreError, StoreProblem, actions, bars, ledger};

struct Scan<'a> {
    store: &'a Store,
    out: Vec<StoreProblem>,
}

impl Scan<'_> {
    fn report(&mut self, rel: &str, reason: impl Into<String>) {
        self.out.push(StoreProblem {
            path: self.store.describe(rel),
            reason: reason.into(),
        });
    }

    /// `(name, is_dir)` under `rel`, without leftovers of interrupted writes of older versions
    /// (temp files beside their target), which are not problems.
    fn entries(&self, rel: &str) -> Result<Vec<(String, bool)>, StoreError> {
        let b = self.store.backend();
        Ok(b.list(rel)?
            .into_iter()
            .filter(|e| e.is_dir || !b.is_leftover(&e.name))
            .map(|e| (e.name, e.is_dir))
            .collect())
    }

    /// `interval=<i>` directories under `base`; anything else is reported.
    fn intervals(&mut self, base: &str) -> Result<Vec<(Interval, String)>, StoreError> {
        let mut out = Vec::new();
        for (name, is_dir) in self.entries(base)? {
            let rel = join(base, &name);
            match name.strip_prefix("interval=").map(Interval::parse) {
                Some(Ok(i)) if is_dir && i.as_str() == &name["interval=".len()..] => {
                    out.push((i, rel));
                }
                _ => self.report(&rel, "not an `interval=<1m…1mo>` directory"),
            }
        }
        Ok(out)
    }

    fn bars(&mut self) -> Result<(), StoreError> {
        for (interval, idir) in self.intervals("bars")? {
            for (name, is_dir) in self.entries(&idir)? {
                let rel = join(&idir, &name);
                let symbol = name.strip_prefix("symbol=").and_then(decode_symbol);
                let Some(symbol) = symbol.filter(|_| is_dir) else {
                    self.report(&rel, "not a `symbol=<percent-encoded symbol>` directory");
                    continue;
                };
                for (file, is_dir) in self.entries(&rel)? {
                    let frel = join(&rel, &file);
                    if is_dir || !part_name_ok(interval, &file) {
                        let want = if interval.is_intraday() {
                            "`YYYY-MM.parquet`"
                        } else {
                            "`all.parquet`"
                        };
                        self.report(
                            &frel,
                            format!("not a partition file of this layout (expected {want})"),
                        );
                        continue;
                    }
                    if let Err(reason) = self.check_bars_file(&frel, &symbol, interval)? {
                        self.report(&frel, reason);
                    }
                }
            }
        }
        Ok(())
    }

    fn check_bars_file(
        &self,
        rel: &str,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Result<(), String>, StoreError> {
        let Some(f) = self.store.blob(rel)? else {
            return Ok(Ok(()));
        };
        let builder = match bars::open_checked(f, &bars::bars_schema()) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let meta = builder.metadata();
        let schema = meta.file_metadata().schema_descr();
        for (col, want) in [("symbol", symbol.as_str()), ("interval", interval.as_str())] {
            let Some(i) = (0..schema.num_columns()).find(|&i| schema.column(i).name() == col)
            else {
                continue;
            };
            for rg in meta.row_groups() {
                if let Some(Statistics::ByteArray(s)) = rg.column(i).statistics() {
                    for v in [s.min_opt(), s.max_opt()].into_iter().flatten() {
                        if v.data() != want.as_bytes() {
                            return Ok(Err(format!(
                                "column `{col}` holds `{}` where `{want}` was expected",
                                String::from_utf8_lossy(v.data())
                            )));
                        }
                    }
                }
            }
        }
        Ok(Ok(()))
    }

    fn actions(&mut self) -> Result<(), StoreError> {
        for (name, is_dir) in self.entries("actions")? {
            let rel = join("actions", &name);
            let Some(symbol) = name
                .strip_prefix("symbol=")
                .and_then(decode_symbol)
                .filter(|_| is_dir)
            else {
                self.report(&rel, "not a `symbol=<percent-encoded symbol>` directory");
                continue;
            };
            let want = actions_path(&symbol);
            for (file, _) in self.entries(&rel)? {
                let frel = join(&rel, &file);
                if frel != want {
                    self.report(&frel, "not `actions.parquet`");
                    continue;
                }
                if let Some(f) = self.store.blob(&frel)?
                    && let Err(reason) = actions::decode(f, &symbol)
                {
                    self.report(&frel, reason);
                }
            }
        }
        Ok(())
    }

    fn ledgers(&mut self) -> Result<(), StoreError> {
        for (interval, idir) in self.intervals("_meta/ledger")? {
            for (name, _) in self.entries(&idir)? {
                let rel = join(&idir, &name);
                let symbol = name.strip_suffix(".json").and_then(decode_symbol);
                let Some(symbol) = symbol.filter(|s| ledger_path(s, interval) == rel) else {
                    self.report(&rel, "not a `<percent-encoded symbol>.json` ledger file");
                    continue;
                };
                if let Some(b) = self.store.read_doc(&rel)?
                    && let Err(reason) = ledger::from_json(&symbol, interval, &b)
                {
                    self.report(&rel, reason);
                }
            }
        }
        Ok(())
    }

    fn metas(&mut self) -> Result<(), StoreError> {
        for (name, _) in self.entries("_meta/symbols")? {
            let rel = join("_meta/symbols", &name);
            let Some(symbol) = name.strip_suffix(".json").and_then(decode_symbol) else {
                self.report(&rel, "not a `<percent-encoded symbol>.json` meta file");
                continue;
            };
            match self.store.read_meta(&symbol) {
                Ok(_) => {}
                Err(StoreError::Corrupt { reason, .. }) => self.report(&rel, reason),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

pub(crate) fn scan(store: &Store) -> Result<Vec<StoreProblem>, StoreError> {
    let mut s = Scan {
        store,
        out: Vec::new(),
    };
    s.bars()?;
    s.actions()?;
    s.ledgers()?;
    s.metas()?;
    Ok(s.out)
}
