//! The policy: thresholds and rules as data, loaded from TOML and checked before any work.
//!
//! `policy/guangdong.toml` is the shipped default (embedded as [`DEFAULT_POLICY`]). Loading
//! rejects unknown keys, regions without a standard, overlapping or gapped date ranges,
//! multiples and amounts that are not exact decimals, and codes the catalog does not know. A
//! batch asks for the values in force on its own date ([`Policy::standard_at`]).
//!
//! Lines are compared without dividing: a household is over the income line when
//! `income_fen × 10_000 > multiple_bp × standard_fen × counted × months`, all integers.

use std::collections::BTreeMap;

use crate::{MoneyUnit, codes, values};
use chrono::NaiveDate;
use serde::Deserialize;

/// A policy that cannot be used, or a question it cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy file is invalid; the message names the file and the entry.
    #[error("policy {path}: {msg}")]
    Invalid {
        /// The policy file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// The policy file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The policy has no value for a household: no region, no standard in force on the date,
    /// no multiple for the programme.
    #[error("policy {policy}: {msg}")]
    NotInForce {
        /// The policy's name.
        policy: String,
        /// What is missing.
        msg: String,
    },
}

/// Result with [`PolicyError`].
pub type Result<T, E = PolicyError> = std::result::Result<T, E>;

/// The shipped Guangdong policy.
pub const DEFAULT_POLICY: &str = include_str!("../../policy/guangdong.toml");

/// The policy file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: String,
    income_window_months: u32,
    financial_asset_months: u32,
    programmes: BTreeMap<String, String>,
    income: IncomeFile,
    vehicles: VehiclesFile,
    property: PropertyFile,
    business: BusinessFile,
    /// Severities the policy sets, by rule id (only rules that allow it).
    #[serde(default)]
    severity: BTreeMap<String, String>,
    #[serde(default)]
    linkage: Option<LinkageFile>,
    /// Working days a caseworker has from a household's application date (none: the review
    /// app shows no due dates).
    #[serde(default)]
    review_working_days: Option<u32>,
    /// Public holidays on weekdays, for the due dates.
    #[serde(default)]
    review_holidays: Vec<NaiveDate>,
    /// Weekend days worked in exchange for holidays (调休), for the due dates.
    #[serde(default)]
    review_working_weekends: Vec<NaiveDate>,
    regions: Vec<RegionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IncomeFile {
    counted_pension_schemes: Vec<String>,
    counted_tax_income_types: Vec<String>,
    count_unemployment_benefit: bool,
    /// Special-care payments (优抚) are never counted: only `false` is accepted.
    #[serde(default)]
    count_special_care: bool,
    /// Social-assistance payments are never counted: only `false` is accepted.
    #[serde(default)]
    count_assistance: bool,
    deduct_medical_expense: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VehiclesFile {
    exempt_types: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PropertyFile {
    max_residential_units: u32,
    forbidden_uses: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkageFile {
    min_weight_bits: String,
    margin_bits: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BusinessFile {
    sole_trader_review_max_staff: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionFile {
    code: i32,
    name_zh: String,
    name_en: String,
    #[serde(default)]
    programmes: BTreeMap<String, String>,
    standards: Vec<StandardFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StandardFile {
    from: NaiveDate,
    #[serde(default)]
    until: Option<NaiveDate>,
    /// One standard for the whole region (城乡统一)...
    #[serde(default)]
    dibao_yuan: Option<String>,
    /// ... or one for urban and one for rural households (both, never with `dibao_yuan`).
    #[serde(default)]
    urban_yuan: Option<String>,
    #[serde(default)]
    rural_yuan: Option<String>,
    reference: String,
    /// Where the figure comes from, for the auditor (never read to a family): the published
    /// document, or "project default, not a published figure".
    #[serde(default)]
    provenance: Option<String>,
}

/// An exact decimal multiple, in basis points (1.5 = 15_000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Multiple(pub i64);

impl Multiple {
    /// Denominator of the basis-point representation.
    pub const DENOM: i64 = 10_000;

    fn parse(s: &str) -> Option<Self> {
        // Four decimal places at most; parse_money with the 万元 scale would allow six.
        let (int, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
        if int.is_empty()
            || frac.len() > 4
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let int: i64 = int.parse().ok()?;
        let frac_v: i64 = format!("{frac:0<4}").parse().ok()?;
        Some(Multiple(int * Self::DENOM + frac_v))
    }

    /// The multiple as written (`1.5`).
    pub fn display(&self) -> String {
        let s = format!("{}.{:04}", self.0 / Self::DENOM, self.0 % Self::DENOM);
        let s = s.trim_end_matches('0');
        s.strip_suffix('.')
            .map(|t| format!("{t}.0"))
            .unwrap_or_else(|| s.to_string())
    }
}

/// A household's area type (城镇 urban or 农村 rural), from its application: it selects the
/// standard where a region publishes one for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AreaType {
    /// 城镇.
    Urban,
    /// 农村.
    Rural,
}

impl AreaType {
    /// The catalog code (`urban`, `rural`).
    pub fn code(self) -> &'static str {
        match self {
            AreaType::Urban => "urban",
            AreaType::Rural => "rural",
        }
    }

    /// From the catalog code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "urban" => Some(AreaType::Urban),
            "rural" => Some(AreaType::Rural),
            _ => None,
        }
    }

    /// The Chinese word.
    pub fn zh(self) -> &'static str {
        match self {
            AreaType::Urban => "城镇",
            AreaType::Rural => "农村",
        }
    }
}

/// A dibao standard in force from a date.
#[derive(Debug, Clone)]
pub struct Standard {
    /// First day in force.
    pub from: NaiveDate,
    /// Last day in force, if the file closes it; otherwise until the next standard.
    pub until: Option<NaiveDate>,
    /// Monthly dibao standard per person, in fen: the region's one standard, or its urban one
    /// where it publishes two.
    pub dibao_fen: i64,
    /// The rural standard, where the region publishes one of its own.
    pub rural_fen: Option<i64>,
    /// The legal reference, shown with every finding that uses it.
    pub reference: String,
    /// Where the figure comes from (the auditor's, never read to a family).
    pub provenance: Option<String>,
}

impl Standard {
    /// Whether the region publishes an urban and a rural standard.
    pub fn is_split(&self) -> bool {
        self.rural_fen.is_some()
    }

    /// The standard for a household of area type `area`: the rural one for a rural household
    /// where there is one; else the urban (or only) one. A household that declares no area
    /// type where both exist gets the urban one, the higher: it is never held to a line
    /// below its own (and the finding says so).
    pub fn fen(&self, area: Option<AreaType>) -> i64 {
        match (area, self.rural_fen) {
            (Some(AreaType::Rural), Some(r)) => r,
            _ => self.dibao_fen,
        }
    }
}

/// A region's policy values.
#[derive(Debug, Clone)]
pub struct Region {
    /// 6-digit administrative code.
    pub code: i32,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Programme multiples, after regional overrides.
    pub programmes: BTreeMap<String, Multiple>,
    /// Standards in date order.
    pub standards: Vec<Standard>,
}

/// A loaded, checked policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Its name.
    pub name: String,
    /// Months in the income window.
    pub income_window_months: u32,
    /// Months of the standard allowed as financial assets per counted member.
    pub financial_asset_months: u32,
    /// Counted pension schemes (catalog codes).
    pub counted_pension_schemes: Vec<String>,
    /// Counted tax income types (catalog codes).
    pub counted_tax_income_types: Vec<String>,
    /// Whether unemployment benefit counts.
    pub count_unemployment_benefit: bool,
    /// Whether medical out-of-pocket spending is deducted.
    pub deduct_medical_expense: bool,
    /// Exempt vehicle types.
    pub exempt_vehicle_types: Vec<String>,
    /// Residential units allowed.
    pub max_residential_units: u32,
    /// Property uses that fail the test.
    pub forbidden_property_uses: Vec<String>,
    /// A sole trader with at most this many staff goes to review.
    pub sole_trader_review_max_staff: u32,
    /// Severities set by the policy (`[severity]`), for the rules that allow it.
    pub severities: BTreeMap<crate::Rule, crate::Severity>,
    /// The linkage of records whose subject's ID does not read (`[linkage]`; none when the
    /// policy has no such section, as a policy written before it had none: such a batch
    /// links nothing, and replays as it was made).
    pub linkage: Option<Linkage>,
    /// How long a caseworker has for a household (`review_working_days`, `review_holidays`,
    /// `review_working_weekends`; none: no due dates).
    pub review: Option<ReviewDays>,
    /// Regions by code.
    pub regions: BTreeMap<i32, Region>,
    /// The policy file's text as loaded: a batch keeps a copy, and replays with it.
    pub text: String,
}

/// How long a caseworker has to review a household (`review_working_days`, `review_holidays`,
/// `review_working_weekends`): `working_days` working days from its
/// application date, a working day being Monday to Friday but the `holidays`, and the
/// `working_weekends` (调休: a Saturday or Sunday worked in exchange for a holiday).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewDays {
    /// Working days allowed.
    pub working_days: u32,
    /// Public holidays (法定节假日) that fall on weekdays.
    pub holidays: std::collections::BTreeSet<NaiveDate>,
    /// Weekend days that are working days (调休上班).
    pub working_weekends: std::collections::BTreeSet<NaiveDate>,
}

impl ReviewDays {
    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        use chrono::Datelike;
        let weekend = d.weekday().number_from_monday() >= 6;
        (!weekend && !self.holidays.contains(&d)) || self.working_weekends.contains(&d)
    }

    /// The due date of a household applied for on `applied`: the `working_days`-th working
    /// day after it (the application day itself does not count).
    pub fn due(&self, applied: NaiveDate) -> NaiveDate {
        let mut d = applied;
        let mut left = self.working_days;
        while left > 0 {
            match d.succ_opt() {
                Some(n) => d = n,
                None => return d,
            }
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }
}

/// How sure the linkage must be to attribute a record whose subject's ID does not read to a
/// declared member (`[linkage]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Linkage {
    /// The least match weight of a link, in bits (the log2 of how much likelier the fields'
    /// agreement is for the same person than for two people).
    pub min_weight_bits: f64,
    /// How many bits of match weight the best candidate must lead the next by; closer, the
    /// record is ambiguous.
    pub margin_bits: f64,
}

impl Default for Linkage {
    /// hedui's defaults: 10 bits (a thousand times likelier the same person: more than a
    /// shared name alone), and a lead of 3 bits (eight times).
    fn default() -> Self {
        Linkage {
            min_weight_bits: 10.0,
            margin_bits: 3.0,
        }
    }
}

/// The values that apply to one household on one date.
#[derive(Debug, Clone)]
pub struct InForce<'a> {
    /// The region.
    pub region: &'a Region,
    /// The standard in force.
    pub standard: &'a Standard,
    /// The programme's multiple.
    pub multiple: Multiple,
    /// The household's area type, as declared (none: the region's one or urban standard).
    pub area: Option<AreaType>,
}

impl InForce<'_> {
    /// The standard for this household, in fen per person and month.
    pub fn standard_fen(&self) -> i64 {
        self.standard.fen(self.area)
    }

    /// The exact income limit over the window, as `(numerator, Multiple::DENOM)`:
    /// income is over the line when `income × DENOM > numerator`.
    pub fn income_limit_scaled(&self, counted: i64, months: i64) -> i128 {
        i128::from(self.multiple.0)
            * i128::from(self.standard_fen())
            * i128::from(counted)
            * i128::from(months)
    }

    /// The largest income (fen) that still passes: `floor(limit)`.
    pub fn income_limit_fen(&self, counted: i64, months: i64) -> i64 {
        (self.income_limit_scaled(counted, months) / i128::from(Multiple::DENOM)) as i64
    }
}

fn check_codes(path: &str, what: &str, table: &codes::CodeTable, list: &[String]) -> Result<()> {
    for c in list {
        if table.entry(c).is_none() {
            return Err(PolicyError::Invalid {
                path: path.into(),
                msg: format!("{what}: unknown {} code {c:?}", table.id),
            });
        }
    }
    Ok(())
}

impl Policy {
    /// The shipped default policy.
    pub fn default_policy() -> Self {
        // Invariant: the embedded file is checked by the tests below.
        Self::from_toml(DEFAULT_POLICY, "policy/guangdong.toml (embedded)")
            .expect("the embedded default policy is valid")
    }

    /// Loads and checks a policy file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and checks policy text; `path` names it in errors.
    pub fn from_toml(text: &str, path: &str) -> Result<Self> {
        let err = |msg: String| PolicyError::Invalid {
            path: path.into(),
            msg,
        };
        let f: PolicyFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        // Payments the rules never count: a setting that asked for them would change nothing,
        // so it is refused rather than silently ignored.
        for (key, on, what) in [
            (
                "count_special_care",
                f.income.count_special_care,
                "special-care payments (优抚)",
            ),
            (
                "count_assistance",
                f.income.count_assistance,
                "social-assistance payments",
            ),
        ] {
            if on {
                return Err(err(format!(
                    "[income] {key} = true: {what} are never counted as income (shared/domain.md), \
                     and no rule counts them; set it to false or leave it out"
                )));
            }
        }
        if f.income_window_months == 0 || f.income_window_months > 24 {
            return Err(err(format!(
                "income_window_months = {} (1..=24)",
                f.income_window_months
            )));
        }
        let mut programmes = BTreeMap::new();
        for (p, m) in &f.programmes {
            if codes::PROGRAMME.entry(p).is_none() {
                return Err(err(format!("[programmes]: unknown programme {p:?}")));
            }
            let m = Multiple::parse(m)
                .ok_or_else(|| err(format!("[programmes] {p} = {m:?}: not an exact decimal")))?;
            programmes.insert(p.clone(), m);
        }
        for e in codes::PROGRAMME.entries {
            if !programmes.contains_key(e.code) {
                return Err(err(format!("[programmes]: no multiple for {}", e.code)));
            }
        }
        check_codes(
            path,
            "[income] counted_pension_schemes",
            &codes::PENSION_SCHEME,
            &f.income.counted_pension_schemes,
        )?;
        check_codes(
            path,
            "[income] counted_tax_income_types",
            &codes::INCOME_TYPE,
            &f.income.counted_tax_income_types,
        )?;
        check_codes(
            path,
            "[vehicles] exempt_types",
            &codes::VEHICLE_TYPE,
            &f.vehicles.exempt_types,
        )?;
        check_codes(
            path,
            "[property] forbidden_uses",
            &codes::PROPERTY_USE,
            &f.property.forbidden_uses,
        )?;
        let mut severities = BTreeMap::new();
        for (id, v) in &f.severity {
            let rule = crate::Rule::from_id(id)
                .ok_or_else(|| err(format!("[severity]: unknown rule {id:?}")))?;
            if !rule.severity_is_policy() {
                return Err(err(format!(
                    "[severity] {id}: the severity of this rule is fixed ({})",
                    rule.severity().as_str()
                )));
            }
            let sev = match v.as_str() {
                "flag" | "FLAG" => crate::Severity::Flag,
                "review" | "REVIEW" => crate::Severity::Review,
                _ => {
                    return Err(err(format!(
                        "[severity] {id} = {v:?}: \"flag\" or \"review\""
                    )));
                }
            };
            severities.insert(rule, sev);
        }
        let linkage = match &f.linkage {
            None => None,
            Some(l) => {
                let number = |key: &str, v: &str| {
                    v.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| err(format!("[linkage] {key} = {v:?}: not a number")))
                };
                let min_weight_bits = number("min_weight_bits", &l.min_weight_bits)?;
                let margin_bits = number("margin_bits", &l.margin_bits)?;
                if margin_bits < 0.0 {
                    return Err(err(format!(
                        "[linkage] margin_bits = {:?}: not negative",
                        l.margin_bits
                    )));
                }
                Some(Linkage {
                    min_weight_bits,
                    margin_bits,
                })
            }
        };
        let review = match f.review_working_days {
            None => {
                if !f.review_holidays.is_empty() || !f.review_working_weekends.is_empty() {
                    return Err(err(
                        "review_holidays or review_working_weekends without review_working_days"
                            .into(),
                    ));
                }
                None
            }
            Some(days) => {
                if days == 0 || days > 250 {
                    return Err(err(format!("review_working_days = {days} (1..=250)")));
                }
                let review = ReviewDays {
                    working_days: days,
                    holidays: f.review_holidays.into_iter().collect(),
                    working_weekends: f.review_working_weekends.into_iter().collect(),
                };
                use chrono::Datelike;
                if let Some(d) = review
                    .working_weekends
                    .iter()
                    .find(|d| d.weekday().number_from_monday() < 6)
                {
                    return Err(err(format!(
                        "review_working_weekends: {d} is not a Saturday or Sunday"
                    )));
                }
                if let Some(d) = review
                    .holidays
                    .intersection(&review.working_weekends)
                    .next()
                {
                    return Err(err(format!(
                        "{d} is both a review holiday and a working weekend day"
                    )));
                }
                Some(review)
            }
        };
        if f.regions.is_empty() {
            return Err(err("no [[regions]]".into()));
        }
        let mut regions = BTreeMap::new();
        for r in f.regions {
            let rerr = |msg: String| err(format!("region {} ({}): {msg}", r.code, r.name_en));
            if values::parse_region(&r.code.to_string()).is_err() {
                return Err(rerr("not a 6-digit region code".into()));
            }
            if r.standards.is_empty() {
                return Err(rerr("has no dibao standard".into()));
            }
            let mut progs = programmes.clone();
            for (p, m) in &r.programmes {
                if !progs.contains_key(p) {
                    return Err(rerr(format!("unknown programme {p:?}")));
                }
                let m = Multiple::parse(m)
                    .ok_or_else(|| rerr(format!("programme {p} = {m:?}: not an exact decimal")))?;
                progs.insert(p.clone(), m);
            }
            let mut standards = Vec::new();
            for s in &r.standards {
                let amount = |key: &str, v: &str| {
                    values::parse_money(v, MoneyUnit::Yuan)
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| {
                            rerr(format!(
                                "standard from {}: {key} {v:?} is not a positive amount",
                                s.from
                            ))
                        })
                };
                let (dibao_fen, rural_fen) = match (&s.dibao_yuan, &s.urban_yuan, &s.rural_yuan) {
                    (Some(d), None, None) => (amount("dibao_yuan", d)?, None),
                    (None, Some(u), Some(r)) => {
                        (amount("urban_yuan", u)?, Some(amount("rural_yuan", r)?))
                    }
                    _ => {
                        return Err(rerr(format!(
                            "standard from {}: give dibao_yuan (one standard), or urban_yuan \
                             and rural_yuan (two), not both and not one of the two",
                            s.from
                        )));
                    }
                };
                if let Some(p) = &s.provenance
                    && p.trim().is_empty()
                {
                    return Err(rerr(format!(
                        "standard from {}: provenance is empty (leave it out, or say where \
                         the figure comes from)",
                        s.from
                    )));
                }
                if s.reference.trim().is_empty() {
                    return Err(rerr(format!(
                        "standard from {} has no legal reference",
                        s.from
                    )));
                }
                if let Some(u) = s.until
                    && u < s.from
                {
                    return Err(rerr(format!(
                        "standard from {} ends before it starts ({u})",
                        s.from
                    )));
                }
                standards.push(Standard {
                    from: s.from,
                    until: s.until,
                    dibao_fen,
                    rural_fen,
                    reference: s.reference.clone(),
                    provenance: s.provenance.clone(),
                });
            }
            standards.sort_by_key(|s| s.from);
            for w in standards.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                if a.from == b.from {
                    return Err(rerr(format!("two standards from {}", a.from)));
                }
                if let Some(u) = a.until {
                    if u >= b.from {
                        return Err(rerr(format!(
                            "standard from {} (until {u}) overlaps the one from {}",
                            a.from, b.from
                        )));
                    }
                    if u.succ_opt() != Some(b.from) {
                        return Err(rerr(format!("no standard between {u} and {}", b.from)));
                    }
                }
            }
            let code = r.code;
            let region = Region {
                code,
                name_zh: r.name_zh,
                name_en: r.name_en,
                programmes: progs,
                standards,
            };
            if regions.insert(code, region).is_some() {
                return Err(err(format!("region {code} appears twice")));
            }
        }
        Ok(Policy {
            text: text.to_string(),
            name: f.name,
            income_window_months: f.income_window_months,
            financial_asset_months: f.financial_asset_months,
            counted_pension_schemes: f.income.counted_pension_schemes,
            counted_tax_income_types: f.income.counted_tax_income_types,
            count_unemployment_benefit: f.income.count_unemployment_benefit,
            deduct_medical_expense: f.income.deduct_medical_expense,
            exempt_vehicle_types: f.vehicles.exempt_types,
            max_residential_units: f.property.max_residential_units,
            forbidden_property_uses: f.property.forbidden_uses,
            sole_trader_review_max_staff: f.business.sole_trader_review_max_staff,
            severities,
            linkage,
            review,
            regions,
        })
    }

    /// The severity of `rule`'s findings under this policy: the policy's own where it sets
    /// one (`[severity]`), else the rule's.
    pub fn severity(&self, rule: crate::Rule) -> crate::Severity {
        self.severities
            .get(&rule)
            .copied()
            .unwrap_or_else(|| rule.severity())
    }

    /// The codes a household's region resolves through, nearest first: the county's own
    /// (440106), its city's (440100), the province's (440000), each once.
    pub fn ancestry(region: i32) -> Vec<i32> {
        let mut v = vec![region];
        for c in [region / 100 * 100, region / 10_000 * 10_000] {
            if !v.contains(&c) {
                v.push(c);
            }
        }
        v
    }

    /// Whether `region` is, or lies within, one of `codes` (a county within its city or its
    /// province): who may see a household of 440106 when given 440100.
    pub fn within(codes: &std::collections::BTreeSet<i32>, region: i32) -> bool {
        Self::ancestry(region).iter().any(|c| codes.contains(c))
    }

    /// The policy region whose standard applies to a household registered in `region` on
    /// `date`, with that standard: the county's own if the policy has one in force then, else
    /// its city's, else its province's; or an error naming the gap.
    pub fn resolve_at(&self, region: i32, date: NaiveDate) -> Result<(&Region, &Standard)> {
        let mut known = None;
        for code in Self::ancestry(region) {
            if let Some(r) = self.regions.get(&code) {
                known.get_or_insert(r);
                if let Some(s) = r.in_force_at(date) {
                    return Ok((r, s));
                }
            }
        }
        Err(PolicyError::NotInForce {
            policy: self.name.clone(),
            msg: match known {
                None => format!("no region {region}, nor its city's nor its province's"),
                Some(r) => format!(
                    "no dibao standard for {region} ({} {}) in force on {date}",
                    r.code, r.name_en
                ),
            },
        })
    }

    /// The standard in force for a household registered in `region` on `date` (resolved
    /// through the county, city and province: [`Policy::resolve_at`]).
    pub fn standard_at(&self, region: i32, date: NaiveDate) -> Result<&Standard> {
        Ok(self.resolve_at(region, date)?.1)
    }

    /// Everything that applies to a household of `programme` in `region` on `date` that
    /// declares no area type.
    pub fn in_force(&self, region: i32, programme: &str, date: NaiveDate) -> Result<InForce<'_>> {
        self.in_force_for(region, None, programme, date)
    }

    /// Everything that applies to a household of `programme` and area type `area` in
    /// `region` on `date`.
    pub fn in_force_for(
        &self,
        region: i32,
        area: Option<AreaType>,
        programme: &str,
        date: NaiveDate,
    ) -> Result<InForce<'_>> {
        let (region, standard) = self.resolve_at(region, date)?;
        let multiple =
            *region
                .programmes
                .get(programme)
                .ok_or_else(|| PolicyError::NotInForce {
                    policy: self.name.clone(),
                    msg: format!("no programme {programme}"),
                })?;
        Ok(InForce {
            region,
            standard,
            multiple,
            area,
        })
    }
}

/// A region's name for people, in both languages: `广州市天河区` / `Tianhe, Guangzhou`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionName {
    /// Chinese (city, then county).
    pub zh: String,
    /// English (county, then city).
    pub en: String,
}

impl Policy {
    /// The name of `region` for people: a region of the policy by its own name; a county by
    /// its name ([`crate::divisions`]) after its city's; a county the table does not name by
    /// its city's name and its code; else the code.
    pub fn region_name(&self, region: i32) -> RegionName {
        if let Some(r) = self.regions.get(&region) {
            return RegionName {
                zh: r.name_zh.clone(),
                en: r.name_en.clone(),
            };
        }
        let city = Self::ancestry(region)
            .into_iter()
            .skip(1)
            .find_map(|c| self.regions.get(&c));
        match (city, crate::divisions::county(region)) {
            (Some(c), Some((zh, en))) => RegionName {
                zh: format!("{}{zh}", c.name_zh),
                en: format!("{en}, {}", c.name_en),
            },
            (None, Some((zh, en))) => RegionName {
                zh: zh.to_string(),
                en: en.to_string(),
            },
            (Some(c), None) => RegionName {
                zh: format!("{}（{region}）", c.name_zh),
                en: format!("{} ({region})", c.name_en),
            },
            (None, None) => RegionName {
                zh: region.to_string(),
                en: region.to_string(),
            },
        }
    }
}

impl Region {
    /// The standard in force on `date`, if any.
    pub fn in_force_at(&self, date: NaiveDate) -> Option<&Standard> {
        self.standards
            .iter()
            .rev()
            .find(|s| s.from <= date && s.until.is_none_or(|u| date <= u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn default_policy_loads_and_selects_by_date() {
        let p = Policy::default_policy();
        assert_eq!(
            p.standard_at(440100, d("2024-05-31")).unwrap().dibao_fen,
            123_800
        );
        assert_eq!(
            p.standard_at(440100, d("2024-06-01")).unwrap().dibao_fen,
            128_200
        );
        assert!(p.standard_at(440100, d("2022-06-30")).is_err());
        let f = p.in_force(440100, "low_income", d("2026-11-15")).unwrap();
        assert_eq!(f.multiple, Multiple(15_000));
        // 1.5 x 1282.00 x 2 members x 6 months = 23,076.00 yuan.
        assert_eq!(f.income_limit_fen(2, 6), 2_307_600);
        let t = p.in_force(440300, "tekun", d("2026-11-15")).unwrap();
        // 1.6 x 1535.00 x 6 months.
        assert_eq!(t.income_limit_fen(1, 6), 1_473_600);
    }

    #[test]
    fn the_shipped_policy_covers_every_city_with_a_provenance_and_clean_references() {
        let p = Policy::default_policy();
        let cities = [
            440100, 440200, 440300, 440400, 440500, 440600, 440700, 440800, 440900, 441200, 441300,
            441400, 441500, 441600, 441700, 441800, 441900, 442000, 445100, 445200, 445300,
        ];
        assert_eq!(p.regions.len(), cities.len() + 1);
        for c in cities.iter().chain([&440000]) {
            let r = &p.regions[c];
            // Every city has a standard on every date since 2023.
            for day in ["2023-01-01", "2024-06-30", "2026-12-31"] {
                assert!(r.in_force_at(d(day)).is_some(), "{} on {day}", r.name_en);
            }
            for s in &r.standards {
                let prov = s.provenance.as_deref().unwrap_or_default();
                assert!(
                    prov.starts_with("published")
                        || prov.starts_with("project default, not a published figure"),
                    "{} from {}: {prov:?}",
                    r.name_en,
                    s.from
                );
                for marker in ["(public)", "project default", "hedui", "published"] {
                    assert!(!s.reference.contains(marker), "{}", s.reference);
                }
            }
        }
        // A city that publishes two standards: Shantou in 2025.
        let s = p.standard_at(440500, d("2025-06-01")).unwrap();
        assert!(s.is_split());
        assert_eq!(s.fen(Some(AreaType::Rural)), 81_700);
        assert_eq!(s.fen(Some(AreaType::Urban)), 87_200);
        assert_eq!(s.fen(None), 87_200);
        assert!(!p.standard_at(440100, d("2025-06-01")).unwrap().is_split());
    }

    #[test]
    fn a_county_resolves_to_its_own_standard_else_its_city_else_its_province() {
        let p = Policy::default_policy();
        let on = d("2026-11-15");
        let (r, s) = p.resolve_at(440106, on).unwrap();
        assert_eq!((r.code, s.dibao_fen), (440100, 128_200));
        // A city the policy does not name: the province's (an invented code).
        let (r, s) = p.resolve_at(449901, on).unwrap();
        assert_eq!((r.code, s.fen(Some(AreaType::Rural))), (440000, 64_500));
        // Another province: none.
        let e = p.resolve_at(450102, on).unwrap_err().to_string();
        assert!(e.contains("no region 450102"), "{e}");
        // A county with a standard of its own from 2026 takes it from then, its city's before.
        let county = "\n[[regions]]\ncode = 440106\nname_zh = \"天河区\"\nname_en = \"Tianhe\"\n\
                      [[regions.standards]]\nfrom = \"2026-01-01\"\ndibao_yuan = \"1300.00\"\n\
                      reference = \"x\"\n";
        let p = Policy::from_toml(&(DEFAULT_POLICY.to_string() + county), "t.toml").unwrap();
        assert_eq!(p.standard_at(440106, on).unwrap().dibao_fen, 130_000);
        assert_eq!(
            p.standard_at(440106, d("2025-12-31")).unwrap().dibao_fen,
            128_200
        );
        assert_eq!(p.standard_at(440105, on).unwrap().dibao_fen, 128_200);
        let a = p.in_force_for(440105, Some(AreaType::Rural), "dibao", on);
        assert_eq!(a.unwrap().standard_fen(), 128_200);
    }

    #[test]
    fn due_dates_count_working_days_past_holidays_and_with_working_weekends() {
        let p = Policy::default_policy();
        let r = p.review.as_ref().unwrap();
        assert_eq!(r.working_days, 15);
        // Applied Monday 2026-11-02: 15 working days later is Monday 2026-11-23.
        assert_eq!(r.due(d("2026-11-02")), d("2026-11-23"));
        // Across the National Day holiday (Oct 1-7 off): Friday 2026-09-25 -> 2026-10-23.
        assert!(!r.is_working_day(d("2026-10-05")) && !r.is_working_day(d("2026-10-10")));
        assert_eq!(r.due(d("2026-09-25")), d("2026-10-23"));
        // With Saturday 2026-10-10 worked (调休), a day sooner.
        let p = with(|s| {
            s.replace(
                "review_working_weekends = []",
                "review_working_weekends = [\"2026-10-10\"]",
            )
        })
        .unwrap();
        let r = p.review.as_ref().unwrap();
        assert!(r.is_working_day(d("2026-10-10")));
        assert_eq!(r.due(d("2026-09-25")), d("2026-10-22"));
        let e = with(|s| {
            s.replace(
                "review_working_weekends = []",
                "review_working_weekends = [\"2026-10-09\"]",
            )
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("2026-10-09 is not a Saturday or Sunday"), "{e}");
        let e = with(|s| s.replace("review_working_days = 15", "review_working_days = 0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("review_working_days = 0"), "{e}");
        // A policy without the review keys: no due dates.
        let without: String = DEFAULT_POLICY
            .lines()
            .filter(|l| !l.starts_with("review_"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            Policy::from_toml(&without, "old.toml").unwrap().review,
            None
        );
        let e = with(|s| s.replace("review_working_days = 15\n", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("without review_working_days"), "{e}");
    }

    #[test]
    fn regions_are_named_for_people() {
        let p = Policy::default_policy();
        let n = p.region_name(440106);
        assert_eq!(
            (n.zh.as_str(), n.en.as_str()),
            ("广州市天河区", "Tianhe, Guangzhou")
        );
        assert_eq!(p.region_name(440100).zh, "广州市");
        assert_eq!(p.region_name(440199).en, "Guangzhou (440199)");
        assert_eq!(p.region_name(450102).zh, "450102");
    }

    #[test]
    fn multiples_are_exact() {
        assert_eq!(Multiple::parse("1.6"), Some(Multiple(16_000)));
        assert_eq!(Multiple::parse("1"), Some(Multiple(10_000)));
        assert_eq!(Multiple::parse("1.33333"), None);
        assert_eq!(Multiple::parse("-1"), None);
        assert_eq!(Multiple(15_000).display(), "1.5");
        assert_eq!(Multiple(10_000).display(), "1.0");
    }

    fn with(edit: impl Fn(String) -> String) -> Result<Policy> {
        Policy::from_toml(&edit(DEFAULT_POLICY.to_string()), "test.toml")
    }

    #[test]
    fn payments_never_counted_are_refused_when_asked_for_and_may_be_left_out() {
        for key in ["count_special_care", "count_assistance"] {
            let e = with(|s| s.replace(&format!("{key} = false"), &format!("{key} = true")))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("{key} = true")) && e.contains("never counted"),
                "{e}"
            );
            with(|s| s.replace(&format!("{key} = false\n"), "")).unwrap();
        }
    }

    #[test]
    fn the_policy_sets_the_severity_only_of_rules_that_allow_it() {
        use crate::{Rule, Severity};
        let line = "member_in_two_households = \"review\"";
        let p = Policy::default_policy();
        assert_eq!(p.severity(Rule::MemberInTwoHouseholds), Severity::Review);
        assert_eq!(p.severity(Rule::VehicleOwned), Severity::Flag);
        let p = with(|s| s.replace(line, "member_in_two_households = \"flag\"")).unwrap();
        assert_eq!(p.severity(Rule::MemberInTwoHouseholds), Severity::Flag);
        // Left out: the rule's own.
        let p = with(|s| s.replace(line, "")).unwrap();
        assert_eq!(p.severity(Rule::MemberInTwoHouseholds), Severity::Review);
        for (edit, words) in [
            (
                "member_in_two_households = \"maybe\"",
                "\"flag\" or \"review\"",
            ),
            (
                "vehicle_owned = \"review\"",
                "the severity of this rule is fixed (FLAG)",
            ),
            ("no_such_rule = \"flag\"", "unknown rule \"no_such_rule\""),
        ] {
            let e = with(|s| s.replace(line, edit)).unwrap_err().to_string();
            assert!(e.contains("[severity]") && e.contains(words), "{e}");
        }
    }

    #[test]
    fn a_policy_without_a_linkage_section_links_nothing() {
        let p = Policy::default_policy();
        assert_eq!(p.linkage, Some(Linkage::default()));
        let start = DEFAULT_POLICY.find("[linkage]").unwrap();
        let end = start + DEFAULT_POLICY[start..].find("\n[[regions]]").unwrap();
        let without = format!("{}{}", &DEFAULT_POLICY[..start], &DEFAULT_POLICY[end..]);
        assert_eq!(
            Policy::from_toml(&without, "old.toml").unwrap().linkage,
            None
        );
        let e = with(|s| s.replace("margin_bits = \"3\"", "margin_bits = \"-1\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[linkage] margin_bits"), "{e}");
    }

    #[test]
    fn bad_policies_are_refused_with_a_clear_error() {
        let e = with(|s| {
            s.replace(
                "income_window_months = 6",
                "income_window_months = 6\nsurprise = 1",
            )
        })
        .unwrap_err();
        assert!(e.to_string().contains("surprise"), "{e}");
        let e = with(|s| s.replace("from = \"2023-05-31\"", "from = \"2022-07-01\"")).unwrap_err();
        assert!(
            e.to_string().contains("two standards from 2022-07-01"),
            "{e}"
        );
        let e = with(|s| {
            s.replace(
                "from = \"2022-07-01\"",
                "from = \"2022-07-01\"\nuntil = \"2023-04-30\"",
            )
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("no standard between 2023-04-30 and 2023-05-31"),
            "{e}"
        );
        let e = with(|s| {
            s.replace(
                "from = \"2022-07-01\"",
                "from = \"2022-07-01\"\nuntil = \"2023-06-30\"",
            )
        })
        .unwrap_err();
        assert!(e.to_string().contains("overlaps"), "{e}");
        let zhongshan_provenance = "provenance = \"project default, not a published figure: \
                                    hedui's earlier figure, above the category 二类 floors of \
                                    2023 and 2024\"";
        assert!(DEFAULT_POLICY.contains(zhongshan_provenance));
        for (from, to, words) in [
            (
                "dibao_yuan = \"1120.00\"",
                "dibao_yuan = \"1120.00\"\nurban_yuan = \"1.00\"",
                "give dibao_yuan (one standard), or urban_yuan and rural_yuan",
            ),
            (
                "dibao_yuan = \"1120.00\"",
                "urban_yuan = \"1120.00\"",
                "give dibao_yuan",
            ),
            (
                zhongshan_provenance,
                "provenance = \" \"",
                "provenance is empty",
            ),
        ] {
            let e = with(|s| s.replace(from, to)).unwrap_err().to_string();
            assert!(e.contains("Zhongshan") && e.contains(words), "{e}");
        }
        let e = with(|s| s.replace("\"motorcycle\",", "\"hovercraft\",")).unwrap_err();
        assert!(e.to_string().contains("hovercraft"), "{e}");
        let e = with(|s| s.replace("tekun = \"1.6\"", "")).unwrap_err();
        assert!(e.to_string().contains("no multiple for tekun"), "{e}");
        let e = with(|s| s.replace("dibao_yuan = \"1120.00\"", "dibao_yuan = \"1120.005\""))
            .unwrap_err();
        assert!(e.to_string().contains("Zhongshan"), "{e}");
        let no_std = DEFAULT_POLICY.to_string()
            + "\n[[regions]]\ncode = 441900\nname_zh = \"东莞市\"\nname_en = \"Dongguan\"\nstandards = []\n";
        let e = Policy::from_toml(&no_std, "x.toml").unwrap_err();
        assert!(
            e.to_string().contains("Dongguan") && e.to_string().contains("no dibao standard"),
            "{e}"
        );
    }
}
