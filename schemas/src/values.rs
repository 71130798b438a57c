//! Raw text to normalised values: money to integer fen, dates, months, small numbers.
//!
//! Parsers are lenient about form (any of the date styles departments use, thousands
//! separators, full-width digits, a currency sign) and strict about meaning: a date that
//! does not exist, an amount finer than 1 fen, or a negative amount is an error with the
//! [`ReasonCode`] it is quarantined under. Nothing here uses floating point.

use chrono::{Datelike, NaiveDate};

use crate::catalog::{DateStyle, MoneyUnit, MonthStyle};
use crate::reason::ReasonCode;

/// Folds full-width digits and punctuation to ASCII and drops whitespace.
pub fn fold_ascii(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{3000}' && *c != '\u{feff}')
        .map(|c| match c {
            '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' | '．' | '－' | '／' | '，' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            c => c,
        })
        .collect()
}

/// Folds full-width digits and punctuation to ASCII, the ideographic space to a space and
/// drops a BOM; unlike [`fold_ascii`] it keeps white space, so that `12 34` stays two numbers.
pub fn fold_width(raw: &str) -> String {
    raw.chars()
        .filter(|c| *c != '\u{feff}')
        .map(|c| match c {
            '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' | '．' | '－' | '／' | '，' | '：' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

/// Parses an amount in `unit` into integer fen. No thousands separator is allowed: `12,50`
/// is a decimal comma or a typo, never 1,250 (see [`parse_money_with`]).
pub fn parse_money(raw: &str, unit: MoneyUnit) -> Result<i64, ReasonCode> {
    parse_money_with(raw, unit, None)
}

/// Parses an amount in `unit` into integer fen, where the source declares `thousands` as its
/// thousands separator: then `1,234.50` is accepted, with groups of exactly three digits
/// (`12,50` and `1,2345` are not amounts). White space inside an amount is refused.
pub fn parse_money_with(
    raw: &str,
    unit: MoneyUnit,
    thousands: Option<char>,
) -> Result<i64, ReasonCode> {
    let folded = fold_width(raw);
    let s = folded.trim().trim_start_matches(['¥', '￥']).trim_start();
    let s = s.strip_suffix(unit.suffix()).unwrap_or(s).trim_end();
    if s.is_empty() {
        return Err(ReasonCode::MissingRequired);
    }
    if s.contains(char::is_whitespace) {
        return Err(ReasonCode::BadAmount);
    }
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    let grouped;
    let int_part = match thousands {
        Some(sep) if int_part.contains(sep) => {
            let groups: Vec<&str> = int_part.split(sep).collect();
            let first_ok = (1..=3).contains(&groups[0].len());
            if !first_ok || groups[1..].iter().any(|g| g.len() != 3) {
                return Err(ReasonCode::BadAmount);
            }
            grouped = groups.concat();
            grouped.as_str()
        }
        _ => int_part,
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(ReasonCode::BadAmount);
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ReasonCode::BadAmount);
    }
    let scale = unit.decimals();
    // Digits beyond the fen must all be zero; otherwise the amount is finer than 1 fen.
    let (kept, extra) = frac_part.split_at(frac_part.len().min(scale));
    if !extra.bytes().all(|b| b == b'0') {
        return Err(ReasonCode::BadAmount);
    }
    let mut fen: i64 = 0;
    for b in int_part.bytes().chain(kept.bytes()) {
        fen = fen
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or(ReasonCode::BadAmount)?;
    }
    for _ in kept.len()..scale {
        fen = fen.checked_mul(10).ok_or(ReasonCode::BadAmount)?;
    }
    if negative && fen != 0 {
        return Err(ReasonCode::NegativeAmount);
    }
    Ok(fen)
}

/// Writes integer fen in `unit` the way a department would (`1234.50` 元, `0.123450` 万元).
pub fn format_money(fen: i64, unit: MoneyUnit) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let v = fen.unsigned_abs();
    match unit {
        MoneyUnit::Fen => format!("{sign}{v}"),
        MoneyUnit::Yuan => format!("{sign}{}.{:02}", v / 100, v % 100),
        MoneyUnit::WanYuan => format!("{sign}{}.{:06}", v / 1_000_000, v % 1_000_000),
    }
}

/// Formats fen as yuan with thousands separators for people: `1,412.50`.
pub fn display_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let v = fen.unsigned_abs();
    let int = (v / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", v % 100)
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Whether `t` is a time of day as spreadsheets and databases append it to a date:
/// `HH:MM`, `HH:MM:SS`, with optional fractions of a second.
fn is_time_of_day(t: &str) -> bool {
    let (hms, frac) = match t.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (t, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let two = |p: &str, max: u32| p.len() == 2 && num(p).is_some_and(|v| v <= max);
    let ok = match parts.as_slice() {
        [h, m] => two(h, 23) && two(m, 59),
        [h, m, s] => two(h, 23) && two(m, 59) && two(s, 60),
        _ => false,
    };
    ok && frac.is_none_or(|f| {
        !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) && parts.len() == 3
    })
}

/// Parses a date in any style departments use: `2024-01-15`, `2024/1/15`, `20240115`,
/// `2024年1月15日`, `2024.01.15`, optionally followed by a time of day (`2024-01-15
/// 00:00:00`, `2024-01-15T08:30`), which is ignored. A date that does not exist, or anything
/// else after it (`2024-01-15 xx`), is an error.
pub fn parse_date(raw: &str) -> Result<NaiveDate, ReasonCode> {
    let folded = fold_width(raw);
    let raw = folded.trim();
    if raw.is_empty() {
        return Err(ReasonCode::MissingRequired);
    }
    let date = match raw.split_once([' ', 'T']) {
        Some((d, t)) if is_time_of_day(t.trim_start()) => d,
        Some(_) => return Err(ReasonCode::BadDate),
        None => raw,
    };
    let s = date;
    let parts: Vec<&str> = if let Some(rest) = s.strip_suffix('日') {
        rest.split(['年', '月']).collect()
    } else if s.contains(['-', '/', '.']) {
        s.split(['-', '/', '.']).collect()
    } else if s.len() == 8 && s.is_ascii() {
        vec![&s[..4], &s[4..6], &s[6..]]
    } else {
        return Err(ReasonCode::BadDate);
    };
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 => {
            let (y, m, d) = (num(y), num(m), num(d));
            match (y, m, d) {
                (Some(y), Some(m), Some(d)) => {
                    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or(ReasonCode::BadDate)
                }
                _ => Err(ReasonCode::BadDate),
            }
        }
        _ => Err(ReasonCode::BadDate),
    }
}

/// Whether raw date text is written in `style` (checked when a source enforces its style).
pub fn date_in_style(raw: &str, style: DateStyle) -> bool {
    let s = fold_ascii(raw);
    match style {
        DateStyle::Iso => s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-',
        DateStyle::Slash => s.matches('/').count() == 2,
        DateStyle::Compact => s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()),
        DateStyle::Chinese => s.contains('年') && s.ends_with('日'),
    }
}

/// Whether raw month text is written in `style`.
pub fn month_in_style(raw: &str, style: MonthStyle) -> bool {
    let s = fold_ascii(raw);
    match style {
        MonthStyle::Iso => s.len() == 7 && s.as_bytes()[4] == b'-',
        MonthStyle::Compact => s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()),
        MonthStyle::Dot => s.len() == 7 && s.as_bytes()[4] == b'.',
    }
}

/// Writes a date in a department's style.
pub fn format_date(d: NaiveDate, style: DateStyle) -> String {
    match style {
        DateStyle::Iso => d.format("%Y-%m-%d").to_string(),
        DateStyle::Slash => format!("{}/{}/{}", d.year(), d.month(), d.day()),
        DateStyle::Compact => d.format("%Y%m%d").to_string(),
        DateStyle::Chinese => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
    }
}

/// Parses a month (`2024-01`, `202401`, `2024.01`, `2024/1`, `2024年1月`) into `yyyymm`.
pub fn parse_month(raw: &str) -> Result<i32, ReasonCode> {
    let s = fold_ascii(raw);
    if s.is_empty() {
        return Err(ReasonCode::MissingRequired);
    }
    let (y, m) = if let Some(rest) = s.strip_suffix('月') {
        match rest.split_once('年') {
            Some(p) => p,
            None => return Err(ReasonCode::BadMonth),
        }
    } else if let Some(p) = s.split_once(['-', '.', '/']) {
        p
    } else if s.len() == 6 && s.is_ascii() {
        s.split_at(4)
    } else {
        return Err(ReasonCode::BadMonth);
    };
    match (num(y), num(m)) {
        (Some(y), Some(m)) if y.to_string().len() == 4 && (1..=12).contains(&m) => {
            Ok(y as i32 * 100 + m as i32)
        }
        _ => Err(ReasonCode::BadMonth),
    }
}

/// Writes a `yyyymm` month in a department's style.
pub fn format_month(yyyymm: i32, style: MonthStyle) -> String {
    let (y, m) = (yyyymm / 100, yyyymm % 100);
    match style {
        MonthStyle::Iso => format!("{y}-{m:02}"),
        MonthStyle::Compact => format!("{y}{m:02}"),
        MonthStyle::Dot => format!("{y}.{m:02}"),
    }
}

/// Adds `delta` months to a `yyyymm` month.
pub fn add_months(yyyymm: i32, delta: i32) -> i32 {
    let idx = (yyyymm / 100) * 12 + (yyyymm % 100 - 1) + delta;
    (idx / 12) * 100 + idx % 12 + 1
}

/// The `yyyymm` month of a date.
pub fn month_of(d: NaiveDate) -> i32 {
    d.year() * 100 + d.month() as i32
}

/// Parses a non-negative integer (counts, grades, shares).
pub fn parse_count(raw: &str) -> Result<i64, ReasonCode> {
    let s = fold_ascii(raw);
    if s.is_empty() {
        return Err(ReasonCode::MissingRequired);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 12 {
        return Err(ReasonCode::BadNumber);
    }
    s.parse().map_err(|_| ReasonCode::BadNumber)
}

/// Parses a decimal with at most `scale` places into an integer scaled by `10^scale`
/// (areas in hundredths of a square metre).
pub fn parse_scaled(raw: &str, scale: u32) -> Result<i64, ReasonCode> {
    let unit = match scale {
        0 => MoneyUnit::Fen,
        2 => MoneyUnit::Yuan,
        6 => MoneyUnit::WanYuan,
        _ => return Err(ReasonCode::BadNumber),
    };
    parse_money(raw, unit).map_err(|r| match r {
        ReasonCode::MissingRequired => r,
        _ => ReasonCode::BadNumber,
    })
}

/// Validates a 6-digit administrative region code.
pub fn parse_region(raw: &str) -> Result<i32, ReasonCode> {
    let s = fold_ascii(raw);
    if s.is_empty() {
        return Err(ReasonCode::MissingRequired);
    }
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return Err(ReasonCode::BadRegion);
    }
    s.parse().map_err(|_| ReasonCode::BadRegion)
}

/// The income window for a batch date (yyyymm, oldest first): the `months` full calendar
/// months before the month of `as_of`. The engine sums income over it and the generator plants
/// income in it.
pub fn income_window(as_of: NaiveDate, months: u32) -> Vec<i32> {
    let cur = month_of(as_of);
    (1..=months as i32)
        .rev()
        .map(|k| add_months(cur, -k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_in_each_unit() {
        assert_eq!(parse_money("1234.5", MoneyUnit::Yuan), Ok(123_450));
        // A thousands separator only where the source declares one, in groups of three.
        assert_eq!(
            parse_money("1,234.50", MoneyUnit::Yuan),
            Err(ReasonCode::BadAmount)
        );
        assert_eq!(
            parse_money_with("1,234.50", MoneyUnit::Yuan, Some(',')),
            Ok(123_450)
        );
        assert_eq!(
            parse_money_with("12,345,678", MoneyUnit::Fen, Some(',')),
            Ok(12_345_678)
        );
        for bad in ["12,50", "1,2345", ",123", "1,,234", "1234,"] {
            assert_eq!(
                parse_money_with(bad, MoneyUnit::Yuan, Some(',')),
                Err(ReasonCode::BadAmount),
                "{bad}"
            );
        }
        // A decimal comma is not 1,250 yuan; blanks inside an amount are not ignored.
        assert_eq!(
            parse_money("12,50", MoneyUnit::Yuan),
            Err(ReasonCode::BadAmount)
        );
        assert_eq!(
            parse_money("12 34", MoneyUnit::Yuan),
            Err(ReasonCode::BadAmount)
        );
        assert_eq!(
            parse_money("１２\u{3000}３４", MoneyUnit::Yuan),
            Err(ReasonCode::BadAmount)
        );
        assert_eq!(parse_money(" 12.50 ", MoneyUnit::Yuan), Ok(1250));
        assert_eq!(parse_money("12.50\u{3000}", MoneyUnit::Yuan), Ok(1250));
        assert_eq!(parse_money("12.50元", MoneyUnit::Yuan), Ok(1250));
        assert_eq!(parse_money("￥12", MoneyUnit::Yuan), Ok(1200));
        assert_eq!(parse_money("１２.３０", MoneyUnit::Yuan), Ok(1230));
        assert_eq!(parse_money("0.000001", MoneyUnit::WanYuan), Ok(1));
        assert_eq!(parse_money("3.5", MoneyUnit::WanYuan), Ok(3_500_000));
        assert_eq!(parse_money("130900", MoneyUnit::Fen), Ok(130_900));
        assert_eq!(parse_money("12.340", MoneyUnit::Yuan), Ok(1234));
        assert_eq!(
            parse_money("12.345", MoneyUnit::Yuan),
            Err(ReasonCode::BadAmount)
        );
        assert_eq!(
            parse_money("-5.00", MoneyUnit::Yuan),
            Err(ReasonCode::NegativeAmount)
        );
        assert_eq!(parse_money("-0", MoneyUnit::Yuan), Ok(0));
        assert_eq!(
            parse_money("1e5", MoneyUnit::Yuan),
            Err(ReasonCode::BadAmount)
        );
        assert_eq!(
            parse_money("", MoneyUnit::Yuan),
            Err(ReasonCode::MissingRequired)
        );
        assert_eq!(
            parse_money("99999999999999999999", MoneyUnit::Yuan),
            Err(ReasonCode::BadAmount)
        );
        assert_eq!(format_money(123_450, MoneyUnit::Yuan), "1234.50");
        assert_eq!(format_money(1, MoneyUnit::WanYuan), "0.000001");
        assert_eq!(display_yuan(141_250), "1,412.50");
        assert_eq!(display_yuan(123_456_789), "1,234,567.89");
    }

    #[test]
    fn dates_in_each_style() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
        for s in [
            "2024-01-15",
            "2024/1/15",
            "20240115",
            "2024年1月15日",
            "2024.01.15",
            "2024-01-15 00:00:00",
            "2024-01-15T08:30",
            "2024-01-15 08:30:00.123",
            " 2024-01-15\u{3000}",
            "２０２４－０１－１５",
        ] {
            assert_eq!(parse_date(s), Ok(d), "{s}");
        }
        // Anything after the date but a time of day is not ignored.
        for s in [
            "2024-01-15 xx",
            "2024-01-15 xx:yy",
            "2024-01-15 12:00:00junk",
            "2024-01-15T",
            "2024-01-15 25:00",
            "2024-01-15 2024-01-16",
            "2024 01 15",
        ] {
            assert_eq!(parse_date(s), Err(ReasonCode::BadDate), "{s}");
        }
        for s in [
            "2024-02-30",
            "20241301",
            "2024/13/1",
            "15/01/2024",
            "N/A",
            "2024-1",
        ] {
            assert_eq!(parse_date(s), Err(ReasonCode::BadDate), "{s}");
        }
        for style in [
            DateStyle::Iso,
            DateStyle::Slash,
            DateStyle::Compact,
            DateStyle::Chinese,
        ] {
            assert_eq!(parse_date(&format_date(d, style)), Ok(d));
        }
    }

    #[test]
    fn months_in_each_style() {
        for s in ["2024-01", "202401", "2024.01", "2024/1", "2024年1月"] {
            assert_eq!(parse_month(s), Ok(202401), "{s}");
        }
        for s in ["2024-13", "202400", "24-01", "2024", "00𖄀", "20240𖄀"] {
            assert_eq!(parse_month(s), Err(ReasonCode::BadMonth), "{s}");
        }
        assert_eq!(add_months(202601, -1), 202512);
        assert_eq!(add_months(202611, -6), 202605);
        assert_eq!(add_months(202512, 1), 202601);
    }

    proptest! {
        #[test]
        fn money_round_trips(fen in 0i64..1_000_000_000_000) {
            for unit in [MoneyUnit::Fen, MoneyUnit::Yuan, MoneyUnit::WanYuan] {
                prop_assert_eq!(parse_money(&format_money(fen, unit), unit), Ok(fen));
            }
        }

        #[test]
        fn month_round_trips(y in 1950i32..2100, m in 1i32..=12) {
            for style in [MonthStyle::Iso, MonthStyle::Compact, MonthStyle::Dot] {
                prop_assert_eq!(parse_month(&format_month(y * 100 + m, style)), Ok(y * 100 + m));
            }
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,20}") {
            let _ = parse_money(&s, MoneyUnit::WanYuan);
            let _ = parse_date(&s);
            let _ = parse_month(&s);
        }
    }
}
