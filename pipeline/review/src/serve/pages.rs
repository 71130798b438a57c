//! The review pages: the batches, a batch's households (filtered, paged, by region for a
//! caseworker), one household with its findings and evidence, decisions, the access log.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Form, Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::Result;
use crate::batch::{self, BatchView};
use crate::report::{self, DecisionView};
use crate::store::{self, Decision, Role};

use super::*;

pub(super) async fn batches(State(app): State<Arc<App>>, v: Viewer) -> Result<Response, AppError> {
    let root = app.root.clone();
    let ids = tokio::task::spawn_blocking(move || batch::list(&root))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let mut rows = Vec::new();
    for id in ids {
        let path = app.root.join(&id).join("summary.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(s) = serde_json::from_str::<hedui_schemas::batch::Summary>(&text) else {
            continue;
        };
        rows.push(context! { id => id, as_of => s.as_of.to_string(), households => s.households });
    }
    Ok(app
        .render("batches.html", context! { batches => rows, ..v.page() })?
        .into_response())
}

pub(super) async fn batch_summary(
    State(app): State<Arc<App>>,
    v: Viewer,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, AppError> {
    let b = app.batch(&id).await?;
    let prev = app.previous(&b).await?;
    let view = report::summary_view(&b, prev.as_deref(), v.scope(), v.lang);
    let can_list = v.require_households().is_ok();
    // Each caseworker's open households in this batch (a caseworker sees their own).
    let (assignments, decisions, due) = app
        .db(|s| Ok((s.assignments()?, s.all_decisions()?, s.due_dates()?)))
        .await?;
    let open_counts: Vec<(String, u64, u64)> =
        crate::queue::open_counts(&b, &assignments, &decisions, &due, crate::queue::today())
            .into_iter()
            .filter(|(user, _)| v.user.role != Role::Caseworker || *user == v.user.name)
            .map(|(user, (open, late))| (user, open, late))
            .collect();
    Ok(app
        .render(
            "batch.html",
            context! {
                s => Value::from(minijinja::value::Serde(&view)),
                can_list => can_list,
                open_counts => open_counts,
                is_caseworker => v.user.role == Role::Caseworker,
                ..v.page()
            },
        )?
        .into_response())
}

#[derive(Deserialize, Default)]
pub(super) struct Filters {
    #[serde(default)]
    pub(super) programme: String,
    #[serde(default)]
    pub(super) rule: String,
    #[serde(default)]
    pub(super) outcome: String,
    #[serde(default)]
    pub(super) region: String,
    #[serde(default)]
    pub(super) undecided: String,
    /// Only the households assigned to the viewer ("my queue").
    #[serde(default)]
    pub(super) mine: String,
    #[serde(default)]
    pub(super) page: Option<usize>,
}

impl Filters {
    pub(super) fn query(&self, page: usize) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("programme", &self.programme),
            ("rule", &self.rule),
            ("outcome", &self.outcome),
            ("region", &self.region),
            ("undecided", &self.undecided),
            ("mine", &self.mine),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.append_pair("page", &page.to_string());
        q.finish()
    }
}

pub(super) async fn households(
    State(app): State<Arc<App>>,
    v: Viewer,
    UrlPath(id): UrlPath<String>,
    Query(f): Query<Filters>,
) -> Result<Response, AppError> {
    v.require_households()?;
    let b = app.batch(&id).await?;
    let (decisions, assignments, due) = app
        .db(|s| Ok((s.all_decisions()?, s.assignments()?, s.due_dates()?)))
        .await?;
    let today = crate::queue::today();
    let region: Option<i32> = match f.region.as_str() {
        "" => None,
        r => Some(
            r.parse()
                .map_err(|_| AppError::BadRequest("region".into()))?,
        ),
    };
    let decided = |e: &batch::Entry| -> (usize, Option<&Decision>) {
        let mut n = 0;
        let mut last: Option<&Decision> = None;
        for (rule, fp) in &e.findings {
            if let Some(d) = decisions.get(&(e.household_id.clone(), rule.clone(), fp.clone())) {
                n += 1;
                if last.is_none_or(|l| d.at > l.at) {
                    last = Some(d);
                }
            }
        }
        (n, last)
    };
    let matching: Vec<usize> = (0..b.entries.len())
        .filter(|&n| {
            let e = &b.entries[n];
            v.may_see(e.region)
                && region.is_none_or(|r| {
                    hedui_schemas::policy::Policy::within(&BTreeSet::from([r]), e.region)
                })
                && (f.programme.is_empty() || f.programme == e.programme)
                && (if f.outcome.is_empty() {
                    e.outcome != "PASS"
                } else {
                    f.outcome == e.outcome
                })
                && (f.rule.is_empty() || e.findings.iter().any(|(r, _)| *r == f.rule))
                && (f.undecided.is_empty() || decided(e).0 < e.findings.len())
                && (f.mine.is_empty() || assignments.get(&e.household_id) == Some(&v.user.name))
        })
        .collect();
    // The queue's order: FLAG before REVIEW, the furthest over its line first.
    let mut matching = matching;
    matching.sort_by(|&x, &y| b.entries[x].queue_key().cmp(&b.entries[y].queue_key()));
    let pages = matching.len().div_ceil(PAGE).max(1);
    let page = f.page.unwrap_or(1).clamp(1, pages);
    // Every household id the page shows goes into the access log, before the page is sent.
    let shown: Vec<String> = matching
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(|&n| b.entries[n].household_id.clone())
        .collect();
    if !shown.is_empty() {
        let (user, batch_id) = (v.user.name.clone(), b.id().to_string());
        app.db(move |s| {
            let ids: Vec<&str> = shown.iter().map(String::as_str).collect();
            s.append_access(&user, &batch_id, &ids, "list")
        })
        .await?;
    }
    let rows: Vec<Value> = matching
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(|&n| {
            let e = &b.entries[n];
            let (done, last) = decided(e);
            let rules: BTreeSet<&str> = e.findings.iter().map(|(r, _)| r.as_str()).collect();
            context! {
                n => n,
                household_id => e.household_id.clone(),
                region => v.lang.region(&b.policy, e.region),
                programme => v.lang.programme(&e.programme),
                outcome => e.outcome.clone(),
                outcome_label => v.lang.outcome(&e.outcome),
                excess => e.excess(),
                due => due.get(&e.household_id).map(|d| d.to_string()),
                overdue => crate::queue::in_queue(e)
                    && crate::queue::is_open(e, &decisions)
                    && due.get(&e.household_id).is_some_and(|d| *d < today),
                assignee => assignments.get(&e.household_id).cloned(),
                rules => rules.iter().map(|r| v.lang.rule(r)).collect::<Vec<_>>(),
                findings => e.findings.len(),
                decided => done,
                last_decision => last.map(|d| v.lang.decision(&d.decision)),
            }
        })
        .collect();
    let link = |p: usize| format!("/batches/{}/households?{}", b.id(), f.query(p));
    // The cities and counties of the batch's households the viewer may see.
    let visible_regions: Vec<(String, String)> = b
        .entries
        .iter()
        .filter(|e| v.may_see(e.region))
        .flat_map(|e| [e.region / 100 * 100, e.region])
        .collect::<BTreeSet<i32>>()
        .into_iter()
        .map(|r| (r.to_string(), v.lang.region(&b.policy, r)))
        .collect();
    let ctx = context! {
        batch_id => b.id(),
        scoped => v.scope().is_some(),
        total => matching.len(),
        rows => rows,
        page => page,
        pages => pages,
        prev_page => (page > 1).then(|| link(page - 1)),
        next_page => (page < pages).then(|| link(page + 1)),
        f => context! {
            programme => f.programme.clone(),
            rule => f.rule.clone(),
            outcome => f.outcome.clone(),
            region => f.region.clone(),
            undecided => !f.undecided.is_empty(),
            mine => !f.mine.is_empty(),
        },
        is_caseworker => v.user.role == Role::Caseworker,
        mine_link => format!("/batches/{}/households?mine=1", b.id()),
        all_link => format!("/batches/{}/households", b.id()),
        programmes => ["dibao", "low_income", "tekun"].iter().map(|p| (p.to_string(), v.lang.programme(p))).collect::<Vec<_>>(),
        rules => hedui_schemas::Rule::ALL.iter().map(|r| (r.id().to_string(), v.lang.rule(r.id()))).collect::<Vec<_>>(),
        outcomes => ["FLAG", "REVIEW", "UNVERIFIED", "PASS"].iter().map(|o| (o.to_string(), v.lang.outcome(o))).collect::<Vec<_>>(),
        regions => visible_regions,
        ..v.page()
    };
    Ok(app.render("households.html", ctx)?.into_response())
}

/// The household at position `n` of batch `id`, if the viewer may see it.
pub(super) async fn visible_household(
    app: &Arc<App>,
    v: &Viewer,
    id: &str,
    n: &str,
) -> Result<(Arc<BatchView>, usize), AppError> {
    v.require_households()?;
    let b = app.batch(id).await?;
    let n: usize = n.parse().map_err(|_| AppError::NotFound)?;
    let e = b.entries.get(n).ok_or(AppError::NotFound)?;
    if !v.may_see(e.region) {
        tracing::warn!(
            user = v.user.name,
            "household outside the user's regions refused"
        );
        return Err(AppError::Forbidden);
    }
    Ok((b, n))
}

pub(super) async fn household(
    State(app): State<Arc<App>>,
    v: Viewer,
    UrlPath((id, n)): UrlPath<(String, String)>,
) -> Result<Response, AppError> {
    let (b, n) = visible_household(&app, &v, &id, &n).await?;
    let bb = b.clone();
    let h = tokio::task::spawn_blocking(move || bb.household(n))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let (user, batch_id, hid, findings) = (
        v.user.name.clone(),
        b.id().to_string(),
        h.entry.household_id.clone(),
        h.entry.findings.clone(),
    );
    let decisions = app
        .db(move |s| {
            s.log_access(&user, &batch_id, &hid, "view")?;
            s.decisions_for(&hid, &findings)
        })
        .await?;
    let decisions: Vec<Option<DecisionView>> = decisions
        .into_iter()
        .map(|d| {
            d.map(|d| DecisionView {
                label: v.lang.decision(&d.decision),
                carried: d.batch_id != b.id(),
                code: d.decision,
                reason: d.reason,
                user: d.user,
                at: d.at,
                batch_id: d.batch_id,
            })
        })
        .collect();
    let view = report::report_view(&b, &h, &decisions, v.lang);
    let ctx = context! {
        r => Value::from(minijinja::value::Serde(&view)),
        web => true,
        can_decide => v.user.role == Role::Caseworker,
        decisions => store::DECISIONS.iter().map(|d| (d.to_string(), v.lang.decision(d))).collect::<Vec<_>>(),
        ..v.page()
    };
    Ok(app.render("report.html", ctx)?.into_response())
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    pub(super) csrf: String,
    pub(super) finding: usize,
    pub(super) fingerprint: String,
    pub(super) decision: String,
    pub(super) reason: String,
}

pub(super) async fn decide(
    State(app): State<Arc<App>>,
    v: Viewer,
    UrlPath((id, n)): UrlPath<(String, String)>,
    Form(f): Form<DecisionForm>,
) -> Result<Response, AppError> {
    v.check_csrf(&f.csrf)?;
    v.require(&[Role::Caseworker])?;
    let (b, n) = visible_household(&app, &v, &id, &n).await?;
    let e = &b.entries[n];
    let (rule, fp) = e
        .findings
        .get(f.finding)
        .ok_or_else(|| AppError::BadRequest("no such finding".into()))?;
    if *fp != f.fingerprint {
        return Err(AppError::BadRequest(
            "the finding's evidence changed".into(),
        ));
    }
    if !store::DECISIONS.contains(&f.decision.as_str()) {
        return Err(AppError::BadRequest("unknown decision".into()));
    }
    let reason = f.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(AppError::BadRequest("a reason of 1-2000 characters".into()));
    }
    let d = Decision {
        household_id: e.household_id.clone(),
        rule: rule.clone(),
        fingerprint: fp.clone(),
        decision: f.decision.clone(),
        reason,
        user: v.user.name.clone(),
        batch_id: b.id().to_string(),
        at: String::new(),
    };
    app.db(move |s| {
        s.decide(&d)?;
        s.log_access(
            &d.user,
            &d.batch_id,
            &d.household_id,
            &format!("decide:{}", d.decision),
        )
    })
    .await?;
    Ok(Redirect::to(&format!(
        "/batches/{}/households/{n}#finding-{}",
        b.id(),
        f.finding
    ))
    .into_response())
}

#[derive(Deserialize)]
pub(super) struct AccessQuery {
    #[serde(default)]
    pub(super) household: Option<String>,
}

pub(super) async fn access_log(
    State(app): State<Arc<App>>,
    v: Viewer,
    Query(q): Query<AccessQuery>,
) -> Result<Response, AppError> {
    v.require(&[Role::Auditor, Role::Admin])?;
    let rows = app
        .db(move |s| s.access_log(q.household.as_deref().filter(|h| !h.is_empty()), 1000))
        .await?;
    Ok(app
        .render(
            "access.html",
            context! { rows => Value::from(minijinja::value::Serde(&rows)), ..v.page() },
        )?
        .into_response())
}
