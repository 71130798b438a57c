//! One household's report: its members, findings with their sentences and evidence, the
//! metrics the sums were tested on, the sources read, and the decisions recorded.

use serde::Serialize;

use crate::batch::{BatchView, Household};
use crate::labels::Lang;
use hedui_engine::sentence::{multiple, yuan};

use super::*;

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
pub(super) struct MemberView {
    pub(super) id: String,
    pub(super) relation: String,
    pub(super) counts: bool,
    pub(super) excluded: String,
    pub(super) died_on: Option<String>,
    pub(super) held_from: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct EvidenceView {
    pub(super) source: String,
    pub(super) person: String,
    pub(super) record_key: String,
    pub(super) amount: String,
    pub(super) date: String,
    pub(super) location: String,
    /// For a probable record (its ID did not read; the linkage attributed it to the member):
    /// the ID as delivered (masked), the score and the fields that agreed.
    pub(super) probable: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct FindingView {
    pub(super) index: usize,
    pub(super) rule: String,
    pub(super) rule_label: String,
    pub(super) severity: String,
    pub(super) severity_label: String,
    pub(super) sentence: String,
    pub(super) measured: String,
    pub(super) threshold: String,
    pub(super) reference: String,
    pub(super) standard_from: String,
    pub(super) fingerprint: String,
    pub(super) evidence: Vec<EvidenceView>,
    pub(super) decision: Option<DecisionView>,
}

#[derive(Debug, Serialize)]
pub(super) struct MetricsView {
    pub(super) income: String,
    pub(super) income_per_capita: String,
    pub(super) income_limit: String,
    pub(super) over_line: bool,
    pub(super) assets: String,
    pub(super) asset_limit: String,
    pub(super) over_limit: bool,
    pub(super) standard: String,
    pub(super) multiple: String,
    pub(super) months: i64,
    pub(super) reference: String,
    pub(super) standard_from: String,
}

#[derive(Debug, Serialize)]
pub(super) struct SourceView {
    pub(super) id: String,
    pub(super) label: String,
    pub(super) ok: bool,
    pub(super) accepted: u64,
    pub(super) quarantined: u64,
    pub(super) unverified_here: bool,
}

/// A record whose ID does not read that the linkage attributed to a member of the household:
/// probable, never certain.
#[derive(Debug, Serialize)]
pub(super) struct ProbableView {
    pub(super) person: String,
    pub(super) source: String,
    pub(super) delivered: String,
    pub(super) status: String,
    pub(super) score: String,
    pub(super) agreed: String,
    pub(super) location: String,
}

/// Everything the report template shows.
#[derive(Debug, Serialize)]
pub struct ReportView {
    pub(super) batch_id: String,
    pub(super) as_of: String,
    pub(super) policy: String,
    pub(super) household_id: String,
    pub(super) n: usize,
    pub(super) region: String,
    pub(super) programme: String,
    pub(super) outcome: String,
    pub(super) outcome_label: String,
    pub(super) declared: i64,
    pub(super) counted: i64,
    pub(super) members: Vec<MemberView>,
    pub(super) metrics: Option<MetricsView>,
    pub(super) findings: Vec<FindingView>,
    pub(super) probable: Vec<ProbableView>,
    pub(super) sources: Vec<SourceView>,
    pub(super) unverified: Vec<String>,
}

pub(super) fn value(amount: i64, unit: &str, lang: Lang) -> String {
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
                    probable: x
                        .person_id
                        .as_deref()
                        .and_then(|id| batch.linked.get(id))
                        .and_then(|records| {
                            records.iter().find(|r| {
                                r.status == "linked"
                                    && r.source == x.source
                                    && x.file.as_deref() == Some(r.file.as_str())
                                    && x.line == Some(r.line)
                            })
                        })
                        .map(|r| {
                            let t = lang.ui();
                            format!(
                                "{}: {} {}, {} {}, {} {}",
                                t["probable_record"],
                                t["delivered_id"],
                                hedui_schemas::id::mask_text(&r.delivered_id),
                                t["score"],
                                r.score.map(|s| format!("{s:.1}")).unwrap_or_default(),
                                t["agreed"],
                                r.agreed.replace(',', ", ")
                            )
                        }),
                })
                .collect(),
            decision: decisions.get(i).cloned().flatten(),
        })
        .collect();
    let ui = lang.ui();
    let t = &ui;
    let probable = h
        .members
        .iter()
        .filter_map(|m| {
            Some((
                m.person_id.as_deref()?,
                batch.linked.get(m.person_id.as_deref()?)?,
            ))
        })
        .flat_map(|(id, records)| {
            records.iter().map(move |r| ProbableView {
                person: hedui_schemas::id::mask_text(id),
                source: lang.source(&r.source),
                delivered: hedui_schemas::id::mask_text(&r.delivered_id),
                status: t
                    .get(r.status.as_str())
                    .copied()
                    .unwrap_or(&r.status)
                    .to_string(),
                score: match (r.score, r.second_score) {
                    (Some(s), Some(n)) => format!("{s:.1} ({} {n:.1})", t["runner_up"]),
                    (Some(s), None) => format!("{s:.1}"),
                    _ => String::new(),
                },
                agreed: r.agreed.replace(',', ", "),
                location: format!("{}:{}", r.file, r.line),
            })
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
        probable,
        sources,
        unverified: e
            .unverified_sources
            .iter()
            .map(|s| lang.source(s))
            .collect(),
    }
}
