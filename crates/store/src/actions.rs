//! The actions file format (dividends, splits, capital gains).

use std::sync::{Arc, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, Date32Array, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use backfill_domain::{Action, ActionKind, Symbol};
use parquet::file::reader::ChunkReader;

use crate::bars::{
    check_constant, column, date_days, days_date, micros_ts, no_nulls, open_checked, ts_micros,
    ts_type, write_batch,
};

/// The Arrow schema of every actions file (see the crate docs).
pub fn actions_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new("symbol", DataType::Utf8, false),
                Field::new("ts", ts_type(), false),
                Field::new("date", DataType::Date32, false),
                Field::new("action", DataType::Utf8, false),
                Field::new("amount", DataType::Float64, true),
                Field::new("numerator", DataType::Float64, true),
                Field::new("denominator", DataType::Float64, true),
                Field::new("currency", DataType::Utf8, true),
            ]))
        })
        .clone()
}

/// The unique key of an action within a symbol: (`ts` in µs, action name).
pub(crate) fn key(a: &Action) -> (i64, &'static str) {
    (ts_micros(a.ts), a.kind.name())
}

pub(crate) fn encode(symbol: &Symbol, actions: &[Action]) -> Result<Vec<u8>, String> {
    let n = actions.len();
    let mut amount = Vec::with_capacity(n);
    let mut num = Vec::with_capacity(n);
    let mut den = Vec::with_capacity(n);
    let mut cur: Vec<Option<&str>> = Vec::with_capacity(n);
    for a in actions {
        match &a.kind {
            ActionKind::Dividend {
                amount: x,
                currency,
            } => {
                amount.push(Some(*x));
                num.push(None);
                den.push(None);
                cur.push(currency.as_deref());
            }
            ActionKind::Split {
                numerator,
                denominator,
            } => {
                amount.push(None);
                num.push(Some(*numerator));
                den.push(Some(*denominator));
                cur.push(None);
            }
            ActionKind::CapitalGain { amount: x } => {
                amount.push(Some(*x));
                num.push(None);
                den.push(None);
                cur.push(None);
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            symbol.as_str(),
            n,
        ))),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(actions.iter().map(|a| ts_micros(a.ts)))
                .with_timezone("UTC"),
        ),
        Arc::new(Date32Array::from_iter_values(
            actions.iter().map(|a| date_days(a.date)),
        )),
        Arc::new(StringArray::from_iter_values(
            actions.iter().map(|a| a.kind.name()),
        )),
        Arc::new(Float64Array::from(amount)),
        Arc::new(Float64Array::from(num)),
        Arc::new(Float64Array::from(den)),
        Arc::new(StringArray::from(cur)),
    ];
    let batch = RecordBatch::try_new(actions_schema(), columns).map_err(|e| e.to_string())?;
    write_batch(&batch, "actions/1", Vec::new())
}

pub(crate) fn decode<R: ChunkReader + 'static>(
    reader: R,
    symbol: &Symbol,
) -> Result<Vec<Action>, String> {
    let builder = open_checked(reader, &actions_schema())?;
    let mut out = Vec::new();
    for batch in builder.build().map_err(|e| e.to_string())? {
        let batch = batch.map_err(|e| e.to_string())?;
        no_nulls(&batch, &["symbol", "ts", "date", "action"])?;
        check_constant(&batch, "symbol", symbol.as_str())?;
        let ts = column(&batch, "ts").as_primitive::<TimestampMicrosecondType>();
        let date = column(&batch, "date").as_primitive::<Date32Type>();
        let action = column(&batch, "action").as_string::<i32>();
        let f = |n: &str| column(&batch, n).as_primitive::<Float64Type>().clone();
        let (amount, num, den) = (f("amount"), f("numerator"), f("denominator"));
        let currency = column(&batch, "currency").as_string::<i32>();
        let get = |a: &Float64Array, i: usize, name: &str| {
            a.is_valid(i)
                .then(|| a.value(i))
                .ok_or_else(|| format!("a `{}` row has no `{name}`", action.value(i)))
        };
        for i in 0..batch.num_rows() {
            let kind = match action.value(i) {
                "dividend" => ActionKind::Dividend {
                    amount: get(&amount, i, "amount")?,
                    currency: currency.is_valid(i).then(|| currency.value(i).to_owned()),
                },
                "split" => ActionKind::Split {
                    numerator: get(&num, i, "numerator")?,
                    denominator: get(&den, i, "denominator")?,
                },
                "capital_gain" => ActionKind::CapitalGain {
                    amount: get(&amount, i, "amount")?,
                },
                other => return Err(format!("unknown action `{other}`")),
            };
            out.push(Action {
                ts: micros_ts(ts.value(i))?,
                date: days_date(date.value(i))?,
                kind,
            });
        }
    }
    Ok(out)
}
