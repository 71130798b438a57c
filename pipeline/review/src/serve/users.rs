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
