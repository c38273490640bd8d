use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 time")
}

fn next(cron: &str, after: &str) -> String {
    Cron::parse(cron)
        .expect("parses")
        .next_after(at(after))
        .expect("runs again")
        .to_string()
}

/// The next `n` run times after `after`.
fn runs(cron: &str, after: &str, n: usize) -> Vec<String> {
    let cron = Cron::parse(cron).expect("parses");
    let mut t = at(after);
    (0..n)
        .map(|_| {
            t = cron.next_after(t).expect("runs again");
            t.to_string()
        })
        .collect()
}

fn fails(cron: &str) -> CronError {
    Cron::parse(cron).expect_err("rejected")
}

#[test]
fn every_minute_runs_the_next_whole_minute_strictly_after() {
    assert_eq!(
        next("* * * * *", "2024-05-01T10:00:00Z"),
        "2024-05-01T10:01:00Z"
    );
    assert_eq!(
        next("* * * * *", "2024-05-01T10:00:59.999Z"),
        "2024-05-01T10:01:00Z"
    );
    assert_eq!(
        next("* * * * *", "2024-12-31T23:59:30Z"),
        "2025-01-01T00:00:00Z"
    );
}

#[test]
fn hourly_and_daily_schedules_roll_over_hours_days_and_years() {
    assert_eq!(
        next("0 * * * *", "2024-05-01T10:00:00Z"),
        "2024-05-01T11:00:00Z"
    );
    assert_eq!(
        next("0 * * * *", "2024-05-01T23:30:00Z"),
        "2024-05-02T00:00:00Z"
    );
    assert_eq!(
        next("0 0 * * *", "2024-12-31T00:00:00Z"),
        "2025-01-01T00:00:00Z"
    );
    assert_eq!(
        next("30 9 * * *", "2024-05-01T09:29:00Z"),
        "2024-05-01T09:30:00Z"
    );
    assert_eq!(
        next("30 9 * * *", "2024-05-01T09:30:00Z"),
        "2024-05-02T09:30:00Z"
    );
}

#[test]
fn steps_ranges_and_lists_select_the_right_values() {
    assert_eq!(
        runs("0 */4 * * *", "2024-05-01T00:00:00Z", 3),
        [
            "2024-05-01T04:00:00Z",
            "2024-05-01T08:00:00Z",
            "2024-05-01T12:00:00Z"
        ]
    );
    assert_eq!(
        runs("15-45/15 9-10 * * *", "2024-05-01T09:00:00Z", 6),
        [
            "2024-05-01T09:15:00Z",
            "2024-05-01T09:30:00Z",
            "2024-05-01T09:45:00Z",
            "2024-05-01T10:15:00Z",
            "2024-05-01T10:30:00Z",
            "2024-05-01T10:45:00Z",
        ]
    );
    assert_eq!(
        runs("0,20,40 12 * * *", "2024-05-01T12:30:00Z", 3),
        [
            "2024-05-01T12:40:00Z",
            "2024-05-02T12:00:00Z",
            "2024-05-02T12:20:00Z"
        ]
    );
    // `a/n` runs from `a` to the end of the field.
    assert_eq!(
        runs("50/5 0 * * *", "2024-05-01T00:00:00Z", 3),
        [
            "2024-05-01T00:50:00Z",
            "2024-05-01T00:55:00Z",
            "2024-05-02T00:50:00Z"
        ]
    );
}

#[test]
fn the_31st_skips_months_without_one() {
    assert_eq!(
        runs("0 0 31 * *", "2024-01-31T00:00:00Z", 4),
        [
            "2024-03-31T00:00:00Z",
            "2024-05-31T00:00:00Z",
            "2024-07-31T00:00:00Z",
            "2024-08-31T00:00:00Z",
        ]
    );
}

#[test]
fn the_29th_of_february_runs_only_in_leap_years_and_skips_2100() {
    assert_eq!(
        next("0 0 29 2 *", "2023-03-01T00:00:00Z"),
        "2024-02-29T00:00:00Z"
    );
    assert_eq!(
        next("0 0 29 2 *", "2024-02-29T00:00:00Z"),
        "2028-02-29T00:00:00Z"
    );
    // 2100 is not a leap year: eight years between runs, found without walking minutes.
    assert_eq!(
        next("0 0 29 2 *", "2096-03-01T00:00:00Z"),
        "2104-02-29T00:00:00Z"
    );
}

#[test]
fn month_ends_and_month_fields_are_respected() {
    assert_eq!(
        next("0 12 28-31 2 *", "2023-02-28T13:00:00Z"),
        "2024-02-28T12:00:00Z"
    );
    assert_eq!(
        runs("0 12 28-31 2 *", "2024-02-28T13:00:00Z", 2),
        ["2024-02-29T12:00:00Z", "2025-02-28T12:00:00Z"]
    );
    assert_eq!(
        next("0 0 1 1,7 *", "2024-01-01T00:00:00Z"),
        "2024-07-01T00:00:00Z"
    );
    assert_eq!(
        next("0 0 1 1,7 *", "2024-07-01T00:00:00Z"),
        "2025-01-01T00:00:00Z"
    );
}

#[test]
fn day_of_month_and_day_of_week_both_restricted_run_on_either() {
    // 2024-05-01 is a Wednesday: the 1st of June is a Saturday; Mondays are 6, 13, 20, 27 May.
    assert_eq!(
        runs("0 0 1 * 1", "2024-05-01T00:00:00Z", 5),
        [
            "2024-05-06T00:00:00Z",
            "2024-05-13T00:00:00Z",
            "2024-05-20T00:00:00Z",
            "2024-05-27T00:00:00Z",
            "2024-06-01T00:00:00Z",
        ]
    );
    // A step restricts: the odd days and every Sunday.
    assert_eq!(
        runs("0 0 */2 * 0", "2024-05-01T00:00:00Z", 3),
        [
            "2024-05-03T00:00:00Z",
            "2024-05-05T00:00:00Z",
            "2024-05-07T00:00:00Z"
        ]
    );
}

#[test]
fn a_day_field_that_selects_every_value_defers_to_the_other() {
    // Weekdays only: `1-31` selects every day of the month, so it does not widen to every day.
    assert_eq!(
        runs("0 9 1-31 * 1-5", "2024-05-03T10:00:00Z", 2),
        ["2024-05-06T09:00:00Z", "2024-05-07T09:00:00Z"]
    );
    assert_eq!(
        runs("0 9 * * 6", "2024-05-01T00:00:00Z", 2),
        ["2024-05-04T09:00:00Z", "2024-05-11T09:00:00Z"]
    );
    assert_eq!(
        next("0 9 15 * *", "2024-05-16T00:00:00Z"),
        "2024-06-15T09:00:00Z"
    );
}

#[test]
fn seven_is_sunday_too() {
    let sunday = "2024-05-05T00:00:00Z";
    assert_eq!(next("0 0 * * 7", "2024-05-01T00:00:00Z"), sunday);
    assert_eq!(next("0 0 * * 0", "2024-05-01T00:00:00Z"), sunday);
    assert_eq!(
        Cron::parse("0 0 * * 0-7").unwrap().weekdays,
        span_mask(0, 6)
    );
    assert_eq!(next("0 0 * * 5-7", "2024-05-04T12:00:00Z"), sunday);
}

#[test]
fn whitespace_between_fields_is_free() {
    assert_eq!(
        next("  0\t*  * * *  ", "2024-05-01T10:00:00Z"),
        "2024-05-01T11:00:00Z"
    );
    assert_eq!(Cron::parse("0 * * * *").unwrap().as_str(), "0 * * * *");
}

#[test]
fn the_end_of_time_has_no_next_run() {
    let cron = Cron::parse("0 0 1 1 *").unwrap();
    assert_eq!(cron.next_after(at("9999-06-01T00:00:00Z")), None);
}

#[test]
fn mistakes_are_reported_at_their_character_with_a_hint() {
    let e = fails("0 * * *");
    assert_eq!(
        (e.message.as_str(), e.offset),
        ("expected 5 fields, found 4", 0)
    );
    let e = fails("0 0 * * * *");
    assert_eq!(e.offset, 10);
    assert!(e.hint.unwrap().contains("no seconds"));

    let e = fails("0 24 * * *");
    assert_eq!(e.message, "24 is out of range for the hour field (0-23)");
    assert_eq!(e.offset, 2);
    let e = fails("0 1-99 * * *");
    assert_eq!(
        (e.message.as_str(), e.offset),
        ("99 is out of range for the hour field (0-23)", 4)
    );
    let e = fails("0 0 0 * *");
    assert_eq!(
        e.message,
        "0 is out of range for the day of month field (1-31)"
    );
    let e = fails("0 0 * 13 *");
    assert_eq!(e.offset, 6);
    let e = fails("0 0 * * 8");
    assert_eq!(
        e.message,
        "8 is out of range for the day of week field (0-7)"
    );

    let e = fails("*/0 * * * *");
    assert_eq!(
        (e.message.as_str(), e.offset),
        ("a step of 0 never advances", 2)
    );
    let e = fails("0 5-1 * * *");
    assert_eq!(e.message, "range `5-1` in the hour field runs backwards");
    let e = fails("0,,5 * * * *");
    assert_eq!(
        (e.message.as_str(), e.offset),
        ("empty item in the minute field", 2)
    );
    let e = fails("0 0 * * MON");
    assert_eq!(
        (e.message.as_str(), e.offset),
        ("`MON` is not a number in the day of week field", 8)
    );
    assert!(e.hint.unwrap().contains("0 (Sunday)"));
    let e = fails("0 0 * JAN *");
    assert!(e.hint.unwrap().contains("1 (January)"));
    let e = fails("0 0 L * *");
    assert!(e.hint.unwrap().contains("not supported"));
    let e = fails("0 0 99999999999 * *");
    assert_eq!(
        e.message,
        "`99999999999` is out of range for the day of month field"
    );
    let e = fails("@daily");
    assert_eq!(e.hint.as_deref(), Some("write `0 0 * * *`"));
}

#[test]
fn an_expression_that_can_never_run_is_rejected() {
    let e = fails("0 0 30 2 *");
    assert_eq!(e.offset, 4);
    assert!(e.message.contains("never runs"), "{}", e.message);
    assert!(Cron::parse("0 0 31 4,6,9,11 *").is_err());
    // With a weekday as well, the weekday still runs.
    assert!(Cron::parse("0 0 30 2 1").is_ok());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A field: `None` is `*`, else a list of values.
    fn field(min: u32, max: u32) -> impl Strategy<Value = Option<Vec<u32>>> {
        prop::option::weighted(0.6, prop::collection::vec(min..=max, 1..4))
    }

    fn render(field: &Option<Vec<u32>>) -> String {
        field.as_ref().map_or("*".to_owned(), |values| {
            values
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    /// Whether `field` allows `value`, with `*` allowing all.
    fn allows(field: &Option<Vec<u32>>, value: u32) -> bool {
        field.as_ref().is_none_or(|values| values.contains(&value))
    }

    /// Cron's rule, written independently of the implementation: both day fields restricted run
    /// on either, otherwise on both.
    struct Oracle {
        fields: [Option<Vec<u32>>; 5],
    }

    impl Oracle {
        fn weekday(&self, day: u32) -> bool {
            allows(&self.fields[4], day) || (day == 0 && allows(&self.fields[4], 7))
        }

        fn runs_at(&self, t: Timestamp) -> bool {
            let dt = Offset::UTC.to_datetime(t);
            let [minute, hour, dom, month, _] = &self.fields;
            let every_dom = (1..=31).all(|d| allows(dom, d));
            let every_dow = (0..=6).all(|d| self.weekday(d));
            let on_dom = allows(dom, dt.day() as u32);
            let on_dow = self.weekday(dt.weekday().to_sunday_zero_offset() as u32);
            let day = if every_dom || every_dow {
                on_dom && on_dow
            } else {
                on_dom || on_dow
            };
            dt.second() == 0
                && allows(minute, dt.minute() as u32)
                && allows(hour, dt.hour() as u32)
                && allows(month, dt.month() as u32)
                && day
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn next_after_is_the_first_running_minute_strictly_after(
            minute in field(0, 59),
            hour in field(0, 23),
            dom in field(1, 31),
            month in field(1, 12),
            dow in field(0, 7),
            start in 0i64..4_102_444_800,
        ) {
            let oracle = Oracle { fields: [minute, hour, dom, month, dow] };
            let text = oracle.fields.iter().map(render).collect::<Vec<_>>().join(" ");
            let Ok(cron) = Cron::parse(&text) else {
                // Only a day of month that no named month has is refused.
                prop_assert!(oracle.fields[2].is_some() && oracle.fields[4].is_none(), "{text}");
                return Ok(());
            };
            let after = Timestamp::from_second(start).unwrap();
            let next = cron.next_after(after).unwrap();
            prop_assert!(next > after);
            prop_assert!(oracle.runs_at(next), "{text}: {next} does not run");
            // No earlier minute runs (checked when the gap is short enough to walk).
            let minute = jiff::SignedDuration::from_mins(1);
            let first = Timestamp::from_second(start.div_euclid(60) * 60 + 60).unwrap();
            if next.duration_since(first) < jiff::SignedDuration::from_hours(72) {
                let mut t = first;
                while t < next {
                    prop_assert!(!oracle.runs_at(t), "{text}: {t} runs before {next}");
                    t = t.checked_add(minute).unwrap();
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "[0-9*/,\\- MONL?#]{0,24}") {
            if let Ok(cron) = Cron::parse(&text) {
                let after = Timestamp::from_second(1_700_000_000).unwrap();
                prop_assert!(cron.next_after(after).is_some_and(|next| next > after));
            }
        }
    }
}
