//! Named days with known answers.

use backfill_calendar::{Calendar, Exchange, Session};
use jiff::Timestamp;
use jiff::civil::{Date, date};

fn cal(e: Exchange) -> Calendar {
    Calendar::new(e)
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("valid RFC 3339 instant")
}

fn session(e: Exchange, d: Date) -> Session {
    cal(e)
        .session(d)
        .unwrap_or_else(|| panic!("{e} {d} should be a session"))
}

fn assert_closed(e: Exchange, dates: &[Date]) {
    let c = cal(e);
    for &d in dates {
        assert!(!c.is_session(d), "{e} {d} should be closed");
        assert_eq!(c.session(d), None, "{e} {d}");
    }
}

#[test]
fn xnys_early_close_day_after_thanksgiving() {
    // 13:00 New York = 18:00 UTC in November.
    let s = session(Exchange::Xnys, date(2025, 11, 28));
    assert_eq!(s.open, ts("2025-11-28T14:30:00Z"));
    assert_eq!(s.close, ts("2025-11-28T18:00:00Z"));
    assert!(s.early_close);
    // Thanksgiving itself is a holiday.
    assert_closed(Exchange::Xnys, &[date(2025, 11, 27)]);
    // Before 1993 the early close was 14:00.
    let s = session(Exchange::Xnys, date(1992, 11, 27));
    assert_eq!(s.close, ts("1992-11-27T19:00:00Z"));
    assert!(s.early_close);
    // Before 1992 the day after Thanksgiving was a full day.
    let s = session(Exchange::Xnys, date(1991, 11, 29));
    assert_eq!(s.close, ts("1991-11-29T21:00:00Z"));
    assert!(!s.early_close);
}

#[test]
fn xnys_early_close_christmas_eve() {
    let s = session(Exchange::Xnys, date(2024, 12, 24));
    assert_eq!(s.close, ts("2024-12-24T18:00:00Z"));
    assert!(s.early_close);
    // A Friday Christmas Eve is the observed Christmas holiday: closed.
    assert_closed(Exchange::Xnys, &[date(2021, 12, 24), date(2021, 12, 25)]);
    // The day before Independence Day: Wednesday 3 July 2024 closes at 13:00 ...
    let s = session(Exchange::Xnys, date(2024, 7, 3));
    assert_eq!(s.close, ts("2024-07-03T17:00:00Z"));
    // ... but Friday 5 July 2019 (after a Thursday 4th) has been a full day since 2013.
    let s = session(Exchange::Xnys, date(2019, 7, 5));
    assert_eq!(s.close, ts("2019-07-05T20:00:00Z"));
    assert!(!s.early_close);
}

#[test]
fn xnys_one_off_closures() {
    assert_closed(
        Exchange::Xnys,
        &[
            // Hurricane Sandy.
            date(2012, 10, 29),
            date(2012, 10, 30),
            // National day of mourning for Jimmy Carter.
            date(2025, 1, 9),
            // September 11 attacks: closed Tuesday to Friday, reopened Monday 17th.
            date(2001, 9, 11),
            date(2001, 9, 12),
            date(2001, 9, 13),
            date(2001, 9, 14),
            // Mourning days: Nixon, Reagan, Ford, G. H. W. Bush.
            date(1994, 4, 27),
            date(2004, 6, 11),
            date(2007, 1, 2),
            date(2018, 12, 5),
        ],
    );
    let c = cal(Exchange::Xnys);
    assert!(c.is_session(date(2001, 9, 10)));
    assert!(c.is_session(date(2001, 9, 17)));
    assert!(c.is_session(date(2012, 10, 31)));
    assert!(c.is_session(date(2025, 1, 8)));
    assert!(c.is_session(date(2025, 1, 10)));
    let reasons: Vec<&str> = c
        .built_in_closures()
        .iter()
        .filter(|(d, _)| *d == date(2025, 1, 9))
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(reasons, ["national day of mourning for Jimmy Carter"]);
}

#[test]
fn other_exchanges_one_off_closures() {
    // State funeral of Queen Elizabeth II; Australia's national day of mourning.
    assert_closed(Exchange::Xlon, &[date(2022, 9, 19), date(2011, 4, 29)]);
    assert_closed(Exchange::Xasx, &[date(2022, 9, 22)]);
    assert_closed(Exchange::Xtse, &[date(2001, 9, 11), date(2001, 9, 12)]);
    assert!(cal(Exchange::Xtse).is_session(date(2001, 9, 13)));
    // Tokyo: Naruhito's accession holidays and the 2020 system failure.
    assert_closed(
        Exchange::Xtks,
        &[
            date(2019, 4, 30),
            date(2019, 5, 1),
            date(2019, 5, 2),
            date(2019, 10, 22),
            date(2020, 10, 1),
        ],
    );
    assert_closed(Exchange::Xetr, &[date(2017, 10, 31)]);
}

#[test]
fn easter_and_floating_holidays() {
    assert_closed(
        Exchange::Xnys,
        &[date(2025, 4, 18), date(2025, 1, 20), date(2025, 6, 19)],
    );
    // MLK Day only from 1998; Juneteenth only from 2022.
    assert!(cal(Exchange::Xnys).is_session(date(1997, 1, 20)));
    assert!(cal(Exchange::Xnys).is_session(date(2021, 6, 18)));
    assert_closed(
        Exchange::Xlon,
        &[date(2025, 4, 18), date(2025, 4, 21), date(2025, 5, 5)],
    );
    assert_closed(Exchange::Xpar, &[date(2025, 4, 21), date(2025, 5, 1)]);
    assert_closed(Exchange::Xtse, &[date(2025, 5, 19), date(2025, 10, 13)]);
    assert_closed(Exchange::Xasx, &[date(2025, 4, 25), date(2025, 6, 9)]);
    // Japanese equinoxes, and the 2026 Silver Week citizens' holiday.
    assert_closed(
        Exchange::Xtks,
        &[date(2025, 3, 20), date(2025, 9, 23), date(2026, 9, 22)],
    );
    // Saturday Christmas 2021 in London: Monday 27 and Tuesday 28 December off.
    assert_closed(Exchange::Xlon, &[date(2021, 12, 27), date(2021, 12, 28)]);
    assert!(cal(Exchange::Xlon).is_session(date(2021, 12, 29)));
}

#[test]
fn early_closes_elsewhere() {
    // London 12:30 on Christmas Eve (12:30 UTC in winter).
    let s = session(Exchange::Xlon, date(2024, 12, 24));
    assert_eq!(s.close, ts("2024-12-24T12:30:00Z"));
    assert!(s.early_close);
    // Paris 14:05 on New Year's Eve.
    assert_eq!(
        session(Exchange::Xpar, date(2024, 12, 31)).close,
        ts("2024-12-31T13:05:00Z")
    );
    // Xetra 14:00 on the last weekday before New Year's Eve (which is closed).
    assert_eq!(
        session(Exchange::Xetr, date(2024, 12, 30)).close,
        ts("2024-12-30T13:00:00Z")
    );
    assert_closed(Exchange::Xetr, &[date(2024, 12, 24), date(2024, 12, 31)]);
    // Toronto 13:00 on Christmas Eve.
    assert_eq!(
        session(Exchange::Xtse, date(2024, 12, 24)).close,
        ts("2024-12-24T18:00:00Z")
    );
    // Sydney 14:10 (03:10 UTC in summer time); none in 2022.
    assert_eq!(
        session(Exchange::Xasx, date(2024, 12, 24)).close,
        ts("2024-12-24T03:10:00Z")
    );
    assert!(!session(Exchange::Xasx, date(2022, 12, 23)).early_close);
}

#[test]
fn xtks_lunch_break_and_later_close() {
    let s = session(Exchange::Xtks, date(2024, 11, 1));
    assert_eq!(s.open, ts("2024-11-01T00:00:00Z"));
    assert_eq!(
        s.break_,
        Some((ts("2024-11-01T02:30:00Z"), ts("2024-11-01T03:30:00Z")))
    );
    assert_eq!(s.close, ts("2024-11-01T06:00:00Z"));
    // From 2024-11-05 the afternoon runs to 15:30 Tokyo.
    let s = session(Exchange::Xtks, date(2024, 11, 5));
    assert_eq!(s.close, ts("2024-11-05T06:30:00Z"));
    assert!(!s.early_close);
    assert_eq!(session(Exchange::Xnys, date(2024, 11, 5)).break_, None);
}

#[test]
fn daylight_saving_moves_utc_open() {
    assert_eq!(
        session(Exchange::Xnys, date(2025, 3, 7)).open,
        ts("2025-03-07T14:30:00Z")
    );
    assert_eq!(
        session(Exchange::Xnys, date(2025, 3, 10)).open,
        ts("2025-03-10T13:30:00Z")
    );
    // Sydney's summer is January.
    assert_eq!(
        session(Exchange::Xasx, date(2025, 1, 6)).open,
        ts("2025-01-05T23:00:00Z")
    );
}

#[test]
fn fx_day_is_the_london_day_and_crypto_never_closes() {
    let s = session(Exchange::Fx, date(2025, 1, 6));
    assert_eq!(s.open, ts("2025-01-06T00:00:00Z"));
    assert_eq!(s.close, ts("2025-01-07T00:00:00Z"));
    let s = session(Exchange::Fx, date(2025, 7, 7));
    assert_eq!(s.open, ts("2025-07-06T23:00:00Z"));
    assert_eq!(s.close, ts("2025-07-07T23:00:00Z"));
    assert_closed(Exchange::Fx, &[date(2025, 7, 5), date(2025, 7, 6)]);
    // FX and crypto have no holidays.
    assert!(cal(Exchange::Fx).is_session(date(2025, 12, 25)));
    let s = session(Exchange::Always, date(2025, 12, 25));
    assert_eq!(s.open, ts("2025-12-25T00:00:00Z"));
    assert_eq!(s.close, ts("2025-12-26T00:00:00Z"));
    assert_eq!(
        cal(Exchange::Always)
            .sessions(date(2024, 1, 1), date(2024, 12, 31))
            .len(),
        366
    );
}

#[test]
fn user_closures_apply_on_top_of_rules() {
    let extra = date(2031, 6, 2);
    let c = Calendar::new(Exchange::Xnys).with_closures([extra]);
    assert!(Calendar::new(Exchange::Xnys).is_session(extra));
    assert!(!c.is_session(extra));
    assert_eq!(c.extra_closures().collect::<Vec<_>>(), [extra]);
    assert_eq!(
        c.next_session(date(2031, 5, 30)).map(|s| s.date),
        Some(date(2031, 6, 3))
    );
}

#[test]
fn yearly_session_counts_match_reference() {
    // (exchange, year, sessions) from exchange_calendars 4.13.2.
    let expected = [
        (Exchange::Xnys, 2001, 248),
        (Exchange::Xnys, 2012, 250),
        (Exchange::Xnys, 2024, 252),
        (Exchange::Xnys, 2025, 250),
        (Exchange::Xlon, 2012, 252),
        (Exchange::Xlon, 2024, 254),
        (Exchange::Xpar, 2001, 253),
        (Exchange::Xpar, 2024, 256),
        (Exchange::Xetr, 2012, 254),
        (Exchange::Xetr, 2025, 253),
        (Exchange::Xtse, 2001, 250),
        (Exchange::Xtse, 2025, 251),
        (Exchange::Xasx, 2012, 253),
        (Exchange::Xasx, 2024, 254),
        (Exchange::Xtks, 2001, 246),
        (Exchange::Xtks, 2024, 245),
        (Exchange::Xtks, 2025, 243),
    ];
    for (e, y, n) in expected {
        let got = cal(e).sessions(date(y, 1, 1), date(y, 12, 31)).len();
        assert_eq!(got, n, "{e} {y}");
    }
}

#[test]
fn latest_closed_and_open_sessions() {
    let c = cal(Exchange::Xnys);
    // Friday 2025-01-10 at 15:00 New York: the market is open; the last closed session is the 8th
    // (the 9th was the Carter mourning day).
    let now = ts("2025-01-10T20:00:00Z");
    assert_eq!(
        c.open_session_at(now).map(|s| s.date),
        Some(date(2025, 1, 10))
    );
    assert_eq!(
        c.latest_closed_session(now).map(|s| s.date),
        Some(date(2025, 1, 8))
    );
    let after = ts("2025-01-10T21:00:00Z");
    assert_eq!(c.open_session_at(after), None);
    assert_eq!(
        c.latest_closed_session(after).map(|s| s.date),
        Some(date(2025, 1, 10))
    );
    let last3: Vec<Date> = c
        .sessions_ending(date(2025, 1, 12), 3)
        .iter()
        .map(|s| s.date)
        .collect();
    assert_eq!(
        last3,
        [date(2025, 1, 7), date(2025, 1, 8), date(2025, 1, 10)]
    );
}
