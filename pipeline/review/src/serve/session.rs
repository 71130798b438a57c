//! Who is asking: logins (argon2, throttled per name and address, CSRF-checked), sessions
//! in cookies, the viewer of each request and its language.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::{Value, context};
use serde::Deserialize;

use crate::Result;
use crate::labels::Lang;
use crate::report::{self};
use crate::store::{self, Role, User};

use super::*;

/// Counts failed logins per key (user name, address) in a sliding window.
#[derive(Default)]
pub struct Throttle {
    pub(super) failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        // A poisoned lock only means another request panicked mid-update; the counts are
        // still usable.
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long until any of `keys` may try again, if one is past its limit.
    pub(super) fn blocked(&self, keys: &[(String, usize)]) -> Option<Duration> {
        let mut map = self.lock();
        let now = Instant::now();
        keys.iter()
            .filter_map(|(k, limit)| {
                let q = map.get_mut(k)?;
                while q.front().is_some_and(|t| now - *t > FAILURE_WINDOW) {
                    q.pop_front();
                }
                (q.len() >= *limit).then(|| FAILURE_WINDOW.saturating_sub(now - q[q.len() - limit]))
            })
            .max()
    }

    pub(super) fn fail(&self, keys: &[(String, usize)]) {
        let mut map = self.lock();
        for (k, limit) in keys {
            let q = map.entry(k.clone()).or_default();
            q.push_back(Instant::now());
            // Only the newest `limit` failures decide anything.
            while q.len() > *limit {
                q.pop_front();
            }
        }
    }

    pub(super) fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// The logged-in user of a request, with their session's CSRF token and language.
pub struct Viewer {
    pub(super) user: User,
    pub(super) csrf: String,
    pub(super) lang: Lang,
}

impl Viewer {
    /// The regions this viewer may see (`None`: all).
    pub(super) fn scope(&self) -> Option<&BTreeSet<i32>> {
        (self.user.role == Role::Caseworker).then_some(&self.user.regions)
    }

    /// Whether the viewer may see a household of `region` (a caseworker of 440100 sees the
    /// households registered in its counties, 440106).
    pub(super) fn may_see(&self, region: i32) -> bool {
        self.scope()
            .is_none_or(|s| hedui_schemas::policy::Policy::within(s, region))
    }

    /// Household data is for caseworkers (their regions) and auditors.
    pub(super) fn require_households(&self) -> Result<(), AppError> {
        match self.user.role {
            Role::Caseworker | Role::Auditor => Ok(()),
            Role::Admin => Err(AppError::Forbidden),
        }
    }

    pub(super) fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub(super) fn check_csrf(&self, sent: &str) -> Result<(), AppError> {
        if same(sent, &self.csrf) {
            Ok(())
        } else {
            Err(AppError::BadRequest(
                "CSRF token does not match the session".into(),
            ))
        }
    }

    /// The context every page of a logged-in user shares.
    pub(super) fn page(&self) -> Value {
        context! {
            user => context! {
                name => self.user.name.clone(),
                role => self.user.role.as_str(),
                role_label => self.lang.role(self.user.role.as_str()),
            },
            csrf => self.csrf.clone(),
            ..report::page(self.lang, false)
        }
    }
}

/// Compares two tokens in time independent of where they differ.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub(super) fn lang_of(jar: &CookieJar) -> Lang {
    jar.get(LANG_COOKIE)
        .and_then(|c| Lang::parse(c.value()))
        .unwrap_or_default()
}

impl FromRequestParts<Arc<App>> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let lang = lang_of(&jar);
        let token = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_string())
            .ok_or(AppError::Login)?;
        let session = app
            .db(move |s| s.session(&token))
            .await?
            .ok_or(AppError::Login)?;
        Ok(Viewer {
            user: session.user,
            csrf: session.csrf,
            lang,
        })
    }
}

pub(super) fn cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    max_age: i64,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

pub(super) fn login_form(lang: Lang, csrf: &str, error: Option<&str>) -> Value {
    context! { csrf => csrf, error => error, ..report::page(lang, false) }
}

pub(super) async fn login_page(
    State(app): State<Arc<App>>,
    jar: CookieJar,
) -> Result<Response, AppError> {
    let token = store::random_token()?;
    let html = app.render("login.html", login_form(lang_of(&jar), &token, None))?;
    let jar = jar.add(cookie(LOGIN_COOKIE, token, "/login", 1800));
    Ok((jar, html).into_response())
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    pub(super) username: String,
    pub(super) password: String,
    pub(super) csrf: String,
}

pub(super) fn client(parts: &axum::http::Extensions) -> String {
    parts
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub(super) async fn login(
    State(app): State<Arc<App>>,
    jar: CookieJar,
    ext: axum::http::Extensions,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let lang = lang_of(&jar);
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_string());
    if !expected.is_some_and(|t| same(&t, &f.csrf)) {
        return Err(AppError::BadRequest(
            "login CSRF token does not match".into(),
        ));
    }
    // The pair first: a success clears it (and only it).
    let address = client(&ext);
    let keys = vec![
        (format!("user:{}@{address}", f.username), MAX_FAILURES),
        (format!("ip:{address}"), MAX_FAILURES_PER_ADDRESS),
        (format!("user:{}", f.username), MAX_FAILURES_PER_USER),
    ];
    if let Some(wait) = app.throttle.blocked(&keys) {
        let html = app.render(
            "login.html",
            login_form(lang, &f.csrf, Some(lang.ui()["login_throttled"])),
        )?;
        let retry = wait.as_secs().max(1).to_string();
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry)],
            html,
        )
            .into_response());
    }
    let (name, password) = (f.username.clone(), f.password.clone());
    let user = app.db(move |s| s.check_login(&name, &password)).await?;
    let Some(user) = user else {
        app.throttle.fail(&keys);
        tracing::warn!("failed login");
        let html = app.render(
            "login.html",
            login_form(lang, &f.csrf, Some(lang.ui()["login_failed"])),
        )?;
        return Ok((StatusCode::UNAUTHORIZED, html).into_response());
    };
    app.throttle.clear(&keys[0].0);
    let name = user.name.clone();
    let token = app.db(move |s| s.start_session(&name)).await?;
    let jar = jar
        .add(cookie(SESSION_COOKIE, token, "/", store::SESSION_SECS))
        .add(cookie(LOGIN_COOKIE, String::new(), "/login", 0));
    Ok((jar, Redirect::to("/")).into_response())
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    pub(super) csrf: String,
}

pub(super) async fn logout(
    State(app): State<Arc<App>>,
    v: Viewer,
    jar: CookieJar,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    v.check_csrf(&f.csrf)?;
    if let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) {
        app.db(move |s| s.end_session(&token)).await?;
    }
    let jar = jar.add(cookie(SESSION_COOKIE, String::new(), "/", 0));
    Ok((jar, Redirect::to("/login")).into_response())
}
