//! Our cron schedules as EventBridge `cron(...)` expressions.
//!
//! A [`Schedule`] is the `cron` crate's dialect: `sec min hour day-of-month month day-of-week
//! [year]`, lists, ranges, `start/step`, month and weekday names, `?` for "any day", and the
//! `@yearly` .. `@hourly` shorthands. EventBridge reads `min hour day-of-month month
//! day-of-week year` and wants `?` in one of the two day fields. Each field is resolved to the
//! set of values it matches, as the `cron` crate does, and written back in EventBridge's syntax,
//! so the result fires at exactly the same times; what EventBridge cannot express is an error.

use std::collections::BTreeSet;

use cloudport_core::function::Schedule;
use cloudport_core::{Error, Result};

/// A field of the cron dialect: its range and the names it accepts.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const SECONDS: Field = Field { name: "seconds", min: 0, max: 59, names: &[] };
const MINUTES: Field = Field { name: "minutes", min: 0, max: 59, names: &[] };
const HOURS: Field = Field { name: "hours", min: 0, max: 23, names: &[] };
const DAYS_OF_MONTH: Field = Field { name: "day-of-month", min: 1, max: 31, names: &[] };
const MONTHS: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("january", 1),
        ("feb", 2),
        ("february", 2),
        ("mar", 3),
        ("march", 3),
        ("apr", 4),
        ("april", 4),
        ("may", 5),
        ("jun", 6),
        ("june", 6),
        ("jul", 7),
        ("july", 7),
        ("aug", 8),
        ("august", 8),
        ("sep", 9),
        ("september", 9),
        ("oct", 10),
        ("october", 10),
        ("nov", 11),
        ("november", 11),
        ("dec", 12),
        ("december", 12),
    ],
};
/// Sunday is 1 in the `cron` crate and in EventBridge alike.
const DAYS_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &[
        ("sun", 1),
        ("sunday", 1),
        ("mon", 2),
        ("monday", 2),
        ("tue", 3),
        ("tues", 3),
        ("tuesday", 3),
        ("wed", 4),
        ("wednesday", 4),
        ("thu", 5),
        ("thurs", 5),
        ("thursday", 5),
        ("fri", 6),
        ("friday", 6),
        ("sat", 7),
        ("saturday", 7),
    ],
};
/// The `cron` crate's years; EventBridge's run to 2199, so a full set is `*` in both.
const YEARS: Field = Field { name: "year", min: 1970, max: 2100, names: &[] };

/// EventBridge's weekday names, Sunday first.
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// `schedule` as an EventBridge schedule expression, `cron(min hour dom month dow year)` (UTC),
/// firing at the same times.
///
/// | cloudport | EventBridge |
/// |---|---|
/// | `0 */5 * * * *` | `cron(0/5 * * * ? *)` |
/// | `0 30 9 * * Mon-Fri` | `cron(30 9 ? * MON-FRI *)` |
/// | `0 0 0 1 * *` | `cron(0 0 1 * ? *)` |
/// | `0 0 12 * * * 2030` | `cron(0 12 * * ? 2030)` |
/// | `@daily` | `cron(0 0 * * ? *)` |
///
/// ```
/// use cloudport_aws::sam::eventbridge_cron;
/// use cloudport_core::function::Schedule;
///
/// let weekday_mornings = Schedule::parse("0 30 9 * * Mon-Fri")?;
/// assert_eq!(eventbridge_cron(&weekday_mornings)?, "cron(30 9 ? * MON-FRI *)");
///
/// // EventBridge fires at most once a minute.
/// let every_two_seconds = Schedule::parse("*/2 * * * * *")?;
/// assert!(eventbridge_cron(&every_two_seconds).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// `InvalidInput` when EventBridge cannot express the schedule: a seconds field other than `0`
/// (EventBridge fires at second 0, at most once a minute), or both day-of-month and day-of-week
/// restricted (the `cron` crate fires on days matching both; EventBridge takes one of them and
/// `?` for the other).
pub fn eventbridge_cron(schedule: &Schedule) -> Result<String> {
    let expression = schedule.expression();
    let fields = resolve(expression)?;
    let [seconds, minutes, hours, dom, months, dow, years] = &fields;

    if *seconds != BTreeSet::from([0]) {
        let minute_granular = minute_granular(expression);
        let why = if seconds.len() > 1 {
            "fires more than once a minute, but EventBridge fires at most once a minute"
        } else {
            "fires at a second other than 0, but EventBridge fires at the start of a minute"
        };
        return Err(Error::invalid_input(format!(
            "schedule {expression:?} {why} (use a minute-granular expression with 0 in the seconds field{minute_granular})"
        )));
    }

    let dom_all = is_all(dom, &DAYS_OF_MONTH);
    let dow_all = is_all(dow, &DAYS_OF_WEEK);
    let (dom, dow) = match (dom_all, dow_all) {
        (_, true) => (render(dom, &DAYS_OF_MONTH, Style::Steps), "?".to_owned()),
        (true, false) => ("?".to_owned(), render(dow, &DAYS_OF_WEEK, Style::Weekdays)),
        (false, false) => {
            return Err(Error::invalid_input(format!(
                "schedule {expression:?} restricts both the day of the month and the day of the week, which EventBridge cannot express (its cron takes one of them and `?` for the other): restrict one in the schedule and check the other in the handler"
            )));
        }
    };
    Ok(format!(
        "cron({} {} {dom} {} {dow} {})",
        render(minutes, &MINUTES, Style::Steps),
        render(hours, &HOURS, Style::Steps),
        render(months, &MONTHS, Style::Steps),
        render(years, &YEARS, Style::Lists),
    ))
}

/// The expression with `0` seconds, as a suggestion (`, such as "0 * * * * *"`).
fn minute_granular(expression: &str) -> String {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    match fields.get(1..) {
        Some(rest) if fields.len() >= 6 => format!(", such as \"0 {}\"", rest.join(" ")),
        _ => String::new(),
    }
}

/// The seven fields of `expression` as the sets of values they match.
fn resolve(expression: &str) -> Result<[BTreeSet<u32>; 7]> {
    let all = |f: &Field| (f.min..=f.max).collect::<BTreeSet<u32>>();
    let one = |v: u32| BTreeSet::from([v]);
    let shorthand = match expression.trim() {
        "@yearly" => Some([one(0), one(0), one(0), one(1), one(1), all(&DAYS_OF_WEEK), all(&YEARS)]),
        "@monthly" => Some([one(0), one(0), one(0), one(1), all(&MONTHS), all(&DAYS_OF_WEEK), all(&YEARS)]),
        "@weekly" => Some([one(0), one(0), one(0), all(&DAYS_OF_MONTH), all(&MONTHS), one(1), all(&YEARS)]),
        "@daily" => Some([one(0), one(0), one(0), all(&DAYS_OF_MONTH), all(&MONTHS), all(&DAYS_OF_WEEK), all(&YEARS)]),
        "@hourly" => {
            Some([one(0), one(0), all(&HOURS), all(&DAYS_OF_MONTH), all(&MONTHS), all(&DAYS_OF_WEEK), all(&YEARS)])
        }
        _ => None,
    };
    if let Some(fields) = shorthand {
        return Ok(fields);
    }
    let texts: Vec<&str> = expression.split_whitespace().collect();
    if !(6..=7).contains(&texts.len()) {
        return Err(untranslatable(expression, "it does not have 6 or 7 space-separated fields"));
    }
    let specs = [&SECONDS, &MINUTES, &HOURS, &DAYS_OF_MONTH, &MONTHS, &DAYS_OF_WEEK, &YEARS];
    let mut fields: [BTreeSet<u32>; 7] = Default::default();
    for (i, spec) in specs.iter().enumerate() {
        fields[i] = match texts.get(i) {
            Some(text) => field_values(text, spec).map_err(|why| untranslatable(expression, &why))?,
            None => all(spec),
        };
    }
    Ok(fields)
}

fn untranslatable(expression: &str, why: &str) -> Error {
    Error::invalid_input(format!(
        "schedule {expression:?} cannot be translated to an EventBridge cron expression: {why} (write it with plain numbers, names, `*`, `?`, `,`, `-` and `/`)"
    ))
}

/// The values one field matches: a `,`-separated list of `*`, `?`, `N`, `NAME`, `A-B`, each
/// optionally `/STEP` (`N/STEP` runs from N to the field's end), as the `cron` crate reads them.
fn field_values(text: &str, field: &Field) -> std::result::Result<BTreeSet<u32>, String> {
    let mut values = BTreeSet::new();
    for item in text.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step: u32 = step.parse().map_err(|_| format!("bad step {step:?} in the {} field", field.name))?;
                if step == 0 {
                    return Err(format!("a step of 0 in the {} field", field.name));
                }
                (base, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = match base {
            "*" | "?" => (field.min, field.max),
            _ => match base.split_once('-') {
                Some((a, b)) => (value(a, field)?, value(b, field)?),
                // `N/STEP` starts at N and runs to the end; a lone `N` is just N.
                None if step.is_some() => (value(base, field)?, field.max),
                None => {
                    let v = value(base, field)?;
                    (v, v)
                }
            },
        };
        if start > end {
            return Err(format!("the range {base:?} of the {} field runs backwards", field.name));
        }
        values.extend((start..=end).step_by(step.unwrap_or(1) as usize));
    }
    Ok(values)
}

fn value(text: &str, field: &Field) -> std::result::Result<u32, String> {
    let parsed = match text.parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            let lower = text.to_ascii_lowercase();
            field.names.iter().find(|(name, _)| *name == lower).map(|&(_, n)| n)
        }
    };
    match parsed {
        Some(n) if (field.min..=field.max).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a value of the {} field ({} to {})", field.name, field.min, field.max)),
    }
}

fn is_all(values: &BTreeSet<u32>, field: &Field) -> bool {
    values.len() == (field.max - field.min + 1) as usize
}

/// How to write a set that is not the whole field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `start/step` for a progression that runs to the field's end, else lists and ranges.
    Steps,
    /// Lists and ranges only (years: EventBridge's run past the `cron` crate's).
    Lists,
    /// Lists and ranges of weekday names.
    Weekdays,
}

fn render(values: &BTreeSet<u32>, field: &Field, style: Style) -> String {
    if is_all(values, field) {
        return "*".to_owned();
    }
    let v: Vec<u32> = values.iter().copied().collect();
    if style == Style::Steps
        && let Some(step) = progression_to_end(&v, field)
    {
        return format!("{}/{step}", v[0]);
    }
    let name = |n: u32| match style {
        Style::Weekdays => WEEKDAYS[(n - 1) as usize].to_owned(),
        _ => n.to_string(),
    };
    // Runs of three or more consecutive values become ranges.
    let mut parts = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            parts.push(format!("{}-{}", name(v[i]), name(v[j])));
        } else {
            parts.extend(v[i..=j].iter().map(|&n| name(n)));
        }
        i = j + 1;
    }
    parts.join(",")
}

/// The step of `values` when they are `start, start + step, ..` up to the field's end (at least
/// three values, step above 1): exactly what EventBridge's `start/step` matches.
fn progression_to_end(values: &[u32], field: &Field) -> Option<u32> {
    let [first, second, ..] = values else { return None };
    let step = second - first;
    let regular = values.len() >= 3 && step > 1 && values.windows(2).all(|w| w[1] - w[0] == step);
    let last = *values.last()?;
    (regular && last + step > field.max).then_some(step)
}

#[cfg(test)]
mod tests {
    use cloudport_core::ErrorKind;

    use super::*;

    fn convert(expression: &str) -> Result<String> {
        eventbridge_cron(&Schedule::parse(expression).expect("a valid cron expression"))
    }

    #[test]
    fn conversion_table() {
        let table = [
            ("0 * * * * *", "cron(* * * * ? *)"),
            ("0 */5 * * * *", "cron(0/5 * * * ? *)"),
            ("0 5/15 * * * *", "cron(5/15 * * * ? *)"),
            ("0 0 */6 * * *", "cron(0 0/6 * * ? *)"),
            ("0 0 0 * * *", "cron(0 0 * * ? *)"),
            ("0 30 9 * * Mon-Fri", "cron(30 9 ? * MON-FRI *)"),
            ("0 30 9 * * 2-6", "cron(30 9 ? * MON-FRI *)"),
            ("0 30 9 ? * MON,WED,FRI", "cron(30 9 ? * MON,WED,FRI *)"),
            ("0 0 8 * * Sunday", "cron(0 8 ? * SUN *)"),
            ("0 0 8 * * 1-7", "cron(0 8 * * ? *)"),
            ("0 0 0 1 * *", "cron(0 0 1 * ? *)"),
            ("0 0 0 1 * ?", "cron(0 0 1 * ? *)"),
            ("0 0 0 1,15 * *", "cron(0 0 1,15 * ? *)"),
            ("0 0 0 1-31 * Sat", "cron(0 0 ? * SAT *)"),
            ("0 0 0 1 Jan *", "cron(0 0 1 1 ? *)"),
            ("0 0 0 1 jan-mar *", "cron(0 0 1 1-3 ? *)"),
            ("0 0 0 1 */3 *", "cron(0 0 1 1/3 ? *)"),
            ("0 0 12 * * * 2030", "cron(0 12 * * ? 2030)"),
            ("0 0 12 * * * 2030-2035", "cron(0 12 * * ? 2030-2035)"),
            ("0 0 12 * * * 2030/50", "cron(0 12 * * ? 2030,2080)"),
            ("0 0,30 8-10,14 * * *", "cron(0,30 8-10,14 * * ? *)"),
            ("0 10-40/10 * * * *", "cron(10,20,30,40 * * * ? *)"),
            ("0-0 0 0 * * *", "cron(0 0 * * ? *)"),
            ("@yearly", "cron(0 0 1 1 ? *)"),
            ("@monthly", "cron(0 0 1 * ? *)"),
            ("@weekly", "cron(0 0 ? * SUN *)"),
            ("@daily", "cron(0 0 * * ? *)"),
            ("@hourly", "cron(0 * * * ? *)"),
        ];
        for (ours, theirs) in table {
            assert_eq!(convert(ours).unwrap(), theirs, "{ours}");
        }
    }

    #[test]
    fn sub_minute_schedules_are_refused_with_a_suggestion() {
        for (expression, suggestion) in
            [("*/2 * * * * *", "\"0 * * * * *\""), ("30 */5 * * * *", "\"0 */5 * * * *\""), ("0,30 0 9 * * *", "")]
        {
            let err = convert(expression).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            let message = err.to_string();
            assert!(message.contains("EventBridge"), "{message}");
            assert!(message.contains("minute-granular"), "{message}");
            assert!(message.contains(suggestion), "{message}");
        }
        assert!(convert("0,30 0 9 * * *").unwrap_err().to_string().contains("more than once a minute"));
        assert!(convert("30 */5 * * * *").unwrap_err().to_string().contains("second other than 0"));
    }

    #[test]
    fn both_day_fields_restricted_is_refused() {
        let err = convert("0 0 0 13 * Fri").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("both the day of the month and the day of the week"), "{err}");
    }

    #[test]
    fn quartz_extensions_never_reach_the_conversion() {
        // EventBridge knows `L`, `W` and `#`; the cron crate rejects them at parse time, so a
        // Schedule never carries them. Should the crate learn them, the conversion refuses
        // them rather than guessing.
        for expression in ["0 0 0 L * ?", "0 0 0 15W * ?", "0 0 0 ? * 6#3", "0 0 0 ? * 6L"] {
            assert!(Schedule::parse(expression).is_err(), "{expression} parses now: map it in eventbridge_cron");
            assert!(resolve(expression).is_err(), "{expression}");
        }
    }

    #[test]
    fn progressions_only_become_steps_when_they_run_to_the_end() {
        let v = |s: &[u32]| s.to_vec();
        assert_eq!(progression_to_end(&v(&[0, 15, 30, 45]), &MINUTES), Some(15));
        assert_eq!(progression_to_end(&v(&[0, 15, 30]), &MINUTES), None);
        assert_eq!(progression_to_end(&v(&[1, 2, 3]), &MINUTES), None);
        assert_eq!(progression_to_end(&v(&[5, 35]), &MINUTES), None);
    }
}
