//! One constructor per source: catalog values in, cells in the catalog's field order out.
//!
//! Keeping field order in one place means the generator cannot drift from the catalog; the
//! test at the bottom checks every constructor's arity against its source definition.

use chrono::NaiveDate;
use hedui_schemas::ResidentId;

use super::model::Cell::{self, *};

/// Index of each source in the registry (and in a chunk's record lists).
pub mod src {
    #![allow(missing_docs)]
    pub const APPLICATIONS: usize = 0;
    pub const HUKOU: usize = 1;
    pub const DEATH: usize = 2;
    pub const VEHICLE: usize = 3;
    pub const MARRIAGE: usize = 4;
    pub const CREMATION: usize = 5;
    pub const ASSISTANCE: usize = 6;
    pub const SOCIAL_INSURANCE: usize = 7;
    pub const PENSION: usize = 8;
    pub const UNEMPLOYMENT_BENEFIT: usize = 9;
    pub const EMPLOYMENT: usize = 10;
    pub const PROVIDENT_FUND: usize = 11;
    pub const REAL_ESTATE: usize = 12;
    pub const BUSINESS: usize = 13;
    pub const TAX: usize = 14;
    pub const PUBLIC_PAYROLL: usize = 15;
    pub const DISABILITY: usize = 16;
    pub const BANK_DEPOSIT: usize = 17;
    pub const SECURITIES: usize = 18;
    pub const COMMERCIAL_INSURANCE: usize = 19;
    pub const INTERNET_FINANCE: usize = 20;
    pub const VESSEL: usize = 21;
    pub const MEDICAL_EXPENSE: usize = 22;
    pub const INCARCERATION: usize = 23;
    pub const SPECIAL_CARE: usize = 24;
    /// Every source of the catalog (a source the generator plants nothing for gets an
    /// empty export).
    pub const COUNT: usize = hedui_schemas::SOURCE_IDS.len();
}

fn opt_date(d: Option<NaiveDate>) -> Cell {
    d.map(Date).unwrap_or(Null)
}

/// A person as the generator knows them.
#[derive(Debug, Clone)]
pub struct Person {
    /// Resident ID.
    pub id: ResidentId,
    /// Name.
    pub name: String,
    /// Birth date.
    pub birth: NaiveDate,
}

#[allow(missing_docs, clippy::too_many_arguments)]
pub fn application(
    hh: &str,
    programme: &'static str,
    region: i32,
    date: NaiveDate,
    kind: &'static str,
    p: &Person,
    relation: &'static str,
    area: Option<hedui_schemas::policy::AreaType>,
) -> Vec<Cell> {
    vec![
        Str(hh.into()),
        Code(programme),
        Region(region),
        Date(date),
        Code(kind),
        Id(p.id),
        Str(p.name.clone()),
        Code(relation),
        area.map_or(Cell::Null, |a| Code(a.code())),
    ]
}
#[allow(missing_docs)]
pub fn hukou(
    p: &Person,
    hukou_no: &str,
    relation: &'static str,
    region: i32,
    status: &'static str,
    date: NaiveDate,
) -> Vec<Cell> {
    vec![
        Id(p.id),
        Str(p.name.clone()),
        Str(hukou_no.into()),
        Code(relation),
        Region(region),
        Code(status),
        Date(date),
    ]
}
#[allow(missing_docs)]
pub fn death(p: &Person, date: NaiveDate) -> Vec<Cell> {
    vec![Id(p.id), Str(p.name.clone()), Date(date)]
}
#[allow(missing_docs)]
pub fn vehicle(
    owner: ResidentId,
    plate: &str,
    vin: &str,
    ty: &'static str,
    reg: NaiveDate,
    dereg: Option<NaiveDate>,
    value: i64,
) -> Vec<Cell> {
    vec![
        Id(owner),
        Str(plate.into()),
        Str(vin.into()),
        Code(ty),
        Date(reg),
        opt_date(dereg),
        Money(value),
    ]
}
#[allow(missing_docs)]
pub fn marriage(
    man: ResidentId,
    woman: ResidentId,
    event: &'static str,
    date: NaiveDate,
) -> Vec<Cell> {
    vec![Id(man), Id(woman), Code(event), Date(date)]
}
#[allow(missing_docs)]
pub fn cremation(p: &Person, date: NaiveDate) -> Vec<Cell> {
    vec![Id(p.id), Str(p.name.clone()), Date(date)]
}
#[allow(missing_docs)]
pub fn assistance(
    p: ResidentId,
    hh: &str,
    programme: &'static str,
    region: i32,
    from: i32,
    to: Option<i32>,
    amount: i64,
) -> Vec<Cell> {
    vec![
        Id(p),
        Str(hh.into()),
        Code(programme),
        Region(region),
        Month(from),
        to.map(Month).unwrap_or(Null),
        Money(amount),
    ]
}
#[allow(missing_docs)]
pub fn social_insurance(
    p: ResidentId,
    employer: &str,
    month: i32,
    base: i64,
    personal: i64,
) -> Vec<Cell> {
    vec![
        Id(p),
        Str(employer.into()),
        Month(month),
        Money(base),
        Money(personal),
    ]
}
#[allow(missing_docs)]
pub fn pension(p: &Person, month: i32, scheme: &'static str, amount: i64) -> Vec<Cell> {
    vec![
        Id(p.id),
        Str(p.name.clone()),
        Month(month),
        Code(scheme),
        Money(amount),
    ]
}
#[allow(missing_docs)]
pub fn unemployment_benefit(p: ResidentId, month: i32, amount: i64) -> Vec<Cell> {
    vec![Id(p), Month(month), Money(amount)]
}
#[allow(missing_docs)]
pub fn employment(
    p: ResidentId,
    status: &'static str,
    date: NaiveDate,
    employer: Option<&str>,
) -> Vec<Cell> {
    vec![
        Id(p),
        Code(status),
        Date(date),
        employer.map(|e| Str(e.into())).unwrap_or(Null),
    ]
}
#[allow(missing_docs)]
pub fn provident_fund(p: &Person, month: i32, base: i64, withdrawal: Option<i64>) -> Vec<Cell> {
    vec![
        Id(p.id),
        Str(p.name.clone()),
        Month(month),
        Money(base),
        withdrawal.map(Money).unwrap_or(Null),
    ]
}
#[allow(missing_docs, clippy::too_many_arguments)]
pub fn real_estate(
    p: &Person,
    unit: &str,
    use_: &'static str,
    area: i64,
    share: i64,
    reg: NaiveDate,
    dereg: Option<NaiveDate>,
) -> Vec<Cell> {
    vec![
        Id(p.id),
        Str(p.name.clone()),
        Str(unit.into()),
        Code(use_),
        Area(area),
        Count(share),
        Date(reg),
        opt_date(dereg),
    ]
}
#[allow(missing_docs, clippy::too_many_arguments)]
pub fn business(
    p: ResidentId,
    code: &str,
    name: &str,
    ty: &'static str,
    role: &'static str,
    capital: i64,
    staff: i64,
    est: NaiveDate,
    status: &'static str,
    status_date: NaiveDate,
) -> Vec<Cell> {
    vec![
        Id(p),
        Str(code.into()),
        Str(name.into()),
        Code(ty),
        Code(role),
        Money(capital),
        Count(staff),
        Date(est),
        Code(status),
        Date(status_date),
    ]
}
#[allow(missing_docs)]
pub fn tax(
    p: ResidentId,
    month: i32,
    ty: &'static str,
    income: i64,
    tax: i64,
    withholder: Option<&str>,
) -> Vec<Cell> {
    vec![
        Id(p),
        Month(month),
        Code(ty),
        Money(income),
        Money(tax),
        withholder.map(|w| Str(w.into())).unwrap_or(Null),
    ]
}
#[allow(missing_docs)]
pub fn public_payroll(p: &Person, employer: &str, month: i32, salary: i64) -> Vec<Cell> {
    vec![
        Id(p.id),
        Str(p.name.clone()),
        Str(employer.into()),
        Month(month),
        Money(salary),
    ]
}
#[allow(missing_docs)]
pub fn disability(p: &Person, category: &'static str, grade: i64, date: NaiveDate) -> Vec<Cell> {
    vec![
        Id(p.id),
        Str(p.name.clone()),
        Code(category),
        Count(grade),
        Date(date),
    ]
}
#[allow(missing_docs)]
pub fn bank_deposit(
    p: &Person,
    bank: &str,
    account: &str,
    balance: i64,
    as_of: NaiveDate,
) -> Vec<Cell> {
    vec![
        Id(p.id),
        Str(p.name.clone()),
        Str(bank.into()),
        Str(account.into()),
        Money(balance),
        Date(as_of),
    ]
}
#[allow(missing_docs)]
pub fn securities(p: ResidentId, account: &str, value: i64, as_of: NaiveDate) -> Vec<Cell> {
    vec![Id(p), Str(account.into()), Money(value), Date(as_of)]
}
#[allow(missing_docs)]
pub fn commercial_insurance(
    p: ResidentId,
    policy: &str,
    insurer: &str,
    value: i64,
    as_of: NaiveDate,
) -> Vec<Cell> {
    vec![
        Id(p),
        Str(policy.into()),
        Str(insurer.into()),
        Money(value),
        Date(as_of),
    ]
}
#[allow(missing_docs)]
pub fn internet_finance(
    p: ResidentId,
    platform: &str,
    account: &str,
    balance: i64,
    as_of: NaiveDate,
) -> Vec<Cell> {
    vec![
        Id(p),
        Str(platform.into()),
        Str(account.into()),
        Money(balance),
        Date(as_of),
    ]
}
#[allow(missing_docs)]
pub fn vessel(
    p: ResidentId,
    no: &str,
    name: &str,
    value: i64,
    reg: NaiveDate,
    dereg: Option<NaiveDate>,
) -> Vec<Cell> {
    vec![
        Id(p),
        Str(no.into()),
        Str(name.into()),
        Money(value),
        Date(reg),
        opt_date(dereg),
    ]
}
#[allow(missing_docs)]
pub fn medical_expense(p: ResidentId, month: i32, amount: i64) -> Vec<Cell> {
    vec![Id(p), Month(month), Money(amount)]
}
#[allow(missing_docs)]
pub fn incarceration(p: &Person, from: NaiveDate, to: Option<NaiveDate>) -> Vec<Cell> {
    vec![Id(p.id), Str(p.name.clone()), Date(from), opt_date(to)]
}
#[allow(missing_docs)]
pub fn special_care(p: &Person, month: i32, amount: i64) -> Vec<Cell> {
    vec![Id(p.id), Str(p.name.clone()), Month(month), Money(amount)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use hedui_schemas::{FieldType, all_sources};

    /// Every constructor yields one cell per catalog field, of the field's kind, and the index
    /// constants follow the registry.
    #[test]
    fn constructors_follow_the_catalog() {
        let p = Person {
            id: ResidentId::parse("11010519491231002X").unwrap(),
            name: "陈伟".into(),
            birth: NaiveDate::from_ymd_opt(1949, 12, 31).unwrap(),
        };
        let d = p.birth;
        let id = p.id;
        let rows: Vec<(usize, Vec<Cell>)> = vec![
            (
                src::APPLICATIONS,
                application("H1", "dibao", 440100, d, "new", &p, "head", None),
            ),
            (src::HUKOU, hukou(&p, "1", "head", 440100, "active", d)),
            (src::DEATH, death(&p, d)),
            (
                src::VEHICLE,
                vehicle(id, "粤A1", "V", "small_car", d, None, 1),
            ),
            (src::MARRIAGE, marriage(id, id, "marriage", d)),
            (src::CREMATION, cremation(&p, d)),
            (
                src::ASSISTANCE,
                assistance(id, "H", "dibao", 440100, 202601, None, 1),
            ),
            (
                src::SOCIAL_INSURANCE,
                social_insurance(id, "91350100M000100Y43", 202601, 1, 1),
            ),
            (src::PENSION, pension(&p, 202601, "employee", 1)),
            (
                src::UNEMPLOYMENT_BENEFIT,
                unemployment_benefit(id, 202601, 1),
            ),
            (src::EMPLOYMENT, employment(id, "employed", d, None)),
            (src::PROVIDENT_FUND, provident_fund(&p, 202601, 1, None)),
            (
                src::REAL_ESTATE,
                real_estate(&p, "U", "residential", 1, 100, d, None),
            ),
            (
                src::BUSINESS,
                business(id, "C", "N", "company", "shareholder", 1, 0, d, "active", d),
            ),
            (src::TAX, tax(id, 202601, "wage", 1, 0, None)),
            (src::PUBLIC_PAYROLL, public_payroll(&p, "E", 202601, 1)),
            (src::DISABILITY, disability(&p, "visual", 1, d)),
            (src::BANK_DEPOSIT, bank_deposit(&p, "B", "A", 1, d)),
            (src::SECURITIES, securities(id, "A", 1, d)),
            (
                src::COMMERCIAL_INSURANCE,
                commercial_insurance(id, "P", "I", 1, d),
            ),
            (src::INTERNET_FINANCE, internet_finance(id, "P", "A", 1, d)),
            (src::VESSEL, vessel(id, "V", "N", 1, d, None)),
            (src::MEDICAL_EXPENSE, medical_expense(id, 202601, 1)),
            (src::INCARCERATION, incarceration(&p, d, None)),
            (src::SPECIAL_CARE, special_care(&p, 202601, 1)),
        ];
        assert_eq!(rows.len(), src::COUNT);
        for (i, (idx, cells)) in rows.iter().enumerate() {
            assert_eq!(i, *idx);
            let s = all_sources()[*idx];
            assert_eq!(cells.len(), s.fields.len(), "{}", s.id);
            for (c, f) in cells.iter().zip(s.fields) {
                let ok = match (c, f.ty) {
                    (Null, _) => !f.required,
                    (Id(_), FieldType::PersonId) => true,
                    (Str(_), FieldType::Text | FieldType::CreditCode) => true,
                    (Money(_), FieldType::Money) => true,
                    (Date(_), FieldType::Date) => true,
                    (Month(_), FieldType::Month) => true,
                    (Code(v), FieldType::Code(t)) => t.entry(v).is_some(),
                    (Count(_), FieldType::Count) => true,
                    (Area(_), FieldType::Area) => true,
                    (Region(_), FieldType::RegionCode) => true,
                    _ => false,
                };
                assert!(ok, "{}.{}: {c:?}", s.id, f.name);
            }
        }
    }
}
