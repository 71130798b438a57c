//! Synthetic people: unique resident IDs with realistic birth dates, and Chinese names.
//!
//! Uniqueness is by construction, not by checking: a person's serial number maps injectively
//! to (birthplace code, day of year, sequence), and the birth year is chosen freely for the
//! person's role, so no two serials ever share an ID and nothing has to be remembered.
//! Household members and non-applicant residents use the two halves of the sequence range.

use chrono::{Datelike, Duration, NaiveDate};
use hedui_schemas::ResidentId;
use rand::Rng;

/// Sequence numbers per half (each half holds 500 sequence values, 250 per sex).
const SEQ_PER_SEX: u64 = 250;

/// Birthplace codes: Guangdong's prefectures and five neighbouring provinces, 29 county-level
/// codes each (`PPCCKK`, with KK from 02).
fn birthplace(index: u64) -> u32 {
    const GUANGDONG: [u32; 21] = [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 51, 52, 53,
    ];
    const OTHERS: [u32; 5] = [43, 45, 36, 51, 42];
    let per_city = 29u64;
    let gd = GUANGDONG.len() as u64 * per_city;
    if index < gd {
        let city = GUANGDONG[(index / per_city) as usize];
        44_00_00 + city * 100 + (index % per_city) as u32 + 2
    } else {
        let i = index - gd;
        let prov = OTHERS[((i / per_city / 13) % OTHERS.len() as u64) as usize];
        let city = (i / per_city) % 13 + 1;
        prov * 10_000 + city as u32 * 100 + (i % per_city) as u32 + 2
    }
}

/// Number of distinct birthplace codes.
const BIRTHPLACES: u64 = 21 * 29 + 5 * 13 * 29;

/// The largest serial [`make_id`] accepts in each half.
pub const MAX_SERIAL: u64 = SEQ_PER_SEX * 365 * BIRTHPLACES;

/// Makes the unique ID of person `serial` (`background` selects the sequence half), born in
/// `birth_year`, of the given sex. Returns `None` past [`MAX_SERIAL`].
pub fn make_id(serial: u64, background: bool, male: bool, birth_year: i32) -> Option<ResidentId> {
    if serial >= MAX_SERIAL {
        return None;
    }
    // An affine bijection of [0, MAX_SERIAL) spreads consecutive serials over birthplaces
    // and days; the multiplier is a prime larger than every factor of MAX_SERIAL.
    let s = ((u128::from(serial) * 2_654_435_761 + 97_531) % u128::from(MAX_SERIAL)) as u64;
    let seq_k = s % SEQ_PER_SEX;
    let t = s / SEQ_PER_SEX;
    let place = birthplace(t % BIRTHPLACES);
    let day = (t / BIRTHPLACES) % 365;
    // Day of year in a non-leap calendar, valid in every year.
    let d = NaiveDate::from_ymd_opt(2001, 1, 1)? + Duration::days(day as i64);
    let birth = NaiveDate::from_ymd_opt(birth_year, d.month(), d.day())?;
    let seq = if background { 500 } else { 0 } + 2 * seq_k + u64::from(male);
    let ymd =
        birth.year() as u64 * 10_000 + u64::from(birth.month()) * 100 + u64::from(birth.day());
    ResidentId::from_body(u64::from(place) * 100_000_000_000 + ymd * 1000 + seq)
}

/// The serial [`make_id`] makes `id` from (and whether in the background half), whatever
/// the birth year: `None` when no serial gives its birthplace, day and sequence. A made-up ID
/// (a namesake planted for the linkage) is no generated person's when its serial is one no
/// household or resident of the province uses.
pub fn serial_of(id: ResidentId) -> Option<(u64, bool)> {
    let t = id.to_string();
    let place: u32 = t[..6].parse().ok()?;
    let index = (0..BIRTHPLACES).find(|i| birthplace(*i) == place)?;
    let birth = id.birth_date()?;
    let day = (NaiveDate::from_ymd_opt(2001, birth.month(), birth.day())?
        - NaiveDate::from_ymd_opt(2001, 1, 1)?)
    .num_days() as u64;
    let seq: u64 = t[14..17].parse().ok()?;
    let background = seq >= 500;
    let seq_k = (seq - if background { 500 } else { 0 }) / 2;
    let s = seq_k + SEQ_PER_SEX * (index + BIRTHPLACES * day);
    // Inverse of the affine map in make_id: serial = (s - 97531) * a^-1 mod MAX_SERIAL.
    let n = i128::from(MAX_SERIAL);
    let (mut r0, mut r1, mut t0, mut t1) = (n, 2_654_435_761i128 % n, 0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    let inv = t0.rem_euclid(n);
    let serial = ((i128::from(s) - 97_531).rem_euclid(n) * inv).rem_euclid(n);
    Some((serial as u64, background))
}

const SURNAMES: &[&str] = &[
    "陈", "李", "黄", "张", "梁", "刘", "林", "吴", "何", "罗", "郑", "王", "周", "谢", "杨", "冯",
    "蔡", "邓", "许", "曾", "叶", "潘", "苏", "卢", "钟", "朱", "胡", "郭", "彭", "赖",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "文", "辉", "建", "国", "玲", "红", "志", "嘉",
    "欣", "俊", "婷", "浩", "宇", "晓", "雪", "梅", "振", "海", "燕", "锦", "荣",
];

/// A random Chinese name (all characters are in GBK).
pub fn name(rng: &mut impl Rng, surname: Option<&str>) -> String {
    let s = surname.unwrap_or_else(|| SURNAMES[rng.random_range(0..SURNAMES.len())]);
    let n = if rng.random_bool(0.7) { 2 } else { 1 };
    let mut out = s.to_string();
    for _ in 0..n {
        out.push_str(GIVEN[rng.random_range(0..GIVEN.len())]);
    }
    out
}

/// The surname of a name (first character).
pub fn surname(name: &str) -> &str {
    name.char_indices()
        .nth(1)
        .map(|(i, _)| &name[..i])
        .unwrap_or(name)
}

/// Age in whole years on `on`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_valid() {
        let mut seen = HashSet::new();
        for serial in (0..200_000u64).chain(MAX_SERIAL - 1000..MAX_SERIAL) {
            for bg in [false, true] {
                let male = serial % 3 == 0;
                let year = 1930 + (serial % 90) as i32;
                let id = make_id(serial, bg, male, year).unwrap();
                assert!(seen.insert(id), "serial {serial} collides");
                assert_eq!(ResidentId::parse(&id.to_string()), Ok(id));
                assert_eq!(id.is_male(), male);
                assert_eq!(id.birth_date().unwrap().year(), year);
            }
        }
        assert!(make_id(MAX_SERIAL, false, true, 1990).is_none());
        // Same serial, different year: still distinct (the year is part of the ID).
        assert_ne!(make_id(7, false, true, 1980), make_id(7, false, true, 1981));
        const { assert!(MAX_SERIAL > 200_000_000) };
    }

    #[test]
    fn the_serial_of_an_id_is_the_one_it_was_made_from() {
        for serial in (0..3_000u64).chain([MAX_SERIAL / 2, MAX_SERIAL - 1]) {
            for bg in [false, true] {
                let id = make_id(serial, bg, serial % 2 == 0, 1950 + (serial % 60) as i32).unwrap();
                assert_eq!(serial_of(id), Some((serial, bg)), "{serial}");
            }
        }
        // A birthplace no serial gives.
        assert_eq!(
            serial_of(ResidentId::parse("11010519491231002X").unwrap()),
            None
        );
    }

    #[test]
    fn ages() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(age_on(d("2008-11-16"), d("2026-11-15")), 17);
        assert_eq!(age_on(d("2008-11-15"), d("2026-11-15")), 18);
    }
}
