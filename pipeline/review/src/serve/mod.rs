//! `hedui serve`: the review web app over the published batches of a batch root.
//!
//! - **Login**: argon2 password hashes ([`super::store`]); a wrong password or name is counted
//!   per user name and client address together ([`MAX_FAILURES`] within [`FAILURE_WINDOW`]),
//!   per address across names ([`MAX_FAILURES_PER_ADDRESS`]) and per user name across
//!   addresses ([`MAX_FAILURES_PER_USER`], a slower limit), and past any of them further
//!   attempts get 429 until the window passes: five wrong guesses from one address do not
//!   lock a user out from their own. The login form
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
//!
//! Here: the app's state, its errors, the router and the response headers; `session.rs`:
//! logins, sessions and the viewer of each request; `pages.rs`: the review pages and
//! decisions; `users.rs`: user administration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use minijinja::{Value, context};

use super::batch::BatchView;
use super::labels::Lang;
use super::report::{self, Templates};
use super::store::Store;
use crate::{Error, Result};

mod pages;
mod session;
mod users;

use pages::*;
use session::*;
pub use session::{Throttle, Viewer};
use users::*;

/// Failed logins allowed per user name from one address within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// Failed logins allowed from one address, whatever the names, within [`FAILURE_WINDOW`].
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// Failed logins allowed for one user name, from any addresses, within [`FAILURE_WINDOW`]:
/// the slower limit on guessing one user's password from many addresses.
pub const MAX_FAILURES_PER_USER: usize = 50;
/// How long a failed login counts.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Households per page of the review list.
pub const PAGE: usize = 50;
/// Batches kept open in memory.
const OPEN_BATCHES: usize = 4;

const SESSION_COOKIE: &str = "hedui_session";
const LOGIN_COOKIE: &str = "hedui_login";
const LANG_COOKIE: &str = "hedui_lang";

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
        if !hedui_schemas::batch::is_batch_id(id) {
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
        // The queue's due dates, recorded when a batch is first opened (carried from the
        // batches before for the households they listed).
        let v = view.clone();
        self.db(move |s| crate::queue::carry_due_dates(s, &v).map(|_| ()))
            .await?;
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
        .route("/admin/assign", get(assign_page).post(assign))
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

/// Serves the app on `listen` until the process is stopped (nothing is lost when it is
/// killed: every decision is committed before its page is answered).
pub async fn serve(root: &Path, db: &Path, listen: SocketAddr) -> Result<()> {
    let app = App::new(root, db)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Server {
            what: format!("listening on {listen}"),
            source,
        })?;
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
    .map_err(|source| Error::Server {
        what: "serving".into(),
        source,
    })
}
