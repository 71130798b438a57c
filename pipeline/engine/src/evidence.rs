//! The evidence stage's Rust side: each sorted batch of the rules' records rendered to
//! `evidence.parquet`'s columns (household id, full IDs, record keys) and gathered into the
//! findings per household and rule, the two side by side.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::keys::{HouseholdKeys, append_id, id_text};
use crate::output::{int_column, utf8_column};
use crate::{Error, Result};

use super::rules::Gathered as Acc;

pub(super) fn evidence_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("household_id", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("person_id", DataType::Utf8, true),
        Field::new("person_key", DataType::Int64, true),
        Field::new("source", DataType::Utf8, false),
        Field::new("record_key", DataType::Utf8, true),
        Field::new("amount_fen", DataType::Int64, true),
        Field::new("date", DataType::Utf8, true),
        Field::new("file", DataType::Utf8, true),
        Field::new("line", DataType::Int64, true),
    ]))
}

/// One batch of the evidence query: mapped to the output schema ([`render_evidence`]) and its
/// findings gathered ([`gather_evidence`]) side by side, on two threads: the batches come
/// from one sorted stream, and done one after the other on the thread that reads it, the two
/// were the evidence stage's bottleneck (the sort's workers and the writer's thread waited).
pub(super) fn evidence_batch(
    b: &RecordBatch,
    schema: &SchemaRef,
    keys: &HouseholdKeys,
    rule_index: &BTreeMap<&str, usize>,
    acc: &mut BTreeMap<(i64, usize), Acc>,
    probable: &super::probable::Probable,
) -> Result<RecordBatch> {
    let (gathered, rendered) = rayon::join(
        || gather_evidence(b, rule_index, acc, probable),
        || render_evidence(b, schema, keys),
    );
    gathered?;
    rendered
}

/// A text column of the evidence query, read as borrowed strings: no allocation per row, and
/// no copy of a column the query gives as string views.
pub(super) fn evidence_text(b: &RecordBatch, col: &str) -> Result<ArrayRef> {
    match b.column_by_name(col) {
        Some(c) if c.data_type() == &DataType::Utf8View => Ok(c.clone()),
        _ => utf8_column(b, col),
    }
}

/// Row `i` of a column from [`evidence_text`].
pub(super) fn text_value(a: &ArrayRef, i: usize) -> Option<&str> {
    if a.data_type() == &DataType::Utf8View {
        let a = a.as_string_view();
        a.is_valid(i).then(|| a.value(i))
    } else {
        let a = a.as_string::<i32>();
        a.is_valid(i).then(|| a.value(i))
    }
}

/// The record key of row `i`: the record's own (`record_key`), else the IDs it is made of
/// (`key_a`, `key_b`) spelled out.
pub(super) fn record_key_of<'a>(
    key: &'a ArrayRef,
    key_a: &[Option<i64>],
    key_b: &[Option<i64>],
    i: usize,
) -> Option<std::borrow::Cow<'a, str>> {
    match (text_value(key, i), key_a[i], key_b[i]) {
        (Some(k), _, _) => Some(k.into()),
        (None, Some(a), Some(b)) => Some(format!("{}+{}", id_text(a), id_text(b)).into()),
        (None, Some(a), None) => Some(id_text(a).into()),
        (None, None, _) => None,
    }
}

/// Adds the rows of one batch of the evidence query to the findings they make (`acc`: per
/// household and rule, the persons and records concerned, the measure, the rows).
pub(super) fn gather_evidence(
    b: &RecordBatch,
    rule_index: &BTreeMap<&str, usize>,
    acc: &mut BTreeMap<(i64, usize), Acc>,
    probable: &super::probable::Probable,
) -> Result<()> {
    let hh = int_column(b, "hh")?;
    // Where each row is, read only when there are probable records to find.
    let (file, line) = if probable.is_empty() {
        (None, Vec::new())
    } else {
        (Some(evidence_text(b, "file")?), int_column(b, "line")?)
    };
    let rule = evidence_text(b, "rule")?;
    let person = int_column(b, "person_key")?;
    let source = evidence_text(b, "source")?;
    let key = evidence_text(b, "record_key")?;
    let key_a = int_column(b, "key_a")?;
    let key_b = int_column(b, "key_b")?;
    let measure = int_column(b, "measure")?;
    let mut last_rule: Option<(&str, usize)> = None;
    let mut current: Option<((i64, usize), Acc)> = None;
    for i in 0..b.num_rows() {
        let (Some(h), Some(r), Some(_)) = (hh[i], text_value(&rule, i), text_value(&source, i))
        else {
            return Err(Error::Inconsistent(
                "evidence row without household, rule or source".into(),
            ));
        };
        // The rows come sorted by household and rule: a finding's rows follow each other,
        // so the rule and the finding are looked up once per finding, not per row.
        let ri = match last_rule {
            Some((name, ri)) if name == r => ri,
            _ => {
                let ri = *rule_index
                    .get(r)
                    .ok_or_else(|| Error::Inconsistent(format!("unknown rule {r}")))?;
                last_rule = Some((r, ri));
                ri
            }
        };
        if current.as_ref().is_none_or(|(k, _)| *k != (h, ri)) {
            // (Taken out while its rows are read; already there when an earlier batch
            // ended inside it.)
            if let Some((k, a)) = current.take() {
                acc.insert(k, a);
            }
            current = Some(((h, ri), acc.remove(&(h, ri)).unwrap_or_default()));
        }
        let a = &mut current.as_mut().expect("set above").1;
        if let Some(p) = person[i] {
            a.persons.insert(p);
        }
        if let Some(m) = measure[i] {
            a.measure = Some(a.measure.map_or(m, |x: i64| x.max(m)));
        }
        a.rows += 1;
        if let (Some(file), Some(s)) = (&file, text_value(&source, i))
            && let (Some(f), Some(l)) = (text_value(file, i), line[i])
            && probable.contains(s, f, l)
        {
            a.probable_rows += 1;
        }
        // (A record key repeats within a finding, a month's for every member: it is copied
        // only the first time.)
        if let Some(k) = record_key_of(&key, &key_a, &key_b, i)
            && !a.records.contains(k.as_ref())
        {
            a.records.insert(k.into_owned());
        }
    }
    if let Some((k, a)) = current {
        acc.insert(k, a);
    }
    Ok(())
}

/// One batch of the evidence query in the output schema: the household's id for its key, the
/// member's full resident ID beside the key, record keys made of IDs spelled out; the other
/// columns as they are.
pub(super) fn render_evidence(
    b: &RecordBatch,
    schema: &SchemaRef,
    keys: &HouseholdKeys,
) -> Result<RecordBatch> {
    let n = b.num_rows();
    let mut households = StringBuilder::with_capacity(n, n * 16);
    for h in int_column(b, "hh")? {
        let h = h.ok_or_else(|| {
            Error::Inconsistent("evidence row without household, rule or source".into())
        })?;
        let id = keys
            .id(h)
            .ok_or_else(|| Error::Inconsistent(format!("evidence for household #{h}")))?;
        households.append_value(id);
    }
    let mut ids = StringBuilder::with_capacity(n, n * 18);
    for p in int_column(b, "person_key")? {
        append_id(&mut ids, p)?;
    }
    let key = evidence_text(b, "record_key")?;
    let (key_a, key_b) = (int_column(b, "key_a")?, int_column(b, "key_b")?);
    let mut record_keys = StringBuilder::new();
    for i in 0..n {
        record_keys.append_option(record_key_of(&key, &key_a, &key_b, i));
    }
    // The columns passed through, in the output's types.
    let column = |name: &str, t: &DataType| -> Result<ArrayRef> {
        let c = b
            .column_by_name(name)
            .ok_or_else(|| Error::no_column(None, name))?;
        Ok(arrow::compute::cast(c, t)?)
    };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(households.finish()),
        column("rule", &DataType::Utf8)?,
        Arc::new(ids.finish()),
        column("person_key", &DataType::Int64)?,
        column("source", &DataType::Utf8)?,
        Arc::new(record_keys.finish()),
        column("amount_fen", &DataType::Int64)?,
        column("date", &DataType::Utf8)?,
        column("file", &DataType::Utf8)?,
        column("line", &DataType::Int64)?,
    ];
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}
