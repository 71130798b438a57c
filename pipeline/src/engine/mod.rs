//! The verification engine on DataFusion: staged Parquet in, per-household results out.
//!
//! Every staged source is registered as a listing table named by its source id, and the
//! queries are plain SQL over those tables (kept in `.sql` files beside this one) with
//! built-in functions only, so the same plans can run on a distributed engine. Money stays
//! integer fen throughout.
//!
//! Built so far (issue #4 in progress): household resolution ([`Engine::members`]): who is
//! declared, who counts at the batch date, and who is excluded and why; and net income over
//! the window per household ([`Engine::income`]) and the income test ([`Engine::income_line`]);
//! the financial-asset test ([`Engine::assets`]); and the other tests ([`Engine::findings`]).

use std::path::Path;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::{Error, Result};

pub mod outcome;

/// The household-resolution query.
const MEMBERS_SQL: &str = include_str!("members.sql");
/// The income aggregation, over the `members` view.
const INCOME_SQL: &str = include_str!("income.sql");
/// The income test, over the income aggregation.
const INCOME_LINE_SQL: &str = include_str!("income_line.sql");
/// The financial-asset test, over the `members` view.
const ASSETS_SQL: &str = include_str!("assets.sql");
/// The tests that are not sums, over the `members` view.
const FINDINGS_SQL: &str = include_str!("findings.sql");

/// A DataFusion session over one staged snapshot.
pub struct Engine {
    ctx: SessionContext,
    /// Source ids registered (staged, or stood in for by an empty table when missing).
    pub tables: Vec<&'static str>,
    /// Sources with no staged snapshot (failed or absent): the rules that need them cannot
    /// clear a household, which becomes UNVERIFIED instead of PASS.
    pub missing: Vec<&'static str>,
    scratch: Option<std::path::PathBuf>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn df_err(e: datafusion::error::DataFusionError) -> Error {
    Error::Invalid(format!("engine: {e}"))
}

/// A SQL list of quoted catalog codes (`NULL` when empty). The codes come from the checked
/// policy (catalog codes: `[a-z_]` only), so quoting them is safe.
fn sql_list(codes: &[String]) -> String {
    if codes.is_empty() {
        return "NULL".into();
    }
    codes
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes an empty Parquet file with a source's staged schema (stands in for a missing source
/// so the same plans run; the outcome logic knows the source is missing).
fn write_empty(path: &Path, def: &hedui_schemas::SourceDef) -> Result<()> {
    let file = std::fs::File::create(path).map_err(crate::error::io(path))?;
    let w =
        parquet::arrow::ArrowWriter::try_new(file, def.staged_schema(), None).map_err(|err| {
            Error::Parquet {
                path: path.display().to_string(),
                err,
            }
        })?;
    w.close().map_err(|err| Error::Parquet {
        path: path.display().to_string(),
        err,
    })?;
    Ok(())
}

impl Engine {
    /// Registers every staged source found under `ingest_dir/staged/`; a source without a
    /// staged snapshot is registered as an empty table and listed in [`Engine::missing`].
    /// The applications are required.
    pub async fn open(ingest_dir: &Path, target_partitions: usize) -> Result<Self> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let config = SessionConfig::new()
            .with_target_partitions(target_partitions.max(1))
            .with_information_schema(false);
        let ctx = SessionContext::new_with_config(config);
        let mut engine = Engine {
            ctx,
            tables: Vec::new(),
            missing: Vec::new(),
            scratch: None,
        };
        for def in hedui_schemas::all_sources() {
            let mut path = ingest_dir
                .join("staged")
                .join(format!("{}.parquet", def.id));
            if !path.is_file() {
                if def.id == "applications" {
                    return Err(Error::Invalid(format!(
                        "engine: no staged applications under {}",
                        ingest_dir.display()
                    )));
                }
                let dir = engine.scratch.get_or_insert_with(|| {
                    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    std::env::temp_dir().join(format!("hedui-engine-{}-{n}", std::process::id()))
                });
                std::fs::create_dir_all(&*dir).map_err(crate::error::io(dir))?;
                path = dir.join(format!("{}.parquet", def.id));
                write_empty(&path, def)?;
                engine.missing.push(def.id);
            }
            let path = path
                .to_str()
                .ok_or_else(|| Error::Invalid(format!("{}: path is not UTF-8", path.display())))?;
            engine
                .ctx
                .register_parquet(def.id, path, ParquetReadOptions::default())
                .await
                .map_err(df_err)?;
            engine.tables.push(def.id);
        }
        Ok(engine)
    }

    /// Runs SQL and collects the result.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        self.ctx
            .sql(sql)
            .await
            .map_err(df_err)?
            .collect()
            .await
            .map_err(df_err)
    }

    /// Net income over the policy's window per household with at least one counted member:
    /// `household_id`, `counted`, `income_fen`. Defines the `members` view for `as_of`.
    pub async fn income(
        &self,
        policy: &crate::policy::Policy,
        as_of: NaiveDate,
    ) -> Result<Vec<RecordBatch>> {
        let sql = self.income_sql(policy, as_of).await?;
        self.query(&sql).await
    }

    /// The income query for `as_of`, after defining the `members` view.
    async fn income_sql(&self, policy: &crate::policy::Policy, as_of: NaiveDate) -> Result<String> {
        self.define_members(as_of).await?;
        let window = crate::generate::income_window(as_of, policy.income_window_months);
        let others: Vec<String> = policy
            .counted_tax_income_types
            .iter()
            .filter(|t| *t != "wage")
            .cloned()
            .collect();
        let sql = INCOME_SQL
            .replace("{ws}", &window[0].to_string())
            .replace("{we}", &window[window.len() - 1].to_string())
            .replace(
                "{count_tax_wage}",
                &policy
                    .counted_tax_income_types
                    .iter()
                    .any(|t| t == "wage")
                    .to_string(),
            )
            .replace("{other_tax_types}", &sql_list(&others))
            .replace(
                "{pension_schemes}",
                &sql_list(&policy.counted_pension_schemes),
            )
            .replace(
                "{count_unemployment}",
                &policy.count_unemployment_benefit.to_string(),
            )
            .replace(
                "{deduct_medical}",
                &policy.deduct_medical_expense.to_string(),
            );
        Ok(sql)
    }

    /// The income test per household with counted members: income, the line's values in
    /// force (multiple, standard, its date and legal reference), `limit_fen` (the largest
    /// income that passes) and `over_line`.
    pub async fn income_line(
        &self,
        policy: &crate::policy::Policy,
        as_of: NaiveDate,
    ) -> Result<Vec<RecordBatch>> {
        let income = self.income_sql(policy, as_of).await?;
        let income = &income[..income.rfind("ORDER BY").unwrap_or(income.len())];
        let mut lines = Vec::new();
        for region in policy.regions.values() {
            let Ok(standard) = policy.standard_at(region.code, as_of) else {
                continue;
            };
            for (programme, multiple) in &region.programmes {
                lines.push(format!(
                    "({}, '{}', {}, {}, DATE '{}', '{}')",
                    region.code,
                    programme,
                    multiple.0,
                    standard.dibao_fen,
                    standard.from.format("%Y-%m-%d"),
                    standard.reference.replace('\'', "''")
                ));
            }
        }
        if lines.is_empty() {
            return Err(Error::Invalid(format!(
                "policy {}: no standard in force on {as_of}",
                policy.name
            )));
        }
        let sql = INCOME_LINE_SQL
            .replace("{lines}", &lines.join(",\n    "))
            .replace("{income}", income)
            .replace("{months}", &policy.income_window_months.to_string());
        self.query(&sql).await
    }

    /// The financial-asset test per household with counted members: `assets_fen` (latest
    /// value per account on or before `as_of`), `limit_fen` and `over_limit`.
    pub async fn assets(
        &self,
        policy: &crate::policy::Policy,
        as_of: NaiveDate,
    ) -> Result<Vec<RecordBatch>> {
        self.define_members(as_of).await?;
        let lines: Vec<String> = policy
            .regions
            .values()
            .filter_map(|r| {
                policy
                    .standard_at(r.code, as_of)
                    .ok()
                    .map(|s| format!("({}, {})", r.code, s.dibao_fen))
            })
            .collect();
        if lines.is_empty() {
            return Err(Error::Invalid(format!(
                "policy {}: no standard in force on {as_of}",
                policy.name
            )));
        }
        let sql = ASSETS_SQL
            .replace("{lines}", &lines.join(", "))
            .replace("{as_of}", &as_of.format("%Y-%m-%d").to_string())
            .replace("{asset_months}", &policy.financial_asset_months.to_string());
        self.query(&sql).await
    }

    /// The findings of the tests that are not sums (property, vehicles, vessels, businesses,
    /// public payroll, duplicate benefits, dead and undeclared members, no counted member):
    /// one row per finding and record behind it: `household_id`, `rule`, `person_key`,
    /// `source`, `record_key`.
    pub async fn findings(
        &self,
        policy: &crate::policy::Policy,
        as_of: NaiveDate,
    ) -> Result<Vec<RecordBatch>> {
        use chrono::Datelike;
        self.define_members(as_of).await?;
        let window = crate::generate::income_window(as_of, policy.income_window_months);
        // A minor at the batch date was born after the same day 18 years earlier.
        let minor_born_after =
            (as_of.year() - 18) * 10_000 + as_of.month() as i32 * 100 + as_of.day() as i32;
        let sql = FINDINGS_SQL
            .replace("{as_of}", &as_of.format("%Y-%m-%d").to_string())
            .replace("{ws}", &window[0].to_string())
            .replace("{we}", &window[window.len() - 1].to_string())
            .replace(
                "{current_month}",
                &hedui_schemas::values::month_of(as_of).to_string(),
            )
            .replace(
                "{max_residential}",
                &policy.max_residential_units.to_string(),
            )
            .replace(
                "{forbidden_uses}",
                &sql_list(&policy.forbidden_property_uses),
            )
            .replace("{exempt_vehicles}", &sql_list(&policy.exempt_vehicle_types))
            .replace(
                "{sole_trader_max_staff}",
                &policy.sole_trader_review_max_staff.to_string(),
            )
            .replace("{minor_born_after}", &minor_born_after.to_string());
        self.query(&sql).await
    }

    /// (Re)defines the `members` view for `as_of`.
    async fn define_members(&self, as_of: NaiveDate) -> Result<()> {
        let body = MEMBERS_SQL.replace("{as_of}", &as_of.format("%Y-%m-%d").to_string());
        let body = &body[..body.rfind("ORDER BY").unwrap_or(body.len())];
        let _ = self.ctx.deregister_table("members").map_err(df_err)?;
        self.query(&format!("CREATE VIEW members AS {body}"))
            .await?;
        Ok(())
    }

    /// Every declared member with `excluded` (`dead`, `incarcerated` or null) at `as_of`.
    pub async fn members(&self, as_of: NaiveDate) -> Result<Vec<RecordBatch>> {
        self.query(&MEMBERS_SQL.replace("{as_of}", &as_of.format("%Y-%m-%d").to_string()))
            .await
    }
}
