//! The verification report (核对报告) of one household and the summary page of a batch: what
//! they show, built from a [`BatchView`], and their HTML from the templates beside this file.
//!
//! The same templates serve `hedui report` (standalone files with the stylesheet inlined, which
//! print cleanly and can be sent on) and `hedui serve` (the same page with the decision forms).
//! Every value reaches the HTML through the template engine, which escapes it; resident IDs are
//! masked here, before any template sees them, wherever they appear (member lists, evidence,
//! record keys, sentences).

use std::collections::BTreeSet;

use minijinja::{Environment, Value, context};

use super::batch::BatchView;
use super::labels::Lang;
use crate::{Error, Result};

mod household;
mod simulation;
mod summary;

pub use household::*;
pub use simulation::*;
pub use summary::*;

/// The stylesheet, inlined into standalone reports and served at `/static/app.css`.
pub const CSS: &str = include_str!("../templates/app.css");

/// The templates, parsed once.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads the embedded templates.
    pub fn new() -> Result<Self> {
        let mut env = Environment::new();
        for (name, text) in [
            ("base.html", include_str!("../templates/base.html")),
            ("charts.html", include_str!("../templates/charts.html")),
            ("report.html", include_str!("../templates/report.html")),
            ("summary.html", include_str!("../templates/summary.html")),
            ("index.html", include_str!("../templates/index.html")),
            ("batch.html", include_str!("../templates/batch.html")),
            ("login.html", include_str!("../templates/login.html")),
            ("batches.html", include_str!("../templates/batches.html")),
            (
                "households.html",
                include_str!("../templates/households.html"),
            ),
            ("users.html", include_str!("../templates/users.html")),
            ("assign.html", include_str!("../templates/assign.html")),
            ("access.html", include_str!("../templates/access.html")),
            ("message.html", include_str!("../templates/message.html")),
            (
                "simulation.html",
                include_str!("../templates/simulation.html"),
            ),
        ] {
            env.add_template(name, text).map_err(|e| Error::Template {
                what: "template",
                name: name.to_string(),
                detail: format!("{e:#}"),
            })?;
        }
        Ok(Templates { env })
    }

    /// Renders `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: Value) -> Result<String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| Error::Template {
                what: "rendering",
                name: name.to_string(),
                detail: format!("{e:#}"),
            })
    }
}

/// Masks every resident ID in `text`: runs of 15 or 18 ID characters (digits, a final X)
/// standing alone.
pub fn mask_ids(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_id_char = |c: char| c.is_ascii_digit() || c == 'X' || c == 'x';
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if is_id_char(chars[i]) && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < chars.len() && is_id_char(chars[j]) {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            let alone = j == chars.len() || !chars[j].is_ascii_alphanumeric();
            if alone
                && (run.len() == 18 || run.len() == 15)
                && run[..run.len() - 1].bytes().all(|b| b.is_ascii_digit())
            {
                out.push_str(&hedui_schemas::id::mask_text(&run));
            } else {
                out.push_str(&run);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The context every page shares: the language, its words, the stylesheet mode.
pub fn page(lang: Lang, standalone: bool) -> Value {
    context! {
        lang => lang.code(),
        lang_other => match lang { Lang::Zh => "en", Lang::En => "zh" },
        t => lang.ui(),
        standalone => standalone,
        css => if standalone { CSS } else { "" },
    }
}

/// What `hedui report` wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// Household reports written.
    pub reports: usize,
    /// The summary page (`index.html`).
    pub index: std::path::PathBuf,
}

/// The file a household's report is written to: `<household id>.html` when the id is a plain
/// name (1 to 64 ASCII letters, digits, `-` and `_`, starting with a letter or digit), else
/// `_<n>.html` after the household's position in the batch. A household id is text from a
/// department's export: it never chooses a path (`../x`, `/etc/x`, `a/b`), and the two forms
/// cannot collide (a plain id never starts with `_`).
pub fn report_file_name(n: usize, household_id: &str) -> String {
    let b = household_id.as_bytes();
    let plain = !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_');
    if plain {
        format!("{household_id}.html")
    } else {
        format!("_{n}.html")
    }
}

/// Writes standalone reports into `out`: `index.html` (the summary page with a link to every
/// report written) and a report for each household in `households`, or, when it is empty,
/// for every household that did not PASS, named by [`report_file_name`]. Unknown household
/// ids are an error naming them.
pub fn write_reports(
    batch: &BatchView,
    previous: Option<&BatchView>,
    households: &[String],
    out: &std::path::Path,
    lang: Lang,
) -> Result<Written> {
    let templates = Templates::new()?;
    std::fs::create_dir_all(out).map_err(crate::error::io(out))?;
    let wanted: BTreeSet<usize> = if households.is_empty() {
        (0..batch.entries.len())
            .filter(|&n| batch.entries[n].outcome != "PASS")
            .collect()
    } else {
        let mut set = BTreeSet::new();
        let mut unknown = Vec::new();
        for h in households {
            match batch.find(h) {
                Some(n) => {
                    set.insert(n);
                }
                None => unknown.push(h.as_str()),
            }
        }
        if !unknown.is_empty() {
            return Err(Error::Batch(format!(
                "batch {}: no household {}",
                batch.id(),
                unknown.join(", ")
            )));
        }
        set
    };
    let mut links = Vec::new();
    let mut written = 0;
    batch.for_each_household(
        |n, _| wanted.contains(&n),
        |h| {
            let view = report_view(batch, &h, &[], lang);
            let html = templates.render(
                "report.html",
                context! { r => Value::from(minijinja::value::Serde(&view)), web => false, ..page(lang, true) },
            )?;
            let name = report_file_name(h.n, &h.entry.household_id);
            let path = out.join(&name);
            std::fs::write(&path, html).map_err(crate::error::io(&path))?;
            links.push((
                name,
                h.entry.household_id.clone(),
                lang.region(&batch.policy, h.entry.region),
                lang.programme(&h.entry.programme),
                lang.outcome(&h.entry.outcome),
                h.entry.outcome.clone(),
            ));
            written += 1;
            Ok(())
        },
    )?;
    let summary = summary_view(batch, previous, None, lang);
    let html = templates.render(
        "index.html",
        context! { s => Value::from(minijinja::value::Serde(&summary)), links => links, ..page(lang, true) },
    )?;
    let index = out.join("index.html");
    std::fs::write(&index, html).map_err(crate::error::io(&index))?;
    Ok(Written {
        reports: written,
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_text_are_masked_and_nothing_else_is() {
        assert_eq!(
            mask_ids("成员 11010519491231002X 已死亡（H440100000000038）"),
            "成员 110105********002X 已死亡（H440100000000038）"
        );
        assert_eq!(mask_ids("202605"), "202605");
        assert_eq!(
            mask_ids("amount 1234567890123456789"),
            "amount 1234567890123456789"
        );
        // A 15-digit ID is masked in its 18-digit form.
        assert_eq!(mask_ids("a;110105491231002"), "a;110105********002X");
    }

    #[test]
    fn a_report_is_named_by_a_plain_household_id_or_else_by_its_position() {
        assert_eq!(
            report_file_name(7, "H440100000000038"),
            "H440100000000038.html"
        );
        assert_eq!(report_file_name(7, "hh-1_a"), "hh-1_a.html");
        let long = "H".repeat(65);
        for bad in [
            "../../x",
            "/etc/passwd",
            "a/b",
            "a\\b",
            "",
            ".",
            "..",
            "_7",
            "-rf",
            "a b",
            "户1",
            long.as_str(),
        ] {
            assert_eq!(report_file_name(7, bad), "_7.html", "{bad:?}");
        }
    }

    #[test]
    fn a_chart_scales_bars_to_the_longest_and_keeps_signs() {
        let series = vec![("a".to_string(), "A".to_string())];
        let c = chart(
            "t".into(),
            vec![("x".into(), vec![(0, 10)]), ("y".into(), vec![(0, -5)])],
            &series,
            true,
        );
        assert_eq!(c.bars[0].segments[0].w, BAR_W / 2.0);
        assert_eq!(c.bars[1].segments[0].x, LABEL_W + BAR_W / 2.0 - BAR_W / 4.0);
        assert_eq!(c.bars[0].total, "+10");
        assert_eq!(c.bars[1].total, "-5");
    }
}
