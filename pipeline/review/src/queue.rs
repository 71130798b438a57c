//! The review queue's bookkeeping: which caseworker answers for which household
//! (assignments, by region or hand-picked, made by an admin in the app or with `hedui
//! assign`), when each household's review is due (its application date plus the policy's
//! `review_working_days`, past its `review_holidays`), and how many households each caseworker has
//! open. Assignments and due dates are the household's, kept in the review database, so they
//! carry from one batch to the next as decisions do.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use crate::batch::{BatchView, Entry};
use crate::store::{Decision, Store};
use crate::{Error, Result};

/// Today in China (UTC+8): what "overdue" is measured against.
pub fn today() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

/// The households of `view` a caseworker must review: every one but PASS.
pub fn in_queue(e: &Entry) -> bool {
    e.outcome != "PASS"
}

/// `(household, applied, due)` of every household in the queue whose application date is
/// known, under the batch's policy's `review_working_days` (none without it).
pub fn due_rows(view: &BatchView) -> Vec<(String, NaiveDate, NaiveDate)> {
    let Some(review) = &view.policy.review else {
        return Vec::new();
    };
    view.entries
        .iter()
        .filter(|e| in_queue(e))
        .filter_map(|e| Some((e.household_id.clone(), e.applied?, review.due(e.applied?))))
        .collect()
}

/// Records the due dates of `view`'s queue (a household keeps the one it was first given for
/// its application) and returns every household's.
pub fn carry_due_dates(store: &Store, view: &BatchView) -> Result<HashMap<String, NaiveDate>> {
    store.carry_due_dates(&due_rows(view), view.id())
}

/// The households of `view` an assignment names: the queue's households registered in
/// `region` (a city takes its counties'), and the ids listed, each of which must be in the
/// batch. Sorted, each once.
pub fn select(view: &BatchView, region: Option<i32>, ids: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    if let Some(r) = region {
        let within = std::collections::BTreeSet::from([r]);
        out.extend(
            view.entries
                .iter()
                .filter(|e| in_queue(e) && hedui_schemas::policy::Policy::within(&within, e.region))
                .map(|e| e.household_id.clone()),
        );
    }
    let unknown: Vec<&String> = ids.iter().filter(|id| view.find(id).is_none()).collect();
    if !unknown.is_empty() {
        return Err(Error::Refused(format!(
            "not households of batch {}: {}",
            view.id(),
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    out.extend(ids.iter().cloned());
    out.sort();
    out.dedup();
    Ok(out)
}

/// The households of `chosen` a caseworker of `regions` may not see (none when `regions` is
/// empty: no caseworker has that).
pub fn outside(
    view: &BatchView,
    chosen: &[String],
    regions: &std::collections::BTreeSet<i32>,
) -> Vec<String> {
    chosen
        .iter()
        .filter(|h| {
            view.find(h).is_some_and(|n| {
                !hedui_schemas::policy::Policy::within(regions, view.entries[n].region)
            })
        })
        .cloned()
        .collect()
}

/// Assigns `chosen` households of `view` to caseworker `user` in `store`, as `by` did: refused
/// for a household outside the caseworker's regions (they could not open it). The number
/// assigned.
pub fn assign(
    store: &Store,
    view: &BatchView,
    chosen: &[String],
    user: &str,
    by: &str,
) -> Result<usize> {
    if let Some(u) = store
        .users()?
        .into_iter()
        .find(|u| u.name == user && u.role == crate::store::Role::Caseworker)
    {
        let out = outside(view, chosen, &u.regions);
        if !out.is_empty() {
            return Err(Error::Refused(format!(
                "{user}'s regions do not include: {}",
                out.join(", ")
            )));
        }
    }
    store.assign(chosen, user, by, view.id())
}

/// Whether a household's findings are not all decided.
pub fn is_open(e: &Entry, decisions: &HashMap<(String, String, String), Decision>) -> bool {
    e.findings.iter().any(|(rule, fp)| {
        !decisions.contains_key(&(e.household_id.clone(), rule.clone(), fp.clone()))
    })
}

/// Per caseworker: households of `view` assigned to them that are open (in the queue, not
/// every finding decided), and of those the overdue.
pub fn open_counts(
    view: &BatchView,
    assignments: &HashMap<String, String>,
    decisions: &HashMap<(String, String, String), Decision>,
    due: &HashMap<String, NaiveDate>,
    today: NaiveDate,
) -> BTreeMap<String, (u64, u64)> {
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for e in view.entries.iter().filter(|e| in_queue(e)) {
        let Some(user) = assignments.get(&e.household_id) else {
            continue;
        };
        if !is_open(e, decisions) {
            continue;
        }
        let c = out.entry(user.clone()).or_default();
        c.0 += 1;
        if due.get(&e.household_id).is_some_and(|d| *d < today) {
            c.1 += 1;
        }
    }
    out
}
