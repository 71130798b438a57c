//! Financial assets as the catalog tags them: every source with an `Asset` field (a value),
//! an `AsOf` field (the date it holds at) and a `RecordKey` (the account) is read by one view
//! built here, so a department that adds an asset is one schema file and no query changes.
//!
//! `asset_records`: per snapshot on or before the batch date, the member, the source (its
//! catalog number `src`, an integer to group on, and its id `source`), the account, the
//! value, the date and the place in the delivery. `assets.sql` sums each account's latest
//! value per household; `rules/assets_over_limit.sql` shows them.

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{cast, lit};
use datafusion::prelude::{DataFrame, col};
use hedui_schemas::{FieldDef, Role, SourceDef};

use super::{Engine, Parameters, df_err};
use crate::Result;

/// The view of every asset snapshot.
pub(crate) const RECORDS: &str = "asset_records";

/// A source's field of `role`.
fn field_of(def: &SourceDef, role: Role) -> Option<&'static FieldDef> {
    def.fields.iter().find(|f| f.role == role)
}

impl Engine {
    /// Registers `asset_records` for the batch's parameters.
    pub(crate) async fn register_assets(&self, p: &Parameters) -> Result<()> {
        let batch_date = lit(p.batch_date()?);
        let mut records: Option<DataFrame> = None;
        for def in hedui_schemas::all_sources() {
            let Some(value) = field_of(def, Role::Asset) else {
                continue;
            };
            let (Some(date), Some(account)) =
                (field_of(def, Role::AsOf), field_of(def, Role::RecordKey))
            else {
                return Err(crate::Error::Catalog(format!(
                    "{} holds an asset but no as-of date or account",
                    def.id
                )));
            };
            let rows = self
                .ctx
                .table(def.id)
                .await
                .and_then(|t| t.filter(col(date.name).lt_eq(batch_date.clone())))
                .and_then(|t| {
                    t.select(vec![
                        col(format!("{}_key", def.subject().name)).alias("person_key"),
                        lit(i64::from(def.number)).alias("src"),
                        lit(def.id).alias("source"),
                        col(account.name).alias("acct"),
                        col(value.name).alias("fen"),
                        col(date.name).alias("as_of"),
                        cast(col(hedui_schemas::catalog::FILE_COLUMN), DataType::Utf8View)
                            .alias("file"),
                        col(hedui_schemas::catalog::LINE_COLUMN).alias("line"),
                    ])
                })
                .map_err(df_err)?;
            records = Some(super::income::union(records, rows)?);
        }
        let records =
            records.ok_or_else(|| crate::Error::Catalog("no source holds an asset".into()))?;
        self.register_table(RECORDS, self.view(records))
    }
}
