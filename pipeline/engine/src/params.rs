//! The values a batch's plans are bound with ([`Parameters`], from the policy and the batch
//! date: the one place they are derived; the peer queries in `benches/peers/` read them as
//! JSON), and how a plan's named parameters (`$as_of`, `$ws`, ...) are bound to them.

use chrono::NaiveDate;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, LogicalPlan, lit};
use hedui_schemas::rules::read_sources;

use crate::{Error, Result};

/// The values a batch's queries are filled with, from the policy and the batch date: the
/// one place they are derived (the peer queries in `benches/peers/` read them as JSON).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Parameters {
    /// Batch date, `yyyy-mm-dd`.
    pub as_of: String,
    /// First month of the income window (yyyymm).
    pub ws: i32,
    /// Last month of the income window (yyyymm).
    pub we: i32,
    /// Months in the income window.
    pub months: u32,
    /// Months of the standard allowed as financial assets per counted member.
    pub asset_months: u32,
    /// Whether the tax-reported wage counts (as one of the four wage figures).
    pub count_tax_wage: bool,
    /// Tax income types counted besides the wage.
    pub other_tax_types: Vec<String>,
    /// Pension schemes counted as income.
    pub pension_schemes: Vec<String>,
    /// Whether unemployment benefit counts as income.
    pub count_unemployment: bool,
    /// Whether out-of-pocket medical expense is deducted.
    pub deduct_medical: bool,
    /// The batch date's month (yyyymm).
    pub current_month: i32,
    /// Residential units a household may own.
    pub max_residential: u32,
    /// Property uses no household may own.
    pub forbidden_uses: Vec<String>,
    /// Vehicle types that do not count.
    pub exempt_vehicles: Vec<String>,
    /// Staff up to which a sole trader is REVIEW rather than FLAG.
    pub sole_trader_max_staff: u32,
    /// A minor at the batch date was born after this day (yyyymmdd).
    pub minor_born_after: i32,
    /// The lines in force at the batch date, per region and programme.
    pub lines: Vec<Line>,
}

/// One region's and programme's line in force.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Line {
    /// Region code.
    pub region: i32,
    /// Programme code.
    pub programme: String,
    /// Multiple of the dibao standard, in basis points.
    pub multiple_bp: i64,
    /// Dibao standard in fen per person per month: the region's one, or its urban one.
    pub standard_fen: i64,
    /// The rural standard where the region sets one of its own (then `standard_fen` is the
    /// urban one).
    pub rural_fen: Option<i64>,
    /// Date the standard took effect, `yyyy-mm-dd`.
    pub standard_from: String,
    /// Its legal reference.
    pub reference: String,
}

/// The line a household of one registered region and declared area type is held to: the
/// [`Line`] its region resolves to (county, else city, else province), with the standard of
/// its area type. `area` is `urban`, `rural`, or empty for none declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionLine {
    /// The region a household is registered in (the applications' code).
    pub region: i64,
    /// The declared area type, empty for none.
    pub area: &'static str,
    /// Programme code.
    pub programme: String,
    /// Multiple of the dibao standard, in basis points.
    pub multiple_bp: i64,
    /// The standard for the area type, in fen per person per month.
    pub standard_fen: i64,
    /// Date the standard took effect, `yyyy-mm-dd`.
    pub standard_from: String,
    /// Its legal reference; where the region sets two standards, with the one applied
    /// (`（农村标准）`, `（城镇标准）`, or `（城镇标准：未申报城乡类别）` for a household that
    /// declared none).
    pub reference: String,
}

/// The area types a line is made for: none declared, urban, rural.
pub const AREAS: [&str; 3] = ["", "urban", "rural"];

impl Parameters {
    /// The parameters of a batch at `as_of` under `policy`.
    pub fn new(policy: &hedui_schemas::policy::Policy, as_of: NaiveDate) -> Parameters {
        use chrono::Datelike;
        let window = hedui_schemas::values::income_window(as_of, policy.income_window_months);
        let mut lines = Vec::new();
        for region in policy.regions.values() {
            let Ok(standard) = policy.standard_at(region.code, as_of) else {
                continue;
            };
            for (programme, multiple) in &region.programmes {
                lines.push(Line {
                    region: region.code,
                    programme: programme.clone(),
                    multiple_bp: multiple.0,
                    standard_fen: standard.dibao_fen,
                    rural_fen: standard.rural_fen,
                    standard_from: standard.from.format("%Y-%m-%d").to_string(),
                    reference: standard.reference.clone(),
                });
            }
        }
        Parameters {
            as_of: as_of.format("%Y-%m-%d").to_string(),
            ws: window[0],
            we: window[window.len() - 1],
            months: policy.income_window_months,
            asset_months: policy.financial_asset_months,
            count_tax_wage: policy.counted_tax_income_types.iter().any(|t| t == "wage"),
            other_tax_types: policy
                .counted_tax_income_types
                .iter()
                .filter(|t| *t != "wage")
                .cloned()
                .collect(),
            pension_schemes: policy.counted_pension_schemes.clone(),
            count_unemployment: policy.count_unemployment_benefit,
            deduct_medical: policy.deduct_medical_expense,
            current_month: hedui_schemas::values::month_of(as_of),
            max_residential: policy.max_residential_units,
            forbidden_uses: policy.forbidden_property_uses.clone(),
            exempt_vehicles: policy.exempt_vehicle_types.clone(),
            sole_trader_max_staff: policy.sole_trader_review_max_staff,
            // A minor at the batch date was born after the same day 18 years earlier.
            minor_born_after: (as_of.year() - 18) * 10_000
                + as_of.month() as i32 * 100
                + as_of.day() as i32,
            lines,
        }
    }

    /// The lines for households registered in `regions` (each once), for every area type:
    /// each region resolves to the nearest of itself, its city and its province that has a
    /// line in force ([`hedui_schemas::policy::Policy::resolve_at`]); a region none of them
    /// has gets no line (its households can never PASS).
    pub fn region_lines(&self, regions: &[i64]) -> Vec<RegionLine> {
        let mut out = Vec::new();
        for &region in regions {
            let Ok(code) = i32::try_from(region) else {
                continue;
            };
            let Some(at) = hedui_schemas::policy::Policy::ancestry(code)
                .into_iter()
                .find(|c| self.lines.iter().any(|l| l.region == *c))
            else {
                continue;
            };
            for l in self.lines.iter().filter(|l| l.region == at) {
                for area in AREAS {
                    let (standard_fen, reference) = match (l.rural_fen, area) {
                        (None, _) => (l.standard_fen, l.reference.clone()),
                        (Some(r), "rural") => (r, format!("{}（农村标准）", l.reference)),
                        (Some(_), "urban") => {
                            (l.standard_fen, format!("{}（城镇标准）", l.reference))
                        }
                        (Some(_), _) => (
                            l.standard_fen,
                            format!("{}（城镇标准：未申报城乡类别）", l.reference),
                        ),
                    };
                    out.push(RegionLine {
                        region,
                        area,
                        programme: l.programme.clone(),
                        multiple_bp: l.multiple_bp,
                        standard_fen,
                        standard_from: l.standard_from.clone(),
                        reference,
                    });
                }
            }
        }
        out
    }

    /// The batch date.
    pub(crate) fn date(&self) -> Result<NaiveDate> {
        self.as_of
            .parse()
            .map_err(|e| Error::Inconsistent(format!("batch date {}: {e}", self.as_of)))
    }

    /// The batch date as a value of a plan (Arrow's `Date32`).
    pub(crate) fn batch_date(&self) -> Result<ScalarValue> {
        Ok(ScalarValue::Date32(Some(days_since_epoch(self.date()?))))
    }

    /// The values of the plans' named parameters (`$as_of` is the batch date, `$ws` the
    /// window's first month, ...), but for the lists ([`Parameters::lists`]). Numbers are
    /// 64-bit, as a number written in SQL is.
    fn scalars(&self) -> Result<Vec<(&'static str, ScalarValue)>> {
        let int = |v: i64| ScalarValue::Int64(Some(v));
        let flag = |v: bool| ScalarValue::Boolean(Some(v));
        Ok(vec![
            ("as_of", self.batch_date()?),
            ("ws", int(self.ws.into())),
            ("we", int(self.we.into())),
            ("months", int(self.months.into())),
            ("asset_months", int(self.asset_months.into())),
            ("count_tax_wage", flag(self.count_tax_wage)),
            ("count_unemployment", flag(self.count_unemployment)),
            ("deduct_medical", flag(self.deduct_medical)),
            ("current_month", int(self.current_month.into())),
            ("max_residential", int(self.max_residential.into())),
            (
                "sole_trader_max_staff",
                int(self.sole_trader_max_staff.into()),
            ),
            ("minor_born_after", int(self.minor_born_after.into())),
        ])
    }

    /// The list parameters, each written in a plan as the whole list of an `IN`
    /// (`scheme IN ($pension_schemes)`): catalog codes.
    fn lists(&self) -> Vec<(&'static str, Vec<String>)> {
        vec![
            ("other_tax_types", self.other_tax_types.clone()),
            ("pension_schemes", self.pension_schemes.clone()),
            ("forbidden_uses", self.forbidden_uses.clone()),
            ("exempt_vehicles", self.exempt_vehicles.clone()),
            (
                "read_sources",
                read_sources().into_iter().map(String::from).collect(),
            ),
        ]
    }

    /// `plan` with its named parameters bound: each list parameter's `IN` spelt out as a list
    /// of the codes, then every other parameter replaced by its value. A name with no value is
    /// a planning error, as is a list parameter used anywhere but as the list of an `IN`.
    pub(crate) fn bind(&self, query: &str, plan: LogicalPlan) -> Result<LogicalPlan> {
        use datafusion::common::tree_node::{Transformed, TreeNode};
        use datafusion::logical_expr::expr::{InList, Placeholder};
        use datafusion::logical_expr::expr_rewriter::NamePreserver;
        let lists = self.lists();
        let list_of = |e: &Expr| match e {
            Expr::Placeholder(Placeholder { id, .. }) => lists
                .iter()
                .find(|(name, _)| id.strip_prefix('$') == Some(*name)),
            _ => None,
        };
        let plan = plan
            .transform_up_with_subqueries(|node| {
                // (An expression keeps its name: a plan above may refer to it by name, as a
                // HAVING does to its aggregates.)
                let names = NamePreserver::new(&node);
                node.map_expressions(|e| {
                    let name = names.save(&e);
                    let e = e.transform_up(|e| match e {
                        Expr::InList(InList {
                            expr,
                            list,
                            negated,
                        }) if list.len() == 1 && list_of(&list[0]).is_some() => {
                            let (_, codes) = list_of(&list[0]).expect("matched above");
                            // An empty list as the SQL text had it: `IN (NULL)`, never true,
                            // and `NOT IN ('')`, a code no catalog has (`NOT IN (NULL)` is
                            // never true either, and would drop every row).
                            let list = match (codes.is_empty(), negated) {
                                (true, false) => vec![Expr::Literal(ScalarValue::Utf8(None), None)],
                                (true, true) => vec![lit("")],
                                (false, _) => codes.iter().map(|c| lit(c.as_str())).collect(),
                            };
                            Ok(Transformed::yes(Expr::InList(InList::new(
                                expr, list, negated,
                            ))))
                        }
                        e => Ok(Transformed::no(e)),
                    })?;
                    Ok(e.update_data(|e| name.restore(e)))
                })
            })
            .map_err(|e| Error::engine(query, e))?
            .data;
        plan.with_param_values(self.scalars()?)
            .map_err(|e| Error::engine(query, e))
    }
}

/// Days from 1970-01-01 to `d` (Arrow's `Date32`).
pub(crate) fn days_since_epoch(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    (d - epoch).num_days() as i32
}
