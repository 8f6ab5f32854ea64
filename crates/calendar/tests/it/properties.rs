//! Invariants every calendar keeps, over random ranges in 1990–2035.

use backfill_calendar::{Calendar, Exchange};
use jiff::Span;
use jiff::civil::{Date, Weekday, date};
use proptest::prelude::*;

fn day(offset: i32) -> Date {
    date(1990, 1, 1)
        .checked_add(Span::new().days(offset))
        .expect("in range")
}

fn exchange() -> impl Strategy<Value = Exchange> {
    prop::sample::select(Exchange::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn sessions_are_sorted_unique_and_well_formed(e in exchange(), start in 0..16_700i32, len in 0..400i32) {
        let cal = Calendar::new(e);
        let (from, to) = (day(start), day(start + len));
        let sessions = cal.sessions(from, to);
        for pair in sessions.windows(2) {
            prop_assert!(pair[0].date < pair[1].date, "{e}: {} then {}", pair[0].date, pair[1].date);
            prop_assert!(pair[0].close <= pair[1].open, "{e}: overlapping sessions at {}", pair[1].date);
        }
        for s in &sessions {
            prop_assert!(from <= s.date && s.date <= to);
            prop_assert!(s.open < s.close, "{e} {}: open {} close {}", s.date, s.open, s.close);
            // The session date is the open's local date.
            prop_assert_eq!(s.open.to_zoned_datetime(cal.timezone().clone()).date(), s.date);
            if let Some((a, b)) = s.break_ {
                prop_assert!(s.open < a && a < b && b < s.close, "{e} {}: bad break", s.date);
            }
            prop_assert_eq!(cal.session(s.date), Some(*s));
        }
        // Exactly the days `is_session` accepts.
        let mut d = from;
        let mut n = 0;
        while d <= to {
            n += usize::from(cal.is_session(d));
            d = d.tomorrow().expect("in range");
        }
        prop_assert_eq!(n, sessions.len());
    }

    #[test]
    fn weekends_follow_each_exchange_rule(e in exchange(), start in 0..16_700i32) {
        let cal = Calendar::new(e);
        for s in 0..14 {
            let d = day(start + s);
            let weekend = matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday);
            match e {
                Exchange::Always => prop_assert!(cal.is_session(d), "24/7 is always open: {d}"),
                Exchange::Fx | Exchange::Weekdays => prop_assert_eq!(cal.is_session(d), !weekend),
                _ => if weekend { prop_assert!(!cal.is_session(d), "{e} open on weekend {d}") },
            }
        }
        // Every exchange holds at least two sessions in any fourteen days; Shanghai and Shenzhen
        // in any 21 (they closed 19 days in a row for the 1999 Spring Festival). Shorter
        // windows fail: Tokyo's Golden Week, Taipei's and Seoul's lunar new year, the week of
        // September 11 in New York. Checked exhaustively for 1990-2035 when these were written.
        let window = match e {
            Exchange::Xshg | Exchange::Xshe => 21,
            _ => 14,
        };
        let open: usize = (0..window).map(|i| usize::from(cal.is_session(day(start + i)))).sum();
        prop_assert!(open >= 2, "{e}: only {open} sessions in {window} days from {}", day(start));
    }

    #[test]
    fn next_and_previous_sessions_are_neighbours(e in exchange(), start in 1..16_700i32) {
        let cal = Calendar::new(e);
        let d = day(start);
        let next = cal.next_session(d).expect("a session within 40 days");
        let prev = cal.previous_session(d).expect("a session within 40 days");
        prop_assert!(prev.date < d && d < next.date);
        prop_assert_eq!(cal.sessions(prev.date.tomorrow().unwrap(), next.date.yesterday().unwrap())
            .len(), usize::from(cal.is_session(d)));
    }
}
