//! Closures learned from the provider's answers, per venue without a built-in calendar.
//!
//! Kept as JSON in `_meta/closures/<venue>.json` (the venue as the provider names it, e.g. its
//! exchange code, percent-encoded like symbols): `{"format":"closures/1","venue":..,"dates":[..]}`.

use std::collections::BTreeSet;

use backfill_domain::jiff::civil::Date;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    venue: String,
    dates: BTreeSet<Date>,
}

const FORMAT: &str = "closures/1";

pub(crate) fn from_json(venue: &str, bytes: &[u8]) -> Result<BTreeSet<Date>, String> {
    let f: File = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if f.format != FORMAT {
        return Err(format!(
            "unknown format `{}`, expected `{FORMAT}`",
            f.format
        ));
    }
    if f.venue != venue {
        return Err(format!("it describes venue `{}`", f.venue));
    }
    Ok(f.dates)
}

pub(crate) fn to_json(venue: &str, dates: &BTreeSet<Date>) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&File {
        format: FORMAT.to_owned(),
        venue: venue.to_owned(),
        dates: dates.clone(),
    })
    .expect("closures serialise");
    bytes.push(b'\n');
    bytes
}
