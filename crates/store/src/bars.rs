//! The bars file format: Arrow schema, Parquet encoding and decoding, footer statistics.

use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use backfill_domain::{Bar, Interval, Symbol};
use jiff::Timestamp;
use jiff::civil::Date;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use parquet::file::statistics::Statistics;
use parquet::schema::types::ColumnPath;

use crate::basis::{BASIS_KEY, Basis};

/// Key-value metadata key stamped into every file the store writes.
pub(crate) const FORMAT_KEY: &str = "backfill.format";

/// The Arrow schema of every bars file (see the crate docs).
pub fn bars_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new("symbol", DataType::Utf8, false),
                Field::new("interval", DataType::Utf8, false),
                Field::new("ts", ts_type(), false),
                Field::new("date", DataType::Date32, false),
                Field::new("open", DataType::Float64, false),
                Field::new("high", DataType::Float64, false),
                Field::new("low", DataType::Float64, false),
                Field::new("close", DataType::Float64, false),
                Field::new("adj_close", DataType::Float64, true),
                Field::new("volume", DataType::Int64, false),
            ]))
        })
        .clone()
}

pub(crate) fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

pub(crate) fn writer_props(format: &str, extra: Vec<KeyValue>) -> WriterProperties {
    // Dictionary encoding only pays for the constant/low-cardinality string columns; prices and
    // timestamps are nearly all distinct, and interning them costs ~10 % of an upsert.
    WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled(ColumnPath::from("symbol"), true)
        .set_column_dictionary_enabled(ColumnPath::from("interval"), true)
        .set_column_dictionary_enabled(ColumnPath::from("action"), true)
        .set_column_dictionary_enabled(ColumnPath::from("currency"), true)
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("level 1 is valid"),
        ))
        .set_created_by(concat!("backfill-store ", env!("CARGO_PKG_VERSION")).to_owned())
        .set_key_value_metadata(Some(
            std::iter::once(KeyValue::new(FORMAT_KEY.to_owned(), format.to_owned()))
                .chain(extra)
                .collect(),
        ))
        .build()
}

pub(crate) fn write_batch(
    batch: &RecordBatch,
    format: &str,
    extra: Vec<KeyValue>,
) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(writer_props(format, extra)))
        .map_err(|e| e.to_string())?;
    w.write(batch).map_err(|e| e.to_string())?;
    w.close().map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Encodes bars (sorted by ts, unique) as one Parquet file whose footer records `basis` (see
/// [`crate::basis`]); `None` writes no record.
pub(crate) fn encode(
    symbol: &Symbol,
    interval: Interval,
    bars: &[Bar],
    basis: Option<&Basis>,
) -> Result<Vec<u8>, String> {
    let n = bars.len();
    let col = |f: fn(&Bar) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(bars.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            symbol.as_str(),
            n,
        ))),
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            interval.as_str(),
            n,
        ))),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(bars.iter().map(|b| ts_micros(b.ts)))
                .with_timezone("UTC"),
        ),
        Arc::new(Date32Array::from_iter_values(
            bars.iter().map(|b| date_days(b.date)),
        )),
        col(|b| b.open),
        col(|b| b.high),
        col(|b| b.low),
        col(|b| b.close),
        Arc::new(bars.iter().map(|b| b.adj_close).collect::<Float64Array>()),
        Arc::new(Int64Array::from_iter_values(bars.iter().map(|b| b.volume))),
    ];
    let batch = RecordBatch::try_new(bars_schema(), columns).map_err(|e| e.to_string())?;
    let extra = basis
        .map(|b| KeyValue::new(BASIS_KEY.to_owned(), b.to_json()))
        .into_iter()
        .collect();
    write_batch(&batch, "bars/1", extra)
}

/// The basis record in a bars file's footer; `None` for a file written before records existed.
pub(crate) fn footer_basis(meta: &ParquetMetaData) -> Result<Option<Basis>, String> {
    let record = meta
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .find(|kv| kv.key == BASIS_KEY);
    match record.and_then(|kv| kv.value.as_deref()) {
        None => Ok(None),
        Some(json) => Basis::from_json(json).map(Some),
    }
}

/// Opens a Parquet file and checks that it has the named columns with the given types.
pub(crate) fn open_checked<R: ChunkReader + 'static>(
    reader: R,
    want: &Schema,
) -> Result<ParquetRecordBatchReaderBuilder<R>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader).map_err(|e| e.to_string())?;
    let schema = builder.schema().clone();
    for f in want.fields() {
        let Ok(got) = schema.field_with_name(f.name()) else {
            return Err(format!("column `{}` is missing", f.name()));
        };
        if !same_type(got.data_type(), f.data_type()) {
            return Err(format!(
                "column `{}` has type `{}`, expected `{}`",
                f.name(),
                got.data_type(),
                f.data_type()
            ));
        }
    }
    Ok(builder.with_batch_size(64 * 1024))
}

fn same_type(got: &DataType, want: &DataType) -> bool {
    match (got, want) {
        (
            DataType::Timestamp(TimeUnit::Microsecond, Some(tz)),
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)),
        ) => matches!(&**tz, "UTC" | "+00:00" | "Z"),
        _ => got == want,
    }
}

pub(crate) fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    batch
        .column_by_name(name)
        .expect("open_checked verified the column exists")
}

pub(crate) fn no_nulls(batch: &RecordBatch, names: &[&str]) -> Result<(), String> {
    for name in names {
        if column(batch, name).null_count() > 0 {
            return Err(format!("column `{name}` has nulls"));
        }
    }
    Ok(())
}

pub(crate) fn check_constant(batch: &RecordBatch, name: &str, want: &str) -> Result<(), String> {
    let arr = column(batch, name).as_string::<i32>();
    match arr.iter().find(|v| *v != Some(want)) {
        Some(v) => Err(format!(
            "column `{name}` holds `{}` where `{want}` was expected",
            v.unwrap_or("null")
        )),
        None => Ok(()),
    }
}

/// Decodes a bars file of (`symbol`, `interval`), checking it is what its path says and that its
/// rows are sorted and unique by `ts`.
pub(crate) fn decode<R: ChunkReader + 'static>(
    reader: R,
    symbol: &Symbol,
    interval: Interval,
) -> Result<Vec<Bar>, String> {
    decode_with_basis(reader, symbol, interval).map(|(bars, _)| bars)
}

/// [`decode`], and the file's basis record.
pub(crate) fn decode_with_basis<R: ChunkReader + 'static>(
    reader: R,
    symbol: &Symbol,
    interval: Interval,
) -> Result<(Vec<Bar>, Option<Basis>), String> {
    let builder = open_checked(reader, &bars_schema())?;
    let basis = footer_basis(builder.metadata())?;
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let mut out: Vec<Bar> = Vec::with_capacity(rows);
    for batch in builder.build().map_err(|e| e.to_string())? {
        let batch = batch.map_err(|e| e.to_string())?;
        no_nulls(
            &batch,
            &[
                "symbol", "interval", "ts", "date", "open", "high", "low", "close", "volume",
            ],
        )?;
        check_constant(&batch, "symbol", symbol.as_str())?;
        check_constant(&batch, "interval", interval.as_str())?;
        let ts = column(&batch, "ts").as_primitive::<TimestampMicrosecondType>();
        let date = column(&batch, "date").as_primitive::<Date32Type>();
        let f = |n: &str| column(&batch, n).as_primitive::<Float64Type>().clone();
        let (open, high, low, close, adj) =
            (f("open"), f("high"), f("low"), f("close"), f("adj_close"));
        let volume = column(&batch, "volume").as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            let bar = Bar {
                ts: micros_ts(ts.value(i))?,
                date: days_date(date.value(i))?,
                open: open.value(i),
                high: high.value(i),
                low: low.value(i),
                close: close.value(i),
                adj_close: adj.is_valid(i).then(|| adj.value(i)),
                volume: volume.value(i),
            };
            if let Some(prev) = out.last()
                && prev.ts >= bar.ts
            {
                return Err(format!(
                    "rows are not sorted and unique by `ts` (`{}` follows `{}`)",
                    bar.ts, prev.ts
                ));
            }
            out.push(bar);
        }
    }
    Ok((out, basis))
}

/// Rows and min/max `ts` (µs) and `date` (days) of one or more files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    pub rows: u64,
    pub ts_min: i64,
    pub ts_max: i64,
    pub date_min: i32,
    pub date_max: i32,
}

impl Extent {
    pub(crate) fn of(bars: &[Bar]) -> Option<Extent> {
        let (first, last) = bars.first().zip(bars.last())?;
        Some(Extent {
            rows: bars.len() as u64,
            ts_min: ts_micros(first.ts),
            ts_max: ts_micros(last.ts),
            date_min: bars.iter().map(|b| date_days(b.date)).min()?,
            date_max: bars.iter().map(|b| date_days(b.date)).max()?,
        })
    }

    pub(crate) fn join(self, other: Extent) -> Extent {
        Extent {
            rows: self.rows + other.rows,
            ts_min: self.ts_min.min(other.ts_min),
            ts_max: self.ts_max.max(other.ts_max),
            date_min: self.date_min.min(other.date_min),
            date_max: self.date_max.max(other.date_max),
        }
    }
}

/// Rows and min/max `ts` and `date` from the footer alone; `None` when a statistic is missing
/// (a foreign writer), in which case the caller falls back to reading the file.
pub(crate) fn footer_extent(meta: &ParquetMetaData) -> Result<Option<Extent>, String> {
    let schema = meta.file_metadata().schema_descr();
    let idx = |name: &str| {
        (0..schema.num_columns())
            .find(|&i| schema.column(i).name() == name)
            .ok_or_else(|| format!("column `{name}` is missing"))
    };
    let (ts_col, date_col) = (idx("ts")?, idx("date")?);
    let mut acc: Option<Extent> = None;
    for rg in meta.row_groups() {
        if rg.num_rows() == 0 {
            continue;
        }
        let (Some(Statistics::Int64(ts)), Some(Statistics::Int32(date))) = (
            rg.column(ts_col).statistics(),
            rg.column(date_col).statistics(),
        ) else {
            return Ok(None);
        };
        let (Some(&ts_min), Some(&ts_max), Some(&date_min), Some(&date_max)) =
            (ts.min_opt(), ts.max_opt(), date.min_opt(), date.max_opt())
        else {
            return Ok(None);
        };
        let this = Extent {
            rows: rg.num_rows() as u64,
            ts_min,
            ts_max,
            date_min,
            date_max,
        };
        acc = Some(acc.map_or(this, |a| a.join(this)));
    }
    Ok(acc)
}

pub(crate) fn read_footer<R: ChunkReader>(reader: &R) -> Result<ParquetMetaData, String> {
    ParquetMetaDataReader::new()
        .parse_and_finish(reader)
        .map_err(|e| e.to_string())
}

/// Microseconds since the epoch (sub-microsecond parts are truncated toward the past).
pub(crate) fn ts_micros(ts: Timestamp) -> i64 {
    ts.as_microsecond()
}

pub(crate) fn micros_ts(us: i64) -> Result<Timestamp, String> {
    Timestamp::from_microsecond(us).map_err(|e| format!("timestamp `{us}` µs is out of range: {e}"))
}

/// Days since 1970-01-01 (proleptic Gregorian).
pub(crate) fn date_days(d: Date) -> i32 {
    let (y, m, day) = (
        i32::from(d.year()),
        i32::from(d.month()),
        i32::from(d.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn days_date(z: i32) -> Result<Date, String> {
    let (y, m, d) = civil_from_days(z);
    i16::try_from(y)
        .ok()
        .and_then(|y| Date::new(y, m as i8, d as i8).ok())
        .ok_or_else(|| format!("date `{z}` days since 1970-01-01 is out of range"))
}

pub(crate) fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = i64::from(z) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u32, d as u32)
}

/// Bit-exact equality (NaN equals NaN; 0.0 and -0.0 differ), used for "unchanged".
pub(crate) fn same_bar(left: &Bar, right: &Bar) -> bool {
    let same = |x: f64, y: f64| x.to_bits() == y.to_bits();
    left.ts == right.ts
        && left.date == right.date
        && same(left.open, right.open)
        && same(left.high, right.high)
        && same(left.low, right.low)
        && same(left.close, right.close)
        && match (left.adj_close, right.adj_close) {
            (Some(x), Some(y)) => same(x, y),
            (None, None) => true,
            _ => false,
        }
        && left.volume == right.volume
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_jiff() {
        let epoch = Date::constant(1970, 1, 1);
        for d in [
            Date::constant(1970, 1, 1),
            Date::constant(1969, 12, 31),
            Date::constant(2000, 2, 29),
            Date::constant(1900, 3, 1),
            Date::constant(2024, 10, 31),
            Date::constant(1, 1, 1),
            Date::constant(9999, 12, 31),
        ] {
            let days = epoch.until(d).unwrap().get_days();
            assert_eq!(date_days(d), days, "{d}");
            assert_eq!(days_date(days).unwrap(), d);
        }
        let mut d = Date::constant(1899, 12, 25);
        for _ in 0..1000 {
            assert_eq!(days_date(date_days(d)).unwrap(), d);
            assert_eq!(date_days(d.tomorrow().unwrap()), date_days(d) + 1);
            d = d.checked_add(jiff::Span::new().days(53)).unwrap();
        }
    }

    #[test]
    fn encode_decode_round_trip_with_stats() {
        let s = Symbol::parse("EURUSD=X").unwrap();
        let bars: Vec<Bar> = (0..10)
            .map(|i| Bar {
                ts: Timestamp::from_second(1_700_000_000 + i * 86_400).unwrap(),
                date: Date::constant(2023, 11, 14 + i as i8),
                open: 1.0 + i as f64,
                high: 2.0,
                low: 0.5,
                close: f64::NAN,
                adj_close: (i % 2 == 0).then_some(1.5),
                volume: i,
            })
            .collect();
        let bytes = bytes::Bytes::from(encode(&s, Interval::D1, &bars, None).unwrap());
        let back = decode(bytes.clone(), &s, Interval::D1).unwrap();
        assert_eq!(back.len(), 10);
        assert!(back.iter().zip(&bars).all(|(a, b)| same_bar(a, b)));
        let meta = read_footer(&bytes).unwrap();
        let ext = footer_extent(&meta).unwrap().unwrap();
        assert_eq!(ext, Extent::of(&back).unwrap());
        assert_eq!(ext.rows, 10);
        assert_eq!(ext.ts_min, 1_700_000_000_000_000);
        assert_eq!(ext.ts_max, (1_700_000_000 + 9 * 86_400) * 1_000_000);
        assert_eq!(
            days_date(ext.date_min).unwrap(),
            Date::constant(2023, 11, 14)
        );
        assert_eq!(
            days_date(ext.date_max).unwrap(),
            Date::constant(2023, 11, 23)
        );
        // The same bytes under another symbol's path are rejected.
        let other = Symbol::parse("MSFT").unwrap();
        let err = decode(bytes, &other, Interval::D1).unwrap_err();
        assert!(err.contains("`EURUSD=X` where `MSFT`"), "{err}");
    }
}
