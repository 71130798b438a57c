//! hedui integration tests: one binary, one module per area.
//!
//! - `audit`: identical bytes across runs, replay, tamper detection, kills mid-batch, the
//!   batch-root lock, and the diff between two nights.
//! - `engine`: the verification engine against the planted truth.
//! - `generate`: the synthetic province: determinism, dirty rows really dirty and clean rows
//!   really clean by the catalog's own validation, and a planted truth that holds together.
//! - `cli`: the `hedui` binary's commands as a user runs them.
//! - `cluster` (feature `cluster`): hedui's Ballista scheduler and executors as processes.
//! - `golden`: hand-written deliveries per rule (`tests/golden/<rule>/`) against their
//!   expected findings, evidence and outcomes.
//! - `county`: the county-style province (layouts the catalog never writes) read with its
//!   generated config alone, against the same planted truth.
//! - `ingest`: connectors, validation, quarantine, staging and gates on the generated province.
//! - `postgres`: PostgreSQL sources against a real server started by `.ci/run`.
//! - `review`: static reports and the review web app over HTTP, per role.
//! - `browser`: the review app in headless Chromium, with a screenshot of each step.
//! - `simulate`: `hedui simulate` of a published batch under a proposed policy.

mod audit;
mod browser;
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod common;
mod county;
mod engine;
mod generate;
mod golden;
mod ingest;
mod postgres;
mod review;
mod simulate;
