//! The last step of household resolution: one row per member.
//!
//! `members.sql` gives the declared rows sorted by household only: sorting on the household
//! and the person in DataFusion compared encoded rows of both (the string household id and
//! the person key) at every step of the sort and its merges; sorting on the household alone
//! compares the strings directly, and the few rows of each household are put in person
//! order here ([`Duplicates`]), which looks at each household once anyway. A person declared
//! twice in one household (a dirty application) then comes out as adjacent rows with the
//! same household and person; [`Duplicates`] merges each such run into one row holding the
//! least value of every field (nulls only where every row is null), which is what a
//! `GROUP BY household_id, person_key` with `MIN` of every other field gives, without hashing
//! every member's string key.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt32Array, make_comparator};
use arrow::compute::SortOptions;
use arrow::datatypes::{Field, Schema};

use crate::{Error, Result};

/// The key columns the rows come out sorted on: the household first, then the person.
const KEYS: [&str; 2] = ["household_id", "person_key"];

/// Puts the rows of each household in person order and merges runs of rows with the same
/// household and person, in a stream of batches sorted on the household. A household's rows
/// may span batches: the rows of the last household seen are held back until a batch with
/// another household (or [`Duplicates::finish`]) shows they are all there.
#[derive(Default)]
pub(crate) struct Duplicates {
    held: Option<RecordBatch>,
}

impl Duplicates {
    /// The ordered, merged rows of `b` (and of the rows held from before) whose households
    /// are complete, in order: the held household first, with the rows of `b` that go on
    /// with it.
    pub(crate) fn push(&mut self, b: &RecordBatch) -> Result<Vec<RecordBatch>> {
        let n = b.num_rows();
        if n == 0 {
            // No rows, but the schema they would have.
            return Ok(vec![as_grouped(b.clone())?]);
        }
        let mut done = Vec::with_capacity(2);
        // The first rows of `b` that go on with the held household, joined to it (only
        // those: most batches start with the end of the previous one's last household).
        let mut from = 0;
        if let Some(h) = self.held.take() {
            let same = same_household(&h, b)?;
            let last = h.num_rows() - 1;
            while from < n && same(last, from) {
                from += 1;
            }
            let head = match from {
                0 => h,
                _ => arrow::compute::concat_batches(&b.schema(), [&h, &b.slice(0, from)])?,
            };
            if from == n {
                // The household goes on past `b`.
                self.held = Some(head);
                return Ok(done);
            }
            done.push(finished(&head)?);
        }
        let rest = b.slice(from, n - from);
        let same = same_household(&rest, &rest)?;
        let mut last = rest.num_rows() - 1;
        while last > 0 && same(last - 1, last) {
            last -= 1;
        }
        self.held = Some(rest.slice(last, rest.num_rows() - last));
        if last > 0 {
            done.push(finished(&rest.slice(0, last))?);
        }
        Ok(done)
    }

    /// The ordered, merged rows still held.
    pub(crate) fn finish(self) -> Result<Option<RecordBatch>> {
        self.held.map(|b| finished(&b)).transpose()
    }
}

/// Rows of whole households, in person order, merged, with the grouped schema.
fn finished(b: &RecordBatch) -> Result<RecordBatch> {
    as_grouped(merge(&in_person_order(b)?)?)
}

/// The named column of `x`.
fn column(x: &RecordBatch, k: &str) -> Result<ArrayRef> {
    x.column_by_name(k)
        .cloned()
        .ok_or_else(|| Error::no_column(None, k))
}

/// Whether row `i` of `a` and row `j` of `b` have the same values of the first `keys` of
/// [`KEYS`].
fn same_keys(
    a: &RecordBatch,
    b: &RecordBatch,
    keys: usize,
) -> Result<impl Fn(usize, usize) -> bool + use<>> {
    let cmps = KEYS[..keys]
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

/// Whether row `i` of `a` and row `j` of `b` have the same household.
fn same_household(
    a: &RecordBatch,
    b: &RecordBatch,
) -> Result<impl Fn(usize, usize) -> bool + use<>> {
    same_keys(a, b, 1)
}

/// Whether row `i` of `a` and row `j` of `b` have the same household and person.
fn same_key(a: &RecordBatch, b: &RecordBatch) -> Result<impl Fn(usize, usize) -> bool + use<>> {
    same_keys(a, b, 2)
}

/// `b` (whole households, in household order) with each household's rows in person order,
/// null keys last, as `ORDER BY household_id, person_key` gives them. Rows of one household
/// and person stay together in any order: [`merge`] takes each field's least value.
fn in_person_order(b: &RecordBatch) -> Result<RecordBatch> {
    let n = b.num_rows();
    let persons = column(b, "person_key")?;
    let cmp = make_comparator(
        &persons,
        &persons,
        SortOptions {
            descending: false,
            nulls_first: false,
        },
    )?;
    let same = same_household(b, b)?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut moved = false;
    let mut start = 0;
    for i in 1..=n {
        if i < n && same(i - 1, i) {
            continue;
        }
        let run = &mut order[start..i];
        if run
            .windows(2)
            .any(|w| cmp(w[0] as usize, w[1] as usize) == Ordering::Greater)
        {
            run.sort_unstable_by(|&x, &y| cmp(x as usize, y as usize));
            moved = true;
        }
        start = i;
    }
    if !moved {
        return Ok(b.clone());
    }
    Ok(arrow::compute::take_record_batch(
        b,
        &UInt32Array::from(order),
    )?)
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

    /// The rows [`Duplicates`] gives for `batches`, pushed one after the other, then finished.
    fn through(batches: &[RecordBatch]) -> Vec<(String, i64, Option<String>, Option<i64>)> {
        let mut d = Duplicates::default();
        let mut out = Vec::new();
        for b in batches {
            for part in d.push(b).unwrap() {
                out.extend(rows(&part));
            }
        }
        out.extend(d.finish().unwrap().iter().flat_map(rows));
        out
    }

    #[test]
    fn runs_become_one_row_with_each_fields_least_value_even_across_batches() {
        // h1/7 is declared twice (spouse and head: "head" is less); h2/5 three times, across
        // the two batches, with a null region that MIN skips; h2/6 once.
        let out = through(&[
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
        ]);
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
    fn each_households_rows_come_out_in_person_order_even_across_batches() {
        // Sorted by household only: h1's persons 9, 7, 8 over two batches (7 twice), h2's
        // 3 and 2 in the second, h3 alone.
        let out = through(&[
            batch(&[
                ("h1", 9, Some("child"), Some(1)),
                ("h1", 7, Some("spouse"), Some(1)),
            ]),
            batch(&[
                ("h1", 8, Some("head"), Some(1)),
                ("h1", 7, Some("head"), Some(2)),
                ("h2", 3, Some("head"), Some(1)),
                ("h2", 2, Some("child"), Some(1)),
            ]),
            batch(&[("h3", 1, Some("head"), Some(1))]),
        ]);
        let keys: Vec<(&str, i64)> = out.iter().map(|r| (r.0.as_str(), r.1)).collect();
        assert_eq!(
            keys,
            [
                ("h1", 7),
                ("h1", 8),
                ("h1", 9),
                ("h2", 2),
                ("h2", 3),
                ("h3", 1)
            ]
        );
        // h1/7's two rows merged: the least relation and region.
        assert_eq!(out[0].2.as_deref(), Some("head"));
        assert_eq!(out[0].3, Some(1));
    }

    #[test]
    fn a_household_longer_than_a_batch_is_held_whole() {
        let mut d = Duplicates::default();
        assert!(d.push(&batch(&[("h1", 2, None, None)])).unwrap().is_empty());
        assert!(d.push(&batch(&[("h1", 1, None, None)])).unwrap().is_empty());
        let out = d.push(&batch(&[("h2", 1, None, None)])).unwrap();
        let keys: Vec<i64> = out.iter().flat_map(rows).map(|r| r.1).collect();
        assert_eq!(keys, [1, 2]);
        assert_eq!(rows(&d.finish().unwrap().unwrap())[0].0, "h2");
    }

    #[test]
    fn batches_without_runs_pass_unchanged() {
        let b = batch_with(
            &[
                ("h1", 1, Some("head"), Some(1)),
                ("h1", 2, Some("child"), Some(1)),
                ("h2", 1, Some("head"), Some(1)),
            ],
            false,
        );
        let mut d = Duplicates::default();
        let first = d.push(&b).unwrap();
        assert_eq!(first.len(), 1);
        let first = &first[0];
        // h1 whole; h2 held until a batch shows it is over.
        assert_eq!(first.num_rows(), 2);
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
