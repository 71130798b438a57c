//! User administration (admins only): list, add, disable.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::Result;
use crate::store::Role;

use super::*;

pub(super) async fn users_page(
    app: &Arc<App>,
    v: &Viewer,
    error: Option<String>,
) -> Result<Response, AppError> {
    let users = app.db(|s| s.users()).await?;
    let rows: Vec<Value> = users
        .iter()
        .map(|u| {
            context! {
                name => u.name.clone(),
                role_label => v.lang.role(u.role.as_str()),
                regions => u.regions.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(","),
                disabled => u.disabled,
            }
        })
        .collect();
    let roles: Vec<(String, String)> = ["caseworker", "auditor", "admin"]
        .iter()
        .map(|r| (r.to_string(), v.lang.role(r)))
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        app.render(
            "users.html",
            context! { users => rows, roles => roles, error => error, ..v.page() },
        )?,
    )
        .into_response())
}

pub(super) async fn users(State(app): State<Arc<App>>, v: Viewer) -> Result<Response, AppError> {
    v.require(&[Role::Admin])?;
    users_page(&app, &v, None).await
}

#[derive(Deserialize)]
pub(super) struct NewUser {
    pub(super) csrf: String,
    pub(super) name: String,
    pub(super) password: String,
    pub(super) role: String,
    #[serde(default)]
    pub(super) regions: String,
}

pub(super) async fn add_user(
    State(app): State<Arc<App>>,
    v: Viewer,
    Form(f): Form<NewUser>,
) -> Result<Response, AppError> {
    v.check_csrf(&f.csrf)?;
    v.require(&[Role::Admin])?;
    let result = app
        .db(move |s| {
            let role = Role::parse(&f.role)?;
            s.add_user(&f.name, &f.password, role, &f.regions)
        })
        .await;
    match result {
        Ok(()) => Ok(Redirect::to("/admin/users").into_response()),
        Err(AppError::Internal(msg)) => users_page(&app, &v, Some(msg)).await,
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub(super) struct DisableForm {
    pub(super) csrf: String,
    pub(super) name: String,
}

pub(super) async fn disable_user(
    State(app): State<Arc<App>>,
    v: Viewer,
    Form(f): Form<DisableForm>,
) -> Result<Response, AppError> {
    v.check_csrf(&f.csrf)?;
    v.require(&[Role::Admin])?;
    if f.name == v.user.name {
        return Err(AppError::BadRequest(
            "an admin cannot disable themselves".into(),
        ));
    }
    app.db(move |s| s.disable_user(&f.name)).await?;
    Ok(Redirect::to("/admin/users").into_response())
}

#[derive(Deserialize, Default)]
pub(super) struct AssignQuery {
    #[serde(default)]
    pub(super) batch: String,
    #[serde(default)]
    pub(super) done: Option<usize>,
}

/// The assignment page (admins): assign the queue's households of a region, or hand-picked
/// ones, to a caseworker; each caseworker's open households in the batch.
async fn assign_view(
    app: &Arc<App>,
    v: &Viewer,
    batch_id: &str,
    done: Option<usize>,
    error: Option<String>,
) -> Result<Response, AppError> {
    let root = app.root.clone();
    let ids = tokio::task::spawn_blocking(move || crate::batch::list(&root))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let batch_id = if batch_id.is_empty() {
        ids.last().cloned().unwrap_or_default()
    } else {
        batch_id.to_string()
    };
    let users = app.db(|s| s.users()).await?;
    let caseworkers: Vec<String> = users
        .iter()
        .filter(|u| u.role == Role::Caseworker && !u.disabled)
        .map(|u| u.name.clone())
        .collect();
    let mut counts: Vec<(String, u64, u64)> = Vec::new();
    let mut regions: Vec<(String, String)> = Vec::new();
    if !batch_id.is_empty() {
        let b = app.batch(&batch_id).await?;
        let (assignments, decisions, due) = app
            .db(|s| Ok((s.assignments()?, s.all_decisions()?, s.due_dates()?)))
            .await?;
        let open =
            crate::queue::open_counts(&b, &assignments, &decisions, &due, crate::queue::today());
        counts = caseworkers
            .iter()
            .map(|c| {
                let (o, late) = open.get(c).copied().unwrap_or_default();
                (c.clone(), o, late)
            })
            .collect();
        regions = b
            .entries
            .iter()
            .filter(|e| crate::queue::in_queue(e))
            .flat_map(|e| [e.region / 100 * 100, e.region])
            .collect::<std::collections::BTreeSet<i32>>()
            .into_iter()
            .map(|r| (r.to_string(), v.lang.region(&b.policy, r)))
            .collect();
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        app.render(
            "assign.html",
            context! {
                batches => ids,
                batch_id => batch_id,
                caseworkers => caseworkers,
                counts => counts,
                regions => regions,
                done => done,
                error => error,
                ..v.page()
            },
        )?,
    )
        .into_response())
}

pub(super) async fn assign_page(
    State(app): State<Arc<App>>,
    v: Viewer,
    axum::extract::Query(q): axum::extract::Query<AssignQuery>,
) -> Result<Response, AppError> {
    v.require(&[Role::Admin])?;
    assign_view(&app, &v, &q.batch, q.done, None).await
}

#[derive(Deserialize)]
pub(super) struct AssignForm {
    pub(super) csrf: String,
    pub(super) batch: String,
    #[serde(default)]
    pub(super) region: String,
    #[serde(default)]
    pub(super) households: String,
    pub(super) user: String,
}

pub(super) async fn assign(
    State(app): State<Arc<App>>,
    v: Viewer,
    Form(f): Form<AssignForm>,
) -> Result<Response, AppError> {
    v.check_csrf(&f.csrf)?;
    v.require(&[Role::Admin])?;
    let b = app.batch(&f.batch).await?;
    let region = match f.region.trim() {
        "" => None,
        r => Some(
            r.parse::<i32>()
                .map_err(|_| AppError::BadRequest("region".into()))?,
        ),
    };
    let ids: Vec<String> = f
        .households
        .split(|c: char| c.is_whitespace() || c == ',' || c == '，' || c == '、')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if region.is_none() && ids.is_empty() {
        let msg = v.lang.ui()["assign_nothing"].to_string();
        return assign_view(&app, &v, &f.batch, None, Some(msg)).await;
    }
    let chosen = match crate::queue::select(&b, region, &ids) {
        Ok(c) => c,
        Err(e) => return assign_view(&app, &v, &f.batch, None, Some(e.to_string())).await,
    };
    let (user, by, view) = (f.user.clone(), v.user.name.clone(), b.clone());
    let result = app
        .db(move |s| crate::queue::assign(s, &view, &chosen, &user, &by))
        .await;
    match result {
        Ok(n) => {
            Ok(Redirect::to(&format!("/admin/assign?batch={}&done={n}", f.batch)).into_response())
        }
        Err(AppError::Internal(msg)) => assign_view(&app, &v, &f.batch, None, Some(msg)).await,
        Err(e) => Err(e),
    }
}
