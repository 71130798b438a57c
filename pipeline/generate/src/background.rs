//! Residents who are not applicants: most of every department's rows are about them.
//!
//! They get the same kinds of records as applicants, at ordinary (not low-income) levels:
//! salaries, cars, homes, businesses, deposits, deaths. They share no household number,
//! marriage or account with an applicant, so they never change the planted truth; a batch
//! that lets one of their rows reach an applicant household has a join bug.

use chrono::{Datelike, Duration};
use hedui_schemas::ResidentId;
use rand::Rng;

use super::household::{CITIES, Ctx, Out, banks, city_of, credit_code};
use super::people;
use super::recs::{self, Person, src};
use crate::{Error, Result};

/// Background residents per applicant household slot (1 to 4 are generated).
pub const PER_HOUSEHOLD: u64 = 4;

fn person(ctx: &Ctx, serial: u64, rng: &mut impl Rng) -> Result<Person> {
    let male = rng.random_bool(0.5);
    let age = rng.random_range(18..=88);
    let id = people::make_id(serial, true, male, ctx.as_of.year() - age)
        .ok_or_else(|| Error::OutOfRange("too many households for the ID space".into()))?;
    // Invariant: make_id only returns IDs whose birth date exists.
    let birth = id.birth_date().expect("generated IDs have a birth date");
    Ok(Person {
        id,
        name: people::name(rng, None),
        birth,
    })
}

/// Generates the background residents attached to household slot `idx`.
pub fn residents(ctx: &Ctx, idx: u64, rng: &mut impl Rng, out: &mut Out) -> Result<()> {
    let n = rng.random_range(1..=PER_HOUSEHOLD);
    let mut people_here: Vec<Person> = Vec::new();
    for j in 0..n {
        let p = person(ctx, idx * PER_HOUSEHOLD + j, rng)?;
        resident(ctx, idx * PER_HOUSEHOLD + j, &p, rng, out);
        people_here.push(p);
    }
    for pair in people_here.chunks(2) {
        let [x, y] = pair else { continue };
        if x.id.is_male() == y.id.is_male() || !rng.random_bool(0.7) {
            continue;
        }
        let (a, b) = (x.id, y.id);
        let (man, woman): (ResidentId, ResidentId) = if a.is_male() { (a, b) } else { (b, a) };
        let date = ctx.as_of - Duration::days(rng.random_range(300..12000));
        out.push(src::MARRIAGE, recs::marriage(man, woman, "marriage", date));
        if rng.random_bool(0.1) {
            let split = ctx.as_of - Duration::days(rng.random_range(1..290));
            out.push(src::MARRIAGE, recs::marriage(man, woman, "divorce", split));
        }
    }
    Ok(())
}

fn resident(ctx: &Ctx, serial: u64, p: &Person, rng: &mut impl Rng, out: &mut Out) {
    let city = &CITIES[rng.random_range(0..CITIES.len())];
    let region = city.counties[rng.random_range(0..city.counties.len())];
    let age = people::age_on(p.birth, ctx.as_of);
    let before = |rng: &mut dyn rand::RngCore, lo: i64, hi: i64| {
        ctx.as_of - Duration::days(rng.random_range(lo..=hi))
    };
    let key = serial;
    let hukou_no = format!("B{region}{serial:011}");
    let status = if rng.random_bool(0.05) {
        "moved_out"
    } else {
        "active"
    };
    let d = before(rng, 100, 9000);
    out.push(
        src::HUKOU,
        recs::hukou(p, &hukou_no, "head", region, status, d),
    );

    let mut months: Vec<i32> = vec![hedui_schemas::values::add_months(ctx.window[0], -1)];
    months.extend(ctx.window.iter().copied());
    if age < 60 && rng.random_bool(0.65) {
        let n = rng.random_range(0..5000u64);
        let employer = credit_code(n, false, region);
        let wage = rng.random_range(3000..=25000) * 100;
        let pf = rng.random_bool(0.4);
        for m in &months {
            let personal = wage * 105 / 1000;
            out.push(
                src::SOCIAL_INSURANCE,
                recs::social_insurance(p.id, &employer, *m, wage, personal),
            );
            let tax = if wage > 500_000 {
                (wage - 500_000) * 3 / 100
            } else {
                0
            };
            out.push(
                src::TAX,
                recs::tax(p.id, *m, "wage", wage, tax, Some(&employer)),
            );
            if pf {
                out.push(src::PROVIDENT_FUND, recs::provident_fund(p, *m, wage, None));
            }
        }
        if rng.random_bool(0.06) {
            let salary = rng.random_range(6000..=15000) * 100;
            for m in &months {
                out.push(
                    src::PUBLIC_PAYROLL,
                    recs::public_payroll(p, "市直机关事业单位", *m, salary),
                );
            }
        }
        if rng.random_bool(0.3) {
            let d = before(rng, 30, 3000);
            out.push(
                src::EMPLOYMENT,
                recs::employment(p.id, "employed", d, Some("某单位")),
            );
        }
    } else if age >= 60 {
        let (scheme, amount) = if rng.random_bool(0.6) {
            ("employee", rng.random_range(2500..=6000) * 100)
        } else {
            ("resident_basic", rng.random_range(180..=400) * 100)
        };
        for m in &months {
            out.push(src::PENSION, recs::pension(p, *m, scheme, amount));
        }
    } else if rng.random_bool(0.2) {
        let amount = rng.random_range(1700..=2200) * 100;
        for m in &ctx.window[ctx.window.len() - 3..] {
            out.push(
                src::UNEMPLOYMENT_BENEFIT,
                recs::unemployment_benefit(p.id, *m, amount),
            );
        }
    }
    let accounts = rng.random_range(0..=3);
    for k in 0..accounts {
        let b = rng.random_range(0..banks().len());
        let account = format!("6{:03}****9{:09}{k}", 212 + b * 7, key);
        let bal = rng.random_range(0..=80_000_000);
        let d = before(rng, 0, 20);
        out.push(
            src::BANK_DEPOSIT,
            recs::bank_deposit(p, banks()[b], &account, bal, d),
        );
        if rng.random_bool(0.5) {
            let d = before(rng, 40, 200);
            out.push(
                src::BANK_DEPOSIT,
                recs::bank_deposit(p, banks()[b], &account, bal / 2, d),
            );
        }
    }
    if rng.random_bool(0.2) {
        let d = before(rng, 0, 10);
        out.push(
            src::SECURITIES,
            recs::securities(
                p.id,
                &format!("B{key:010}"),
                rng.random_range(100_000..=200_000_000),
                d,
            ),
        );
    }
    if rng.random_bool(0.25) {
        let d = before(rng, 0, 60);
        out.push(
            src::COMMERCIAL_INSURANCE,
            recs::commercial_insurance(
                p.id,
                &format!("Q{key:012}"),
                "中国平安",
                rng.random_range(100_000..=50_000_000),
                d,
            ),
        );
    }
    if rng.random_bool(0.4) {
        let d = before(rng, 0, 5);
        out.push(
            src::INTERNET_FINANCE,
            recs::internet_finance(
                p.id,
                "支付宝余额宝",
                &format!("159****{key:08}"),
                rng.random_range(0..=10_000_000),
                d,
            ),
        );
    }
    if rng.random_bool(0.3) {
        let prefix = city_of(region).map_or("粤A", |c| c.plate);
        let ty = [
            "small_car",
            "small_car",
            "small_car",
            "truck",
            "motorcycle",
            "electric_bicycle",
        ][rng.random_range(0..6)];
        let d = before(rng, 30, 5000);
        let value = rng.random_range(300..=50_000) * 10_000;
        out.push(
            src::VEHICLE,
            recs::vehicle(
                p.id,
                &format!("{prefix}Z{:05}", key % 100_000),
                &format!("LBV{key:014}"),
                ty,
                d,
                None,
                value,
            ),
        );
    }
    if rng.random_bool(0.35) {
        let unit = format!(
            "{:06}{:012}GB{:05}B{:04}",
            region + 3,
            key,
            key % 100_000,
            key % 7000
        );
        let use_ = if rng.random_bool(0.85) {
            "residential"
        } else {
            ["shop", "office", "garage", "parking"][rng.random_range(0..4)]
        };
        let d = before(rng, 100, 7000);
        out.push(
            src::REAL_ESTATE,
            recs::real_estate(p, &unit, use_, rng.random_range(3000..=20000), 100, d, None),
        );
    }
    if rng.random_bool(0.05) {
        let sole = rng.random_bool(0.5);
        let code = credit_code(1_000_000 + key, sole, region);
        let (ty, role) = if sole {
            ("sole_trader", "operator")
        } else {
            ("company", "legal_representative")
        };
        let d = before(rng, 100, 5000);
        out.push(
            src::BUSINESS,
            recs::business(
                p.id,
                &code,
                "某某商行",
                ty,
                role,
                rng.random_range(1..=1000) * 1_000_000,
                rng.random_range(0..=50),
                d,
                "active",
                d,
            ),
        );
    }
    if rng.random_bool(0.12) {
        let d = before(rng, 100, 5000);
        out.push(
            src::DISABILITY,
            recs::disability(p, "physical", rng.random_range(1..=4), d),
        );
    }
    if rng.random_bool(0.35) {
        for m in &ctx.window[..2] {
            out.push(
                src::MEDICAL_EXPENSE,
                recs::medical_expense(p.id, *m, rng.random_range(1000..=500_000)),
            );
        }
    }
    if rng.random_bool(0.05) {
        for m in &ctx.window {
            out.push(src::SPECIAL_CARE, recs::special_care(p, *m, 150_000));
        }
    }
    if rng.random_bool(0.15) {
        let from = hedui_schemas::values::add_months(ctx.window[0], -rng.random_range(1..40));
        out.push(
            src::ASSISTANCE,
            recs::assistance(
                p.id,
                &format!("A{region}{key:010}"),
                "dibao",
                region,
                from,
                None,
                60_000,
            ),
        );
    }
    if rng.random_bool(0.02) {
        let d = before(rng, 1, 2000);
        out.push(src::DEATH, recs::death(p, d));
        if rng.random_bool(0.8) {
            out.push(src::CREMATION, recs::cremation(p, d + Duration::days(3)));
        }
    }
    if rng.random_bool(0.005) {
        let d = before(rng, 10, 2000);
        out.push(src::INCARCERATION, recs::incarceration(p, d, None));
    }
    if rng.random_bool(0.002) {
        let d = before(rng, 100, 4000);
        out.push(
            src::VESSEL,
            recs::vessel(
                p.id,
                &format!("CN9{key:013}"),
                "粤渔运",
                rng.random_range(10..=500) * 1_000_000,
                d,
                None,
            ),
        );
    }
}
