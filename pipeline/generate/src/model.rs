//! What the generator produces before it is written: records as catalog values, dirty marks,
//! and the planted truth of one chunk of households.

use chrono::NaiveDate;
use hedui_schemas::{ReasonCode, ResidentId};

/// One field value of a generated record, in catalog terms; the writer formats it the way
/// the source's department exports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// A resident ID.
    Id(ResidentId),
    /// Text.
    Str(String),
    /// Money in fen.
    Money(i64),
    /// A date.
    Date(NaiveDate),
    /// A `yyyymm` month.
    Month(i32),
    /// A catalog code (written as the department's raw value).
    Code(&'static str),
    /// A count.
    Count(i64),
    /// An area in hundredths of a square metre.
    Area(i64),
    /// A region code.
    Region(i32),
    /// Text written verbatim (dirty or normalisable forms).
    Raw(String),
}

/// How a record was made dirty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DirtyKind {
    /// An extra copy whose ID fails its checksum.
    IdChecksum,
    /// An extra copy whose ID a spreadsheet turned into `4.40106E+17`.
    IdScientific,
    /// An extra copy with a date that does not exist.
    BadDate,
    /// An extra copy with a month that does not exist.
    BadMonth,
    /// An extra copy with a negative amount.
    NegativeAmount,
    /// An exact duplicate of the record before it.
    Duplicate,
    /// An extra copy with a code the department's mapping does not know.
    UnknownCode,
    /// An extra copy with one field too many (CSV only).
    WrongColumnCount,
    /// The record itself, its ID written in the old 15-digit form (accepted after conversion).
    Id15,
    /// The record itself, its ID in full-width digits (accepted after folding).
    FullWidth,
    /// The record itself, its ID's check `X` in lowercase (accepted after folding).
    LowercaseX,
    /// The record itself, its ID with stray spaces (accepted after trimming).
    Spaces,
    /// An extra copy whose ID has one body digit mistyped (fails its checksum); the linkage
    /// must find the person again.
    IdSlipDigit,
    /// An extra copy whose ID has two adjacent characters swapped (fails its checksum).
    IdSlipSwap,
    /// An extra copy whose ID lost a digit (17 characters).
    IdSlipDrop,
    /// An extra copy whose ID has a digit too many (19 characters).
    IdSlipAdd,
    /// An extra copy with a mistyped digit and another person's name: it must stay unlinked.
    IdSlipOtherName,
}

impl DirtyKind {
    /// Every kind, in a stable order.
    pub const ALL: [DirtyKind; 17] = [
        DirtyKind::IdChecksum,
        DirtyKind::IdScientific,
        DirtyKind::BadDate,
        DirtyKind::BadMonth,
        DirtyKind::NegativeAmount,
        DirtyKind::Duplicate,
        DirtyKind::UnknownCode,
        DirtyKind::WrongColumnCount,
        DirtyKind::Id15,
        DirtyKind::FullWidth,
        DirtyKind::LowercaseX,
        DirtyKind::Spaces,
        DirtyKind::IdSlipDigit,
        DirtyKind::IdSlipSwap,
        DirtyKind::IdSlipDrop,
        DirtyKind::IdSlipAdd,
        DirtyKind::IdSlipOtherName,
    ];

    /// The name used in `truth/dirty_rows.csv` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            DirtyKind::IdChecksum => "id_checksum",
            DirtyKind::IdScientific => "id_scientific",
            DirtyKind::BadDate => "bad_date",
            DirtyKind::BadMonth => "bad_month",
            DirtyKind::NegativeAmount => "negative_amount",
            DirtyKind::Duplicate => "duplicate",
            DirtyKind::UnknownCode => "unknown_code",
            DirtyKind::WrongColumnCount => "wrong_column_count",
            DirtyKind::Id15 => "id_15_digit",
            DirtyKind::FullWidth => "full_width",
            DirtyKind::LowercaseX => "lowercase_x",
            DirtyKind::Spaces => "spaces",
            DirtyKind::IdSlipDigit => "id_slip_digit",
            DirtyKind::IdSlipSwap => "id_slip_swap",
            DirtyKind::IdSlipDrop => "id_slip_drop",
            DirtyKind::IdSlipAdd => "id_slip_add",
            DirtyKind::IdSlipOtherName => "id_slip_other_name",
        }
    }

    /// The quarantine reason a batch must give the row, or `None` if it must be accepted.
    pub fn expected_reason(self) -> Option<ReasonCode> {
        match self {
            DirtyKind::IdChecksum
            | DirtyKind::IdSlipDigit
            | DirtyKind::IdSlipSwap
            | DirtyKind::IdSlipOtherName => Some(ReasonCode::IdChecksum),
            DirtyKind::IdSlipDrop | DirtyKind::IdSlipAdd => Some(ReasonCode::IdFormat),
            DirtyKind::IdScientific => Some(ReasonCode::IdScientificNotation),
            DirtyKind::BadDate => Some(ReasonCode::BadDate),
            DirtyKind::BadMonth => Some(ReasonCode::BadMonth),
            DirtyKind::NegativeAmount => Some(ReasonCode::NegativeAmount),
            DirtyKind::Duplicate => Some(ReasonCode::DuplicateRow),
            DirtyKind::UnknownCode => Some(ReasonCode::UnknownCode),
            DirtyKind::WrongColumnCount => Some(ReasonCode::WrongColumnCount),
            DirtyKind::Id15 | DirtyKind::FullWidth | DirtyKind::LowercaseX | DirtyKind::Spaces => {
                None
            }
        }
    }

    /// Whether a row of this kind is about its subject, whose ID stays valid: a record about
    /// a person that nobody could read (a bad date, month, amount or code). Exact copies,
    /// records with a bad subject ID and records that cannot be split are about no one known.
    pub fn is_unreadable_about_subject(self) -> bool {
        matches!(
            self,
            DirtyKind::BadDate
                | DirtyKind::BadMonth
                | DirtyKind::NegativeAmount
                | DirtyKind::UnknownCode
        )
    }

    /// Whether the kind adds a row (rather than rewriting a real one).
    pub fn adds_row(self) -> bool {
        self.expected_reason().is_some()
    }
}

/// One generated record of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Rec {
    /// Values in catalog field order (one more for a wrong column count).
    pub cells: Vec<Cell>,
    /// How it was made dirty, the catalog field concerned, and the real ID of the record's
    /// subject (what a normalised ID must come out as).
    pub dirty: Option<(DirtyKind, &'static str, ResidentId)>,
    /// For a record whose subject's ID does not read: what the linkage must make of it
    /// (`linked`, `ambiguous` or `unlinked`) and the members it is linked to.
    pub link: Option<(&'static str, Vec<ResidentId>)>,
}

impl Rec {
    /// A clean record.
    pub fn new(cells: Vec<Cell>) -> Self {
        Rec {
            cells,
            dirty: None,
            link: None,
        }
    }
}

/// The rules a household is planted to fail, and their severities: the catalog's.
pub use hedui_schemas::rules::{Rule, Severity};

/// One evidence record behind a planted finding.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The member the record is about.
    pub person: ResidentId,
    /// The catalog source.
    pub source: &'static str,
    /// The record's key within its source (plate, unit, account, month, credit code).
    pub key: String,
    /// The amount in fen, where there is one.
    pub amount_fen: Option<i64>,
    /// The record's date or month, as text.
    pub date: String,
}

/// A planted finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// Its severity under the policy the truth follows.
    pub severity: Severity,
    /// The members it concerns.
    pub members: Vec<ResidentId>,
    /// The measured value (fen, or a count).
    pub measured: i64,
    /// The threshold it is compared against (fen, or a count).
    pub threshold: i64,
    /// The records that cause it.
    pub evidence: Vec<Evidence>,
}

/// The planted truth of one household.
#[derive(Debug, Clone)]
pub struct TruthHousehold {
    /// Household id.
    pub id: String,
    /// Region code (county level).
    pub region: i32,
    /// The area type declared, if any.
    pub area: Option<hedui_schemas::policy::AreaType>,
    /// Programme code.
    pub programme: &'static str,
    /// `new` or `recheck`.
    pub kind: &'static str,
    /// Declared members.
    pub declared: usize,
    /// Members counted at the as-of date.
    pub counted: usize,
    /// Net income over the window, fen, of counted members.
    pub income_fen: i64,
    /// The largest income that passes (`floor` of the exact line).
    pub income_limit_fen: i64,
    /// Financial assets of counted members at the as-of date, fen.
    pub assets_fen: i64,
    /// The financial-asset limit, fen.
    pub asset_limit_fen: i64,
    /// The scenarios planted (for people reading the truth).
    pub planted: Vec<&'static str>,
    /// The findings a batch must produce.
    pub findings: Vec<Finding>,
    /// The members counted at the as-of date (to attach the dirty records about them).
    pub counted_ids: Vec<ResidentId>,
}

impl TruthHousehold {
    /// PASS, FLAG or REVIEW (a batch with every source present never gives UNVERIFIED here).
    pub fn outcome(&self) -> &'static str {
        if self.findings.iter().any(|f| f.severity == Severity::Flag) {
            "FLAG"
        } else if self.findings.is_empty() {
            "PASS"
        } else {
            "REVIEW"
        }
    }
}
