//! Fields a department does not deliver as such, computed from what it does deliver.
//!
//! A source's config can derive a catalog field with a SQL expression over named delivered
//! columns (`derive.status = { from = ["注销日期"], sql = "CASE WHEN ..." }`): a business whose
//! status is told by a cancellation date, a month cut from a date, a unit from a flag column.
//! The expression is parsed and planned with DataFusion's expression engine once, when the
//! config is built (an unknown column or function is a config error before any work), and
//! evaluated on each batch of raw records before validation, as one vectorised call. Its
//! result is cast to text and validated like a delivered cell.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

use crate::config::Derive;

/// A derived field's expression, planned.
#[derive(Debug, Clone)]
pub struct Derivation {
    /// The catalog field it gives.
    pub field: &'static str,
    /// The delivered columns it reads, in order.
    pub from: Vec<String>,
    /// The expression as configured (named in quarantine reasons).
    pub sql: String,
    schema: SchemaRef,
    expr: Arc<dyn PhysicalExpr>,
}

impl Derivation {
    /// Parses and plans `d` for `field`; the error says what is wrong.
    pub fn compile(field: &'static str, d: &Derive) -> Result<Self, String> {
        if d.from.is_empty() {
            return Err("`from` names no column".into());
        }
        let schema: SchemaRef = Arc::new(Schema::new(
            d.from
                .iter()
                .map(|c| Field::new(c, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let df_schema = DFSchema::try_from(schema.clone()).map_err(|e| e.to_string())?;
        let ctx = SessionContext::new();
        let expr = ctx
            .parse_sql_expr(&d.sql, &df_schema)
            .map_err(|e| format!("{}: {e}", d.sql))?;
        let expr = ctx
            .create_physical_expr(expr, &df_schema)
            .map_err(|e| format!("{}: {e}", d.sql))?;
        Ok(Derivation {
            field,
            from: d.from.clone(),
            sql: d.sql.clone(),
            schema,
            expr,
        })
    }

    /// Evaluates the expression on `rows` records whose `from` columns are `inputs` (one
    /// slice per column); one text (or null) per record.
    pub fn eval(
        &self,
        inputs: &[Vec<Option<&str>>],
        rows: usize,
    ) -> Result<Vec<Option<String>>, String> {
        let columns: Vec<ArrayRef> = inputs
            .iter()
            .map(|c| Arc::new(c.iter().copied().collect::<StringArray>()) as ArrayRef)
            .collect();
        // (`compile` refuses an empty `from`, so there is a column to size the batch.)
        let batch =
            RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| e.to_string())?;
        let value = self
            .expr
            .evaluate(&batch)
            .and_then(|v| v.into_array(rows))
            .map_err(|e| format!("{}: {e}", self.sql))?;
        let text = arrow::compute::cast(&value, &DataType::Utf8).map_err(|e| e.to_string())?;
        let text = text.as_string::<i32>();
        Ok((0..rows)
            .map(|i| text.is_valid(i).then(|| text.value(i).to_string()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derive(from: &[&str], sql: &str) -> Result<Derivation, String> {
        Derivation::compile(
            "status",
            &Derive {
                from: from.iter().map(|s| s.to_string()).collect(),
                sql: sql.into(),
            },
        )
    }

    #[test]
    fn a_status_from_a_cancellation_date() {
        let d = derive(
            &["注销日期"],
            "CASE WHEN \"注销日期\" IS NULL OR trim(\"注销日期\") = '' THEN '存续' ELSE '注销' END",
        )
        .unwrap();
        let got = d
            .eval(&[vec![Some(""), Some("2024-03-01"), None]], 3)
            .unwrap();
        assert_eq!(
            got,
            [
                Some("存续".into()),
                Some("注销".into()),
                Some("存续".into())
            ]
        );
    }

    #[test]
    fn a_month_cut_from_a_date_and_two_columns_joined() {
        let d = derive(&["pay_date"], "substr(pay_date, 1, 7)").unwrap();
        assert_eq!(
            d.eval(&[vec![Some("2026-05-31")]], 1).unwrap(),
            [Some("2026-05".into())]
        );
        let d = derive(&["a", "b"], "concat(a, '-', b)").unwrap();
        assert_eq!(
            d.eval(&[vec![Some("x")], vec![Some("y")]], 1).unwrap(),
            [Some("x-y".into())]
        );
    }

    #[test]
    fn mistakes_are_refused_when_the_config_is_built() {
        for (from, sql, needle) in [
            (&["x"][..], "y || 'a'", "y"),
            (&["x"][..], "CASE WHEN", "CASE"),
            (&["x"][..], "no_such_function(x)", "no_such_function"),
            (&[][..], "'a'", "from"),
        ] {
            let e = derive(from, sql).unwrap_err();
            assert!(e.contains(needle), "{sql}: {e}");
        }
    }
}
