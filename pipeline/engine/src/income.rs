//! Income as the catalog says it counts ([`hedui_schemas::Counts`]): every source that feeds a
//! household's income is read by two views built here from its definition, so a department
//! that adds income is one schema file and no query changes.
//!
//! - `income_records`: per record of the window (and the policy's gates), the member, the
//!   month, its wage figure (or NULL) and the amount it adds (or, negative, deducts);
//!   `income_figures.sql` keeps the counted members' and the engine sums them per person.
//! - `income_evidence`: the records a caseworker is shown behind an income finding (those
//!   that count as a wage figure or as income), with the record's key (its month, and the
//!   code that says what it is: a tax record's income type), amount, date and place in the
//!   delivery; `rules/income_over_line.sql` joins it to the members over the line.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, cast, lit, when};
use datafusion::prelude::{DataFrame, col, concat};
use hedui_schemas::{Counts, Figure, Gate, List, Role, SourceDef, Switch};

use super::{Engine, Parameters, df_err};
use crate::Result;

/// The view of every counted income record.
pub(crate) const RECORDS: &str = "income_records";
/// The view of the records shown behind an income finding.
pub(crate) const EVIDENCE: &str = "income_evidence";

/// The sources that feed income, with how, in catalog order.
fn counted() -> impl Iterator<Item = (&'static SourceDef, &'static Counts)> {
    hedui_schemas::all_sources()
        .iter()
        .filter_map(|s| s.counts.map(|c| (*s, c)))
}

/// The source's month field (the window is on it) and its member key.
fn columns(def: &SourceDef) -> Result<(Expr, Expr)> {
    let month = def
        .fields
        .iter()
        .find(|f| f.role == Role::Period)
        .ok_or_else(|| {
            crate::Error::Catalog(format!("{} counts income but has no period", def.id))
        })?;
    Ok((col(month.name), col(format!("{}_key", def.subject().name))))
}

/// The policy's codes of `list`.
fn codes(p: &Parameters, list: List) -> Vec<&str> {
    match list {
        // (`wage` among them is the tax-reported wage, a figure of its own: see `Gate::Is`.)
        List::CountedTaxIncomeTypes => {
            let mut all: Vec<&str> = p.other_tax_types.iter().map(String::as_str).collect();
            if p.count_tax_wage {
                all.push("wage");
            }
            all
        }
        List::CountedPensionSchemes => p.pension_schemes.iter().map(String::as_str).collect(),
    }
}

/// `field IN (codes)`; an empty list as the SQL text had it, `IN (NULL)`, never true.
fn in_list(field: &str, codes: &[&str]) -> Expr {
    let list = if codes.is_empty() {
        vec![lit(ScalarValue::Utf8(None))]
    } else {
        codes.iter().map(|c| lit(*c)).collect()
    };
    col(field).in_list(list, false)
}

/// The gate as a condition (`None`: always).
fn condition(gate: &Gate, p: &Parameters) -> Option<Expr> {
    match gate {
        Gate::Always => None,
        Gate::Switch(Switch::CountUnemploymentBenefit) => Some(lit(p.count_unemployment)),
        Gate::Switch(Switch::DeductMedicalExpense) => Some(lit(p.deduct_medical)),
        Gate::In(field, list) => Some(in_list(field, &codes(p, *list))),
        Gate::Is(field, code, list) => {
            Some(lit(codes(p, *list).contains(code)).and(col(*field).eq(lit(*code))))
        }
        Gate::InBut(field, list, but) => {
            let codes: Vec<&str> = codes(p, *list).into_iter().filter(|c| c != but).collect();
            Some(in_list(field, &codes))
        }
    }
}

/// A figure's amount where it counts, else `otherwise` (NULL, or 0).
fn amount(f: &Figure, p: &Parameters, otherwise: Option<i64>) -> Result<Expr> {
    Ok(match condition(&f.when, p) {
        None => col(f.field),
        Some(c) => {
            let mut then = when(c, col(f.field));
            match otherwise {
                Some(v) => then.otherwise(lit(v)),
                None => then.end(),
            }
            .map_err(df_err)?
        }
    })
}

/// `rows` after those `so_far` (the first source's rows begin the union).
pub(crate) fn union(so_far: Option<DataFrame>, rows: DataFrame) -> Result<DataFrame> {
    match so_far {
        None => Ok(rows),
        Some(r) => r.union(rows).map_err(df_err),
    }
}

/// `a AND b` of the conditions there are.
fn all(conditions: impl IntoIterator<Item = Option<Expr>>) -> Option<Expr> {
    conditions.into_iter().flatten().reduce(Expr::and)
}

impl Engine {
    /// Registers `income_records` and `income_evidence` for the batch's parameters.
    pub(crate) async fn register_income(&self, p: &Parameters) -> Result<()> {
        let mut records: Option<DataFrame> = None;
        let mut evidence: Option<DataFrame> = None;
        for (def, c) in counted() {
            let (month, person) = columns(def)?;
            let window = month
                .clone()
                .between(lit(i64::from(p.ws)), lit(i64::from(p.we)));
            let kept = all([Some(window), condition(&c.rows, p)]).expect("the window");
            let table = self.ctx.table(def.id).await.map_err(df_err)?;
            // The record's wage figure, and what it adds less what it deducts.
            let wage = match &c.wage {
                Some(f) => amount(f, p, None)?,
                None => lit(ScalarValue::Int64(None)),
            };
            let added = c
                .added
                .as_ref()
                .map(|f| amount(f, p, Some(0)))
                .transpose()?;
            let deducted = c
                .deducted
                .as_ref()
                .map(|f| amount(f, p, Some(0)))
                .transpose()?;
            let net = match (added, deducted) {
                (None, None) => lit(0i64),
                (Some(a), None) => a,
                (None, Some(d)) => Expr::Negative(Box::new(d)),
                (Some(a), Some(d)) => a - d,
            };
            let rows = table
                .clone()
                .filter(kept.clone())
                .and_then(|t| {
                    t.select(vec![
                        person.clone().alias("person_key"),
                        month.clone().alias("month"),
                        wage.alias("wage_fen"),
                        net.alias("amount_fen"),
                    ])
                })
                .map_err(df_err)?;
            records = Some(union(records, rows)?);
            let Some(shown) = &c.evidence else { continue };
            // Shown: the records that count as a wage figure or as income.
            let counts = [c.wage.as_ref(), c.added.as_ref()]
                .into_iter()
                .flatten()
                .map(|f| condition(&f.when, p))
                .collect::<Option<Vec<Expr>>>()
                .and_then(|cs| cs.into_iter().reduce(Expr::or));
            let text = |e: Expr| cast(e, DataType::Utf8View);
            let key = match shown.kind {
                None => text(month.clone()),
                Some(kind) => concat(vec![text(month.clone()), lit("/"), text(col(kind))]),
            };
            let shown_rows = table
                .filter(all([Some(kept), counts]).expect("the window"))
                .and_then(|t| {
                    t.select(vec![
                        person.alias("person_key"),
                        lit(def.id).alias("source"),
                        key.alias("record_key"),
                        col(shown.amount).alias("amount_fen"),
                        text(month).alias("date"),
                        text(col(hedui_schemas::catalog::FILE_COLUMN)).alias("file"),
                        col(hedui_schemas::catalog::LINE_COLUMN).alias("line"),
                    ])
                })
                .map_err(df_err)?;
            evidence = Some(union(evidence, shown_rows)?);
        }
        for (name, view) in [(RECORDS, records), (EVIDENCE, evidence)] {
            let view = view
                .ok_or_else(|| crate::Error::Catalog(format!("no source feeds income ({name})")))?;
            self.register_table(name, self.view(view))?;
        }
        Ok(())
    }
}
