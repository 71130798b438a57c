//! Households and people as the engine keys them: `hh`, the integer each household gets in
//! household-id order (members.parquet), spelt back out as the household id when the files are
//! written; and packed resident-ID keys spelt out as full IDs (or masked ones for the CSVs).

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use hedui_schemas::ResidentId;

use super::decide::Findings;
use super::outcome::Rule;
use crate::output::{int_column, utf8_column};
use crate::{Error, Result};

pub(super) fn id_text(key: i64) -> String {
    let mut s = String::with_capacity(18);
    push_id(&mut s, key);
    s
}

pub(super) fn id_masked(key: i64) -> String {
    ResidentId::unpack(key)
        .map(|id| id.masked())
        .unwrap_or_else(|| "#invalid".into())
}

/// Numbers households 0, 1, 2, ... in the order they come (members are sorted by household
/// id, so the numbers follow it): `hh`, the key the later queries group, join and sort on.
#[derive(Default)]
pub(super) struct HouseholdKeys {
    /// Household ids by `hh`.
    pub(super) ids: Vec<String>,
}

impl HouseholdKeys {
    /// Adds `hh` after `household_id`.
    pub(super) fn add_to(&mut self, b: &RecordBatch) -> Result<RecordBatch> {
        let col = utf8_column(b, "household_id")?;
        let col = col.as_string::<i32>();
        let mut hh = Int64Builder::with_capacity(b.num_rows());
        for id in col.iter() {
            let id = id.unwrap_or_default();
            if self.ids.last().map(String::as_str) != Some(id) {
                self.ids.push(id.to_string());
            }
            hh.append_value(self.ids.len() as i64 - 1);
        }
        insert_after(
            b,
            "household_id",
            Field::new("hh", DataType::Int64, false),
            Arc::new(hh.finish()),
        )
    }

    /// The household id of `hh`, if there is such a household.
    pub(super) fn id(&self, hh: i64) -> Option<&str> {
        usize::try_from(hh)
            .ok()
            .and_then(|h| self.ids.get(h))
            .map(String::as_str)
    }

    /// Fails on findings left with no household in the metrics to decide them.
    pub(super) fn no_leftover(&self, left: &Findings) -> Result<()> {
        match left.first_key_value() {
            Some(((hh, r), _)) => Err(Error::Inconsistent(format!(
                "evidence for {} ({}) but no such household in the metrics",
                self.id(*hh).unwrap_or("?"),
                Rule::ALL[*r].id()
            ))),
            None => Ok(()),
        }
    }

    /// Puts `household_id` (spelled out from `hh`) first.
    pub(super) fn spell_out(&self, b: &RecordBatch) -> Result<RecordBatch> {
        let hh = int_column(b, "hh")?;
        // A view array, as the MIN over the members' ids gave before (the same bytes).
        let mut ids = arrow::array::StringViewBuilder::with_capacity(hh.len());
        for h in hh {
            let id = h
                .and_then(|h| self.id(h))
                .ok_or_else(|| Error::Inconsistent(format!("no household #{h:?}")))?;
            ids.append_value(id);
        }
        let mut fields = vec![Field::new("household_id", DataType::Utf8View, true)];
        fields.extend(b.schema().fields().iter().map(|f| f.as_ref().clone()));
        let mut cols: Vec<ArrayRef> = vec![Arc::new(ids.finish())];
        cols.extend(b.columns().iter().cloned());
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
    }
}

/// Adds `person_id` (the full resident ID, from the packed key) after `person_key`.
pub(super) fn with_person_id(b: &RecordBatch) -> Result<RecordBatch> {
    let keys = int_column(b, "person_key")?;
    let mut ids = StringBuilder::with_capacity(keys.len(), keys.len() * 18);
    for k in keys {
        append_id(&mut ids, k)?;
    }
    let ids = ids.finish();
    insert_after(
        b,
        "person_key",
        Field::new("person_id", DataType::Utf8, true),
        Arc::new(ids),
    )
}

/// Writes the full resident ID a packed key stands for (`#key` when it is none) to `out`.
pub(super) fn write_id(out: &mut impl std::fmt::Write, key: i64) -> std::fmt::Result {
    match ResidentId::ascii_of_key(key) {
        Some(a) => out.write_str(std::str::from_utf8(&a).map_err(|_| std::fmt::Error)?),
        None => write!(out, "#{key}"),
    }
}

/// [`write_id`] to a `String` (which cannot fail).
pub(super) fn push_id(out: &mut String, key: i64) {
    let _ = write_id(out, key);
}

/// Appends the full resident ID a packed key stands for (`#key` when it is none; null for
/// null) to `out`, without a `String` per value.
pub(super) fn append_id(out: &mut StringBuilder, key: Option<i64>) -> Result<()> {
    let Some(k) = key else {
        out.append_null();
        return Ok(());
    };
    write_id(out, k).map_err(|e| Error::Inconsistent(format!("person {k}: {e}")))?;
    out.append_value("");
    Ok(())
}

/// `b` with `column` added right after the column named `after`.
pub(super) fn insert_after(
    b: &RecordBatch,
    after: &str,
    field: Field,
    column: ArrayRef,
) -> Result<RecordBatch> {
    let schema = b.schema();
    let at = schema.index_of(after)? + 1;
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.insert(at, field);
    let mut cols: Vec<ArrayRef> = b.columns().to_vec();
    cols.insert(at, column);
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}
