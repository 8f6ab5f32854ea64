//! The history of runs: every run appends its report as one JSON document under `_meta/runs/`,
//! named by when it started, so the names sort chronologically. Written once through
//! [`Store::update_json`] (a conditional write: an existing report is never replaced) and read
//! back with [`Store::read_json`]. The store does not interpret the report; the CLI defines it.

use backfill_domain::jiff::Timestamp;

use crate::backend::Backend as _;
use crate::error::StoreError;
use crate::store::Store;

const RUNS_DIR: &str = "_meta/runs";

/// One run's stored report.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The document's name without `.json`, e.g. `20241227T210501.123456789Z-4242`: start time
    /// (UTC) and process id.
    pub id: String,
    /// The report as stored, or why it cannot be read (the document is left untouched).
    pub report: Result<serde_json::Value, String>,
}

impl Store {
    /// Appends a run's report (readers see the whole document or none of it). Returns the run's
    /// id. An existing report with the same id (same process, same nanosecond) is kept.
    ///
    /// Errors: as [`update_json`](Store::update_json).
    pub fn append_run(
        &self,
        started: Timestamp,
        report: &serde_json::Value,
    ) -> Result<String, StoreError> {
        let id = format!(
            "{}-{}",
            started.strftime("%Y%m%dT%H%M%S.%fZ"),
            std::process::id()
        );
        self.update_json(&run_key(&id), |old: Option<serde_json::Value>| {
            old.is_none().then(|| report.clone())
        })?;
        Ok(id)
    }

    /// The last `limit` runs, newest first.
    ///
    /// Errors: `_meta/runs/` cannot be listed, or a document cannot be read ([`StoreError::Io`],
    /// [`StoreError::Remote`]). A document that is not valid JSON is returned with its reason.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let mut ids: Vec<String> = self
            .backend()
            .list(RUNS_DIR)?
            .into_iter()
            .filter(|e| !e.is_dir && !e.name.starts_with('.'))
            .filter_map(|e| e.name.strip_suffix(".json").map(str::to_owned))
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.truncate(limit);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let report = match self.read_json::<serde_json::Value>(&run_key(&id)) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => continue, // removed since it was listed
                Err(StoreError::Corrupt { reason, .. }) => Err(reason),
                Err(e) => return Err(e),
            };
            out.push(RunRecord { id, report });
        }
        Ok(out)
    }
}

fn run_key(id: &str) -> String {
    format!("{RUNS_DIR}/{id}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_listed_newest_first_and_bad_documents_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.runs(10).unwrap(), Vec::new());
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let a = store
            .append_run(t("2024-12-27T21:05:01Z"), &serde_json::json!({"n": 1}))
            .unwrap();
        let b = store
            .append_run(t("2024-12-28T21:05:01Z"), &serde_json::json!({"n": 2}))
            .unwrap();
        assert!(a.starts_with("20241227T210501.") && a < b, "{a} {b}");
        // Appending under an existing id keeps the first report.
        let again = store
            .append_run(t("2024-12-28T21:05:01Z"), &serde_json::json!({"n": 3}))
            .unwrap();
        assert_eq!(again, b);
        std::fs::write(
            dir.path().join("_meta/runs/20241229T000000.0Z-1.json"),
            b"{oops",
        )
        .unwrap();
        let runs = store.runs(10).unwrap();
        assert_eq!(runs.len(), 3);
        assert!(runs[0].report.is_err());
        assert_eq!(runs[1].id, b);
        assert_eq!(runs[1].report, Ok(serde_json::json!({"n": 2})));
        assert_eq!(runs[2].report, Ok(serde_json::json!({"n": 1})));
        assert_eq!(store.runs(1).unwrap().len(), 1);
    }
}
