//! Trading hours and holiday rules per exchange.

use jiff::civil::{Date, Time, time};

use crate::Exchange;

/// Regular hours of one session, in the exchange's local time.
pub(crate) struct Hours {
    pub open: Time,
    pub close: Time,
    pub break_: Option<(Time, Time)>,
    pub early_close: bool,
}

/// The hours of `exchange` on `date` (a session date).
pub(crate) fn hours(exchange: Exchange, _date: Date) -> Hours {
    let (open, close, break_) = match exchange {
        Exchange::Xnys | Exchange::Weekdays | Exchange::Xtse => {
            (time(9, 30, 0, 0), time(16, 0, 0, 0), None)
        }
        Exchange::Xlon => (time(8, 0, 0, 0), time(16, 30, 0, 0), None),
        Exchange::Xpar | Exchange::Xetr => (time(9, 0, 0, 0), time(17, 30, 0, 0), None),
        Exchange::Xasx => (time(10, 0, 0, 0), time(16, 0, 0, 0), None),
        Exchange::Xtks => (
            time(9, 0, 0, 0),
            time(15, 0, 0, 0),
            Some((time(11, 30, 0, 0), time(12, 30, 0, 0))),
        ),
        Exchange::Always | Exchange::Fx => (Time::midnight(), Time::midnight(), None),
    };
    Hours {
        open,
        close,
        break_,
        early_close: false,
    }
}

/// Whether `date` is a full-day holiday of `exchange` (weekends are handled by the caller).
pub(crate) fn is_holiday(_exchange: Exchange, _date: Date) -> bool {
    false
}
