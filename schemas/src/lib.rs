//! The hedui source catalog.
//!
//! Everything downstream (connectors, the generator, the engine) agrees on what a department
//! delivers through this crate: the 24 department sources plus the applications input
//! ([`catalog`], one file per source under [`sources`]), the staged Arrow schema of each, the
//! raw export layout a department uses by default, the code tables ([`codes`]), the value
//! parsers that turn raw text into fen, dates and months ([`values`]), and the identifiers
//! ([`id`] for resident IDs, [`uscc`] for unified social credit codes), and the rules of the
//! policy with the outcomes they lead to ([`rules`]), and the policy itself ([`policy`]:
//! thresholds and lines as data, loaded from TOML and checked before any work).
//!
//! A value that does not validate is reported as a [`ReasonCode`]: the same codes name the
//! quarantine reasons in ingestion and in the generator's planted truth.
#![warn(missing_docs)]

pub mod batch;
pub mod catalog;
pub mod codes;
pub mod divisions;
pub mod id;
pub mod policy;
pub mod reason;
pub mod rules;
pub mod sources;
pub mod synonyms;
pub mod uscc;
pub mod values;

pub use catalog::{
    Counts, DateStyle, Encoding, FieldDef, FieldType, Figure, Format, Gate, List, MoneyUnit,
    MonthStyle, RawColumn, Role, Shown, SourceDef, Switch,
};
pub use id::{IdError, ResidentId};
pub use reason::ReasonCode;
pub use rules::{Outcome, Rule, Severity, Unit};
pub use sources::{SOURCE_IDS, all_sources, source};
