//! `hedui serve`: the review web app over the published batches of a batch root.
//!
//! - **Login**: argon2 password hashes ([`super::store`]); a wrong password or name is counted
//!   per user name and per client address, and after [`MAX_FAILURES`] within
//!   [`FAILURE_WINDOW`] further attempts get 429 until the window passes. The login form
//!   carries its own CSRF token (a cookie and a hidden field that must match).
//! - **Sessions**: a random token in an `HttpOnly; Secure; SameSite=Strict` cookie; the server
//!   keeps only its hash, with the session's CSRF token, which every form must echo.
//! - **Roles**: a caseworker sees only households of the regions assigned to them (anything
//!   else is 403) and records decisions; an auditor reads every batch, household and the
//!   access log and changes nothing; an admin manages users and reads the access log.
//! - **Privacy**: URLs name a household by its position in the batch (no IDs, no names);
//!   pages mask resident IDs; the request log has method, path and status only; every view
//!   of a household and every decision is written to the access log.
//!
//! Every response carries a strict Content-Security-Policy (no scripts at all), `nosniff`,
//! `no-referrer`, and `no-store`.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Form, FromRequestParts, Path as UrlPath, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::{Value, context};
use serde::Deserialize;

use super::batch::{self, BatchView};
use super::labels::Lang;
use super::report::{self, DecisionView, Templates};
use super::store::{self, Decision, Role, Store, User};
use crate::{Error, Result};

/// Failed logins allowed per user name and per address within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// How long a failed login counts.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Households per page of the review list.
pub const PAGE: usize = 50;
/// Batches kept open in memory.
const OPEN_BATCHES: usize = 4;

const SESSION_COOKIE: &str = "hedui_session";
const LOGIN_COOKIE: &str = "hedui_login";
const LANG_COOKIE: &str = "hedui_lang";

/// Counts failed logins per key (user name, address) in a sliding window.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        // A poisoned lock only means another request panicked mid-update; the counts are
        // still usable.
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long until any of `keys` may try again, if one is blocked.
    fn blocked(&self, keys: &[String]) -> Option<Duration> {
        let mut map = self.lock();
        let now = Instant::now();
        keys.iter()
            .filter_map(|k| {
                let q = map.get_mut(k)?;
                while q.front().is_some_and(|t| now - *t > FAILURE_WINDOW) {
                    q.pop_front();
                }
                (q.len() >= MAX_FAILURES)
                    .then(|| FAILURE_WINDOW.saturating_sub(now - q[q.len() - MAX_FAILURES]))
            })
            .max()
    }

    fn fail(&self, keys: &[String]) {
        let mut map = self.lock();
        for k in keys {
            map.entry(k.clone()).or_default().push_back(Instant::now());
        }
    }

    fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// The app's shared state.
pub struct App {
    root: PathBuf,
    store: Mutex<Store>,
    templates: Templates,
    batches: Mutex<Vec<Arc<BatchView>>>,
    throttle: Throttle,
}

impl App {
    /// The app over the batches under `root`, with the review database at `db`.
    pub fn new(root: &Path, db: &Path) -> Result<Arc<App>> {
        Ok(Arc::new(App {
            root: root.to_path_buf(),
            store: Mutex::new(Store::open(db)?),
            templates: Templates::new()?,
            batches: Mutex::new(Vec::new()),
            throttle: Throttle::default(),
        }))
    }

    /// Runs `f` on the database on a blocking thread.
    async fn db<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T, AppError> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = app.store.lock().unwrap_or_else(|p| p.into_inner());
            f(&store)
        })
        .await
        .map_err(|e| AppError::Internal(format!("database task: {e}")))?
        .map_err(AppError::from)
    }

    /// The published batch `id`, opened (and kept) on first use.
    async fn batch(self: &Arc<Self>, id: &str) -> Result<Arc<BatchView>, AppError> {
        if !crate::publish::is_batch_id(id) {
            return Err(AppError::NotFound);
        }
        if let Some(b) = self.cached(id) {
            return Ok(b);
        }
        let dir = self.root.join(id);
        if !dir.join("manifest.json").is_file() {
            return Err(AppError::NotFound);
        }
        let view = tokio::task::spawn_blocking(move || BatchView::open(&dir))
            .await
            .map_err(|e| AppError::Internal(format!("opening batch: {e}")))??;
        let view = Arc::new(view);
        let mut open = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|b| b.id() != id);
        open.push(view.clone());
        if open.len() > OPEN_BATCHES {
            open.remove(0);
        }
        Ok(view)
    }

    fn cached(&self, id: &str) -> Option<Arc<BatchView>> {
        let open = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        open.iter().find(|b| b.id() == id).cloned()
    }

    /// The batch published before `id` under the root, opened.
    async fn previous(self: &Arc<Self>, b: &BatchView) -> Result<Option<Arc<BatchView>>, AppError> {
        match &b.manifest.previous {
            Some(p) if self.root.join(&p.batch_id).join("manifest.json").is_file() => {
                Ok(Some(self.batch(&p.batch_id).await?))
            }
            _ => Ok(None),
        }
    }

    fn render(&self, name: &str, ctx: Value) -> Result<Html<String>, AppError> {
        Ok(Html(self.templates.render(name, ctx)?))
    }
}

/// Why a request failed, as the user sees it.
#[derive(Debug)]
pub enum AppError {
    /// Not logged in: go to the login page.
    Login,
    /// Logged in but not allowed.
    Forbidden,
    /// No such page.
    NotFound,
    /// A form or query that cannot be right (including a wrong CSRF token).
    BadRequest(String),
    /// Something broke; logged, not shown.
    Internal(String),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, key) = match &self {
            AppError::Login => return Redirect::to("/login").into_response(),
            AppError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::BadRequest(why) => {
                tracing::warn!(why, "bad request");
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            AppError::Internal(e) => {
                tracing::error!(error = %e, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "bad_request")
            }
        };
        let lang = Lang::Zh;
        let body = Templates::new()
            .and_then(|t| {
                t.render(
                    "message.html",
                    context! { message => lang.ui()[key], ..report::page(lang, false) },
                )
            })
            .unwrap_or_else(|_| lang.ui()[key].to_string());
        (status, Html(body)).into_response()
    }
}

/// The logged-in user of a request, with their session's CSRF token and language.
pub struct Viewer {
    user: User,
    csrf: String,
    lang: Lang,
}

impl Viewer {
    /// The regions this viewer may see (`None`: all).
    fn scope(&self) -> Option<&BTreeSet<i32>> {
        (self.user.role == Role::Caseworker).then_some(&self.user.regions)
    }

    fn may_see(&self, region: i32) -> bool {
        self.scope().is_none_or(|s| s.contains(&region))
    }

    /// Household data is for caseworkers (their regions) and auditors.
    fn require_households(&self) -> Result<(), AppError> {
        match self.user.role {
            Role::Caseworker | Role::Auditor => Ok(()),
            Role::Admin => Err(AppError::Forbidden),
        }
    }

    fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    fn check_csrf(&self, sent: &str) -> Result<(), AppError> {
        if same(sent, &self.csrf) {
            Ok(())
        } else {
            Err(AppError::BadRequest(
                "CSRF token does not match the session".into(),
            ))
        }
    }

    /// The context every page of a logged-in user shares.
    fn page(&self) -> Value {
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
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn lang_of(jar: &CookieJar) -> Lang {
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

fn cookie(name: &'static str, value: String, path: &'static str, max_age: i64) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

/// The app's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(batches))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/lang/{lang}", get(set_lang))
        .route("/static/app.css", get(css))
        .route("/batches/{batch}", get(batch_summary))
        .route("/batches/{batch}/households", get(households))
        .route("/batches/{batch}/households/{n}", get(household))
        .route("/batches/{batch}/households/{n}/decisions", post(decide))
        .route("/audit/access", get(access_log))
        .route("/admin/users", get(users).post(add_user))
        .route("/admin/users/disable", post(disable_user))
        .layer(middleware::from_fn(headers))
        .with_state(app)
}

/// Security headers on every response, and one log line per request (method, path, status;
/// paths carry no personal data).
async fn headers(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    tracing::info!(%method, path, status = res.status().as_u16(), "request");
    res
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        report::CSS,
    )
        .into_response()
}

async fn set_lang(UrlPath(lang): UrlPath<String>, jar: CookieJar) -> Result<Response, AppError> {
    let lang = Lang::parse(&lang).ok_or(AppError::NotFound)?;
    let code = match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    };
    let jar = jar.add(cookie(LANG_COOKIE, code.into(), "/", 365 * 86400));
    Ok((jar, Redirect::to("/")).into_response())
}

fn login_form(lang: Lang, csrf: &str, error: Option<&str>) -> Value {
    context! { csrf => csrf, error => error, ..report::page(lang, false) }
}

async fn login_page(State(app): State<Arc<App>>, jar: CookieJar) -> Result<Response, AppError> {
    let token = store::random_token()?;
    let html = app.render("login.html", login_form(lang_of(&jar), &token, None))?;
    let jar = jar.add(cookie(LOGIN_COOKIE, token, "/login", 1800));
    Ok((jar, html).into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

fn client(parts: &axum::http::Extensions) -> String {
    parts
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

async fn login(
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
    let keys = vec![
        format!("user:{}", f.username),
        format!("ip:{}", client(&ext)),
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
    app.throttle.clear(&keys[0]);
    let name = user.name.clone();
    let token = app.db(move |s| s.start_session(&name)).await?;
    let jar = jar
        .add(cookie(SESSION_COOKIE, token, "/", store::SESSION_SECS))
        .add(cookie(LOGIN_COOKIE, String::new(), "/login", 0));
    Ok((jar, Redirect::to("/")).into_response())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
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

async fn batches(State(app): State<Arc<App>>, v: Viewer) -> Result<Response, AppError> {
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
        let Ok(s) = serde_json::from_str::<crate::run::Summary>(&text) else {
            continue;
        };
        rows.push(context! { id => id, as_of => s.as_of.to_string(), households => s.households });
    }
    Ok(app
        .render("batches.html", context! { batches => rows, ..v.page() })?
        .into_response())
}

async fn batch_summary(
    State(app): State<Arc<App>>,
    v: Viewer,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, AppError> {
    let b = app.batch(&id).await?;
    let prev = app.previous(&b).await?;
    let view = report::summary_view(&b, prev.as_deref(), v.scope(), v.lang);
    let can_list = v.require_households().is_ok();
    Ok(app
        .render("batch.html", context! { s => Value::from(minijinja::value::Serde(&view)), can_list => can_list, ..v.page() })?
        .into_response())
}

#[derive(Deserialize, Default)]
struct Filters {
    #[serde(default)]
    programme: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    undecided: String,
    #[serde(default)]
    page: Option<usize>,
}

impl Filters {
    fn query(&self, page: usize) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("programme", &self.programme),
            ("rule", &self.rule),
            ("outcome", &self.outcome),
            ("region", &self.region),
            ("undecided", &self.undecided),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.append_pair("page", &page.to_string());
        q.finish()
    }
}

async fn households(
    State(app): State<Arc<App>>,
    v: Viewer,
    UrlPath(id): UrlPath<String>,
    Query(f): Query<Filters>,
) -> Result<Response, AppError> {
    v.require_households()?;
    let b = app.batch(&id).await?;
    let decisions = app.db(|s| s.all_decisions()).await?;
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
                && region.is_none_or(|r| r == e.region)
                && (f.programme.is_empty() || f.programme == e.programme)
                && (if f.outcome.is_empty() {
                    e.outcome != "PASS"
                } else {
                    f.outcome == e.outcome
                })
                && (f.rule.is_empty() || e.findings.iter().any(|(r, _)| *r == f.rule))
                && (f.undecided.is_empty() || decided(e).0 < e.findings.len())
        })
        .collect();
    let pages = matching.len().div_ceil(PAGE).max(1);
    let page = f.page.unwrap_or(1).clamp(1, pages);
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
                rules => rules.iter().map(|r| v.lang.rule(r)).collect::<Vec<_>>(),
                findings => e.findings.len(),
                decided => done,
                last_decision => last.map(|d| v.lang.decision(&d.decision)),
            }
        })
        .collect();
    let link = |p: usize| format!("/batches/{}/households?{}", b.id(), f.query(p));
    let visible_regions: Vec<(String, String)> = b
        .policy
        .regions
        .keys()
        .filter(|r| v.may_see(**r))
        .map(|r| (r.to_string(), v.lang.region(&b.policy, *r)))
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
        },
        programmes => ["dibao", "low_income", "tekun"].iter().map(|p| (p.to_string(), v.lang.programme(p))).collect::<Vec<_>>(),
        rules => hedui_schemas::Rule::ALL.iter().map(|r| (r.id().to_string(), v.lang.rule(r.id()))).collect::<Vec<_>>(),
        outcomes => ["FLAG", "REVIEW", "UNVERIFIED", "PASS"].iter().map(|o| (o.to_string(), v.lang.outcome(o))).collect::<Vec<_>>(),
        regions => visible_regions,
        ..v.page()
    };
    Ok(app.render("households.html", ctx)?.into_response())
}

/// The household at position `n` of batch `id`, if the viewer may see it.
async fn visible_household(
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

async fn household(
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
struct DecisionForm {
    csrf: String,
    finding: usize,
    fingerprint: String,
    decision: String,
    reason: String,
}

async fn decide(
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
struct AccessQuery {
    #[serde(default)]
    household: Option<String>,
}

async fn access_log(
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

async fn users_page(
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

async fn users(State(app): State<Arc<App>>, v: Viewer) -> Result<Response, AppError> {
    v.require(&[Role::Admin])?;
    users_page(&app, &v, None).await
}

#[derive(Deserialize)]
struct NewUser {
    csrf: String,
    name: String,
    password: String,
    role: String,
    #[serde(default)]
    regions: String,
}

async fn add_user(
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
struct DisableForm {
    csrf: String,
    name: String,
}

async fn disable_user(
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

/// Serves the app on `listen` until the process is stopped (nothing is lost when it is
/// killed: every decision is committed before its page is answered).
pub async fn serve(root: &Path, db: &Path, listen: SocketAddr) -> Result<()> {
    let app = App::new(root, db)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Invalid(format!("listening on {listen}: {e}")))?;
    let local = listener.local_addr().map_err(crate::error::io(root))?;
    tracing::info!(%local, root = %root.display(), "hedui serve listening");
    eprintln!(
        "hedui serve: http://{local}/ (batches under {})",
        root.display()
    );
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .map_err(|e| Error::Invalid(format!("serving: {e}")))
}
