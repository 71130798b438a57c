//! The batch summary: outcomes by region and programme, findings by rule and quarantine by
//! source, as tables and bar charts, and the changes from the batch before.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::batch::{BatchView, Entry};
use crate::labels::Lang;

/// One bar segment of a chart (geometry in the SVG's own units).
#[derive(Debug, Clone, Serialize)]
pub struct Segment {
    pub(super) x: f64,
    pub(super) w: f64,
    pub(super) class: String,
    pub(super) title: String,
}

/// One bar.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub(super) label: String,
    pub(super) y: f64,
    pub(super) total: String,
    pub(super) total_x: f64,
    pub(super) segments: Vec<Segment>,
}

/// A horizontal bar chart, stacked when a bar has several segments.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub(super) title: String,
    pub(super) height: f64,
    pub(super) bars: Vec<Bar>,
    pub(super) legend: Vec<(String, String)>,
}

pub(super) const LABEL_W: f64 = 190.0;
pub(super) const BAR_W: f64 = 360.0;
pub(super) const ROW_H: f64 = 22.0;

/// Builds a chart: per bar a label and its parts `(series, value)`; `series` names the
/// legend entry and the CSS class.
pub(super) fn chart(
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

pub(super) fn in_scope(scope: Scope<'_>, region: i32) -> bool {
    scope.is_none_or(|s| hedui_schemas::policy::Policy::within(s, region))
}

pub(super) const OUTCOMES: [&str; 4] = ["FLAG", "REVIEW", "UNVERIFIED", "PASS"];

#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) outcomes: BTreeMap<(i32, String), [i64; 4]>,
    pub(super) totals: [i64; 4],
    pub(super) rules: BTreeMap<String, i64>,
    pub(super) households: i64,
}

pub(super) fn counts(entries: &[Entry], scope: Scope<'_>) -> Counts {
    let mut c = Counts::default();
    for e in entries.iter().filter(|e| in_scope(scope, e.region)) {
        let k = OUTCOMES.iter().position(|o| *o == e.outcome).unwrap_or(3);
        // By city: a county's households count with its city's (a city has a dozen).
        c.outcomes
            .entry((e.region / 100 * 100, e.programme.clone()))
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
pub(super) struct ChangeView {
    pub(super) previous: String,
    pub(super) rows: Vec<(String, i64, i64, String)>,
    pub(super) chart: Chart,
}

/// The linkage of records whose subject's ID does not read: per source linked, ambiguous,
/// unlinked; the best scores; the weights.
#[derive(Debug, Serialize)]
pub(super) struct LinkageView {
    pub(super) by_source: Chart,
    pub(super) scores: Chart,
    pub(super) how: String,
    pub(super) settings: String,
    /// Per field: name, m, u, weight if it agrees, if not (bits), as text.
    pub(super) weights: Vec<[String; 5]>,
}

fn linkage_view(report: &hedui_engine::link::LinkageReport, lang: Lang) -> LinkageView {
    let t = lang.ui();
    let status = ["linked", "ambiguous", "unlinked"];
    let series: Vec<(String, String)> = status
        .iter()
        .zip(["o-PASS", "o-REVIEW", "o-UNVERIFIED"])
        .map(|(s, class)| (class.to_string(), t[*s].to_string()))
        .collect();
    let by_source = chart(
        t["charts_linkage"].to_string(),
        report
            .sources
            .iter()
            .map(|(src, c)| {
                (
                    lang.source(src),
                    vec![
                        (0, c.linked as i64),
                        (1, c.ambiguous as i64),
                        (2, c.unlinked as i64),
                    ],
                )
            })
            .collect(),
        &series,
        false,
    );
    // One bar per whole bit of score, stacked by status.
    let bins: BTreeSet<i64> = report
        .best_score_bits
        .values()
        .flat_map(|h| h.keys().copied())
        .collect();
    let scores = chart(
        t["charts_linkage_scores"].to_string(),
        bins.iter()
            .map(|b| {
                (
                    format!("{b} – {}", b + 1),
                    status
                        .iter()
                        .enumerate()
                        .map(|(k, s)| {
                            let n = report
                                .best_score_bits
                                .get(*s)
                                .and_then(|h| h.get(b))
                                .copied()
                                .unwrap_or(0);
                            (k, n as i64)
                        })
                        .collect(),
                )
            })
            .collect(),
        &series,
        false,
    );
    let m = &report.model;
    let weights = report
        .fields
        .iter()
        .map(|f| {
            let v = |map: &BTreeMap<String, f64>| map.get(f).copied().unwrap_or(f64::NAN);
            [
                f.clone(),
                format!("{:.4}", v(&m.m)),
                format!("{:.4}", v(&m.u)),
                format!("{:+.2}", v(&m.weight_if_agrees)),
                format!("{:+.2}", v(&m.weight_if_disagrees)),
            ]
        })
        .collect();
    LinkageView {
        by_source,
        scores,
        how: format!(
            "{} ({} {}, {} {}, λ = {:.4})",
            m.weights,
            m.candidate_pairs,
            t["candidate_pairs"],
            m.random_pairs,
            t["random_pairs"],
            m.lambda
        ),
        settings: format!(
            "{} {} · {} {}",
            t["min_weight_bits"], report.min_weight_bits, t["margin_bits"], report.margin_bits
        ),
        weights,
    }
}

/// Everything the summary template shows.
#[derive(Debug, Serialize)]
pub struct SummaryView {
    pub(super) batch_id: String,
    pub(super) as_of: String,
    pub(super) policy: String,
    pub(super) households: i64,
    pub(super) totals: Vec<(String, String, i64)>,
    pub(super) scoped: bool,
    pub(super) outcomes: Chart,
    pub(super) findings: Chart,
    pub(super) quarantine: Chart,
    pub(super) linkage: Option<LinkageView>,
    pub(super) change: Option<ChangeView>,
    pub(super) failed_sources: Vec<String>,
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
    let linkage = batch.linkage.as_ref().map(|r| linkage_view(r, lang));
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
        linkage,
        change,
        failed_sources: batch
            .summary
            .failed_sources
            .iter()
            .map(|s| lang.source(s))
            .collect(),
    }
}
