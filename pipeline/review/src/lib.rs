//! Caseworker review: verification reports, the batch summary page, and the review web app.
//!
//! [`batch`] opens a published batch for reading one household at a time; [`report`] turns a
//! household (or a batch) into the report (核对报告) and summary pages, written as static files
//! by `hedui report` and served by `hedui serve` ([`serve`]), whose users, sessions, decisions
//! and access log live in a SQLite database ([`store`]). [`labels`] holds every word shown, in
//! Chinese and English. [`queue`] keeps the review queue's assignments, due dates and open
//! counts.

pub mod batch;
mod error;
pub mod labels;
pub mod queue;
pub mod report;
pub mod serve;
pub mod store;

pub use error::{Error, Result};
