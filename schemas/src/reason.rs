//! Quarantine reason codes: why a row was not accepted.
//!
//! The same codes appear in the quarantine Parquet files, the ingest report and the
//! generator's planted truth, so their string forms are part of the output format.

use serde::{Deserialize, Serialize};

use crate::id::IdError;

/// Why a raw row was quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// A required field is empty.
    MissingRequired,
    /// A resident ID is not 15/18 characters or has an invalid character.
    IdFormat,
    /// A resident ID fails its check character.
    IdChecksum,
    /// A resident ID's birth date does not exist.
    IdBirthDate,
    /// A resident ID was turned into scientific notation by a spreadsheet.
    IdScientificNotation,
    /// A unified social credit code is malformed or fails its checksum.
    CreditCode,
    /// A date that does not parse or does not exist.
    BadDate,
    /// A month that does not parse.
    BadMonth,
    /// An amount that is not a number in the declared unit, or finer than 1 fen.
    BadAmount,
    /// An amount below zero where the catalog allows none.
    NegativeAmount,
    /// A number (count, grade, area, share) that does not parse or is out of range.
    BadNumber,
    /// A region code that is not 6 digits.
    BadRegion,
    /// A code value with no mapping to the catalog's code table.
    UnknownCode,
    /// An exact duplicate of an earlier row of the same source.
    DuplicateRow,
    /// A CSV record with more or fewer fields than the header.
    WrongColumnCount,
    /// A line that is not a JSON object, or text in an invalid encoding.
    Malformed,
    /// A CSV line taken in by a quoted field that is never closed (or closed lines later,
    /// leaving a record that does not fit the header): one row per physical line.
    UnterminatedQuote,
}

impl ReasonCode {
    /// Every reason code, in a stable order (for reports).
    pub const ALL: [ReasonCode; 17] = [
        ReasonCode::MissingRequired,
        ReasonCode::IdFormat,
        ReasonCode::IdChecksum,
        ReasonCode::IdBirthDate,
        ReasonCode::IdScientificNotation,
        ReasonCode::CreditCode,
        ReasonCode::BadDate,
        ReasonCode::BadMonth,
        ReasonCode::BadAmount,
        ReasonCode::NegativeAmount,
        ReasonCode::BadNumber,
        ReasonCode::BadRegion,
        ReasonCode::UnknownCode,
        ReasonCode::DuplicateRow,
        ReasonCode::WrongColumnCount,
        ReasonCode::Malformed,
        ReasonCode::UnterminatedQuote,
    ];

    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::MissingRequired => "missing_required",
            ReasonCode::IdFormat => "id_format",
            ReasonCode::IdChecksum => "id_checksum",
            ReasonCode::IdBirthDate => "id_birth_date",
            ReasonCode::IdScientificNotation => "id_scientific_notation",
            ReasonCode::CreditCode => "credit_code",
            ReasonCode::BadDate => "bad_date",
            ReasonCode::BadMonth => "bad_month",
            ReasonCode::BadAmount => "bad_amount",
            ReasonCode::NegativeAmount => "negative_amount",
            ReasonCode::BadNumber => "bad_number",
            ReasonCode::BadRegion => "bad_region",
            ReasonCode::UnknownCode => "unknown_code",
            ReasonCode::DuplicateRow => "duplicate_row",
            ReasonCode::WrongColumnCount => "wrong_column_count",
            ReasonCode::Malformed => "malformed",
            ReasonCode::UnterminatedQuote => "unterminated_quote",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&IdError> for ReasonCode {
    fn from(e: &IdError) -> Self {
        match e {
            IdError::Empty => ReasonCode::MissingRequired,
            IdError::ScientificNotation(_) => ReasonCode::IdScientificNotation,
            IdError::BadLength { .. } | IdError::BadCharacter { .. } => ReasonCode::IdFormat,
            IdError::BadBirthDate { .. } => ReasonCode::IdBirthDate,
            IdError::BadChecksum { .. } => ReasonCode::IdChecksum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for r in ReasonCode::ALL {
            let json = serde_json_like(r);
            assert_eq!(json, r.as_str());
        }
    }

    // serde_json is not a dependency of this crate; the derive's rename rule is checked by
    // comparing against the Debug name converted to snake_case.
    fn serde_json_like(r: ReasonCode) -> String {
        let dbg = format!("{r:?}");
        let mut out = String::new();
        for (i, c) in dbg.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}
