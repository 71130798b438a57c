//! The registry of input sources: one file per source, one line per source below.
//!
//! To add a source: write `sources/<id>.rs` holding `pub static SOURCE: SourceDef`, add its id
//! to the `registry!` list, and give it a fixture. The tests below fail when the files, the
//! list and the definitions disagree.

use crate::catalog::SourceDef;

/// What every source file needs in scope.
mod prelude {
    pub use crate::catalog::{
        Counts, DateStyle, Encoding, ExportLayout, FieldType::*, Figure, Format, Gate, List,
        MoneyUnit, MonthStyle, Role::*, Shown, SourceDef, Switch, field,
    };
    pub use crate::codes;
}

macro_rules! registry {
    ($($id:ident),* $(,)?) => {
        $(mod $id;)*
        /// Every source id, applications first, then the 24 department sources in order.
        pub const SOURCE_IDS: &[&str] = &[$(stringify!($id)),*];
        static REGISTRY: &[&SourceDef] = &[$(&$id::SOURCE),*];
    };
}

registry! {
    applications,
    hukou,
    death,
    vehicle,
    marriage,
    cremation,
    assistance,
    social_insurance,
    pension,
    unemployment_benefit,
    employment,
    provident_fund,
    real_estate,
    business,
    tax,
    public_payroll,
    disability,
    bank_deposit,
    securities,
    commercial_insurance,
    internet_finance,
    vessel,
    medical_expense,
    incarceration,
    special_care,
}

/// Every source, applications first.
pub fn all_sources() -> &'static [&'static SourceDef] {
    REGISTRY
}

/// The department sources (everything but the applications).
pub fn department_sources() -> impl Iterator<Item = &'static SourceDef> {
    REGISTRY.iter().copied().filter(|s| s.number > 0)
}

/// A source by id.
pub fn source(id: &str) -> Option<&'static SourceDef> {
    REGISTRY.iter().copied().find(|s| s.id == id)
}

#[cfg(test)]
mod tests {
    use crate::catalog::Gate;

    // A source that feeds income names its fields rightly: money for every amount, a code for
    // every gate and record kind, and a period for the window (the engine builds its plans
    // from these names, so a wrong one would fail a batch, not a build).
    #[test]
    fn every_income_source_names_real_fields_of_the_right_kind() {
        let mut n = 0;
        for s in super::all_sources() {
            let Some(c) = s.counts else { continue };
            n += 1;
            let field = |name: &str| {
                s.field(name)
                    .unwrap_or_else(|| panic!("{}: counts names no field {name}", s.id))
            };
            let money = |name: &str| {
                assert!(
                    matches!(field(name).ty, FieldType::Money),
                    "{}.{name}",
                    s.id
                );
            };
            let code = |name: &str| {
                assert!(
                    matches!(field(name).ty, FieldType::Code(_)),
                    "{}.{name}",
                    s.id
                );
            };
            let gate = |g: &Gate| match g {
                Gate::Always | Gate::Switch(_) => {}
                Gate::In(f, _) | Gate::Is(f, _, _) | Gate::InBut(f, _, _) => code(f),
            };
            assert!(s.fields.iter().any(|f| f.role == Role::Period), "{}", s.id);
            gate(&c.rows);
            for f in [&c.wage, &c.added, &c.deducted].into_iter().flatten() {
                money(f.field);
                gate(&f.when);
            }
            if let Some(shown) = &c.evidence {
                money(shown.amount);
                if let Some(k) = shown.kind {
                    code(k);
                }
            }
        }
        // The domain's seven (a department added later joins them).
        assert!(n >= 7, "the sources that feed income");
    }

    use std::collections::HashSet;

    use super::*;
    use crate::catalog::{FieldType, Format, MoneyUnit, Role};

    #[test]
    fn registry_matches_the_files() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sources");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "mod.rs" && n.ends_with(".rs"))
            .map(|n| n.trim_end_matches(".rs").to_string())
            .collect();
        files.sort();
        let mut ids: Vec<String> = SOURCE_IDS.iter().map(|s| s.to_string()).collect();
        ids.sort();
        assert_eq!(
            files, ids,
            "every file under sources/ must be in registry! and back"
        );
    }

    #[test]
    fn definitions_match_the_registry() {
        // The applications and the 24 department sources of domain.md, in their numbers'
        // order; a department added later takes the next number.
        assert!(
            all_sources().len() > 24,
            "applications + 24 department sources"
        );
        for (i, (def, id)) in all_sources().iter().zip(SOURCE_IDS).enumerate() {
            assert_eq!(def.id, *id, "the definition in {id}.rs must carry id {id}");
            assert_eq!(
                def.number as usize, i,
                "{id} is listed out of its number's order"
            );
        }
    }

    #[test]
    fn every_source_is_well_formed() {
        let mut paths = HashSet::new();
        for s in all_sources() {
            let subjects = s.fields.iter().filter(|f| f.role == Role::Subject).count();
            assert_eq!(subjects, 1, "{}: exactly one subject", s.id);
            assert!(matches!(s.subject().ty, FieldType::PersonId), "{}", s.id);
            let mut names = HashSet::new();
            let mut headers = HashSet::new();
            for f in s.fields {
                assert!(names.insert(f.name), "{}: field {} twice", s.id, f.name);
                assert!(
                    headers.insert(f.raw.header),
                    "{}: header {} twice",
                    s.id,
                    f.raw.header
                );
                if matches!(f.ty, FieldType::Money) && s.export.format == Format::Parquet {
                    assert_eq!(
                        f.raw.unit,
                        MoneyUnit::Fen,
                        "{}.{}: Parquet money is fen",
                        s.id,
                        f.name
                    );
                }
                if matches!(f.ty, FieldType::Money) {
                    assert!(
                        f.name.ends_with("_fen"),
                        "{}.{}: money fields end in _fen",
                        s.id,
                        f.name
                    );
                }
            }
            assert!(paths.insert(s.export.path), "{}: export path reused", s.id);
            let schema = s.staged_schema();
            assert!(
                schema.field_with_name("_file").is_ok() && schema.field_with_name("_line").is_ok()
            );
            assert!(
                schema
                    .field_with_name(&format!("{}_key", s.subject().name))
                    .is_ok()
            );
        }
    }

    #[test]
    fn every_format_and_encoding_is_exercised() {
        use crate::catalog::Encoding;
        let has = |f: Format, e: Encoding| {
            all_sources()
                .iter()
                .any(|s| s.export.format == f && (f != Format::Csv || s.export.encoding == e))
        };
        assert!(has(Format::Csv, Encoding::Utf8));
        assert!(has(Format::Csv, Encoding::Gbk));
        assert!(has(Format::Csv, Encoding::Gb18030));
        assert!(has(Format::Parquet, Encoding::Utf8));
        assert!(has(Format::Jsonl, Encoding::Utf8));
    }
}
