//! The last step of household resolution: one row per member.
//!
//! `members.sql` gives the declared rows sorted by household and person. A person declared
//! twice in one household (a dirty application) comes out as adjacent rows with the same
//! household and person; [`Duplicates`] merges each such run into one row holding the least
//! value of every field (nulls only where every row is null), which is what a `GROUP BY
//! household_id, person_key` with `MIN` of every other field gives, without hashing every
//! member's string key.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array, make_comparator};
use arrow::compute::SortOptions;
use arrow::datatypes::{Field, Schema};

use crate::{Error, Result};

/// The key columns the rows are sorted on.
const KEYS: [&str; 2] = ["household_id", "person_key"];

/// Merges runs of rows with the same household and person in a stream of batches sorted on
/// them. A run may span batches: the rows of the last key seen are held back until a batch
/// with another key (or [`Duplicates::finish`]) shows the run is over.
#[derive(Default)]
pub(crate) struct Duplicates {
    held: Option<RecordBatch>,
}

impl Duplicates {
    /// The merged rows of `b` (and of the rows held from before) whose runs are complete,
    /// in order: the held rows first when `b` starts another key.
    pub(crate) fn push(&mut self, b: &RecordBatch) -> Result<Vec<RecordBatch>> {
        let mut done = Vec::with_capacity(2);
        let b = match self.held.take() {
            // A run that goes on into `b` (rare): the held rows join it.
            Some(h) if b.num_rows() > 0 && continues(&h, b)? => {
                arrow::compute::concat_batches(&b.schema(), [&h, b])?
            }
            Some(h) => {
                done.push(as_grouped(merge(&h)?)?);
                b.clone()
            }
            None => b.clone(),
        };
        let n = b.num_rows();
        if n == 0 {
            // No rows, but the schema they would have.
            done.push(as_grouped(b)?);
            return Ok(done);
        }
        let same = same_key(&b, &b)?;
        let mut last = n - 1;
        while last > 0 && same(last - 1, last) {
            last -= 1;
        }
        self.held = Some(b.slice(last, n - last));
        if last > 0 {
            done.push(as_grouped(merge(&b.slice(0, last))?)?);
        }
        Ok(done)
    }

    /// The merged rows still held.
    pub(crate) fn finish(self) -> Result<Option<RecordBatch>> {
        self.held
            .map(|b| merge(&b).and_then(as_grouped))
            .transpose()
    }
}

/// Whether `b` starts with the key `h` (non-empty) ends with.
fn continues(h: &RecordBatch, b: &RecordBatch) -> Result<bool> {
    Ok(same_key(h, b)?(h.num_rows() - 1, 0))
}

/// Whether row `i` of `a` and row `j` of `b` have the same household and person.
fn same_key(a: &RecordBatch, b: &RecordBatch) -> Result<impl Fn(usize, usize) -> bool + use<>> {
    let column = |x: &RecordBatch, k: &str| {
        x.column_by_name(k)
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("engine: members without {k}")))
    };
    let cmps = KEYS
        .iter()
        .map(|k| {
            Ok(make_comparator(
                &column(a, k)?,
                &column(b, k)?,
                SortOptions::default(),
            )?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(move |i: usize, j: usize| cmps.iter().all(|c| c(i, j) == Ordering::Equal))
}

/// `b` with the schema a `GROUP BY` on the keys gives: every other field nullable (a `MIN`
/// may be null), so members.parquet keeps the schema it has always had.
fn as_grouped(b: RecordBatch) -> Result<RecordBatch> {
    let fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let key = KEYS.contains(&f.name().as_str());
            f.as_ref().clone().with_nullable(f.is_nullable() || !key)
        })
        .collect();
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        b.columns().to_vec(),
    )?)
}

/// `b` with each run of rows of one household and person made one row: per column, the
/// run's least non-null value.
fn merge(b: &RecordBatch) -> Result<RecordBatch> {
    let n = b.num_rows();
    if n < 2 {
        return Ok(b.clone());
    }
    let same = same_key(b, b)?;
    // Runs as [start, end) ranges; most batches have none longer than one row.
    let mut runs: Vec<(usize, usize)> = Vec::with_capacity(n);
    let mut start = 0;
    for i in 1..=n {
        if i == n || !same(i - 1, i) {
            runs.push((start, i));
            start = i;
        }
    }
    if runs.len() == n {
        return Ok(b.clone());
    }
    // Nulls last, so the first row in order is the least non-null value (SQL's MIN).
    let order = SortOptions {
        descending: false,
        nulls_first: false,
    };
    let columns = b
        .columns()
        .iter()
        .map(|c| {
            let cmp = make_comparator(c, c, order)?;
            let pick: UInt32Array = runs
                .iter()
                .map(|&(s, e)| {
                    let least =
                        (s + 1..e).fold(s, |m, i| if cmp(i, m) == Ordering::Less { i } else { m });
                    least as u32
                })
                .collect();
            Ok(arrow::compute::take(c.as_ref(), &pick, None)?)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(b.schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array, StringArray};
    use arrow::datatypes::DataType;

    use super::*;

    fn batch(rows: &[(&str, i64, Option<&str>, Option<i64>)]) -> RecordBatch {
        batch_with(rows, true)
    }

    /// Rows with the fields after the keys declared `nullable` or not.
    fn batch_with(rows: &[(&str, i64, Option<&str>, Option<i64>)], nullable: bool) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("household_id", DataType::Utf8, false),
            Field::new("person_key", DataType::Int64, false),
            Field::new("relation", DataType::Utf8, nullable),
            Field::new("region", DataType::Int64, nullable),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(StringArray::from_iter(rows.iter().map(|r| r.2))),
                Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.3))),
            ],
        )
        .unwrap()
    }

    fn rows(b: &RecordBatch) -> Vec<(String, i64, Option<String>, Option<i64>)> {
        let h = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let p = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        let r = b.column(2).as_any().downcast_ref::<StringArray>().unwrap();
        let g = b.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        (0..b.num_rows())
            .map(|i| {
                (
                    h.value(i).to_string(),
                    p.value(i),
                    r.is_valid(i).then(|| r.value(i).to_string()),
                    g.is_valid(i).then(|| g.value(i)),
                )
            })
            .collect()
    }

    #[test]
    fn runs_become_one_row_with_each_fields_least_value_even_across_batches() {
        let mut d = Duplicates::default();
        let mut out = Vec::new();
        // h1/7 is declared twice (spouse and head: "head" is less); h2/5 three times, across
        // the two batches, with a null region that MIN skips; h2/6 once.
        for b in [
            batch(&[
                ("h1", 7, Some("spouse"), Some(440106)),
                ("h1", 7, Some("head"), Some(440105)),
                ("h1", 8, None, Some(1)),
                ("h2", 5, Some("child"), None),
            ]),
            batch(&[
                ("h2", 5, Some("other"), Some(440111)),
                ("h2", 5, None, Some(440103)),
                ("h2", 6, Some("head"), Some(2)),
            ]),
        ] {
            for part in d.push(&b).unwrap() {
                out.extend(rows(&part));
            }
        }
        out.extend(rows(&d.finish().unwrap().unwrap()));
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            out,
            vec![
                ("h1".into(), 7, s("head"), Some(440105)),
                ("h1".into(), 8, None, Some(1)),
                ("h2".into(), 5, s("child"), Some(440103)),
                ("h2".into(), 6, s("head"), Some(2)),
            ]
        );
    }

    #[test]
    fn batches_without_runs_pass_unchanged() {
        let b = batch_with(
            &[
                ("h1", 1, Some("head"), Some(1)),
                ("h1", 2, Some("child"), Some(1)),
            ],
            false,
        );
        let mut d = Duplicates::default();
        let first = d.push(&b).unwrap();
        assert_eq!(first.len(), 1);
        let first = &first[0];
        assert_eq!(first.num_rows(), 1);
        // The schema a GROUP BY gives: keys as they were, every other field nullable.
        let nullable: Vec<bool> = first
            .schema()
            .fields()
            .iter()
            .map(|f| f.is_nullable())
            .collect();
        assert_eq!(nullable, [false, false, true, true]);
        assert_eq!(d.finish().unwrap().unwrap().num_rows(), 1);
        assert_eq!(Duplicates::default().finish().unwrap(), None);
    }
}
