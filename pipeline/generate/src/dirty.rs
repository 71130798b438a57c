//! Dirty data, at configurable rates, every instance recorded.
//!
//! Two families. Rows a batch must quarantine are *extra* corrupted copies of real rows (a
//! bad checksum, a date that does not exist, a negative amount, an exact duplicate, ...), so
//! quarantining them leaves the truth unchanged. Rows a batch must accept are real rows
//! whose ID is written in a form that normalises (15 digits, full-width digits, lowercase
//! `x`, stray spaces), so failing to normalise them changes the truth, visibly.

use std::collections::BTreeMap;

use chrono::Datelike;
use hedui_schemas::{DateStyle, FieldType, Format, MonthStyle, Role, SourceDef};
use rand::Rng;

use super::model::{Cell, DirtyKind, Rec};

/// Per-row probability of each kind of dirt.
#[derive(Debug, Clone)]
pub struct DirtyRates(pub BTreeMap<DirtyKind, f64>);

impl Default for DirtyRates {
    fn default() -> Self {
        use DirtyKind::*;
        DirtyRates(BTreeMap::from([
            (IdChecksum, 0.002),
            (IdScientific, 0.001),
            (BadDate, 0.0015),
            (BadMonth, 0.001),
            (NegativeAmount, 0.001),
            (Duplicate, 0.002),
            (UnknownCode, 0.001),
            (WrongColumnCount, 0.001),
            (Id15, 0.002),
            (FullWidth, 0.001),
            (LowercaseX, 0.002),
            (Spaces, 0.002),
            (IdSlipDigit, 0.0005),
            (IdSlipSwap, 0.0005),
            (IdSlipDrop, 0.0005),
            (IdSlipAdd, 0.0005),
            (IdSlipOtherName, 0.0005),
        ]))
    }
}

impl DirtyRates {
    /// Every rate multiplied by `factor` (0 gives clean data).
    pub fn scaled(factor: f64) -> Self {
        let mut r = Self::default();
        for v in r.0.values_mut() {
            *v *= factor;
        }
        r
    }
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' | 'X' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect()
}

fn bad_date(year: i32, style: DateStyle) -> String {
    match style {
        DateStyle::Iso => format!("{year}-02-30"),
        DateStyle::Slash => format!("{year}/13/5"),
        DateStyle::Compact => format!("{year}0230"),
        DateStyle::Chinese => format!("{year}年2月30日"),
    }
}

fn bad_month(year: i32, style: MonthStyle) -> String {
    match style {
        MonthStyle::Iso => format!("{year}-13"),
        MonthStyle::Compact => format!("{year}13"),
        MonthStyle::Dot => format!("{year}.13"),
    }
}

/// `id` with one typing slip of `kind`, chosen from `seed` (the ID's body: the same record
/// always gets the same slip), such that it no longer reads for the kind's reason: a changed
/// or swapped character fails the checksum (not the birth date), a dropped or added digit
/// has the wrong length. `None` when no slip of the kind does (never for these IDs).
pub fn slip(id: &str, kind: DirtyKind, seed: u64) -> Option<String> {
    use hedui_schemas::{IdError, ResidentId};
    let chars: Vec<char> = id.chars().collect();
    let start = (seed / 7) as usize;
    let checksum = |s: &str| matches!(ResidentId::parse(s), Err(IdError::BadChecksum { .. }));
    match kind {
        DirtyKind::IdSlipDigit | DirtyKind::IdSlipOtherName => (0..17).find_map(|k| {
            let pos = (start + k) % 17;
            (1..10).find_map(|d| {
                let mut c = chars.clone();
                let was = c[pos].to_digit(10)?;
                c[pos] = char::from_digit((was + d) % 10, 10)?;
                let s: String = c.into_iter().collect();
                checksum(&s).then_some(s)
            })
        }),
        DirtyKind::IdSlipSwap => (0..17).find_map(|k| {
            let pos = (start + k) % 17;
            let mut c = chars.clone();
            c.swap(pos, pos + 1);
            let s: String = c.into_iter().collect();
            (chars[pos] != chars[pos + 1] && checksum(&s)).then_some(s)
        }),
        DirtyKind::IdSlipDrop => {
            let mut c = chars.clone();
            c.remove(start % 18);
            Some(c.into_iter().collect())
        }
        DirtyKind::IdSlipAdd => {
            let mut c = chars.clone();
            c.insert(start % 18, char::from_digit((seed % 10) as u32, 10)?);
            Some(c.into_iter().collect())
        }
        _ => None,
    }
}

/// Applies `kind` to `rec` if it can; returns the record to add (for row-adding kinds) or
/// rewrites `rec` in place (for normalising kinds). `None` when the kind does not apply.
fn apply(src: &SourceDef, kind: DirtyKind, rec: &mut Rec) -> Option<Option<Rec>> {
    let subject = src.fields.iter().position(|f| f.role == Role::Subject)?;
    let subject_name = src.fields[subject].name;
    let Cell::Id(id) = rec.cells[subject] else {
        return None;
    };
    let id_text = id.to_string();
    let find = |pred: &dyn Fn(&Cell, &hedui_schemas::FieldDef) -> bool| {
        rec.cells
            .iter()
            .zip(src.fields)
            .position(|(c, f)| pred(c, f))
    };
    let mut copy = rec.clone();
    let field: &'static str = match kind {
        DirtyKind::IdChecksum => {
            const CHECKS: &[u8] = b"0123456789X";
            let pos = CHECKS
                .iter()
                .position(|c| char::from(*c) == id.check_char())?;
            let wrong = char::from(CHECKS[(pos + 1 + (id.body() % 9) as usize) % 11]);
            copy.cells[subject] = Cell::Raw(format!("{}{wrong}", &id_text[..17]));
            subject_name
        }
        DirtyKind::IdScientific => {
            let mantissa = id_text[1..7].trim_end_matches('0');
            copy.cells[subject] = Cell::Raw(format!("{}.{}E+17", &id_text[..1], mantissa));
            subject_name
        }
        DirtyKind::BadDate => {
            if src.export.format == Format::Parquet {
                return None;
            }
            let i = find(&|c, f| matches!((c, f.ty), (Cell::Date(_), FieldType::Date)))?;
            let Cell::Date(d) = copy.cells[i] else {
                return None;
            };
            copy.cells[i] = Cell::Raw(bad_date(d.year(), src.fields[i].raw.date_style));
            src.fields[i].name
        }
        DirtyKind::BadMonth => {
            let i = find(&|c, _| matches!(c, Cell::Month(_)))?;
            let Cell::Month(m) = copy.cells[i] else {
                return None;
            };
            copy.cells[i] = Cell::Raw(bad_month(m / 100, src.fields[i].raw.month_style));
            src.fields[i].name
        }
        DirtyKind::NegativeAmount => {
            // An amount a rule reads: a bad detail (a value only shown) keeps its record.
            let i = find(&|c, f| matches!(c, Cell::Money(v) if *v > 0) && !f.is_detail())?;
            let Cell::Money(v) = copy.cells[i] else {
                return None;
            };
            copy.cells[i] = Cell::Money(-v);
            src.fields[i].name
        }
        DirtyKind::Duplicate => "",
        DirtyKind::UnknownCode => {
            let i = find(&|c, _| matches!(c, Cell::Code(_)))?;
            copy.cells[i] = Cell::Raw("Z99".into());
            src.fields[i].name
        }
        DirtyKind::WrongColumnCount => {
            if src.export.format != Format::Csv {
                return None;
            }
            copy.cells.push(Cell::Raw(String::new()));
            ""
        }
        DirtyKind::Id15 => {
            rec.cells[subject] = Cell::Raw(id.to_15()?);
            rec.dirty = Some((kind, subject_name, id));
            return Some(None);
        }
        DirtyKind::FullWidth => {
            rec.cells[subject] = Cell::Raw(full_width(&id_text));
            rec.dirty = Some((kind, subject_name, id));
            return Some(None);
        }
        DirtyKind::LowercaseX => {
            if id.check_char() != 'X' {
                return None;
            }
            rec.cells[subject] = Cell::Raw(id_text.to_lowercase());
            rec.dirty = Some((kind, subject_name, id));
            return Some(None);
        }
        DirtyKind::Spaces => {
            rec.cells[subject] = Cell::Raw(format!(" {} {}\u{3000}", &id_text[..6], &id_text[6..]));
            rec.dirty = Some((kind, subject_name, id));
            return Some(None);
        }
        DirtyKind::IdSlipDigit
        | DirtyKind::IdSlipSwap
        | DirtyKind::IdSlipDrop
        | DirtyKind::IdSlipAdd
        | DirtyKind::IdSlipOtherName => {
            if kind == DirtyKind::IdSlipOtherName {
                // Another person's name: a compound surname no generated name has.
                let i = src.fields.iter().position(|f| f.role == Role::Name)?;
                let Cell::Str(n) = &copy.cells[i] else {
                    return None;
                };
                let given: String = n.chars().skip(1).collect();
                copy.cells[i] = Cell::Str(format!("司徒{given}"));
            }
            copy.cells[subject] = Cell::Raw(slip(&id_text, kind, id.body())?);
            subject_name
        }
    };
    copy.dirty = Some((kind, field, id));
    Some(Some(copy))
}

/// Makes a source's records of one chunk dirty; at most one kind per real record.
pub fn inject(src: &SourceDef, recs: Vec<Rec>, rates: &DirtyRates, rng: &mut impl Rng) -> Vec<Rec> {
    let total: f64 = rates.0.values().sum();
    if total <= 0.0 {
        return recs;
    }
    let mut out = Vec::with_capacity(recs.len() + recs.len() / 50);
    for mut rec in recs {
        let mut x = rng.random::<f64>();
        let mut chosen = None;
        if x < total {
            for (k, p) in &rates.0 {
                if x < *p {
                    chosen = Some(*k);
                    break;
                }
                x -= p;
            }
        }
        let extra = chosen.and_then(|k| apply(src, k, &mut rec)).flatten();
        out.push(rec);
        if let Some(e) = extra {
            out.push(e);
        }
    }
    out
}
