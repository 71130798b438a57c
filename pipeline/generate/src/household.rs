//! One applicant household: its members, every department record about them, and the
//! findings the default policy must produce, planted on purpose.
//!
//! The truth is what was planted, computed from the generator's own bookkeeping while it
//! writes the records, never by running hedui's rules on the data. Income is built to an
//! exact net target (wage figures whose largest counts, deductions, transfers, then one
//! balancing record to the fen); assets likewise. Traps that must NOT produce a finding are
//! planted beside the real cases: records outside the window or after the as-of date,
//! excluded income, exempt vehicles, sold homes, divorced spouses, adult children, income of
//! excluded or undeclared people.

use chrono::{Datelike, Duration, NaiveDate};
use hedui_schemas::{ResidentId, uscc, values::add_months};
use rand::Rng;

use super::model::{Evidence, Finding, Rec, Rule, TruthHousehold};
use super::people::{self, age_on};
use super::recs::{self, Person, src};
use crate::{Error, Result};
use hedui_schemas::policy::{AreaType, Policy};

/// How often each case is planted, per household (each drawn independently).
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct PlantRates {
    pub income_over: f64,
    pub income_at_line: f64,
    pub income_below_line: f64,
    pub assets_over: f64,
    pub assets_at_limit: f64,
    pub assets_below_limit: f64,
    pub second_home: f64,
    pub forbidden_property: f64,
    pub vehicle: f64,
    pub vessel: f64,
    pub company: f64,
    pub sole_trader_no_staff: f64,
    pub sole_trader_staff: f64,
    pub payroll: f64,
    pub duplicate_benefit: f64,
    /// A grown child declared here and, as the only member, in a household of their own.
    pub member_in_two_households: f64,
    /// Another programme received under another household in another region.
    pub other_programme_elsewhere: f64,
    /// A namesake of a member born the same day in the same county, applying alone, and a
    /// record of the member whose mistyped ID is one slip from both: it must stay ambiguous.
    pub ambiguous_namesake: f64,
    /// A bank deposit of a counted member delivered only with a mistyped ID (one sequence
    /// digit): the linkage attributes it, so it counts as a probable record, and the asset
    /// finding it makes (or adds to) is REVIEW unless the household is over without it.
    pub probable_deposit: f64,
    pub dead_member: f64,
    pub undeclared_spouse: f64,
    pub undeclared_minor_child: f64,
    pub incarcerated: f64,
    pub no_counted_member: f64,
}

impl Default for PlantRates {
    fn default() -> Self {
        PlantRates {
            income_over: 0.04,
            income_at_line: 0.02,
            income_below_line: 0.02,
            assets_over: 0.03,
            assets_at_limit: 0.015,
            assets_below_limit: 0.015,
            second_home: 0.015,
            forbidden_property: 0.01,
            vehicle: 0.02,
            vessel: 0.003,
            company: 0.012,
            sole_trader_no_staff: 0.01,
            sole_trader_staff: 0.005,
            payroll: 0.008,
            duplicate_benefit: 0.01,
            member_in_two_households: 0.004,
            other_programme_elsewhere: 0.004,
            ambiguous_namesake: 0.002,
            probable_deposit: 0.004,
            dead_member: 0.012,
            undeclared_spouse: 0.01,
            undeclared_minor_child: 0.01,
            incarcerated: 0.01,
            no_counted_member: 0.003,
        }
    }
}

/// Everything shared by the households of one province.
pub struct Ctx<'a> {
    /// The policy the truth is planted against.
    pub policy: &'a Policy,
    /// The batch date.
    pub as_of: NaiveDate,
    /// The income window, oldest month first.
    pub window: Vec<i32>,
    /// Plant rates.
    pub plant: &'a PlantRates,
    /// Households in the province (a made-up namesake's ID must be no generated person's).
    pub households: u64,
}

impl Ctx<'_> {
    fn before_window(&self) -> i32 {
        add_months(self.window[0], -1)
    }
    fn current_month(&self) -> i32 {
        hedui_schemas::values::month_of(self.as_of)
    }
    fn months_with_traps(&self) -> Vec<(i32, bool)> {
        // (month, counted): the window plus one month either side that must not count.
        let mut v = vec![(self.before_window(), false)];
        v.extend(self.window.iter().map(|m| (*m, true)));
        v.push((self.current_month(), false));
        v
    }
}

/// Records and truth produced by a chunk of households.
pub struct Out {
    /// Records per source index.
    pub recs: Vec<Vec<Rec>>,
    /// Planted truth per household.
    pub truth: Vec<TruthHousehold>,
}

impl Default for Out {
    fn default() -> Self {
        Out {
            recs: (0..src::COUNT).map(|_| Vec::new()).collect(),
            truth: Vec::new(),
        }
    }
}

impl Out {
    pub(crate) fn push(&mut self, source: usize, cells: Vec<super::model::Cell>) {
        self.recs[source].push(Rec::new(cells));
    }
}

/// A city households are planted in: its code, its plate prefix, its share of applications,
/// its name, the county-level codes its households are registered in, and the share of its
/// households that declare themselves rural.
#[derive(Debug, Clone, Copy)]
pub struct City {
    /// The city's code (440100).
    pub code: i32,
    /// Its vehicle plate prefix.
    pub plate: &'static str,
    /// Its share of applications.
    pub share: f64,
    /// Its name.
    pub name: &'static str,
    /// The codes households are registered at: its districts and counties (or the city's own
    /// code, for a city without them: 东莞, 中山).
    pub counties: &'static [i32],
    /// The share of its households that are rural.
    pub rural: f64,
}

const fn city(
    code: i32,
    plate: &'static str,
    share: f64,
    name: &'static str,
    counties: &'static [i32],
    rural: f64,
) -> City {
    City {
        code,
        plate,
        share,
        name,
        counties,
        rural,
    }
}

/// Guangdong's 21 prefecture-level cities, each with a share of applications and the
/// county-level codes its households are registered at.
pub const CITIES: [City; 21] = [
    city(
        440100,
        "粤A",
        0.14,
        "广州市",
        &[440103, 440104, 440105, 440106, 440111, 440113, 440118],
        0.1,
    ),
    city(
        440300,
        "粤B",
        0.12,
        "深圳市",
        &[440303, 440304, 440305, 440306, 440307, 440309],
        0.0,
    ),
    city(441900, "粤S", 0.08, "东莞市", &[441900], 0.1),
    city(
        440600,
        "粤E",
        0.07,
        "佛山市",
        &[440604, 440605, 440606, 440607, 440608],
        0.1,
    ),
    city(
        440800,
        "粤G",
        0.06,
        "湛江市",
        &[440802, 440803, 440823, 440881, 440882],
        0.5,
    ),
    city(
        440900,
        "粤K",
        0.05,
        "茂名市",
        &[440902, 440904, 440981, 440982],
        0.55,
    ),
    city(
        445200,
        "粤V",
        0.05,
        "揭阳市",
        &[445202, 445203, 445222, 445281],
        0.5,
    ),
    city(
        440500,
        "粤D",
        0.05,
        "汕头市",
        &[440507, 440511, 440513, 440514, 440515],
        0.4,
    ),
    city(
        441300,
        "粤L",
        0.05,
        "惠州市",
        &[441302, 441303, 441322, 441323],
        0.3,
    ),
    city(
        440700,
        "粤J",
        0.04,
        "江门市",
        &[440703, 440705, 440781, 440783],
        0.3,
    ),
    city(
        441200,
        "粤H",
        0.035,
        "肇庆市",
        &[441202, 441204, 441284],
        0.4,
    ),
    city(
        441400,
        "粤M",
        0.035,
        "梅州市",
        &[441402, 441403, 441424, 441481],
        0.55,
    ),
    city(
        441800,
        "粤R",
        0.035,
        "清远市",
        &[441802, 441803, 441881],
        0.55,
    ),
    city(442000, "粤T", 0.035, "中山市", &[442000], 0.1),
    city(
        440200,
        "粤F",
        0.025,
        "韶关市",
        &[440203, 440204, 440205],
        0.5,
    ),
    city(
        441600,
        "粤P",
        0.025,
        "河源市",
        &[441602, 441621, 441622, 441625],
        0.6,
    ),
    city(
        441500,
        "粤N",
        0.025,
        "汕尾市",
        &[441502, 441521, 441581],
        0.5,
    ),
    city(
        441700,
        "粤Q",
        0.02,
        "阳江市",
        &[441702, 441704, 441781],
        0.5,
    ),
    city(
        445300,
        "粤W",
        0.02,
        "云浮市",
        &[445302, 445321, 445381],
        0.6,
    ),
    city(
        445100,
        "粤U",
        0.02,
        "潮州市",
        &[445102, 445103, 445122],
        0.45,
    ),
    city(
        440400,
        "粤C",
        0.02,
        "珠海市",
        &[440402, 440403, 440404],
        0.1,
    ),
];

/// The city a region code is in (a county's, or the city's own).
pub fn city_of(region: i32) -> Option<&'static City> {
    CITIES
        .iter()
        .find(|c| c.code == region || c.code == region / 100 * 100)
}

/// A county-level code of a city drawn by share (households, and the people in the
/// background, live in all 21).
fn any_county(rng: &mut impl Rng) -> i32 {
    let c = &CITIES[rng.random_range(0..CITIES.len())];
    c.counties[rng.random_range(0..c.counties.len())]
}

const BANKS: [&str; 6] = [
    "工商银行",
    "建设银行",
    "农业银行",
    "中国银行",
    "招商银行",
    "广州农商银行",
];
/// File name of each bank's delivery, in the order of [`banks`].
pub const BANK_FILES: [&str; 6] = [
    "icbc.csv", "ccb.csv", "abc.csv", "boc.csv", "cmb.csv", "grcb.csv",
];
/// The bank names (the `bank` field), in [`BANK_FILES`] order.
pub fn banks() -> &'static [&'static str; 6] {
    &BANKS
}
const PLATFORMS: [&str; 3] = ["支付宝余额宝", "微信零钱通", "京东金融"];
const INSURERS: [&str; 4] = ["中国人寿", "中国平安", "太平洋保险", "新华保险"];
const TRADES: [&str; 8] = [
    "贸易", "物流", "餐饮", "电子", "服装", "建材", "家政", "五金",
];
const BRANDS: [&str; 8] = [
    "恒信", "华达", "广隆", "裕丰", "新城", "鸿运", "德信", "粤兴",
];
const PUBLIC_EMPLOYERS: [&str; 4] = ["区教育局", "区卫生健康局", "街道办事处", "区城市管理局"];

/// A valid unified social credit code made from a number: `91`/`92`, region, 9 code chars.
pub fn credit_code(n: u64, sole_trader: bool, region: i32) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut body = String::from(if sole_trader { "92" } else { "91" });
    body.push_str(&format!("{region:06}"));
    let mut digits = [b'0'; 9];
    let mut v = n;
    for d in digits.iter_mut().rev() {
        *d = ALPHABET[(v % 31) as usize];
        v /= 31;
    }
    body.push_str(std::str::from_utf8(&digits).unwrap_or("000000000"));
    // Invariant: every character above is in the code alphabet, so a check exists.
    let check = uscc::check_char(&body).expect("credit code body uses the code alphabet");
    body.push(check);
    body
}

fn employer(rng: &mut impl Rng, region: i32) -> (String, String) {
    let n = rng.random_range(0..5000u64);
    let city = city_of(region).map_or("广州市", |c| c.name);
    let name = format!(
        "{city}{}{}有限公司",
        BRANDS[(n % 8) as usize],
        TRADES[(n / 8 % 8) as usize]
    );
    (credit_code(n, false, region), name)
}

fn yuan(rng: &mut impl Rng, lo: i64, hi: i64) -> i64 {
    rng.random_range(lo..=hi) * 100
}

/// Where a member stands at the as-of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Counted,
    Dead,
    Incarcerated,
}

struct Member {
    p: Person,
    relation: &'static str,
    status: Status,
}

/// A member declared in this household and, alone, in a second one of the batch: a grown
/// child who moved their registration out and applied on their own. They have no department
/// records (so the second household's income and assets are nil, and this one's planted
/// figures are the other members'), but they count in both.
struct Twin {
    /// Index into the members.
    member: usize,
    /// The second household: its id, registration number, region, programme, date.
    id: String,
    hukou_no: String,
    region: i32,
    programme: &'static str,
    date: NaiveDate,
}

/// Builds one household; the struct keeps the bookkeeping the truth is made from.
struct Hh<'c, 'o, R: Rng> {
    ctx: &'c Ctx<'c>,
    rng: &'c mut R,
    out: &'o mut Out,
    idx: u64,
    region: i32,
    /// The area type the household declares (none: the city's one or urban standard).
    area: Option<AreaType>,
    members: Vec<Member>,
    next_slot: u64,
    next_key: u64,
    findings: Vec<Finding>,
    planted: Vec<&'static str>,
    income_evidence: Vec<Evidence>,
    /// The evidence of the financial assets planted (what an asset finding shows).
    asset_evidence: Vec<Evidence>,
    twin: Option<Twin>,
    /// The member a namesake was planted beside.
    namesake_of: Option<ResidentId>,
}

/// Person slots per household in the serial space (declared and undeclared people).
const SLOTS: u64 = 12;

/// The person in person slot `slot` of household `idx`, aged `age_lo..=age_hi` at the batch
/// date, drawn from `rng`.
#[allow(clippy::too_many_arguments)]
fn person_in_slot(
    ctx: &Ctx,
    idx: u64,
    slot: u64,
    rng: &mut impl Rng,
    age_lo: i32,
    age_hi: i32,
    male: Option<bool>,
    surname: Option<&str>,
) -> Result<Person> {
    assert!(
        slot < SLOTS,
        "a household uses at most {SLOTS} person slots"
    );
    let male = male.unwrap_or_else(|| rng.random_bool(0.5));
    let age = rng.random_range(age_lo..=age_hi);
    let year = ctx.as_of.year() - age;
    let id = people::make_id(idx * SLOTS + slot, false, male, year)
        .ok_or_else(|| Error::OutOfRange("too many households for the ID space".into()))?;
    let name = people::name(rng, surname);
    // Invariant: make_id only returns IDs whose birth date exists.
    let birth = id.birth_date().expect("generated IDs have a birth date");
    Ok(Person { id, name, birth })
}

impl<R: Rng> Hh<'_, '_, R> {
    fn new_person(
        &mut self,
        age_lo: i32,
        age_hi: i32,
        male: Option<bool>,
        surname: Option<&str>,
    ) -> Result<Person> {
        let slot = self.next_slot;
        self.next_slot += 1;
        person_in_slot(
            self.ctx, self.idx, slot, self.rng, age_lo, age_hi, male, surname,
        )
    }

    fn key(&mut self) -> u64 {
        self.next_key += 1;
        self.idx * 64 + self.next_key
    }

    fn days_before(&mut self, lo: i64, hi: i64) -> NaiveDate {
        self.ctx.as_of - Duration::days(self.rng.random_range(lo..=hi))
    }

    fn days_after(&mut self, lo: i64, hi: i64) -> NaiveDate {
        self.ctx.as_of + Duration::days(self.rng.random_range(lo..=hi))
    }

    /// The members counted at the batch date, but a [`Twin`]: the ones the planted records
    /// are about.
    fn counted(&self) -> Vec<usize> {
        let twin = self.twin.as_ref().map(|t| t.member);
        (0..self.members.len())
            .filter(|i| self.members[*i].status == Status::Counted && Some(*i) != twin)
            .collect()
    }

    /// Every member counted at the batch date, a [`Twin`] included.
    fn counted_all(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|i| self.members[*i].status == Status::Counted)
            .collect()
    }

    fn age(&self, i: usize) -> i32 {
        age_on(self.members[i].p.birth, self.ctx.as_of)
    }

    fn find(
        &mut self,
        rule: Rule,
        members: Vec<ResidentId>,
        measured: i64,
        threshold: i64,
        evidence: Vec<Evidence>,
    ) {
        self.findings.push(Finding {
            rule,
            severity: self.ctx.policy.severity(rule),
            members,
            measured,
            threshold,
            evidence,
        });
    }

    fn ev(
        person: ResidentId,
        source: &'static str,
        key: impl Into<String>,
        amount: Option<i64>,
        date: impl Into<String>,
    ) -> Evidence {
        Evidence {
            person,
            source,
            key: key.into(),
            amount_fen: amount,
            date: date.into(),
        }
    }

    // ---- income -------------------------------------------------------------------------

    /// Wage records of one person for the window and the trap months; returns the net counted
    /// (largest figure per month, less personal contributions and tax) over the window.
    fn wages(&mut self, who: &Person, monthly: i64, payroll: bool, counted: bool) -> i64 {
        let (uscc_code, _) = employer(self.rng, self.region);
        let employer_pub = format!(
            "{}{}",
            self.region_city(),
            PUBLIC_EMPLOYERS[self.rng.random_range(0..PUBLIC_EMPLOYERS.len())]
        );
        let mut net = 0;
        let has_si = payroll || self.rng.random_bool(0.8);
        let has_pf = payroll || self.rng.random_bool(0.3);
        for (month, in_window) in self.ctx.months_with_traps() {
            let m = (monthly * self.rng.random_range(90..=110) / 100 / 100).max(100) * 100;
            // Which figure records the full wage this month; the others record no more.
            let primary = if payroll {
                3
            } else {
                self.rng.random_range(0..3)
            };
            let lower = |rng: &mut R| (m * rng.random_range(60..=100) / 100 / 100) * 100;
            let si_base = if primary == 1 {
                Some(m)
            } else if has_si {
                Some(lower(self.rng))
            } else {
                None
            };
            let tax_wage = if primary == 0 || payroll {
                Some(m)
            } else if self.rng.random_bool(0.6) {
                Some(lower(self.rng))
            } else {
                None
            };
            let pf_base = if primary == 2 {
                Some(m)
            } else if has_pf {
                Some(lower(self.rng))
            } else {
                None
            };
            let mut deductions = 0;
            if let Some(b) = si_base {
                let personal = b * 105 / 1000;
                deductions += personal;
                self.out.push(
                    src::SOCIAL_INSURANCE,
                    recs::social_insurance(who.id, &uscc_code, month, b, personal),
                );
                if in_window && counted {
                    self.income_evidence.push(Self::ev(
                        who.id,
                        "social_insurance",
                        month.to_string(),
                        Some(b),
                        month.to_string(),
                    ));
                }
            }
            if let Some(w) = tax_wage {
                let t = if w > 500_000 {
                    (w - 500_000) * 3 / 100
                } else {
                    0
                };
                deductions += t;
                self.out.push(
                    src::TAX,
                    recs::tax(who.id, month, "wage", w, t, Some(&uscc_code)),
                );
                if in_window && counted {
                    self.income_evidence.push(Self::ev(
                        who.id,
                        "tax",
                        format!("{month}/wage"),
                        Some(w),
                        month.to_string(),
                    ));
                }
            }
            if let Some(b) = pf_base {
                let withdrawal = self
                    .rng
                    .random_bool(0.05)
                    .then(|| yuan(self.rng, 1000, 20000));
                self.out.push(
                    src::PROVIDENT_FUND,
                    recs::provident_fund(who, month, b, withdrawal),
                );
                if in_window && counted {
                    self.income_evidence.push(Self::ev(
                        who.id,
                        "provident_fund",
                        month.to_string(),
                        Some(b),
                        month.to_string(),
                    ));
                }
            }
            if payroll {
                self.out.push(
                    src::PUBLIC_PAYROLL,
                    recs::public_payroll(who, &employer_pub, month, m),
                );
                if in_window && counted {
                    self.income_evidence.push(Self::ev(
                        who.id,
                        "public_payroll",
                        month.to_string(),
                        Some(m),
                        month.to_string(),
                    ));
                }
            }
            if in_window {
                net += m - deductions;
            }
        }
        net
    }

    fn region_city(&self) -> &'static str {
        city_of(self.region).map_or("广州市", |c| c.name)
    }

    /// Employee pension over the window and trap months; returns the counted total.
    fn pension(&mut self, who: &Person, monthly: i64, scheme: &'static str, counted: bool) -> i64 {
        let mut total = 0;
        for (month, in_window) in self.ctx.months_with_traps() {
            self.out
                .push(src::PENSION, recs::pension(who, month, scheme, monthly));
            if in_window && counted && scheme != "resident_basic" {
                total += monthly;
                self.income_evidence.push(Self::ev(
                    who.id,
                    "pension",
                    month.to_string(),
                    Some(monthly),
                    month.to_string(),
                ));
            }
        }
        total
    }

    fn unemployment(&mut self, who: ResidentId, monthly: i64, months: usize) -> i64 {
        let start = self.ctx.window.len() - months;
        let mut total = 0;
        let ctx = self.ctx;
        for &m in &ctx.window[start..] {
            self.out.push(
                src::UNEMPLOYMENT_BENEFIT,
                recs::unemployment_benefit(who, m, monthly),
            );
            self.income_evidence.push(Self::ev(
                who,
                "unemployment_benefit",
                m.to_string(),
                Some(monthly),
                m.to_string(),
            ));
            total += monthly;
        }
        total
    }

    /// Builds counted income to exactly `target` net fen (or more, when a planted public
    /// salary alone exceeds it); returns the net planted.
    fn income(&mut self, target: i64, payroll_member: Option<usize>) -> i64 {
        let counted = self.counted();
        let mut net = 0;
        if let Some(i) = payroll_member {
            let p = self.members[i].p.clone();
            let salary = yuan(self.rng, 5000, 9000);
            net += self.wages(&p, salary, true, true);
        }
        if net < target {
            let budget = (target - net) * self.rng.random_range(55..=75) / 100;
            let earners: Vec<usize> = counted
                .iter()
                .copied()
                .filter(|i| (18..60).contains(&self.age(*i)) && Some(*i) != payroll_member)
                .collect();
            let elders: Vec<usize> = counted
                .iter()
                .copied()
                .filter(|i| self.age(*i) >= 60)
                .collect();
            let mut kinds: Vec<(u8, usize)> = Vec::new();
            for e in earners.iter().take(2) {
                kinds.push((0, *e));
            }
            for e in elders.iter().take(2) {
                kinds.push((1, *e));
            }
            if let Some(e) = earners.get(2).or(earners.first())
                && self.rng.random_bool(0.3)
            {
                kinds.push((2, *e));
            }
            let n = kinds.len().min(self.rng.random_range(1..=3));
            let months = self.ctx.window.len() as i64;
            for (k, i) in kinds.into_iter().take(n) {
                let share = budget / n as i64;
                let p = self.members[i].p.clone();
                match k {
                    0 if share / months >= 30_000 => {
                        // Gross about `share`: with +10% variation and deductions, the net
                        // stays under 1.1 x share, so the items never pass the target.
                        net += self.wages(&p, share / months, false, true);
                    }
                    1 if share / months >= 10_000 => {
                        let scheme = if self.rng.random_bool(0.2) {
                            "public_institution"
                        } else {
                            "employee"
                        };
                        net += self.pension(&p, (share / months / 100) * 100, scheme, true);
                    }
                    2 if share / 4 >= 10_000 => {
                        net += self.unemployment(p.id, (share / 4 / 100) * 100, 4);
                    }
                    _ => {}
                }
            }
        }
        if net < target {
            // The balancing record: business or property income, to the fen, no tax.
            let rest = target - net;
            let pick = if counted.is_empty() {
                0
            } else {
                counted[self.rng.random_range(0..counted.len())]
            };
            let p = self.members[pick].p.id;
            let ty = if self.rng.random_bool(0.5) {
                "business"
            } else {
                "property"
            };
            let month = self.ctx.window[self.rng.random_range(0..self.ctx.window.len())];
            self.out
                .push(src::TAX, recs::tax(p, month, ty, rest, 0, None));
            self.income_evidence.push(Self::ev(
                p,
                "tax",
                format!("{month}/{ty}"),
                Some(rest),
                month.to_string(),
            ));
            net += rest;
        }
        net
    }

    // ---- assets ---------------------------------------------------------------------------

    /// One financial account with history; the latest snapshot on or before the as-of date
    /// holds `amount`. Returns its evidence.
    fn account(&mut self, who: &Person, amount: i64) -> Evidence {
        let key = self.key();
        let kind = self.rng.random_range(0..100);
        let latest = self.days_before(0, 25);
        let older = self.rng.random_bool(0.6).then(|| self.days_before(40, 400));
        let older_amount = amount * self.rng.random_range(50..=150) / 100;
        let future = self.rng.random_bool(0.25).then(|| self.days_after(1, 30));
        let future_amount = amount + yuan(self.rng, 50_000, 500_000);
        let (source, account) = match kind {
            0..=59 => {
                let b = self.rng.random_range(0..BANKS.len());
                let account = format!("6{:03}****{:010}", 212 + b * 7, key);
                for (d, a) in [
                    (older, older_amount),
                    (Some(latest), amount),
                    (future, future_amount),
                ] {
                    if let Some(d) = d {
                        self.out.push(
                            src::BANK_DEPOSIT,
                            recs::bank_deposit(who, BANKS[b], &account, a, d),
                        );
                    }
                }
                ("bank_deposit", account)
            }
            60..=69 => {
                let account = format!("A{:010}", key);
                for (d, a) in [
                    (older, older_amount),
                    (Some(latest), amount),
                    (future, future_amount),
                ] {
                    if let Some(d) = d {
                        self.out
                            .push(src::SECURITIES, recs::securities(who.id, &account, a, d));
                    }
                }
                ("securities", account)
            }
            70..=84 => {
                let account = format!("P{:012}", key);
                let insurer = INSURERS[self.rng.random_range(0..INSURERS.len())];
                for (d, a) in [
                    (older, older_amount),
                    (Some(latest), amount),
                    (future, future_amount),
                ] {
                    if let Some(d) = d {
                        self.out.push(
                            src::COMMERCIAL_INSURANCE,
                            recs::commercial_insurance(who.id, &account, insurer, a, d),
                        );
                    }
                }
                ("commercial_insurance", account)
            }
            _ => {
                let platform = PLATFORMS[self.rng.random_range(0..PLATFORMS.len())];
                let account = format!("{:03}****{:08}", 138 + key % 50, key);
                for (d, a) in [
                    (older, older_amount),
                    (Some(latest), amount),
                    (future, future_amount),
                ] {
                    if let Some(d) = d {
                        self.out.push(
                            src::INTERNET_FINANCE,
                            recs::internet_finance(who.id, platform, &account, a, d),
                        );
                    }
                }
                ("internet_finance", account)
            }
        };
        Self::ev(who.id, source, account, Some(amount), latest.to_string())
    }

    /// Accounts of counted members holding exactly `target` at the as-of date.
    fn assets(&mut self, target: i64) -> Vec<Evidence> {
        let counted = self.counted();
        if counted.is_empty() {
            return Vec::new();
        }
        let k = if target == 0 {
            self.rng.random_range(0..=1)
        } else {
            self.rng.random_range(1..=4)
        };
        let mut left = target;
        let mut ev = Vec::new();
        for j in 0..k {
            let amount = if j + 1 == k {
                left
            } else {
                left * self.rng.random_range(10..=60) / 100
            };
            left -= amount;
            let who = self.members[counted[self.rng.random_range(0..counted.len())]]
                .p
                .clone();
            ev.push(self.account(&who, amount));
        }
        ev
    }

    // ---- property, vehicles, businesses ----------------------------------------------------

    fn unit_no(&mut self) -> String {
        let key = self.key();
        format!(
            "{:06}{:012}GB{:05}F{:04}",
            self.region + 6,
            key,
            key % 100_000,
            1 + key % 3000
        )
    }

    /// A property unit owned at the as-of date by `owners` (co-owned in equal shares).
    fn unit(
        &mut self,
        owners: &[Person],
        use_: &'static str,
        reg: NaiveDate,
        dereg: Option<NaiveDate>,
    ) -> (String, NaiveDate) {
        let unit = self.unit_no();
        let area = self.rng.random_range(2_000..=12_000);
        let share = 100 / owners.len() as i64;
        for o in owners {
            self.out.push(
                src::REAL_ESTATE,
                recs::real_estate(o, &unit, use_, area, share, reg, dereg),
            );
        }
        (unit, reg)
    }

    fn plate(&mut self) -> String {
        let prefix = city_of(self.region).map_or("粤A", |c| c.plate);
        let key = self.key();
        const CH: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
        let mut s = String::from(prefix);
        let mut v = key;
        for _ in 0..5 {
            s.push(char::from(CH[(v % 34) as usize]));
            v /= 34;
        }
        s
    }

    fn vin(&mut self) -> String {
        const CH: &[u8] = b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ";
        let mut s = String::from("LSV");
        for _ in 0..14 {
            s.push(char::from(CH[self.rng.random_range(0..CH.len())]));
        }
        s
    }

    fn vehicle(
        &mut self,
        owner: ResidentId,
        ty: &'static str,
        reg: NaiveDate,
        dereg: Option<NaiveDate>,
    ) -> Evidence {
        let plate = self.plate();
        let vin = self.vin();
        let value = self.rng.random_range(200..=30_000) * 10_000;
        self.out.push(
            src::VEHICLE,
            recs::vehicle(owner, &plate, &vin, ty, reg, dereg, value),
        );
        Self::ev(owner, "vehicle", plate, Some(value), reg.to_string())
    }

    fn business(
        &mut self,
        who: ResidentId,
        entity: &'static str,
        role: &'static str,
        staff: i64,
        status: &'static str,
        status_date: NaiveDate,
    ) -> Evidence {
        let key = self.key();
        let code = credit_code(key, entity == "sole_trader", self.region);
        let name = if entity == "sole_trader" {
            format!(
                "{}{}{}店",
                self.region_city(),
                BRANDS[(key % 8) as usize],
                TRADES[(key / 8 % 8) as usize]
            )
        } else {
            format!(
                "{}{}{}有限公司",
                self.region_city(),
                BRANDS[(key % 8) as usize],
                TRADES[(key / 8 % 8) as usize]
            )
        };
        let capital = if entity == "sole_trader" {
            self.rng.random_range(1..=50)
        } else {
            self.rng.random_range(10..=500)
        } * 1_000_000;
        let est = status_date - Duration::days(self.rng.random_range(200..=4000));
        let status_date = if status == "active" { est } else { status_date };
        self.out.push(
            src::BUSINESS,
            recs::business(
                who,
                &code,
                &name,
                entity,
                role,
                capital,
                staff,
                est,
                status,
                status_date,
            ),
        );
        Self::ev(who, "business", code, Some(capital), est.to_string())
    }
}

/// Picks a value by weights.
fn weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut x = rng.random::<f64>() * total;
    for (v, w) in items {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// The application as filed: what the household's registration and records name.
struct Application {
    /// The application date.
    date: NaiveDate,
    /// The household id.
    id: String,
    /// The household registration number.
    hukou_no: String,
    programme: &'static str,
    /// `new` or `recheck`.
    kind: &'static str,
}

/// The applicant, as the members after them are drawn from.
struct Applicant {
    surname: String,
    age: i32,
    male: bool,
    has_spouse: bool,
}

/// The household's lines at the batch date.
struct Lines {
    /// Members counted at the batch date whom records are planted about (indices into the
    /// members; a [`Twin`] is not one).
    counted: Vec<usize>,
    /// Every member counted at the batch date (the members a sum test's finding names).
    everyone: Vec<ResidentId>,
    c: i64,
    income_limit: i64,
    asset_limit: i64,
    /// The monthly dibao standard per person in force.
    dibao_fen: i64,
}

/// The household's sections, each drawing from the household's RNG in turn (the order of
/// the draws is the province's: a section moved is a different province).
impl<R: Rng> Hh<'_, '_, R> {
    /// The declared members: the applicant and those declared with them.
    fn declare_members(&mut self, programme: &str, no_counted: bool) -> Result<Applicant> {
        let ctx = self.ctx;
        let size = if no_counted {
            1
        } else if programme == "tekun" {
            if self.rng.random_bool(0.9) { 1 } else { 2 }
        } else {
            weighted(
                self.rng,
                &[
                    (1usize, 0.25),
                    (2, 0.25),
                    (3, 0.25),
                    (4, 0.15),
                    (5, 0.07),
                    (6, 0.03),
                ],
            )
        };
        let (lo, hi) = if programme == "tekun" {
            (61, 90)
        } else {
            (25, 75)
        };
        let applicant = self.new_person(lo, hi, None, None)?;
        let surname = people::surname(&applicant.name).to_string();
        let app_age = age_on(applicant.birth, ctx.as_of);
        let app_male = applicant.id.is_male();
        self.members.push(Member {
            p: applicant,
            relation: "head",
            status: Status::Counted,
        });
        let mut has_spouse = false;
        while self.members.len() < size {
            let (rel, p) = if !has_spouse && app_age >= 22 && self.rng.random_bool(0.7) {
                has_spouse = true;
                let (a, b) = ((app_age - 6).max(19), (app_age + 6).min(90));
                ("spouse", self.new_person(a, b, Some(!app_male), None)?)
            } else if app_age < 50 && self.rng.random_bool(0.3) {
                (
                    "parent",
                    self.new_person(
                        (app_age + 22).max(61),
                        (app_age + 35).clamp(61, 95),
                        None,
                        None,
                    )?,
                )
            } else if app_age < 58 && self.rng.random_bool(0.7) {
                (
                    "child",
                    self.new_person(1, (app_age - 20).clamp(1, 17), None, Some(&surname))?,
                )
            } else {
                (
                    "child",
                    self.new_person(19, (app_age - 19).clamp(19, 30), None, Some(&surname))?,
                )
            };
            self.members.push(Member {
                p,
                relation: rel,
                status: Status::Counted,
            });
        }
        Ok(Applicant {
            surname,
            age: app_age,
            male: app_male,
            has_spouse,
        })
    }

    /// Members excluded at the batch date (death, incarceration) and the traps beside them:
    /// the dead members and the records that show it.
    fn exclusions(&mut self, no_counted: bool) -> (Vec<ResidentId>, Vec<Evidence>) {
        let ctx = self.ctx;
        let plant = ctx.plant;
        let mut dead_evidence = Vec::new();
        let mut dead_members = Vec::new();
        let dead_pick = if no_counted {
            Some(0)
        } else if self.members.len() >= 2 && self.rng.random_bool(plant.dead_member) {
            Some(self.rng.random_range(1..self.members.len()))
        } else {
            None
        };
        if let Some(i) = dead_pick {
            self.planted.push(if no_counted {
                "no_counted_member"
            } else {
                "dead_member"
            });
            let date = self.days_before(1, 300);
            let p = self.members[i].p.clone();
            let way = self.rng.random_range(0..3);
            if way != 1 {
                self.out.push(src::DEATH, recs::death(&p, date));
                dead_evidence.push(Self::ev(
                    p.id,
                    "death",
                    p.id.to_string(),
                    None,
                    date.to_string(),
                ));
            }
            if way != 0 {
                let cdate = date + Duration::days(self.rng.random_range(1..=7));
                let cdate = cdate.min(ctx.as_of);
                self.out.push(src::CREMATION, recs::cremation(&p, cdate));
                dead_evidence.push(Self::ev(
                    p.id,
                    "cremation",
                    p.id.to_string(),
                    None,
                    cdate.to_string(),
                ));
            }
            self.members[i].status = Status::Dead;
            dead_members.push(p.id);
            // Trap: a pension still paid after death must not count.
            if self.rng.random_bool(0.4) {
                let amount = yuan(self.rng, 1500, 3500);
                self.pension(&p, amount, "employee", false);
            }
        } else if self.members.len() >= 2 && self.rng.random_bool(plant.dead_member / 2.0) {
            // Trap: a death recorded after the as-of date; the member still counts.
            self.planted.push("death_after_as_of");
            let i = self.rng.random_range(1..self.members.len());
            let p = self.members[i].p.clone();
            let date = self.days_after(1, 20);
            self.out.push(src::DEATH, recs::death(&p, date));
        }
        let adults_not_head: Vec<usize> = (1..self.members.len())
            .filter(|i| self.members[*i].status == Status::Counted && self.age(*i) >= 18)
            .collect();
        if !adults_not_head.is_empty() && self.rng.random_bool(plant.incarcerated) {
            let i = adults_not_head[self.rng.random_range(0..adults_not_head.len())];
            let p = self.members[i].p.clone();
            let from = self.days_before(100, 1500);
            let to = self.rng.random_bool(0.5).then(|| self.days_after(30, 900));
            self.out
                .push(src::INCARCERATION, recs::incarceration(&p, from, to));
            self.members[i].status = Status::Incarcerated;
            self.planted.push("incarcerated_member");
            // Trap: rent income of an excluded member must not count.
            for m in ctx.window.clone() {
                let rent = yuan(self.rng, 1500, 3000);
                self.out
                    .push(src::TAX, recs::tax(p.id, m, "property", rent, 0, None));
            }
        } else if !adults_not_head.is_empty() && self.rng.random_bool(plant.incarcerated / 2.0) {
            // Trap: released before the as-of date; the member counts.
            let i = adults_not_head[self.rng.random_range(0..adults_not_head.len())];
            let p = self.members[i].p.clone();
            let from = self.days_before(800, 2000);
            let to = self.days_before(1, 300);
            self.out
                .push(src::INCARCERATION, recs::incarceration(&p, from, Some(to)));
            self.planted.push("released_member");
        }
        (dead_members, dead_evidence)
    }

    /// The household registration, the marriages and the applications, with the undeclared
    /// spouses and children (and their traps).
    fn registration(&mut self, app: &Application, applicant: &Applicant) -> Result<()> {
        let ctx = self.ctx;
        let plant = ctx.plant;
        let region = self.region;
        let Applicant {
            surname,
            age: app_age,
            male: app_male,
            has_spouse,
        } = applicant;
        let (app_age, app_male, has_spouse) = (*app_age, *app_male, *has_spouse);
        let twin = self.twin.as_ref().map(|t| t.member);
        for (i, m) in self.members.iter().enumerate() {
            let rel = m.relation;
            let date = ctx.as_of - Duration::days(400 + (m.p.id.body() % 4000) as i64);
            let status = if m.status == Status::Dead && self.rng.random_bool(0.5) {
                "deregistered"
            } else {
                "active"
            };
            // A twin moved their registration out: head of their own, in the second
            // household's region.
            let cells = match (&self.twin, Some(i) == twin) {
                (Some(t), true) => recs::hukou(&m.p, &t.hukou_no, "head", t.region, status, date),
                _ => recs::hukou(&m.p, &app.hukou_no, rel, region, status, date),
            };
            self.out.push(src::HUKOU, cells);
        }
        for m in &self.members {
            self.out.push(
                src::APPLICATIONS,
                recs::application(
                    &app.id,
                    app.programme,
                    region,
                    app.date,
                    app.kind,
                    &m.p,
                    m.relation,
                    self.area,
                ),
            );
        }
        let head = self.members[0].p.clone();
        let pair = |a: ResidentId, b: ResidentId| if a.is_male() { (a, b) } else { (b, a) };
        if let Some(s) = self
            .members
            .iter()
            .find(|m| m.relation == "spouse")
            .map(|m| m.p.id)
        {
            let (man, woman) = pair(head.id, s);
            let date = self.days_before(1000, 12000);
            self.out
                .push(src::MARRIAGE, recs::marriage(man, woman, "marriage", date));
        }
        if !has_spouse && app_age >= 24 {
            if self.rng.random_bool(plant.undeclared_spouse) {
                let other = self.new_person(
                    (app_age - 5).max(19),
                    (app_age + 5).min(90),
                    Some(!app_male),
                    None,
                )?;
                let (man, woman) = pair(head.id, other.id);
                let date = self.days_before(300, 8000);
                self.out
                    .push(src::MARRIAGE, recs::marriage(man, woman, "marriage", date));
                // Trap: the undeclared spouse's wages are not counted (they are not added).
                let w = yuan(self.rng, 4000, 9000);
                self.wages(&other, w, false, false);
                let e = Self::ev(
                    other.id,
                    "marriage",
                    format!("{man}+{woman}"),
                    None,
                    date.to_string(),
                );
                self.find(Rule::UndeclaredSpouse, vec![other.id], 1, 0, vec![e]);
                self.planted.push("undeclared_spouse");
            } else if self.rng.random_bool(plant.undeclared_spouse) {
                // Trap: a divorced former spouse.
                let other = self.new_person(
                    (app_age - 5).max(19),
                    (app_age + 5).min(90),
                    Some(!app_male),
                    None,
                )?;
                let (man, woman) = pair(head.id, other.id);
                let wed = self.days_before(3000, 9000);
                let split = self.days_before(30, 2500);
                self.out
                    .push(src::MARRIAGE, recs::marriage(man, woman, "marriage", wed));
                self.out
                    .push(src::MARRIAGE, recs::marriage(man, woman, "divorce", split));
                self.planted.push("divorced_spouse");
            }
        }
        if (22..60).contains(&app_age) {
            if self.rng.random_bool(plant.undeclared_minor_child) {
                let c = self.new_person(1, 16, None, Some(surname))?;
                let date = c.birth + Duration::days(20);
                self.out.push(
                    src::HUKOU,
                    recs::hukou(&c, &app.hukou_no, "child", region, "active", date),
                );
                let e = Self::ev(c.id, "hukou", app.hukou_no.clone(), None, date.to_string());
                self.find(Rule::UndeclaredMinorChild, vec![c.id], 1, 0, vec![e]);
                self.planted.push("undeclared_minor_child");
            } else if app_age >= 40 && self.rng.random_bool(plant.undeclared_minor_child) {
                // Trap: an undeclared adult child in the same registration.
                let c = self.new_person(19, 22, None, Some(surname))?;
                let date = c.birth + Duration::days(30);
                self.out.push(
                    src::HUKOU,
                    recs::hukou(&c, &app.hukou_no, "child", region, "active", date),
                );
                self.planted.push("undeclared_adult_child");
            }
        }
        Ok(())
    }

    /// The household's lines: who counts, the income line and the asset limit.
    fn lines(&mut self, programme: &str) -> Result<Lines> {
        let ctx = self.ctx;
        let counted = self.counted();
        let everyone: Vec<ResidentId> = self
            .counted_all()
            .into_iter()
            .map(|i| self.members[i].p.id)
            .collect();
        let c = everyone.len() as i64;
        let in_force = ctx
            .policy
            .in_force_for(self.region, self.area, programme, ctx.as_of)?;
        let months = ctx.window.len() as i64;
        let income_limit = if c > 0 {
            in_force.income_limit_fen(c, months)
        } else {
            0
        };
        let asset_limit =
            i64::from(ctx.policy.financial_asset_months) * in_force.standard_fen() * c;
        Ok(Lines {
            counted,
            everyone,
            c,
            income_limit,
            asset_limit,
            dibao_fen: in_force.standard_fen(),
        })
    }

    /// Income: the planted case against the line, public payroll, excluded income of counted
    /// members, the household's own current benefit. The income counted.
    fn plant_income(&mut self, app: &Application, lines: &Lines) -> i64 {
        let ctx = self.ctx;
        let plant = ctx.plant;
        let Lines {
            counted,
            c,
            income_limit,
            ..
        } = lines;
        let (c, income_limit) = (*c, *income_limit);
        let region = self.region;
        let head = self.members[0].p.clone();
        let adults: Vec<usize> = counted
            .iter()
            .copied()
            .filter(|i| self.age(*i) >= 18)
            .collect();
        let payroll_member = (!adults.is_empty() && self.rng.random_bool(plant.payroll))
            .then(|| adults[self.rng.random_range(0..adults.len())]);
        let mut income = 0;
        if c > 0 {
            let r = self.rng.random::<f64>();
            let (target, tag) = if payroll_member.is_some() {
                // A public salary decides the income; nothing else is planted on top.
                (0, "payroll_income")
            } else if r < plant.income_over {
                if self.rng.random_bool(0.5) {
                    (income_limit + 1, "income_line_plus_1_fen")
                } else {
                    (
                        income_limit * self.rng.random_range(110..=250) / 100,
                        "income_over_line",
                    )
                }
            } else if r < plant.income_over + plant.income_at_line {
                (income_limit, "income_at_line")
            } else if r < plant.income_over + plant.income_at_line + plant.income_below_line {
                (income_limit - 1, "income_line_minus_1_fen")
            } else if self.rng.random_bool(0.2) {
                (0, "no_income")
            } else {
                (
                    income_limit * self.rng.random_range(0..=60) / 100,
                    "normal_income",
                )
            };
            self.planted.push(tag);
            income = self.income(target, payroll_member);
            if income > income_limit {
                let ev = std::mem::take(&mut self.income_evidence);
                let ids = lines.everyone.clone();
                self.find(Rule::IncomeOverLine, ids, income, income_limit, ev);
            }
        }
        if let Some(i) = payroll_member {
            let p = self.members[i].p.id;
            let ev = ctx
                .window
                .iter()
                .map(|m| Self::ev(p, "public_payroll", m.to_string(), None, m.to_string()))
                .collect();
            self.find(Rule::PublicPayroll, vec![p], ctx.window.len() as i64, 0, ev);
            self.planted.push("public_payroll");
        }
        // Excluded income of counted members: special care, resident pension, assistance.
        for i in counted.clone() {
            let p = self.members[i].p.clone();
            if self.age(i) >= 60
                && self.rng.random_bool(0.4)
                && !self
                    .income_evidence
                    .iter()
                    .any(|e| e.person == p.id && e.source == "pension")
            {
                let amount = yuan(self.rng, 180, 320);
                self.pension(&p, amount, "resident_basic", true);
            }
            if self.rng.random_bool(0.02) {
                for m in ctx.window.clone() {
                    let amount = yuan(self.rng, 800, 2500);
                    self.out
                        .push(src::SPECIAL_CARE, recs::special_care(&p, m, amount));
                }
            }
            if self.age(i) >= 60 && self.rng.random_bool(0.3) {
                for m in ctx.window.clone() {
                    let amount = self.rng.random_range(5_000..=200_000);
                    self.out
                        .push(src::MEDICAL_EXPENSE, recs::medical_expense(p.id, m, amount));
                }
            }
            if (18..60).contains(&self.age(i)) && self.rng.random_bool(0.15) {
                let d = self.days_before(30, 900);
                self.out.push(
                    src::EMPLOYMENT,
                    recs::employment(p.id, "unemployed", d, None),
                );
            }
            if self.rng.random_bool(0.08) {
                let cat = ["visual", "hearing", "physical", "intellectual", "mental"]
                    [self.rng.random_range(0..5)];
                let grade = self.rng.random_range(1..=4);
                let d = self.days_before(100, 5000);
                self.out
                    .push(src::DISABILITY, recs::disability(&p, cat, grade, d));
            }
        }
        if app.kind == "recheck" && c > 0 {
            // The household's own current benefit: same household and region, never a duplicate.
            let from = add_months(
                hedui_schemas::values::month_of(ctx.as_of),
                -self.rng.random_range(7..60),
            );
            let amount = lines.dibao_fen * c / 2;
            self.out.push(
                src::ASSISTANCE,
                recs::assistance(head.id, &app.id, app.programme, region, from, None, amount),
            );
        }
        income
    }

    /// A bank deposit of a counted member whose every record carries a mistyped ID (a
    /// sequence digit changed: the birth date, birthplace and sex still read), so only the
    /// linkage finds its owner. Enough to put the household over the asset limit when it was
    /// not (the finding then rests on the probable record: REVIEW), or on top of a household
    /// already over (FLAG, the figure with it). Not for the member a namesake was planted
    /// beside (it would be ambiguous) nor one declared in a second household (it would count
    /// there too). The amount added to the assets.
    fn plant_probable_deposit(
        &mut self,
        rng: &mut impl Rng,
        lines: &Lines,
        counted_people: &[Person],
        assets: i64,
    ) -> i64 {
        let ctx = self.ctx;
        if counted_people.is_empty() || !rng.random_bool(ctx.plant.probable_deposit) {
            return 0;
        }
        let twin = self.twin.as_ref().map(|t| self.members[t.member].p.id);
        let choices: Vec<&Person> = counted_people
            .iter()
            .filter(|p| Some(p.id) != self.namesake_of && Some(p.id) != twin)
            .collect();
        // (The evidence of an asset finding is every account's latest value: a household's
        // accounts of nothing would be shown too; none is planted beside those.)
        if choices.is_empty() || self.asset_evidence.iter().any(|e| e.amount_fen == Some(0)) {
            return 0;
        }
        let who = choices[rng.random_range(0..choices.len())].clone();
        let limit = lines.asset_limit;
        let amount = if assets <= limit {
            limit - assets + yuan(rng, 1, 5000)
        } else {
            yuan(rng, 100, 5000)
        };
        let mut digits: Vec<char> = who.id.to_string().chars().collect();
        let Some(was) = digits[14].to_digit(10) else {
            return 0;
        };
        digits[14] = char::from_digit((was + 1 + rng.random_range(0..9)) % 10, 10).unwrap_or('0');
        let typed: String = digits.into_iter().collect();
        let bank = banks()[rng.random_range(0..banks().len())];
        let account = format!("6217{:012}", self.idx * 64 + 62);
        let date = ctx.as_of - Duration::days(rng.random_range(0..=25));
        let mut cells = recs::bank_deposit(&who, bank, &account, amount, date);
        cells[0] = super::model::Cell::Raw(typed);
        self.out.recs[src::BANK_DEPOSIT].push(Rec {
            cells,
            dirty: Some((super::model::DirtyKind::IdSlipDigit, "person", who.id)),
            link: None,
        });
        self.planted.push("probable_deposit");
        let ev = Self::ev(
            who.id,
            "bank_deposit",
            account,
            Some(amount),
            date.to_string(),
        );
        let total = assets + amount;
        if let Some(f) = self
            .findings
            .iter_mut()
            .find(|f| f.rule == Rule::AssetsOverLimit)
        {
            f.measured = total;
            f.evidence.push(ev);
        } else if total > limit {
            let mut evidence = std::mem::take(&mut self.asset_evidence);
            evidence.push(ev);
            self.findings.push(Finding {
                rule: Rule::AssetsOverLimit,
                severity: hedui_schemas::Severity::Review,
                members: lines.everyone.clone(),
                measured: total,
                threshold: limit,
                evidence,
            });
        }
        amount
    }

    /// Financial assets: the planted case against the limit, and accounts of excluded members
    /// that must not count. The assets counted.
    fn plant_assets(&mut self, lines: &Lines) -> i64 {
        let ctx = self.ctx;
        let plant = ctx.plant;
        let Lines { c, asset_limit, .. } = lines;
        let (c, asset_limit) = (*c, *asset_limit);
        let mut assets = 0;
        if c > 0 {
            let r = self.rng.random::<f64>();
            let (target, tag) = if r < plant.assets_over {
                if self.rng.random_bool(0.5) {
                    (asset_limit + 1, "assets_limit_plus_1_fen")
                } else {
                    (
                        asset_limit * self.rng.random_range(110..=400) / 100,
                        "assets_over_limit",
                    )
                }
            } else if r < plant.assets_over + plant.assets_at_limit {
                (asset_limit, "assets_at_limit")
            } else if r < plant.assets_over + plant.assets_at_limit + plant.assets_below_limit {
                (asset_limit - 1, "assets_limit_minus_1_fen")
            } else {
                (
                    asset_limit * self.rng.random_range(0..=50) / 100,
                    "normal_assets",
                )
            };
            self.planted.push(tag);
            let ev = self.assets(target);
            assets = target;
            if target > asset_limit {
                let ids = lines.everyone.clone();
                self.find(Rule::AssetsOverLimit, ids, target, asset_limit, ev);
            } else {
                self.asset_evidence = ev;
            }
        }
        // Trap: accounts of excluded members do not count.
        for m in self
            .members
            .iter()
            .filter(|m| m.status != Status::Counted)
            .map(|m| m.p.clone())
            .collect::<Vec<_>>()
        {
            let amount = asset_limit.max(1_000_000) * 2;
            self.account(&m, amount);
        }
        assets
    }

    /// Real estate: homes, a second home, a forbidden use, and the traps.
    fn plant_property(&mut self, counted_people: &[Person]) {
        let ctx = self.ctx;
        let plant = ctx.plant;
        let head = self.members[0].p.clone();
        let mut units = Vec::new();
        if !counted_people.is_empty() {
            let spouse = self
                .members
                .iter()
                .find(|m| m.relation == "spouse" && m.status == Status::Counted)
                .map(|m| m.p.clone());
            let owners_home = match (&spouse, self.rng.random_bool(0.5)) {
                (Some(s), true) => vec![head.clone(), s.clone()],
                _ => vec![counted_people[0].clone()],
            };
            let second = self.rng.random_bool(plant.second_home);
            let forbidden = self.rng.random_bool(plant.forbidden_property);
            if second || forbidden || self.rng.random_bool(0.45) {
                let reg = self.days_before(400, 6000);
                let u = self.unit(&owners_home, "residential", reg, None);
                for o in &owners_home {
                    units.push(Self::ev(
                        o.id,
                        "real_estate",
                        u.0.clone(),
                        None,
                        u.1.to_string(),
                    ));
                }
            }
            if second {
                let owner = counted_people[self.rng.random_range(0..counted_people.len())].clone();
                let reg = self.days_before(30, 3000);
                let u = self.unit(std::slice::from_ref(&owner), "residential", reg, None);
                units.push(Self::ev(
                    owner.id,
                    "real_estate",
                    u.0,
                    None,
                    u.1.to_string(),
                ));
                self.planted.push("second_home");
            }
            if forbidden {
                let owner = counted_people[self.rng.random_range(0..counted_people.len())].clone();
                let use_ = ["shop", "office", "garage", "parking"][self.rng.random_range(0..4)];
                let reg = self.days_before(30, 3000);
                let u = self.unit(std::slice::from_ref(&owner), use_, reg, None);
                units.push(Self::ev(
                    owner.id,
                    "real_estate",
                    u.0,
                    None,
                    u.1.to_string(),
                ));
                self.planted.push("forbidden_property");
            }
            if second || forbidden {
                let distinct: std::collections::BTreeSet<&str> =
                    units.iter().map(|e| e.key.as_str()).collect();
                let n = distinct.len() as i64;
                let ids = units
                    .iter()
                    .map(|e| e.person)
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                self.find(
                    Rule::PropertyExcess,
                    ids,
                    n,
                    i64::from(ctx.policy.max_residential_units),
                    units.clone(),
                );
            } else if self.rng.random_bool(0.06) {
                // Traps: a home sold before the as-of date, and one bought after it.
                let owner = counted_people[0].clone();
                let reg = self.days_before(3000, 6000);
                let sold = self.days_before(30, 2000);
                self.unit(std::slice::from_ref(&owner), "residential", reg, Some(sold));
                if self.rng.random_bool(0.5) {
                    let bought = self.days_after(1, 40);
                    self.unit(std::slice::from_ref(&owner), "parking", bought, None);
                }
                self.planted.push("sold_or_future_property");
            }
        }
        // Trap: a shop owned by an excluded member.
        if let Some(m) = self
            .members
            .iter()
            .find(|m| m.status != Status::Counted)
            .map(|m| m.p.clone())
            && self.rng.random_bool(0.3)
        {
            let reg = self.days_before(400, 4000);
            self.unit(std::slice::from_ref(&m), "shop", reg, None);
        }
    }

    /// Vehicles (exempt ones and sold ones as traps) and vessels.
    fn plant_vehicles(&mut self, counted_people: &[Person]) {
        let ctx = self.ctx;
        let plant = ctx.plant;
        if !counted_people.is_empty() {
            let owner = counted_people[self.rng.random_range(0..counted_people.len())].id;
            if self.rng.random_bool(plant.vehicle) {
                let ty = ["small_car", "small_car", "truck", "passenger_coach"]
                    [self.rng.random_range(0..4)];
                let reg = self.days_before(30, 4000);
                let e = self.vehicle(owner, ty, reg, None);
                self.find(Rule::VehicleOwned, vec![owner], 1, 0, vec![e]);
                self.planted.push("vehicle");
            } else if self.rng.random_bool(0.12) {
                let ty = ["motorcycle", "electric_bicycle", "disability_scooter"]
                    [self.rng.random_range(0..3)];
                let reg = self.days_before(30, 3000);
                self.vehicle(owner, ty, reg, None);
                self.planted.push("exempt_vehicle");
            } else if self.rng.random_bool(0.03) {
                let reg = self.days_before(1000, 4000);
                let dereg = self.days_before(1, 900);
                self.vehicle(owner, "small_car", reg, Some(dereg));
                if self.rng.random_bool(0.5) {
                    let later = self.days_after(1, 30);
                    self.vehicle(owner, "small_car", later, None);
                }
                self.planted.push("sold_or_future_vehicle");
            }
            if self.rng.random_bool(plant.vessel) {
                let key = self.key();
                let no = format!("CN{:014}", key);
                let value = self.rng.random_range(5..=300) * 1_000_000;
                let reg = self.days_before(100, 3000);
                let name = format!(
                    "{}渔{:05}",
                    self.region_city().trim_end_matches('市'),
                    key % 100_000
                );
                self.out.push(
                    src::VESSEL,
                    recs::vessel(owner, &no, &name, value, reg, None),
                );
                let e = Self::ev(owner, "vessel", no, Some(value), reg.to_string());
                self.find(Rule::VesselOwned, vec![owner], 1, 0, vec![e]);
                self.planted.push("vessel");
            }
        }
    }

    /// Businesses: companies, sole traders with and without staff, a deregistered trap.
    fn plant_businesses(&mut self, counted: &[usize]) {
        let ctx = self.ctx;
        let plant = ctx.plant;
        let adult_ids: Vec<ResidentId> = counted
            .iter()
            .filter(|i| self.age(**i) >= 18)
            .map(|i| self.members[*i].p.id)
            .collect();
        if !adult_ids.is_empty() {
            let who = adult_ids[self.rng.random_range(0..adult_ids.len())];
            let since = self.days_before(100, 3000);
            if self.rng.random_bool(plant.company) {
                let role = if self.rng.random_bool(0.5) {
                    "legal_representative"
                } else {
                    "shareholder"
                };
                let staff = self.rng.random_range(0..=30);
                let e = self.business(who, "company", role, staff, "active", since);
                self.find(Rule::BusinessRegistered, vec![who], 1, 0, vec![e]);
                self.planted.push("company");
            } else if self.rng.random_bool(plant.sole_trader_staff) {
                let staff = self.rng.random_range(1..=5);
                let e = self.business(who, "sole_trader", "operator", staff, "active", since);
                self.find(Rule::BusinessRegistered, vec![who], 1, 0, vec![e]);
                self.planted.push("sole_trader_with_staff");
            } else if self.rng.random_bool(plant.sole_trader_no_staff) {
                let e = self.business(who, "sole_trader", "operator", 0, "active", since);
                self.find(
                    Rule::SoleTraderReview,
                    vec![who],
                    0,
                    i64::from(ctx.policy.sole_trader_review_max_staff),
                    vec![e],
                );
                self.planted.push("sole_trader_no_staff");
            } else if self.rng.random_bool(0.01) {
                // Trap: a business deregistered before the as-of date.
                let closed = self.days_before(1, 90);
                self.business(
                    who,
                    "company",
                    "legal_representative",
                    3,
                    "deregistered",
                    closed,
                );
                self.planted.push("deregistered_business");
            }
        }
    }

    /// Assistance received elsewhere: a duplicate benefit, or the traps of an ended benefit and
    /// another programme.
    fn plant_duplicate_benefit(
        &mut self,
        programme: &'static str,
        lines: &Lines,
        counted_people: &[Person],
    ) {
        let ctx = self.ctx;
        let plant = ctx.plant;
        let region = self.region;
        if !counted_people.is_empty() {
            let who = counted_people[self.rng.random_range(0..counted_people.len())].id;
            let cur = hedui_schemas::values::month_of(ctx.as_of);
            if self.rng.random_bool(plant.duplicate_benefit) {
                let other_region = any_county(self.rng);
                let other_hh = format!("H{other_region}9{:08}", self.idx % 100_000_000);
                let from = add_months(cur, -self.rng.random_range(1..30));
                let to = self
                    .rng
                    .random_bool(0.5)
                    .then(|| add_months(cur, self.rng.random_range(0..6)));
                let amount = lines.dibao_fen;
                self.out.push(
                    src::ASSISTANCE,
                    recs::assistance(who, &other_hh, programme, other_region, from, to, amount),
                );
                let e = Self::ev(who, "assistance", other_hh, Some(amount), from.to_string());
                self.find(Rule::DuplicateBenefit, vec![who], 1, 0, vec![e]);
                self.planted.push("duplicate_benefit");
            } else if self.rng.random_bool(plant.duplicate_benefit) {
                // Traps: the same programme elsewhere that ended before the as-of month, or a
                // different programme.
                let other_hh = format!("H{region}8{:08}", self.idx % 100_000_000);
                let ended = self.rng.random_bool(0.5);
                let (prog, to) = if ended {
                    (
                        programme,
                        Some(add_months(cur, -self.rng.random_range(1..12))),
                    )
                } else {
                    (
                        if programme == "dibao" {
                            "tekun"
                        } else {
                            "dibao"
                        },
                        None,
                    )
                };
                let from = add_months(cur, -40);
                let amount = lines.dibao_fen / 2;
                self.out.push(
                    src::ASSISTANCE,
                    recs::assistance(who, &other_hh, prog, region, from, to, amount),
                );
                self.planted.push("other_or_ended_benefit");
            }
        }
    }
}

/// A member of two households: a grown child declared here who applied alone too, and
/// another programme received elsewhere. Drawn from the household's second stream, so that a
/// household with none of them is the same as before they were planted.
impl<R: Rng> Hh<'_, '_, R> {
    /// A grown child of the applicant, declared here and applying alone in a household of
    /// their own (the [`Twin`]).
    fn plant_twin(
        &mut self,
        rng: &mut impl Rng,
        programme: &str,
        applicant: &Applicant,
    ) -> Result<()> {
        let ctx = self.ctx;
        if !rng.random_bool(ctx.plant.member_in_two_households)
            || programme == "tekun"
            || applicant.age < 45
        {
            return Ok(());
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        let hi = (applicant.age - 20).clamp(19, 30);
        let p = person_in_slot(
            ctx,
            self.idx,
            slot,
            rng,
            19,
            hi,
            None,
            Some(&applicant.surname),
        )?;
        let region = any_county(rng);
        let programme = if rng.random_bool(0.7) {
            "dibao"
        } else {
            "low_income"
        };
        let date = ctx.as_of - Duration::days(rng.random_range(0..=30));
        self.members.push(Member {
            p,
            relation: "child",
            status: Status::Counted,
        });
        self.twin = Some(Twin {
            member: self.members.len() - 1,
            id: format!("H{region}7{:08}", self.idx % 100_000_000),
            hukou_no: format!("{region}7{:09}", self.idx),
            region,
            programme,
            date,
        });
        Ok(())
    }

    /// The `member_in_two_households` finding: the twin's two declarations, and another
    /// programme received under another household in another region; beside it the trap of
    /// one that ended before the batch's month.
    fn plant_elsewhere(
        &mut self,
        rng: &mut impl Rng,
        app: &Application,
        lines: &Lines,
        counted_people: &[Person],
    ) {
        let ctx = self.ctx;
        let rate = ctx.plant.other_programme_elsewhere;
        let mut evidence = Vec::new();
        if let Some(t) = &self.twin {
            let who = self.members[t.member].p.id;
            let other = format!("{}/{}/{}", t.id, t.region, t.programme);
            evidence.push(Self::ev(
                who,
                "applications",
                "",
                None,
                app.date.to_string(),
            ));
            evidence.push(Self::ev(
                who,
                "applications",
                other,
                None,
                t.date.to_string(),
            ));
            self.planted.push("member_in_two_households");
        }
        let draw = rng.random::<f64>();
        if !counted_people.is_empty() && draw < 2.0 * rate {
            let who = counted_people[rng.random_range(0..counted_people.len())].id;
            // A county of another city.
            let region = loop {
                let r = any_county(rng);
                if r / 100 != self.region / 100 {
                    break r;
                }
            };
            let programmes: Vec<&'static str> = ["dibao", "low_income", "tekun"]
                .into_iter()
                .filter(|p| *p != app.programme)
                .collect();
            let prog = programmes[rng.random_range(0..programmes.len())];
            let hh = format!("H{region}6{:08}", self.idx % 100_000_000);
            let cur = ctx.current_month();
            let amount = lines.dibao_fen / 2;
            if draw < rate {
                let from = add_months(cur, -rng.random_range(1..30));
                let to = rng
                    .random_bool(0.5)
                    .then(|| add_months(cur, rng.random_range(0..6)));
                self.out.push(
                    src::ASSISTANCE,
                    recs::assistance(who, &hh, prog, region, from, to, amount),
                );
                let key = format!("{hh}/{region}/{prog}");
                evidence.push(Self::ev(
                    who,
                    "assistance",
                    key,
                    Some(amount),
                    from.to_string(),
                ));
                self.planted.push("other_programme_elsewhere");
            } else {
                // Trap: it ended before the batch's month.
                let from = add_months(cur, -40);
                let to = Some(add_months(cur, -rng.random_range(1..12)));
                self.out.push(
                    src::ASSISTANCE,
                    recs::assistance(who, &hh, prog, region, from, to, amount),
                );
                self.planted.push("ended_programme_elsewhere");
            }
        }
        if !evidence.is_empty() {
            let mut members: Vec<ResidentId> = evidence.iter().map(|e| e.person).collect();
            members.sort_by_key(|id| id.pack());
            members.dedup();
            let mut keys: Vec<&str> = evidence
                .iter()
                .map(|e| e.key.as_str())
                .filter(|k| !k.is_empty())
                .collect();
            keys.sort_unstable();
            keys.dedup();
            let measured = keys.len() as i64;
            self.find(Rule::MemberInTwoHouseholds, members, measured, 0, evidence);
        }
    }

    /// A namesake of a counted member: born the same day in the same county, their ID differs
    /// from the member's in one sequence digit (not the sex digit), and they apply alone in a
    /// household of their own with no records. Beside them, a bank account of the member whose
    /// ID was typed with the namesake's digit and the member's check character: one slip from
    /// both, and nothing else tells them apart. Its truth is the namesake's household's
    /// (the account's `unreadable_records` finding comes from the chunk's pass, lib.rs).
    fn plant_namesake(
        &mut self,
        rng: &mut impl Rng,
        counted_people: &[Person],
    ) -> Result<Option<TruthHousehold>> {
        let ctx = self.ctx;
        if counted_people.is_empty() || !rng.random_bool(ctx.plant.ambiguous_namesake) {
            return Ok(None);
        }
        let a = counted_people[rng.random_range(0..counted_people.len())].clone();
        let text = a.id.to_string();
        // No generated person has the namesake's ID: its serial is past every one the
        // province's households and residents use.
        let used = ctx.households * SLOTS.max(super::background::PER_HOUSEHOLD);
        let mut namesake = None;
        'digits: for pos in [14usize, 15] {
            for d in 1..10u32 {
                let mut c: Vec<char> = text.chars().collect();
                let Some(was) = c[pos].to_digit(10) else {
                    continue;
                };
                c[pos] = char::from_digit((was + d) % 10, 10).unwrap_or('0');
                let body: String = c[..17].iter().collect();
                let Some(b) = body.parse().ok().and_then(ResidentId::from_body) else {
                    continue;
                };
                let free = match people::serial_of(b) {
                    Some((serial, _)) => serial >= used,
                    None => true,
                };
                if b.check_char() != a.id.check_char()
                    && b.birth_date() == a.id.birth_date()
                    && free
                {
                    namesake = Some(b);
                    break 'digits;
                }
            }
        }
        let Some(b) = namesake else {
            return Ok(None);
        };
        self.namesake_of = Some(a.id);
        let typed = format!("{}{}", &b.to_string()[..17], a.id.check_char());
        let bank = banks()[rng.random_range(0..banks().len())];
        let account = format!("6217{:012}", self.idx * 64 + 63);
        let balance = yuan(rng, 100, 3000);
        let mut cells = recs::bank_deposit(&a, bank, &account, balance, ctx.as_of);
        let subject = "person";
        cells[0] = super::model::Cell::Raw(typed);
        self.out.recs[src::BANK_DEPOSIT].push(Rec {
            cells,
            dirty: Some((super::model::DirtyKind::IdSlipDigit, subject, a.id)),
            link: None,
        });
        self.planted.push("ambiguous_namesake_record");
        let person = Person {
            id: b,
            name: a.name.clone(),
            birth: a.birth,
        };
        let id = format!("H{}5{:08}", self.region, self.idx % 100_000_000);
        let programme = "dibao";
        let date = ctx.as_of - Duration::days(rng.random_range(0..=30));
        self.out.push(
            src::APPLICATIONS,
            recs::application(
                &id,
                programme,
                self.region,
                date,
                "new",
                &person,
                "head",
                self.area,
            ),
        );
        let in_force = ctx
            .policy
            .in_force_for(self.region, self.area, programme, ctx.as_of)?;
        Ok(Some(TruthHousehold {
            id,
            region: self.region,
            area: self.area,
            programme,
            kind: "new",
            declared: 1,
            counted: 1,
            income_fen: 0,
            income_limit_fen: in_force.income_limit_fen(1, ctx.window.len() as i64),
            assets_fen: 0,
            asset_limit_fen: i64::from(ctx.policy.financial_asset_months) * in_force.standard_fen(),
            planted: vec!["ambiguous_namesake"],
            findings: Vec::new(),
            counted_ids: vec![b],
        }))
    }

    /// The twin's own household: its one declaration, and its truth (no income, no assets,
    /// the same finding from its side).
    fn twin_household(&mut self, app: &Application) -> Result<Option<TruthHousehold>> {
        let Some(t) = self.twin.take() else {
            return Ok(None);
        };
        let ctx = self.ctx;
        let p = self.members[t.member].p.clone();
        self.out.push(
            src::APPLICATIONS,
            recs::application(
                &t.id,
                t.programme,
                t.region,
                t.date,
                "new",
                &p,
                "head",
                None,
            ),
        );
        let in_force = ctx.policy.in_force(t.region, t.programme, ctx.as_of)?;
        let months = ctx.window.len() as i64;
        let other = format!("{}/{}/{}", app.id, self.region, app.programme);
        let evidence = vec![
            Self::ev(p.id, "applications", "", None, t.date.to_string()),
            Self::ev(p.id, "applications", other, None, app.date.to_string()),
        ];
        Ok(Some(TruthHousehold {
            id: t.id,
            region: t.region,
            area: None,
            programme: t.programme,
            kind: "new",
            declared: 1,
            counted: 1,
            income_fen: 0,
            income_limit_fen: in_force.income_limit_fen(1, months),
            assets_fen: 0,
            asset_limit_fen: i64::from(ctx.policy.financial_asset_months) * in_force.standard_fen(),
            planted: vec!["member_in_two_households"],
            findings: vec![Finding {
                rule: Rule::MemberInTwoHouseholds,
                severity: ctx.policy.severity(Rule::MemberInTwoHouseholds),
                members: vec![p.id],
                measured: 1,
                threshold: 0,
                evidence,
            }],
            counted_ids: vec![p.id],
        }))
    }
}

/// Generates household `idx` into `out`, and the second household of a member declared in
/// two (from `rng2`, the household's second stream).
pub fn household<R: Rng>(
    ctx: &Ctx,
    idx: u64,
    rng: &mut R,
    rng2: &mut impl Rng,
    out: &mut Out,
) -> Result<()> {
    let plant = ctx.plant;
    let city = weighted(rng, &CITIES.map(|c| (c, c.share)));
    let region = city.counties[rng.random_range(0..city.counties.len())];
    // Rural or urban by the city's share; one in ten households declares neither (where the
    // city sets two standards, the urban one applies).
    let area = rng.random_bool(0.9).then(|| {
        if rng.random_bool(city.rural) {
            AreaType::Rural
        } else {
            AreaType::Urban
        }
    });
    let programme = weighted(
        rng,
        &[("dibao", 0.55), ("low_income", 0.3), ("tekun", 0.15)],
    );
    let no_counted = rng.random_bool(plant.no_counted_member);
    // A household whose only member died is a re-check of a current recipient.
    let kind = if no_counted || rng.random_bool(0.6) {
        "recheck"
    } else {
        "new"
    };
    let id = format!("H{region}{idx:09}");
    let hukou_no = format!("{region}{idx:010}");
    let mut h = Hh {
        ctx,
        rng,
        out,
        idx,
        region,
        area,
        members: Vec::new(),
        next_slot: 0,
        next_key: 0,
        findings: Vec::new(),
        planted: Vec::new(),
        income_evidence: Vec::new(),
        asset_evidence: Vec::new(),
        twin: None,
        namesake_of: None,
    };
    let app = Application {
        date: h.days_before(0, 30),
        id,
        hukou_no,
        programme,
        kind,
    };

    let applicant = h.declare_members(programme, no_counted)?;
    let (dead_members, dead_evidence) = h.exclusions(no_counted);
    if !no_counted {
        h.plant_twin(rng2, programme, &applicant)?;
    }
    h.registration(&app, &applicant)?;
    let lines = h.lines(programme)?;
    let income = h.plant_income(&app, &lines);
    let assets = h.plant_assets(&lines);
    let counted_people: Vec<Person> = lines
        .counted
        .iter()
        .map(|i| h.members[*i].p.clone())
        .collect();
    h.plant_property(&counted_people);
    h.plant_vehicles(&counted_people);
    h.plant_businesses(&lines.counted);
    h.plant_duplicate_benefit(programme, &lines, &counted_people);
    h.plant_elsewhere(rng2, &app, &lines, &counted_people);

    // ---- data integrity -------------------------------------------------------------------------
    if !dead_members.is_empty() {
        h.find(
            Rule::DeclaredMemberDead,
            dead_members.clone(),
            dead_members.len() as i64,
            0,
            dead_evidence,
        );
    }
    let Lines {
        c,
        income_limit,
        asset_limit,
        ..
    } = lines;
    if c == 0 {
        h.find(Rule::NoCountedMember, Vec::new(), 0, 1, Vec::new());
    }

    let twin = h.twin_household(&app)?;
    let namesake = h.plant_namesake(rng2, &counted_people)?;
    let assets = assets + h.plant_probable_deposit(rng2, &lines, &counted_people, assets);
    h.findings.sort_by_key(|f| f.rule);
    let counted_ids = lines.everyone.clone();
    let truth = TruthHousehold {
        id: app.id,
        region,
        area,
        programme,
        kind,
        declared: h.members.len(),
        counted: c as usize,
        income_fen: income,
        income_limit_fen: income_limit,
        assets_fen: assets,
        asset_limit_fen: asset_limit,
        planted: std::mem::take(&mut h.planted),
        findings: std::mem::take(&mut h.findings),
        counted_ids,
    };
    h.out.truth.push(truth);
    h.out.truth.extend(twin);
    h.out.truth.extend(namesake);
    Ok(())
}
