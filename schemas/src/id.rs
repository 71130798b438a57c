//! Resident identity numbers (GB 11643-1999): validation, normalisation, packing, masking.
//!
//! Department exports carry IDs typed by hand and passed through spreadsheets, so
//! [`ResidentId::parse`] first folds what can be folded without guessing (full-width digits,
//! lowercase `x`, spaces, 15-digit IDs from before 1999) and rejects what cannot be recovered
//! (scientific notation, a bad checksum, a birth date that does not exist).
//!
//! Every valid ID packs losslessly into an `i64` ([`ResidentId::pack`]): the 17-digit body
//! times 11 plus the check value (0..=10, `X` = 10). The engine joins on that integer key.

use std::fmt;

use chrono::NaiveDate;

/// ISO 7064 MOD 11-2 weights of the 17 body digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check characters indexed by `sum mod 11`.
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Why a raw string is not a resident ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Nothing but whitespace.
    #[error("resident ID is empty")]
    Empty,
    /// A spreadsheet turned the ID into a number such as `4.40106E+17`; the digits are lost.
    #[error("resident ID {0:?} is in scientific notation; the digits are lost")]
    ScientificNotation(String),
    /// Not 15 or 18 characters after normalisation.
    #[error("resident ID {raw:?} has {len} characters, expected 18 (or 15 for an old ID)")]
    BadLength {
        /// The normalised text.
        raw: String,
        /// Its length in characters.
        len: usize,
    },
    /// A character that is not a digit (or `X` in the last place).
    #[error("resident ID {raw:?} has an invalid character {ch:?}")]
    BadCharacter {
        /// The normalised text.
        raw: String,
        /// The first offending character.
        ch: char,
    },
    /// Digits 7-14 are not a date that exists.
    #[error("resident ID {raw:?} has a birth date that does not exist")]
    BadBirthDate {
        /// The normalised text.
        raw: String,
    },
    /// The check character does not match the body.
    #[error("resident ID {raw:?} fails its checksum (expected check {expected:?})")]
    BadChecksum {
        /// The normalised text.
        raw: String,
        /// The check character the body calls for.
        expected: char,
    },
}

/// A validated 18-character resident ID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId {
    /// The 17 body digits as a number (< 10^17).
    body: u64,
    /// The check value, 0..=10 (10 is written `X`).
    check: u8,
}

/// Folds full-width forms and case; `None` for characters that are dropped (whitespace).
fn fold_char(c: char) -> Option<char> {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
        'x' | 'Ｘ' | 'ｘ' => Some('X'),
        'Ｅ' | 'ｅ' => Some('E'),
        '＋' => Some('+'),
        '．' => Some('.'),
        c if c.is_whitespace() || c == '\u{3000}' || c == '\u{feff}' => None,
        c => Some(c),
    }
}

/// The check value (0..=10) of a 17-digit body.
fn check_value(body_digits: &[u8; 17]) -> u8 {
    let sum: u32 = body_digits
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    // CHECK_CHARS[sum % 11] is the character; convert it to its value (X = 10).
    match CHECK_CHARS[(sum % 11) as usize] {
        b'X' => 10,
        c => c - b'0',
    }
}

fn check_char(value: u8) -> char {
    if value == 10 {
        'X'
    } else {
        char::from(b'0' + value)
    }
}

fn digits_of(body: u64) -> [u8; 17] {
    // Two halves of at most 9 and 8 digits, each in 32-bit arithmetic (a division of a u64
    // by 10 is a wide multiply; the engine spells out millions of IDs: members.parquet).
    let mut out = [0u8; 17];
    let (mut hi, mut lo) = ((body / 100_000_000) as u32, (body % 100_000_000) as u32);
    for slot in out[9..].iter_mut().rev() {
        *slot = (lo % 10) as u8;
        lo /= 10;
    }
    for slot in out[..9].iter_mut().rev() {
        *slot = (hi % 10) as u8;
        hi /= 10;
    }
    out
}

/// The 18 characters of an ID: its body's digits and its check character.
fn ascii(body_digits: &[u8; 17], check: u8) -> [u8; 18] {
    let mut out = [0u8; 18];
    for (slot, d) in out.iter_mut().zip(body_digits) {
        *slot = b'0' + d;
    }
    out[17] = check_char(check) as u8;
    out
}

impl ResidentId {
    /// Normalises and validates raw text from an export.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let folded: String = raw.chars().filter_map(fold_char).collect();
        if folded.is_empty() {
            return Err(IdError::Empty);
        }
        let looks_scientific = folded.contains('E')
            && folded
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, 'E' | '+' | '-' | '.'));
        if looks_scientific {
            return Err(IdError::ScientificNotation(folded));
        }
        let len = folded.chars().count();
        let mut digits = [0u8; 18];
        match len {
            18 => {
                for (i, c) in folded.chars().enumerate() {
                    match c {
                        '0'..='9' => digits[i] = c as u8 - b'0',
                        'X' if i == 17 => digits[i] = 10,
                        _ => return Err(IdError::BadCharacter { raw: folded, ch: c }),
                    }
                }
            }
            15 => {
                // Old IDs: 6-digit address, yymmdd, 3-digit sequence, no check character.
                // The year is 19yy by definition of the 1984-1999 scheme.
                for (i, c) in folded.chars().enumerate() {
                    let d = match c {
                        '0'..='9' => c as u8 - b'0',
                        _ => return Err(IdError::BadCharacter { raw: folded, ch: c }),
                    };
                    let j = if i < 6 { i } else { i + 2 };
                    digits[j] = d;
                }
                digits[6] = 1;
                digits[7] = 9;
                let mut body = [0u8; 17];
                body.copy_from_slice(&digits[..17]);
                digits[17] = check_value(&body);
            }
            _ => return Err(IdError::BadLength { raw: folded, len }),
        }
        let mut body_digits = [0u8; 17];
        body_digits.copy_from_slice(&digits[..17]);
        let body = body_digits
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(*d));
        let id = ResidentId {
            body,
            check: digits[17],
        };
        if id.birth_date().is_none() {
            return Err(IdError::BadBirthDate { raw: folded });
        }
        let expected = check_value(&body_digits);
        if expected != digits[17] {
            return Err(IdError::BadChecksum {
                raw: folded,
                expected: check_char(expected),
            });
        }
        Ok(id)
    }

    /// Builds the ID for a 17-digit body, computing its check character.
    ///
    /// Returns `None` when `body` has more than 17 digits or its birth date does not exist.
    pub fn from_body(body: u64) -> Option<Self> {
        if body >= 100_000_000_000_000_000 {
            return None;
        }
        let id = ResidentId {
            body,
            check: check_value(&digits_of(body)),
        };
        id.birth_date().map(|_| id)
    }

    /// The 17-digit body.
    pub fn body(&self) -> u64 {
        self.body
    }

    /// The check character.
    pub fn check_char(&self) -> char {
        check_char(self.check)
    }

    /// The birth date in digits 7-14, if it exists.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        birth_date_of(self.body)
    }

    /// The 6-digit administrative code of the place of first registration.
    pub fn address_code(&self) -> u32 {
        (self.body / 100_000_000_000) as u32
    }

    /// Odd sequence digit = male, even = female.
    pub fn is_male(&self) -> bool {
        !(self.body % 10).is_multiple_of(2)
    }

    /// Packs losslessly into a non-negative `i64`: body × 11 + check.
    pub fn pack(&self) -> i64 {
        // body < 10^17, so body * 11 + 10 < 1.1 * 10^18 < i64::MAX.
        (self.body * 11 + u64::from(self.check)) as i64
    }

    /// Unpacks a key made by [`pack`](Self::pack); `None` for a value no valid ID packs to.
    pub fn unpack(key: i64) -> Option<Self> {
        Self::unpack_with_digits(key).map(|(id, _)| id)
    }

    /// The 18 characters of the ID `key` packs ([`unpack`](Self::unpack), then
    /// [`to_ascii`](Self::to_ascii)), the digits worked out once for both.
    pub fn ascii_of_key(key: i64) -> Option<[u8; 18]> {
        let (id, digits) = Self::unpack_with_digits(key)?;
        Some(ascii(&digits, id.check))
    }

    /// [`unpack`](Self::unpack) and the body's digits it checked.
    fn unpack_with_digits(key: i64) -> Option<(Self, [u8; 17])> {
        if key < 0 {
            return None;
        }
        let key = key as u64;
        let id = ResidentId {
            body: key / 11,
            check: (key % 11) as u8,
        };
        if id.body >= 100_000_000_000_000_000 {
            return None;
        }
        let digits = digits_of(id.body);
        let ok = id.check == check_value(&digits) && id.birth_date().is_some();
        ok.then_some((id, digits))
    }

    /// The 18 characters of the ID, as [`Display`](fmt::Display) writes them, without the
    /// formatting machinery (the engine spells out millions: members.parquet).
    pub fn to_ascii(&self) -> [u8; 18] {
        // `body` < 10^17 (every constructor checks): its 17 digits, zero-padded.
        ascii(&digits_of(self.body), self.check)
    }

    /// The masked form for human-facing output: `440106********123X`.
    pub fn masked(&self) -> String {
        let mut a = self.to_ascii();
        a[6..14].fill(b'*');
        String::from_utf8_lossy(&a).into_owned()
    }

    /// The old 15-digit form, for IDs born in 19xx (used by the generator to write dirty data).
    pub fn to_15(&self) -> Option<String> {
        let s = self.to_string();
        (&s[6..8] == "19").then(|| format!("{}{}", &s[..6], &s[8..17]))
    }
}

/// The valid IDs one typing slip away from `raw`: one character changed, two adjacent
/// characters swapped, one dropped (`raw` has 17 characters, or 14 of an old 15-digit ID) or
/// one added (19, or 16), after the
/// same folding as [`ResidentId::parse`] (spaces dropped, full-width digits and `x` folded).
/// Each candidate passes the checksum and has a real birth date; `raw` itself is never one.
/// Sorted and without repeats, so linkage that joins on them is deterministic. These are the
/// blocking keys for records whose subject's ID does not read (issue #28): a record with one
/// slip has its person among the candidates, on average 15 for a changed digit, 13.5 for a
/// swap, 7 for a dropped and 1.6 for an added one (about one edit in eleven passes the
/// checksum; measured over 2,000 random IDs), which a join against the declared members
/// narrows further.
pub fn one_edit_away(raw: &str) -> Vec<ResidentId> {
    let folded: Vec<char> = raw.chars().filter_map(fold_char).collect();
    if !folded.iter().all(|c| c.is_ascii_digit() || *c == 'X') {
        return Vec::new();
    }
    let original: String = folded.iter().collect();
    const DIGITS: [char; 10] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
    const WITH_X: [char; 11] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X'];
    // The characters position `pos` of an ID `len` long may hold: X only last in 18.
    let alphabet = |pos: usize, len: usize| -> &'static [char] {
        if len == 18 && pos == 17 {
            &WITH_X
        } else {
            &DIGITS
        }
    };
    let mut out = Vec::new();
    let mut try_push = |cand: &[char]| {
        // An 18-character ID with X only last, or an old 15-digit one.
        let shaped = match cand.len() {
            18 => !cand[..17].contains(&'X'),
            15 => !cand.contains(&'X'),
            _ => false,
        };
        if shaped {
            let text: String = cand.iter().collect();
            if text != original
                && let Ok(id) = ResidentId::parse(&text)
            {
                out.push(id);
            }
        }
    };
    match folded.len() {
        // An 18-character ID: the checksum says which changes and swaps can be the person,
        // by arithmetic on the weighted sum, before any candidate is spelt out and checked
        // for a real birth date (a tenth of the work; the linkage runs this on every record
        // whose ID does not read).
        18 if folded[..17].iter().all(char::is_ascii_digit) => {
            let d: Vec<i64> = folded[..17]
                .iter()
                .map(|c| i64::from(*c as u8 - b'0'))
                .collect();
            let check = folded[17];
            let sum: i64 = d.iter().zip(WEIGHTS).map(|(x, w)| x * i64::from(w)).sum();
            let check_of = |s: i64| char::from(CHECK_CHARS[s.rem_euclid(11) as usize]);
            let value_of = |c: char| match c {
                'X' => 10u8,
                c => c as u8 - b'0',
            };
            let body0 = d.iter().fold(0u64, |n, x| n * 10 + *x as u64);
            // Only a change among the birth date's digits (7 to 14) can make or break it.
            let original_date_ok = date_exists(body0);
            let mut push = |body: u64, c: char, date_changed: bool| {
                if if date_changed {
                    date_exists(body)
                } else {
                    original_date_ok
                } {
                    out.push(ResidentId {
                        body,
                        check: value_of(c),
                    });
                }
            };
            let place = |pos: usize| 10u64.pow(16 - pos as u32);
            // A body digit changed.
            for pos in 0..17 {
                let w = i64::from(WEIGHTS[pos]);
                for x in 0..10 {
                    if x != d[pos] && check_of(sum + w * (x - d[pos])) == check {
                        let body = (body0 as i64 + (x - d[pos]) * place(pos) as i64) as u64;
                        push(body, check, (6..14).contains(&pos));
                    }
                }
            }
            // The check character changed.
            if check_of(sum) != check {
                push(body0, check_of(sum), false);
            }
            // Two adjacent body digits swapped.
            for pos in 0..16 {
                let (a, b) = (d[pos], d[pos + 1]);
                let (wa, wb) = (i64::from(WEIGHTS[pos]), i64::from(WEIGHTS[pos + 1]));
                if a != b && check_of(sum + (wa - wb) * (b - a)) == check {
                    let delta = (b - a) * place(pos) as i64 + (a - b) * place(pos + 1) as i64;
                    push((body0 as i64 + delta) as u64, check, (5..14).contains(&pos));
                }
            }
            // The last body digit and the check character swapped.
            if let Some(x) = check.to_digit(10).map(i64::from)
                && x != d[16]
            {
                let c = char::from(b'0' + d[16] as u8);
                if check_of(sum + i64::from(WEIGHTS[16]) * (x - d[16])) == c {
                    push((body0 as i64 + (x - d[16])) as u64, c, false);
                }
            }
        }
        // A 17-character ID, one dropped: each insertion's checksum by arithmetic, on the
        // weighted sums of the digits before and after it (the check is then the last
        // character, or the inserted one at the end).
        17 if folded[..16].iter().all(char::is_ascii_digit) => {
            let e: Vec<i64> = folded[..16]
                .iter()
                .map(|c| i64::from(*c as u8 - b'0'))
                .collect();
            let last = folded[16];
            let check_of = |s: i64| char::from(CHECK_CHARS[s.rem_euclid(11) as usize]);
            let w = |i: usize| i64::from(WEIGHTS[i]);
            let mut push = |body: u64, c: char| {
                if date_exists(body) {
                    out.push(ResidentId {
                        body,
                        check: if c == 'X' { 10 } else { c as u8 - b'0' },
                    });
                }
            };
            // Inserted at the end: the 17 delivered characters are the body.
            if let Some(x) = last.to_digit(10).map(i64::from) {
                let body: Vec<i64> = e.iter().copied().chain([x]).collect();
                let sum: i64 = body.iter().enumerate().map(|(i, d)| d * w(i)).sum();
                push(
                    body.iter().fold(0u64, |n, d| n * 10 + *d as u64),
                    check_of(sum),
                );
            }
            // Inserted at `pos` < 17: the body is e[..pos], the digit, e[pos..16]; the check
            // the last delivered character.
            let mut before = [0i64; 17]; // weighted sum of e[..pos] at their own places
            let mut prefix = [0u64; 17]; // e[..pos] as a number
            for pos in 0..16 {
                before[pos + 1] = before[pos] + e[pos] * w(pos);
                prefix[pos + 1] = prefix[pos] * 10 + e[pos] as u64;
            }
            let mut after = [0i64; 17]; // weighted sum of e[pos..16], one place later
            let mut suffix = [0u64; 17]; // e[pos..16] as a number
            for pos in (0..16).rev() {
                after[pos] = after[pos + 1] + e[pos] * w(pos + 1);
                suffix[pos] = e[pos] as u64 * 10u64.pow((15 - pos) as u32) + suffix[pos + 1];
            }
            for pos in 0..17 {
                for x in 0..10 {
                    if check_of(before[pos] + x * w(pos) + after[pos]) == last {
                        let tail = 10u64.pow((16 - pos) as u32);
                        let body = prefix[pos] * tail * 10 + x as u64 * tail + suffix[pos];
                        push(body, last);
                    }
                }
            }
        }
        // A character changed, or two adjacent swapped.
        n @ (18 | 15) => {
            let mut cand = folded.clone();
            for pos in 0..n {
                let was = cand[pos];
                for &c in alphabet(pos, n) {
                    if c != was {
                        cand[pos] = c;
                        try_push(&cand);
                    }
                }
                cand[pos] = was;
            }
            for pos in 0..n - 1 {
                if cand[pos] != cand[pos + 1] {
                    cand.swap(pos, pos + 1);
                    try_push(&cand);
                    cand.swap(pos, pos + 1);
                }
            }
        }
        // One dropped.
        n @ (17 | 14) => {
            for pos in 0..=n {
                for &c in alphabet(pos, n + 1) {
                    let mut cand = folded.clone();
                    cand.insert(pos, c);
                    try_push(&cand);
                }
            }
        }
        // One added.
        n @ (19 | 16) => {
            for pos in 0..n {
                let mut cand = folded.clone();
                cand.remove(pos);
                try_push(&cand);
            }
        }
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}

/// The birth date digits 7 to 14 of the ID with 17-digit `body` spell, if it exists.
fn birth_date_of(body: u64) -> Option<NaiveDate> {
    let ymd = (body / 1000) % 100_000_000;
    let (y, m, d) = (ymd / 10_000, (ymd / 100) % 100, ymd % 100);
    NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
}

/// Whether the birth date of the ID with 17-digit `body` exists.
fn date_exists(body: u64) -> bool {
    birth_date_of(body).is_some()
}

/// `raw` as [`ResidentId::parse`] reads it before checking it: spaces dropped, full-width
/// digits and `x` folded. What the linkage compares an unreadable ID's parts on.
pub fn folded(raw: &str) -> String {
    raw.chars().filter_map(fold_char).collect()
}

/// Masks any text that may hold an ID; text that does not parse is masked by position.
pub fn mask_text(raw: &str) -> String {
    match ResidentId::parse(raw) {
        Ok(id) => id.masked(),
        Err(_) => {
            let chars: Vec<char> = raw.chars().collect();
            if chars.len() <= 10 {
                "*".repeat(chars.len())
            } else {
                let head: String = chars[..6].iter().collect();
                let tail: String = chars[chars.len() - 4..].iter().collect();
                format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
            }
        }
    }
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ascii = self.to_ascii();
        f.write_str(std::str::from_utf8(&ascii).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ResidentId {
    // Debug output ends up in logs, so it is masked like every other human-facing form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One typing slip of each kind in `id`'s text, at `pos`, with `c` where one is needed.
    fn slip(id: &str, kind: u8, pos: usize, c: char) -> String {
        let mut v: Vec<char> = id.chars().collect();
        let n = v.len();
        match kind % 4 {
            0 => v[pos % n] = c,
            1 => v.swap(pos % (n - 1), pos % (n - 1) + 1),
            2 => {
                v.remove(pos % n);
            }
            _ => v.insert(pos % (n + 1), c),
        }
        v.into_iter().collect()
    }

    /// The candidates spelt out and parsed one by one: what the arithmetic must give.
    fn one_edit_away_by_parsing(raw: &str) -> Vec<ResidentId> {
        let folded: Vec<char> = raw.chars().filter_map(fold_char).collect();
        let original: String = folded.iter().collect();
        let mut out = Vec::new();
        let mut try_push = |cand: &[char]| {
            let text: String = cand.iter().collect();
            if !cand[..17].contains(&'X')
                && text != original
                && let Ok(id) = ResidentId::parse(&text)
            {
                out.push(id);
            }
        };
        let mut cand = folded.clone();
        for pos in 0..18 {
            let was = cand[pos];
            for c in "0123456789X".chars() {
                if c != was {
                    cand[pos] = c;
                    try_push(&cand);
                }
            }
            cand[pos] = was;
        }
        for pos in 0..17 {
            if cand[pos] != cand[pos + 1] {
                cand.swap(pos, pos + 1);
                try_push(&cand);
                cand.swap(pos, pos + 1);
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The insertions spelt out and parsed one by one.
    fn insertions_by_parsing(raw: &str) -> Vec<ResidentId> {
        let folded: Vec<char> = raw.chars().collect();
        let mut out = Vec::new();
        for pos in 0..=17 {
            for c in "0123456789X".chars() {
                let mut cand = folded.clone();
                cand.insert(pos, c);
                let text: String = cand.iter().collect();
                if !cand[..17].contains(&'X')
                    && let Ok(id) = ResidentId::parse(&text)
                {
                    out.push(id);
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    proptest! {
        #[test]
        fn the_insertion_arithmetic_finds_what_parsing_each_candidate_finds(
            id in any_valid_id(),
            pos in 0usize..18,
        ) {
            let mut t: Vec<char> = id.to_string().chars().collect();
            t.remove(pos);
            let typo: String = t.into_iter().collect();
            prop_assert_eq!(one_edit_away(&typo), insertions_by_parsing(&typo), "{}", typo);
        }

        #[test]
        fn the_checksum_arithmetic_finds_what_parsing_each_candidate_finds(
            id in any_valid_id(),
            pos in 0usize..18,
            c in prop::sample::select(b"0123456789X".to_vec()),
        ) {
            let mut t: Vec<char> = id.to_string().chars().collect();
            t[pos] = char::from(c);
            let typo: String = t.into_iter().collect();
            prop_assert_eq!(one_edit_away(&typo), one_edit_away_by_parsing(&typo), "{}", typo);
        }
    }

    #[test]
    fn a_valid_id_is_among_the_candidates_of_each_kind_of_slip() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        for typo in [
            "11010519491231003X",  // a digit changed
            "11010519492131002X",  // two adjacent digits swapped
            "1101051949123102X",   // a digit dropped
            "110105194912310002X", // a digit added
            " １１０１０５１９４９１２３１００３x ",
        ] {
            assert!(ResidentId::parse(typo).is_err(), "{typo} must not read");
            let cands = one_edit_away(typo);
            assert!(cands.contains(&id), "{typo}: {cands:?}");
            assert!(cands.len() <= 40, "{typo}: {} candidates", cands.len());
            assert!(cands.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        }
        assert!(
            !one_edit_away("11010519491231002X").contains(&id),
            "never itself"
        );
        assert!(one_edit_away("not an id at all").is_empty());
        assert!(
            one_edit_away("1101051949123100").is_empty(),
            "two digits short"
        );
    }

    /// The ID of a person registered at `address`, born `days` after 1935-01-01, with
    /// sequence number `seq`.
    fn born_after_1935(address: u64, days: i64, seq: u64) -> ResidentId {
        let born = NaiveDate::from_ymd_opt(1935, 1, 1).unwrap() + chrono::Duration::days(days);
        let ymd: u64 = born.format("%Y%m%d").to_string().parse().unwrap();
        ResidentId::from_body(address * 100_000_000_000 + ymd * 1000 + seq).unwrap()
    }

    proptest! {
        // Any single slip that the checksum catches leaves the person among the candidates.
        #[test]
        fn every_detectable_single_slip_keeps_the_person_among_the_candidates(
            address in 110_000u64..660_000,
            days in 0i64..32_000,
            seq in 0u64..1000,
            kind in 0u8..4,
            pos in 0usize..19,
            digit in 0u8..10,
        ) {
            let id = born_after_1935(address, days, seq);
            let typo = slip(&id.to_string(), kind, pos, char::from(b'0' + digit));
            if typo != id.to_string() && ResidentId::parse(&typo).is_err() {
                prop_assert!(one_edit_away(&typo).contains(&id), "{typo}");
            }
        }

        // The same for the old 15-digit form (no checksum: a slip shows only as a length or
        // a date that does not exist).
        #[test]
        fn a_slip_in_a_15_digit_id_keeps_the_person_among_the_candidates(
            address in 110_000u64..660_000,
            days in 0i64..23_000,
            seq in 0u64..1000,
            kind in 0u8..4,
            pos in 0usize..16,
            digit in 0u8..10,
        ) {
            let id = born_after_1935(address, days, seq);
            let old = id.to_15().unwrap();
            let typo = slip(&old, kind, pos, char::from(b'0' + digit));
            if typo != old && ResidentId::parse(&typo).is_err() {
                prop_assert!(one_edit_away(&typo).contains(&id), "{old} -> {typo}");
            }
        }
    }

    #[test]
    fn known_vector_from_the_standard() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(id.to_string(), "11010519491231002X");
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31));
        assert_eq!(id.masked(), "110105********002X");
        assert!(!id.is_male());
        assert_eq!(id.address_code(), 110105);
    }

    #[test]
    fn folds_case_full_width_and_spaces() {
        for raw in [
            "11010519491231002x",
            " 11010519491231002X\u{3000}",
            "１１０１０５１９４９１２３１００２Ｘ",
            "110105 19491231 002X",
        ] {
            assert_eq!(
                ResidentId::parse(raw).unwrap().to_string(),
                "11010519491231002X",
                "{raw:?}"
            );
        }
    }

    #[test]
    fn converts_15_digit_ids() {
        let id = ResidentId::parse("110105491231002").unwrap();
        assert_eq!(id.to_string(), "11010519491231002X");
        assert_eq!(id.to_15().unwrap(), "110105491231002");
    }

    #[test]
    fn rejects_what_cannot_be_recovered() {
        assert!(matches!(
            ResidentId::parse("4.40106E+17"),
            Err(IdError::ScientificNotation(_))
        ));
        // Full-width forms of a spreadsheet number fold too.
        assert!(matches!(
            ResidentId::parse("４.４０１０６Ｅ＋１７"),
            Err(IdError::ScientificNotation(_))
        ));
        assert!(matches!(
            ResidentId::parse("11010519491231002Y"),
            Err(IdError::BadCharacter { ch: 'Y', .. })
        ));
        assert!(matches!(
            ResidentId::parse("110105194912310021"),
            Err(IdError::BadChecksum { expected: 'X', .. })
        ));
        assert!(matches!(
            ResidentId::parse("110105194902300023"),
            Err(IdError::BadBirthDate { .. })
        ));
        assert!(matches!(ResidentId::parse("  "), Err(IdError::Empty)));
        assert!(matches!(
            ResidentId::parse("1101051949123100"),
            Err(IdError::BadLength { len: 16, .. })
        ));
        assert!(matches!(
            ResidentId::parse("1101051949123100X2"),
            Err(IdError::BadCharacter { ch: 'X', .. })
        ));
    }

    #[test]
    fn debug_is_masked() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(format!("{id:?}"), "ResidentId(110105********002X)");
        assert_eq!(mask_text("not-an-id-at-all"), "not-an******-all");
    }

    fn any_valid_id() -> impl Strategy<Value = ResidentId> {
        (
            110000u64..=659004,
            1900i32..=2025,
            1u32..=12,
            1u32..=28,
            0u64..1000,
        )
            .prop_map(|(addr, y, m, d, seq)| {
                let body = addr * 100_000_000_000
                    + (y as u64 * 10_000 + m as u64 * 100 + d as u64) * 1000
                    + seq;
                ResidentId::from_body(body).unwrap()
            })
    }

    proptest! {
        #[test]
        fn pack_round_trips(id in any_valid_id()) {
            let key = id.pack();
            prop_assert!(key >= 0);
            prop_assert_eq!(ResidentId::unpack(key), Some(id));
            prop_assert_eq!(ResidentId::parse(&id.to_string()), Ok(id));
            prop_assert_eq!(ResidentId::ascii_of_key(key), Some(id.to_ascii()));
            let text = id.to_string();
            prop_assert_eq!(&id.to_ascii()[..], text.as_bytes());
        }

        #[test]
        fn ascii_of_any_key_is_that_of_its_unpacking(key in any::<i64>(), near in 0i64..1_100_000_000_000_000_000) {
            for k in [key, near] {
                prop_assert_eq!(
                    ResidentId::ascii_of_key(k),
                    ResidentId::unpack(k).map(|id| id.to_ascii())
                );
            }
        }

        #[test]
        fn digits_are_the_decimal_form(body in 0u64..100_000_000_000_000_000) {
            let text: Vec<u8> = format!("{body:017}").bytes().map(|c| c - b'0').collect();
            prop_assert_eq!(&digits_of(body)[..], &text[..]);
        }

        #[test]
        fn packing_preserves_order(a in any_valid_id(), b in any_valid_id()) {
            prop_assert_eq!(a.cmp(&b), a.pack().cmp(&b.pack()));
        }

        #[test]
        fn any_single_digit_change_breaks_the_checksum(id in any_valid_id(), pos in 0usize..17, delta in 1u8..10) {
            let mut s: Vec<u8> = id.to_string().into_bytes();
            s[pos] = b'0' + (s[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(s).unwrap();
            prop_assert!(ResidentId::parse(&changed).is_err());
        }

        #[test]
        fn fifteen_digit_form_converts_back(id in any_valid_id()) {
            if let Some(old) = id.to_15() {
                prop_assert_eq!(ResidentId::parse(&old), Ok(id));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = ResidentId::parse(&s);
        }
    }
}
