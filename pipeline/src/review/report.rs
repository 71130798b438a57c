//! The verification report (核对报告) of one household and the summary page of a batch: what
//! they show, built from a [`BatchView`], and their HTML from the templates beside this file.
//!
//! The same templates serve `hedui report` (standalone files with the stylesheet inlined, which
//! print cleanly and can be sent on) and `hedui serve` (the same page with the decision forms).
//! Every value reaches the HTML through the template engine, which escapes it; resident IDs are
//! masked here, before any template sees them, wherever they appear (member lists, evidence,
//! record keys, sentences).

use std::collections::{BTreeMap, BTreeSet};

use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::batch::{BatchView, Entry, Household};
use super::labels::Lang;
use crate::engine::sentence::{multiple, yuan};
use crate::{Error, Result};

/// The stylesheet, inlined into standalone reports and served at `/static/app.css`.
pub const CSS: &str = include_str!("templates/app.css");

/// The templates, parsed once.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads the embedded templates.
    pub fn new() -> Result<Self> {
        let mut env = Environment::new();
        for (name, text) in [
            ("base.html", include_str!("templates/base.html")),
            ("charts.html", include_str!("templates/charts.html")),
            ("report.html", include_str!("templates/report.html")),
            ("summary.html", include_str!("templates/summary.html")),
            ("index.html", include_str!("templates/index.html")),
            ("batch.html", include_str!("templates/batch.html")),
            ("login.html", include_str!("templates/login.html")),
            ("batches.html", include_str!("templates/batches.html")),
            ("households.html", include_str!("templates/households.html")),
            ("users.html", include_str!("templates/users.html")),
            ("access.html", include_str!("templates/access.html")),
            ("message.html", include_str!("templates/message.html")),
        ] {
            env.add_template(name, text)
                .map_err(|e| Error::Invalid(format!("template {name}: {e:#}")))?;
        }
        Ok(Templates { env })
    }

    /// Renders `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: Value) -> Result<String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| Error::Invalid(format!("rendering {name}: {e:#}")))
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

/// A recorded decision as a report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    /// `confirmed`, `dismissed` or `home_visit`.
    pub code: String,
    /// Its words.
    pub label: String,
    /// The caseworker's reason.
    pub reason: String,
    /// Who.
    pub user: String,
    /// When (UTC, to the second).
    pub at: String,
    /// The batch it was recorded in.
    pub batch_id: String,
    /// Recorded in an earlier batch for the same evidence.
    pub carried: bool,
}

#[derive(Debug, Serialize)]
struct MemberView {
    id: String,
    relation: String,
    counts: bool,
    excluded: String,
    died_on: Option<String>,
    held_from: Option<String>,
}

#[derive(Debug, Serialize)]
struct EvidenceView {
    source: String,
    person: String,
    record_key: String,
    amount: String,
    date: String,
    location: String,
}

#[derive(Debug, Serialize)]
struct FindingView {
    index: usize,
    rule: String,
    rule_label: String,
    severity: String,
    severity_label: String,
    sentence: String,
    measured: String,
    threshold: String,
    reference: String,
    standard_from: String,
    fingerprint: String,
    evidence: Vec<EvidenceView>,
    decision: Option<DecisionView>,
}

#[derive(Debug, Serialize)]
struct MetricsView {
    income: String,
    income_per_capita: String,
    income_limit: String,
    over_line: bool,
    assets: String,
    asset_limit: String,
    over_limit: bool,
    standard: String,
    multiple: String,
    months: i64,
    reference: String,
    standard_from: String,
}

#[derive(Debug, Serialize)]
struct SourceView {
    id: String,
    label: String,
    ok: bool,
    accepted: u64,
    quarantined: u64,
    unverified_here: bool,
}

/// Everything the report template shows.
#[derive(Debug, Serialize)]
pub struct ReportView {
    batch_id: String,
    as_of: String,
    policy: String,
    household_id: String,
    n: usize,
    region: String,
    programme: String,
    outcome: String,
    outcome_label: String,
    declared: i64,
    counted: i64,
    members: Vec<MemberView>,
    metrics: Option<MetricsView>,
    findings: Vec<FindingView>,
    sources: Vec<SourceView>,
    unverified: Vec<String>,
}

fn value(amount: i64, unit: &str, lang: Lang) -> String {
    match (unit, lang) {
        ("fen", Lang::Zh) => format!("{} 元", yuan(amount)),
        ("fen", Lang::En) => format!("{} yuan", yuan(amount)),
        ("records", Lang::Zh) => format!("{amount} 条"),
        ("members", Lang::Zh) => format!("{amount} 人"),
        ("units", Lang::Zh) => format!("{amount} 套"),
        (u, _) => format!("{amount} {u}"),
    }
}

/// Builds the report of `h`; `decisions` gives the decision in force for each finding
/// (by index), if any.
pub fn report_view(
    batch: &BatchView,
    h: &Household,
    decisions: &[Option<DecisionView>],
    lang: Lang,
) -> ReportView {
    let e = &h.entry;
    let members = h
        .members
        .iter()
        .map(|m| MemberView {
            id: m
                .person_id
                .as_deref()
                .or(m.person_id_raw.as_deref())
                .map(hedui_schemas::id::mask_text)
                .unwrap_or_default(),
            relation: m
                .relation
                .as_deref()
                .map(|r| lang.relation(r))
                .unwrap_or_default(),
            counts: m.excluded.is_none(),
            excluded: m
                .excluded
                .as_deref()
                .map(|x| lang.excluded(x))
                .unwrap_or_default(),
            died_on: m.died_on.clone(),
            held_from: m.held_from.clone(),
        })
        .collect();
    let metrics = h.metrics.as_ref().map(|m| {
        let per_capita = if m.counted > 0 && m.months > 0 {
            m.income_fen / (m.counted * m.months)
        } else {
            0
        };
        MetricsView {
            income: yuan(m.income_fen),
            income_per_capita: yuan(per_capita),
            income_limit: m.income_limit_fen.map(yuan).unwrap_or_default(),
            over_line: m.income_limit_fen.is_some_and(|l| m.income_fen > l),
            assets: yuan(m.assets_fen),
            asset_limit: m.asset_limit_fen.map(yuan).unwrap_or_default(),
            over_limit: m.asset_limit_fen.is_some_and(|l| m.assets_fen > l),
            standard: m.standard_fen.map(yuan).unwrap_or_default(),
            multiple: m.multiple_bp.map(multiple).unwrap_or_default(),
            months: m.months,
            reference: m.reference.clone().unwrap_or_default(),
            standard_from: m.standard_from.clone().unwrap_or_default(),
        }
    });
    let findings = h
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| FindingView {
            index: i,
            rule: f.rule.clone(),
            rule_label: lang.rule(&f.rule),
            severity: f.severity.clone(),
            severity_label: lang.outcome(&f.severity),
            sentence: mask_ids(match lang {
                Lang::Zh => &f.sentence_zh,
                Lang::En => &f.sentence_en,
            }),
            measured: value(f.measured, &f.unit, lang),
            threshold: value(f.threshold, &f.unit, lang),
            reference: f.reference.clone().unwrap_or_default(),
            standard_from: f.standard_from.clone().unwrap_or_default(),
            fingerprint: e
                .findings
                .get(i)
                .map(|(_, fp)| fp.clone())
                .unwrap_or_default(),
            evidence: h
                .evidence
                .iter()
                .filter(|x| x.rule == f.rule)
                .map(|x| EvidenceView {
                    source: lang.source(&x.source),
                    person: x
                        .person_id
                        .as_deref()
                        .map(hedui_schemas::id::mask_text)
                        .unwrap_or_default(),
                    record_key: x.record_key.as_deref().map(mask_ids).unwrap_or_default(),
                    amount: x.amount_fen.map(yuan).unwrap_or_default(),
                    date: x.date.clone().unwrap_or_default(),
                    location: match (&x.file, x.line) {
                        (Some(f), Some(l)) => format!("{f}:{l}"),
                        (Some(f), None) => f.clone(),
                        _ => String::new(),
                    },
                })
                .collect(),
            decision: decisions.get(i).cloned().flatten(),
        })
        .collect();
    let sources = batch
        .sources
        .values()
        .filter(|s| s.source != "applications")
        .map(|s| SourceView {
            id: s.source.clone(),
            label: lang.source(&s.source),
            ok: s.staged.is_some(),
            accepted: s.accepted,
            quarantined: s.quarantined,
            unverified_here: e.unverified_sources.contains(&s.source),
        })
        .collect();
    ReportView {
        batch_id: batch.id().to_string(),
        as_of: batch.summary.as_of.to_string(),
        policy: batch.summary.policy.clone(),
        household_id: e.household_id.clone(),
        n: h.n,
        region: format!("{} ({})", lang.region(&batch.policy, e.region), e.region),
        programme: lang.programme(&e.programme),
        outcome: e.outcome.clone(),
        outcome_label: lang.outcome(&e.outcome),
        declared: e.declared,
        counted: e.counted,
        members,
        metrics,
        findings,
        sources,
        unverified: e
            .unverified_sources
            .iter()
            .map(|s| lang.source(s))
            .collect(),
    }
}

/// One bar segment of a chart (geometry in the SVG's own units).
#[derive(Debug, Clone, Serialize)]
pub struct Segment {
    x: f64,
    w: f64,
    class: String,
    title: String,
}

/// One bar.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    label: String,
    y: f64,
    total: String,
    total_x: f64,
    segments: Vec<Segment>,
}

/// A horizontal bar chart, stacked when a bar has several segments.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    title: String,
    height: f64,
    bars: Vec<Bar>,
    legend: Vec<(String, String)>,
}

const LABEL_W: f64 = 190.0;
const BAR_W: f64 = 360.0;
const ROW_H: f64 = 22.0;

/// Builds a chart: per bar a label and its parts `(series, value)`; `series` names the
/// legend entry and the CSS class.
fn chart(
    title: String,
    rows: Vec<(String, Vec<(usize, i64)>)>,
    series: &[(String, String)],
    signed: bool,
) -> Chart {
    let max = rows
        .iter()
        .map(|(_, parts)| parts.iter().map(|(_, v)| v.abs()).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let zero = if signed {
        LABEL_W + BAR_W / 2.0
    } else {
        LABEL_W
    };
    let scale = if signed {
        BAR_W / 2.0 / max
    } else {
        BAR_W / max
    };
    let bars = rows
        .into_iter()
        .enumerate()
        .map(|(i, (label, parts))| {
            let y = 4.0 + i as f64 * ROW_H;
            let mut x = zero;
            let mut total = 0i64;
            let segments = parts
                .iter()
                .filter(|(_, v)| *v != 0)
                .map(|&(s, v)| {
                    total += v;
                    let w = v.abs() as f64 * scale;
                    let seg_x = if v < 0 { zero - w } else { x };
                    if v >= 0 {
                        x += w;
                    }
                    Segment {
                        x: seg_x,
                        w: w.max(0.5),
                        class: series[s].0.clone(),
                        title: format!("{label} · {}: {v}", series[s].1),
                    }
                })
                .collect();
            Bar {
                label,
                y,
                total: if signed && total > 0 {
                    format!("+{total}")
                } else {
                    total.to_string()
                },
                total_x: x.max(zero) + 4.0,
                segments,
            }
        })
        .collect::<Vec<_>>();
    Chart {
        title,
        height: 8.0 + bars.len() as f64 * ROW_H,
        bars,
        legend: series.to_vec(),
    }
}

/// Which regions a viewer may see (`None`: all).
pub type Scope<'a> = Option<&'a BTreeSet<i32>>;

fn in_scope(scope: Scope<'_>, region: i32) -> bool {
    scope.is_none_or(|s| s.contains(&region))
}

const OUTCOMES: [&str; 4] = ["FLAG", "REVIEW", "UNVERIFIED", "PASS"];

#[derive(Debug, Default)]
struct Counts {
    outcomes: BTreeMap<(i32, String), [i64; 4]>,
    totals: [i64; 4],
    rules: BTreeMap<String, i64>,
    households: i64,
}

fn counts(entries: &[Entry], scope: Scope<'_>) -> Counts {
    let mut c = Counts::default();
    for e in entries.iter().filter(|e| in_scope(scope, e.region)) {
        let k = OUTCOMES.iter().position(|o| *o == e.outcome).unwrap_or(3);
        c.outcomes
            .entry((e.region, e.programme.clone()))
            .or_default()[k] += 1;
        c.totals[k] += 1;
        c.households += 1;
        let rules: BTreeSet<&str> = e.findings.iter().map(|(r, _)| r.as_str()).collect();
        for r in rules {
            *c.rules.entry(r.to_string()).or_default() += 1;
        }
    }
    c
}

#[derive(Debug, Serialize)]
struct ChangeView {
    previous: String,
    rows: Vec<(String, i64, i64, String)>,
    chart: Chart,
}

/// Everything the summary template shows.
#[derive(Debug, Serialize)]
pub struct SummaryView {
    batch_id: String,
    as_of: String,
    policy: String,
    households: i64,
    totals: Vec<(String, String, i64)>,
    scoped: bool,
    outcomes: Chart,
    findings: Chart,
    quarantine: Chart,
    change: Option<ChangeView>,
    failed_sources: Vec<String>,
}

/// Builds the summary page of `batch` as `scope` may see it, with the change since
/// `previous` when there is one.
pub fn summary_view(
    batch: &BatchView,
    previous: Option<&BatchView>,
    scope: Scope<'_>,
    lang: Lang,
) -> SummaryView {
    let now = counts(&batch.entries, scope);
    let outcome_series: Vec<(String, String)> = OUTCOMES
        .iter()
        .map(|o| (format!("o-{o}"), lang.outcome(o)))
        .collect();
    let outcomes = chart(
        lang.ui()["charts_outcomes"].to_string(),
        now.outcomes
            .iter()
            .map(|((region, programme), n)| {
                (
                    format!(
                        "{} · {}",
                        lang.region(&batch.policy, *region),
                        lang.programme(programme)
                    ),
                    n.iter().enumerate().map(|(k, v)| (k, *v)).collect(),
                )
            })
            .collect(),
        &outcome_series,
        false,
    );
    let rule_series = vec![("o-FLAG".to_string(), lang.ui()["households"].to_string())];
    let findings = chart(
        lang.ui()["charts_findings"].to_string(),
        hedui_schemas::Rule::ALL
            .iter()
            .map(|r| {
                (
                    lang.rule(r.id()),
                    vec![(0, now.rules.get(r.id()).copied().unwrap_or(0))],
                )
            })
            .collect(),
        &rule_series,
        false,
    );
    let reasons: BTreeSet<&str> = batch
        .sources
        .values()
        .flat_map(|s| s.by_reason.keys().map(String::as_str))
        .collect();
    let reasons: Vec<&str> = reasons.into_iter().collect();
    let reason_series: Vec<(String, String)> = reasons
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("c{}", i % 10), lang.reason(r)))
        .collect();
    let quarantine = chart(
        format!(
            "{} ({})",
            lang.ui()["charts_quarantine"],
            lang.ui()["province"]
        ),
        batch
            .sources
            .values()
            .map(|s| {
                (
                    lang.source(&s.source),
                    reasons
                        .iter()
                        .enumerate()
                        .map(|(i, r)| (i, s.by_reason.get(*r).copied().unwrap_or(0) as i64))
                        .collect(),
                )
            })
            .collect(),
        &reason_series,
        false,
    );
    let change = previous.map(|p| {
        let before = counts(&p.entries, scope);
        let (mut newly, mut cleared, mut added, mut gone) = (0, 0, 0, 0);
        let (a, b) = (&p.entries, &batch.entries);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let ord = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => x.household_id.cmp(&y.household_id),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match ord {
                std::cmp::Ordering::Less => {
                    gone += i64::from(in_scope(scope, a[i].region));
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    if in_scope(scope, b[j].region) {
                        added += 1;
                        newly += i64::from(b[j].outcome == "FLAG");
                    }
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    if in_scope(scope, b[j].region) {
                        let (was, is) = (a[i].outcome == "FLAG", b[j].outcome == "FLAG");
                        newly += i64::from(is && !was);
                        cleared += i64::from(was && !is);
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        let mut rows: Vec<(String, i64, i64, String)> = OUTCOMES
            .iter()
            .enumerate()
            .map(|(k, o)| {
                (
                    lang.outcome(o),
                    before.totals[k],
                    now.totals[k],
                    String::new(),
                )
            })
            .collect();
        for r in hedui_schemas::Rule::ALL {
            let (x, y) = (
                before.rules.get(r.id()).copied().unwrap_or(0),
                now.rules.get(r.id()).copied().unwrap_or(0),
            );
            rows.push((lang.rule(r.id()), x, y, String::new()));
        }
        for row in &mut rows {
            let d = row.2 - row.1;
            row.3 = if d > 0 {
                format!("+{d}")
            } else {
                d.to_string()
            };
        }
        let t = lang.ui();
        let series = vec![
            ("o-FLAG".to_string(), t["newly_flagged"].to_string()),
            ("o-PASS".to_string(), t["cleared"].to_string()),
            ("c3".to_string(), t["new_households"].to_string()),
            ("c7".to_string(), t["gone_households"].to_string()),
        ];
        ChangeView {
            previous: p.id().to_string(),
            rows,
            chart: chart(
                t["charts_change"].to_string(),
                vec![
                    (t["newly_flagged"].to_string(), vec![(0, newly)]),
                    (t["cleared"].to_string(), vec![(1, -cleared)]),
                    (t["new_households"].to_string(), vec![(2, added)]),
                    (t["gone_households"].to_string(), vec![(3, -gone)]),
                ],
                &series,
                true,
            ),
        }
    });
    SummaryView {
        batch_id: batch.id().to_string(),
        as_of: batch.summary.as_of.to_string(),
        policy: batch.summary.policy.clone(),
        households: now.households,
        totals: OUTCOMES
            .iter()
            .enumerate()
            .map(|(k, o)| (o.to_string(), lang.outcome(o), now.totals[k]))
            .collect(),
        scoped: scope.is_some(),
        outcomes,
        findings,
        quarantine,
        change,
        failed_sources: batch
            .summary
            .failed_sources
            .iter()
            .map(|s| lang.source(s))
            .collect(),
    }
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

/// Writes standalone reports into `out`: `index.html` (the summary page with a link to every
/// report written) and `<household id>.html` for each household in `households`, or, when it
/// is empty, for every household that did not PASS. Unknown household ids are an error naming
/// them.
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
            return Err(Error::Invalid(format!(
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
            let name = format!("{}.html", h.entry.household_id);
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
