//! Review: the static reports, and the web app over HTTP as each role uses it (every
//! forbidden access, CSRF, login throttling, decisions carried between batches, the access
//! log). Requests go through the app's real router with its real database and batches.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use hedui::config::BatchConfig;
use hedui::policy::Policy;
use hedui::review::batch::BatchView;
use hedui::review::serve::{App, router};
use hedui::review::store::{Role, Store};
use tower::ServiceExt;

use crate::common::generate_into;

pub const PASSWORD: &str = "correct horse battery staple";

/// A batch root with two nightly batches of the same small province (1,200 households).
pub fn root() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = crate::common::fixture_dir("hedui-it-review");
        let province = dir.join("province");
        generate_into(&province, 1_200, 13);
        let (cfg, base) = BatchConfig::load(&province.join("hedui.toml")).unwrap();
        let plan = cfg.build(&base).unwrap();
        let batches = dir.join("batches");
        // The tests asking for it run on a runtime already; the batches run on their own,
        // on a thread of their own.
        let out = batches.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            for _ in 0..2 {
                rt.block_on(hedui::run::run(
                    &plan,
                    &Policy::default_policy(),
                    hedui::generate::DEFAULT_AS_OF.parse().unwrap(),
                    &out,
                    &hedui::run::Progress::none(),
                ))
                .unwrap();
            }
        })
        .join()
        .unwrap();
        batches
    })
}

/// The newest batch under [`root`], opened.
pub fn newest() -> (String, BatchView) {
    let ids = hedui::review::batch::list(root()).unwrap();
    let view = BatchView::open(&root().join(&ids[0])).unwrap();
    (ids[0].clone(), view)
}

/// The first household with a FLAG finding, and the region it is in.
pub fn flagged(view: &BatchView) -> (usize, i32) {
    let n = view
        .entries
        .iter()
        .position(|e| e.outcome == "FLAG" && !e.findings.is_empty())
        .unwrap();
    (n, view.entries[n].region)
}

/// A fresh database with a caseworker `wang` for `region`, an auditor `li` and an admin
/// `zhao`.
pub fn database(dir: &Path, region: i32) -> PathBuf {
    let db = dir.join("review.sqlite");
    let s = Store::open(&db).unwrap();
    s.add_user("wang", PASSWORD, Role::Caseworker, &region.to_string())
        .unwrap();
    s.add_user("li", PASSWORD, Role::Auditor, "").unwrap();
    s.add_user("zhao", PASSWORD, Role::Admin, "").unwrap();
    db
}

/// A browser stand-in: keeps cookies, sends requests through the router from one address.
struct Client {
    app: axum::Router,
    cookies: HashMap<String, String>,
    addr: SocketAddr,
}

struct Res {
    status: StatusCode,
    location: String,
    retry_after: Option<String>,
    csp: String,
    body: String,
}

impl Client {
    fn new(app: &Arc<App>, addr: &str) -> Client {
        Client {
            app: router(app.clone()),
            cookies: HashMap::new(),
            addr: addr.parse().unwrap(),
        }
    }

    async fn send(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Res {
        let mut req = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(header::COOKIE, c.join("; "));
        }
        let body = match form {
            Some(f) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                let mut s = form_urlencoded::Serializer::new(String::new());
                for (k, v) in f {
                    s.append_pair(k, v);
                }
                Body::from(s.finish())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        req.extensions_mut().insert(ConnectInfo(self.addr));
        let res = self.app.clone().oneshot(req).await.unwrap();
        for c in res.headers().get_all(header::SET_COOKIE) {
            let c = cookie::Cookie::parse(c.to_str().unwrap().to_string()).unwrap();
            assert!(
                c.secure() == Some(true) && c.http_only() == Some(true),
                "{c}"
            );
            if c.max_age().is_some_and(|a| a.is_zero()) || c.value().is_empty() {
                self.cookies.remove(c.name());
            } else {
                self.cookies
                    .insert(c.name().to_string(), c.value().to_string());
            }
        }
        let h = |n: header::HeaderName| {
            res.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let (status, location, retry_after, csp) = (
            res.status(),
            h(header::LOCATION).unwrap_or_default(),
            h(header::RETRY_AFTER),
            h(header::CONTENT_SECURITY_POLICY).unwrap_or_default(),
        );
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        Res {
            status,
            location,
            retry_after,
            csp,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Res {
        self.send("GET", path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Res {
        self.send("POST", path, Some(form)).await
    }

    /// Posts a decision on the first finding of household `n` of batch `id`.
    async fn decide(
        &mut self,
        id: &str,
        n: usize,
        csrf: &str,
        fp: &str,
        decision: &str,
        reason: &str,
    ) -> Res {
        self.post(
            &format!("/batches/{id}/households/{n}/decisions"),
            &[
                ("csrf", csrf),
                ("finding", "0"),
                ("fingerprint", fp),
                ("decision", decision),
                ("reason", reason),
            ],
        )
        .await
    }

    /// The CSRF token of the last form on a page.
    fn csrf(body: &str) -> String {
        let at = body
            .rfind("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    async fn try_login(&mut self, user: &str, password: &str) -> Res {
        let page = self.get("/login").await;
        let csrf = Client::csrf(&page.body);
        self.post(
            "/login",
            &[("username", user), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// Logs in and returns the session's CSRF token.
    async fn login(&mut self, user: &str) -> String {
        let r = self.try_login(user, PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let home = self.get("/").await;
        assert_eq!(home.status, StatusCode::OK);
        Client::csrf(&home.body)
    }
}

/// Every 18-character resident ID in `html`.
fn full_ids(html: &str) -> Vec<String> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 18 <= b.len() {
        let w = &b[i..i + 18];
        let edge = |j: Option<&u8>| j.is_none_or(|c| !c.is_ascii_alphanumeric());
        if w[..17].iter().all(u8::is_ascii_digit)
            && (w[17].is_ascii_digit() || w[17] == b'X')
            && edge(i.checked_sub(1).and_then(|k| b.get(k)))
            && edge(b.get(i + 18))
            && hedui_schemas::ResidentId::parse(std::str::from_utf8(w).unwrap()).is_ok()
        {
            out.push(String::from_utf8(w.to_vec()).unwrap());
            i += 18;
        } else {
            i += 1;
        }
    }
    out
}

fn setup() -> (tempfile::TempDir, Arc<App>, String, BatchView, usize, i32) {
    let (id, view) = newest();
    let (n, region) = flagged(&view);
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), region);
    let app = App::new(root(), &db).unwrap();
    (dir, app, id, view, n, region)
}

#[tokio::test]
async fn a_caseworker_sees_and_decides_only_in_their_regions() {
    let (dir, app, id, view, n, region) = setup();
    let mut c = Client::new(&app, "10.0.0.1:5000");
    let csrf = c.login("wang").await;

    // The list holds only their region's households, flagged or for review by default.
    let list = c.get(&format!("/batches/{id}/households")).await;
    assert_eq!(list.status, StatusCode::OK);
    let mine: Vec<&hedui::review::batch::Entry> = view
        .entries
        .iter()
        .filter(|e| e.region == region && e.outcome != "PASS")
        .collect();
    assert!(
        list.body.contains(&format!("{} 家庭", mine.len())),
        "the count of their households"
    );
    for e in view.entries.iter().filter(|e| e.region != region).take(50) {
        assert!(
            !list.body.contains(&e.household_id),
            "{} is another region's",
            e.household_id
        );
    }

    // Their household's report: masked IDs only, the findings, the sources.
    let report = c.get(&format!("/batches/{id}/households/{n}")).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(report.body.contains(&view.entries[n].household_id));
    assert!(report.body.contains("********"));
    assert_eq!(
        full_ids(&report.body),
        Vec::<String>::new(),
        "no full resident ID on a page"
    );
    assert!(report.csp.contains("default-src 'none'"));

    // Another region's household: 403, for viewing and for deciding.
    let other = view
        .entries
        .iter()
        .position(|e| e.region != region)
        .unwrap();
    let r = c.get(&format!("/batches/{id}/households/{other}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let fp = view.entries[n].findings[0].1.clone();
    let r = c.decide(&id, other, &csrf, &fp, "dismissed", "x").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A decision on their own household is recorded, escaped, and listed.
    let r = c
        .decide(
            &id,
            n,
            &csrf,
            &fp,
            "home_visit",
            "<script>alert(1)</script> 需核实车辆归属",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let report = c.get(&format!("/batches/{id}/households/{n}")).await;
    assert!(report.body.contains("需入户调查"));
    assert!(
        report
            .body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; 需核实车辆归属")
    );
    assert!(!report.body.contains("<script>"));
    let list = c.get(&format!("/batches/{id}/households")).await;
    assert!(list.body.contains("1/") && list.body.contains("需入户调查"));

    // Caseworkers do not read the access log or manage users.
    assert_eq!(c.get("/audit/access").await.status, StatusCode::FORBIDDEN);
    assert_eq!(c.get("/admin/users").await.status, StatusCode::FORBIDDEN);

    // Every view and the decision are in the access log.
    let log = Store::open(&dir.path().join("review.sqlite"))
        .unwrap()
        .access_log(Some(&view.entries[n].household_id), 100)
        .unwrap();
    let actions: Vec<&str> = log
        .iter()
        .map(|a| a.action.as_str())
        .filter(|a| *a != "list")
        .collect();
    assert_eq!(
        actions,
        ["view", "decide:home_visit", "view"],
        "newest first"
    );
    assert!(log.iter().all(|a| a.user == "wang" && a.batch_id == id));
}

#[tokio::test]
async fn an_auditor_reads_everything_and_changes_nothing() {
    let (_dir, app, id, view, n, region) = setup();
    let mut c = Client::new(&app, "10.0.0.2:5000");
    let csrf = c.login("li").await;
    let other = view
        .entries
        .iter()
        .position(|e| e.region != region)
        .unwrap();
    for h in [n, other] {
        assert_eq!(
            c.get(&format!("/batches/{id}/households/{h}")).await.status,
            StatusCode::OK
        );
    }
    let report = c.get(&format!("/batches/{id}/households/{n}")).await;
    assert!(
        !report.body.contains("/decisions\""),
        "no decision form for an auditor"
    );
    let fp = view.entries[n].findings[0].1.clone();
    let r = c.decide(&id, n, &csrf, &fp, "dismissed", "x").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let log = c.get("/audit/access").await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.body.contains(&view.entries[other].household_id));
    assert_eq!(c.get("/admin/users").await.status, StatusCode::FORBIDDEN);
    let summary = c.get(&format!("/batches/{id}")).await;
    assert_eq!(summary.status, StatusCode::OK);
    assert!(summary.body.contains("<svg"));

    // The review queue: FLAG before REVIEW, the furthest over its line first; the first page
    // holds the 50 first of that order, each with its excess.
    let list = c.get(&format!("/batches/{id}/households")).await;
    let mut queue: Vec<&hedui::review::batch::Entry> = view
        .entries
        .iter()
        .filter(|e| e.outcome != "PASS")
        .collect();
    queue.sort_by(|a, b| a.queue_key().cmp(&b.queue_key()));
    let first: Vec<&str> = queue
        .iter()
        .take(50)
        .map(|e| e.household_id.as_str())
        .collect();
    let shown: Vec<&str> = list
        .body
        .split("<tr><td data-label=")
        .skip(1)
        .filter_map(|row| row.split_once('>').and_then(|(_, r)| r.split_once('<')))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(shown, first);
    assert!(queue[0].outcome == "FLAG" && queue[0].excess_bp.unwrap() > 10_000);
    let top = queue[0].excess().unwrap();
    assert!(
        list.body
            .contains(&format!("class=\"num excess\">{top}</td>")),
        "{top}"
    );
}

#[tokio::test]
async fn an_admin_manages_users_but_sees_no_household() {
    let (_dir, app, id, _view, n, _region) = setup();
    let mut c = Client::new(&app, "10.0.0.3:5000");
    let csrf = c.login("zhao").await;
    assert_eq!(
        c.get(&format!("/batches/{id}/households/{n}")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.get(&format!("/batches/{id}/households")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(c.get("/audit/access").await.status, StatusCode::OK);
    let users = c.get("/admin/users").await;
    assert_eq!(users.status, StatusCode::OK);
    let add = [
        ("csrf", csrf.as_str()),
        ("name", "chen"),
        ("password", PASSWORD),
        ("role", "caseworker"),
        ("regions", "440300"),
    ];
    let mut wrong = add;
    wrong[0].1 = "0000";
    assert_eq!(
        c.post("/admin/users", &wrong).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        c.post("/admin/users", &add).await.status,
        StatusCode::SEE_OTHER
    );
    let again = c.post("/admin/users", &add).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("exists already"));
    let mut chen = Client::new(&app, "10.0.0.4:5000");
    chen.login("chen").await;

    // Disabling ends the user's sessions at once.
    let r = c
        .post("/admin/users/disable", &[("csrf", &csrf), ("name", "chen")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = chen.get("/").await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
}

#[tokio::test]
async fn forms_without_the_session_csrf_token_are_rejected() {
    let (dir, app, id, view, n, _region) = setup();
    let mut c = Client::new(&app, "10.0.0.5:5000");
    let csrf = c.login("wang").await;
    let fp = view.entries[n].findings[0].1.clone();
    let path = format!("/batches/{id}/households/{n}/decisions");
    let form = |token: &'static str| {
        [
            ("csrf", token),
            ("finding", "0"),
            ("decision", "dismissed"),
            ("reason", "forged"),
        ]
    };
    for token in ["", "not-the-token"] {
        let mut f = form(token).to_vec();
        f.push(("fingerprint", &fp));
        assert_eq!(c.post(&path, &f).await.status, StatusCode::BAD_REQUEST);
    }
    // Another user's session token is no better.
    let mut other = Client::new(&app, "10.0.0.6:5000");
    let other_csrf = other.login("li").await;
    assert_ne!(other_csrf, csrf);
    let mut f = vec![
        ("csrf", other_csrf.as_str()),
        ("finding", "0"),
        ("decision", "dismissed"),
        ("reason", "forged"),
    ];
    f.push(("fingerprint", &fp));
    assert_eq!(c.post(&path, &f).await.status, StatusCode::BAD_REQUEST);
    let none = Store::open(&dir.path().join("review.sqlite"))
        .unwrap()
        .all_decisions()
        .unwrap();
    assert!(none.is_empty(), "nothing was recorded");

    // Logout needs the token too; the login form needs its own.
    assert_eq!(
        c.post("/logout", &[("csrf", "x")]).await.status,
        StatusCode::BAD_REQUEST
    );
    let mut fresh = Client::new(&app, "10.0.0.7:5000");
    fresh.get("/login").await;
    let r = fresh
        .post(
            "/login",
            &[
                ("username", "wang"),
                ("password", PASSWORD),
                ("csrf", "guessed"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Without a session, pages send the browser to the login page.
    let r = fresh.get(&format!("/batches/{id}/households/{n}")).await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (StatusCode::SEE_OTHER, "/login")
    );
    let r = c.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn brute_force_login_is_throttled() {
    use hedui::review::serve::{MAX_FAILURES, MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_USER};
    let (_dir, app, _id, _view, _n, _region) = setup();
    let mut attacker = Client::new(&app, "10.0.0.8:5000");
    for _ in 0..MAX_FAILURES {
        let r = attacker.try_login("wang", "wrong password guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused from that address, with a time to wait.
    let r = attacker.try_login("wang", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.retry_after.unwrap().parse::<u64>().unwrap() > 0);
    // The user, from their own address, is not locked out by someone else's guesses.
    let mut wang = Client::new(&app, "10.0.0.9:5000");
    wang.login("wang").await;
    // One address guessing across names is stopped at its own limit: other names from it
    // are refused too, and other users elsewhere log in as usual.
    let names: Vec<String> = (0..MAX_FAILURES_PER_ADDRESS)
        .map(|i| format!("guess{i}"))
        .collect();
    for name in &names[MAX_FAILURES..] {
        let r = attacker.try_login(name, "wrong password guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
    }
    assert_eq!(
        attacker.try_login("li", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let mut li = Client::new(&app, "10.0.0.10:5000");
    li.login("li").await;
    // Guesses at one name from many addresses meet the slower limit per name: then the name
    // is refused from everywhere until the window passes.
    for i in 0..MAX_FAILURES_PER_USER {
        let mut c = Client::new(&app, &format!("10.1.{}.{}:5000", i / 200, i % 200 + 1));
        let r = c.try_login("li", "wrong password guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let mut li_again = Client::new(&app, "10.0.0.11:5000");
    assert_eq!(
        li_again.try_login("li", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// A copy of a batch folder under a new root, with one evidence amount of `household`
/// changed (the same batch id: a second view of the same night with different evidence).
fn with_changed_evidence(batch: &Path, household: &str, out_root: &Path) -> PathBuf {
    let id = batch.file_name().unwrap();
    let to = out_root.join(id);
    crate::audit::copy_tree(batch, &to);
    let path = to.join("evidence.parquet");
    let batches = hedui::output::read_parquet(&path).unwrap();
    let schema = batches[0].schema();
    let mut out = hedui::output::ParquetOut::create(&path, schema.clone()).unwrap();
    let mut changed = false;
    for b in batches {
        let ids = hedui::output::text_column(&b, "household_id").unwrap();
        let amounts = hedui::output::int_column(&b, "amount_fen").unwrap();
        let col = schema.index_of("amount_fen").unwrap();
        let new: arrow::array::Int64Array = ids
            .iter()
            .zip(&amounts)
            .map(
                |(h, a)| match (h.as_deref() == Some(household) && !changed, a) {
                    (true, Some(a)) => {
                        changed = true;
                        Some(a + 100)
                    }
                    (_, a) => *a,
                },
            )
            .collect();
        let mut cols = b.columns().to_vec();
        cols[col] = Arc::new(new);
        out.write(&arrow::array::RecordBatch::try_new(schema.clone(), cols).unwrap())
            .unwrap();
    }
    out.finish().unwrap();
    assert!(changed);
    to
}

#[tokio::test]
async fn a_dismissal_carries_to_the_next_batch_until_the_evidence_changes() {
    let ids = hedui::review::batch::list(root()).unwrap();
    let (new, old) = (&ids[0], &ids[1]);
    let old_view = BatchView::open(&root().join(old)).unwrap();
    // A household whose first finding has evidence with an amount.
    let n = old_view
        .entries
        .iter()
        .position(|e| {
            e.outcome == "FLAG"
                && e.findings
                    .first()
                    .is_some_and(|(r, _)| r == "income_over_line")
        })
        .unwrap();
    let entry = old_view.entries[n].clone();
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), entry.region);
    let app = App::new(root(), &db).unwrap();
    let mut c = Client::new(&app, "10.0.1.1:5000");
    let csrf = c.login("wang").await;
    let r = c
        .decide(
            old,
            n,
            &csrf,
            &entry.findings[0].1,
            "dismissed",
            "工资为一次性补发，已核实",
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // The next night, same evidence: still dismissed, saying where from.
    let page = c.get(&format!("/batches/{new}/households/{n}")).await;
    assert!(page.body.contains("排除（核实无误）"), "carried forward");
    assert!(page.body.contains(&format!("沿用自批次 {old}")));
    let list = c
        .get(&format!(
            "/batches/{new}/households?undecided=1&rule=income_over_line"
        ))
        .await;
    let listed = list.body.contains(&entry.household_id);
    assert!(
        !listed || entry.findings.len() > 1,
        "decided households leave the undecided list"
    );

    // The same night with one of its evidence amounts changed: the finding is open again.
    let changed_root = dir.path().join("changed");
    with_changed_evidence(&root().join(new), &entry.household_id, &changed_root);
    let app2 = App::new(&changed_root, &db).unwrap();
    let mut c2 = Client::new(&app2, "10.0.1.2:5000");
    c2.login("wang").await;
    let page = c2.get(&format!("/batches/{new}/households/{n}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let finding0 = &page.body[page.body.find("id=\"finding-0\"").unwrap()..];
    let finding0 = &finding0[..finding0.find("</section>").unwrap()];
    assert!(
        finding0.contains("尚未处理"),
        "evidence changed, so the decision lapses"
    );
}

#[test]
fn static_reports_are_written_for_every_household_that_did_not_pass() {
    let (id, view) = newest();
    let out = tempfile::tempdir().unwrap();
    let prev =
        BatchView::open(&root().join(&hedui::review::batch::list(root()).unwrap()[1])).unwrap();
    let w = hedui::review::report::write_reports(
        &view,
        Some(&prev),
        &[],
        out.path(),
        hedui::review::labels::Lang::Zh,
    )
    .unwrap();
    let not_pass: Vec<_> = view
        .entries
        .iter()
        .filter(|e| e.outcome != "PASS")
        .collect();
    assert_eq!(w.reports, not_pass.len());
    let index = std::fs::read_to_string(&w.index).unwrap();
    assert!(index.contains("<svg") && index.contains(&id) && index.contains("与上一批次相比"));
    assert!(
        index.contains("<style>"),
        "standalone: the stylesheet is inlined"
    );
    for e in not_pass {
        let html =
            std::fs::read_to_string(out.path().join(format!("{}.html", e.household_id))).unwrap();
        assert!(html.contains("家庭经济状况核对报告") && html.contains(&e.household_id));
        assert_eq!(full_ids(&html), Vec::<String>::new(), "{}", e.household_id);
        assert!(!html.contains("<form"), "no forms in a static report");
        for (rule, _) in &e.findings {
            assert!(html.contains(&hedui::review::labels::Lang::Zh.rule(rule)));
        }
    }
    // One household in English, by id; an unknown id is an error naming it.
    let (n, _) = flagged(&view);
    let hid = view.entries[n].household_id.clone();
    let en = tempfile::tempdir().unwrap();
    let w = hedui::review::report::write_reports(
        &view,
        None,
        std::slice::from_ref(&hid),
        en.path(),
        hedui::review::labels::Lang::En,
    )
    .unwrap();
    assert_eq!(w.reports, 1);
    let html = std::fs::read_to_string(en.path().join(format!("{hid}.html"))).unwrap();
    assert!(html.contains("Household economic-status verification report"));
    let err = hedui::review::report::write_reports(
        &view,
        None,
        &["H000".into()],
        en.path(),
        hedui::review::labels::Lang::En,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("H000"), "{err}");
}

#[test]
fn a_household_report_matches_the_batch_outputs() {
    let (_id, view) = newest();
    let (n, _) = flagged(&view);
    let h = view.household(n).unwrap();
    assert_eq!(h.entry.household_id, view.entries[n].household_id);
    assert_eq!(h.members.len() as i64, h.entry.declared);
    assert_eq!(h.findings.len(), h.entry.findings.len());
    for (f, (rule, _)) in h.findings.iter().zip(&h.entry.findings) {
        assert_eq!(&f.rule, rule);
        assert!(
            h.evidence.iter().any(|e| &e.rule == rule),
            "{rule} has evidence"
        );
    }
    // Streaming the batch gives the same household as reading it alone.
    let mut seen = None;
    view.for_each_household(
        |m, _| m == n,
        |x| {
            seen = Some(x);
            Ok(())
        },
    )
    .unwrap();
    let seen = seen.unwrap();
    assert_eq!(seen.members.len(), h.members.len());
    assert_eq!(seen.evidence.len(), h.evidence.len());
}

#[test]
fn users_and_reports_from_the_command_line() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("review.sqlite");
    let add = |name: &str, role: &str, regions: &[&str], password: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hedui"));
        cmd.args([
            "user",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "--db",
        ])
        .arg(&db);
        for r in regions {
            cmd.args(["--region", r]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let ok = add("wang", "caseworker", &["440100", "440300"], PASSWORD);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let short = add("li", "auditor", &[], "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let list = Command::new(env!("CARGO_BIN_EXE_hedui"))
        .args(["user", "list", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(text.contains("wang") && text.contains("caseworker") && text.contains("440100,440300"));
    // The password works, and only it.
    let store = Store::open(&db).unwrap();
    assert!(store.check_login("wang", PASSWORD).unwrap().is_some());
    assert!(
        store
            .check_login("wang", "correct horse battery stapl")
            .unwrap()
            .is_none()
    );

    let (id, view) = newest();
    let (n, _) = flagged(&view);
    let out = dir.path().join("reports");
    let r = Command::new(env!("CARGO_BIN_EXE_hedui"))
        .arg("report")
        .arg(root().join(&id))
        .arg(&view.entries[n].household_id)
        .args(["--lang", "en", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stdout).contains("wrote 1 reports"));
    assert!(out.join("index.html").is_file());
    assert!(
        out.join(format!("{}.html", view.entries[n].household_id))
            .is_file()
    );
}

#[tokio::test]
async fn pages_switch_to_english_and_back() {
    let (_dir, app, id, _view, n, _region) = setup();
    let mut c = Client::new(&app, "10.0.2.1:5000");
    c.login("wang").await;
    let r = c.get("/lang/en").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = c.get(&format!("/batches/{id}/households/{n}")).await;
    assert!(
        page.body
            .contains("Household economic-status verification report")
    );
    assert!(page.body.contains("<html lang=\"en\">"));
    c.get("/lang/zh").await;
    let page = c.get(&format!("/batches/{id}/households/{n}")).await;
    assert!(page.body.contains("家庭经济状况核对报告"));
    assert_eq!(c.get("/lang/fr").await.status, StatusCode::NOT_FOUND);
}

/// Copies the review database (with its write-ahead log) to `to` and edits the copy.
fn tampered_copy(from: &Path, to: &Path, sql: &str) -> PathBuf {
    for ext in ["", "-wal", "-shm"] {
        let f = PathBuf::from(format!("{}{ext}", from.display()));
        if f.exists() {
            std::fs::copy(&f, format!("{}{ext}", to.display())).unwrap();
        }
    }
    let conn = rusqlite::Connection::open(to).unwrap();
    conn.execute_batch(sql).unwrap();
    to.to_path_buf()
}

fn verify_access_log(db: &Path, expect_head: Option<&str>) -> (Option<i32>, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hedui"));
    cmd.arg("verify").arg("--access-log").arg(db);
    if let Some(h) = expect_head {
        cmd.args(["--expect-head", h]);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

// List views are in the access log, one line per household shown; the access log and the
// decisions are hash chains that `hedui verify --access-log` recomputes, naming a changed
// line, a line removed from the middle or the end, and (with a head recorded earlier) a log
// rewritten with fresh hashes; a database from before the chains gets its hashes once when
// opened.
#[tokio::test]
async fn the_access_log_and_the_decisions_are_hash_chains_with_list_views_logged() {
    let (dir, app, id, view, n, region) = setup();
    let mut c = Client::new(&app, "10.0.0.9:5000");
    let csrf = c.login("wang").await;
    let list = c.get(&format!("/batches/{id}/households")).await;
    assert_eq!(list.status, StatusCode::OK);
    // In the queue's order (FLAG before REVIEW, the furthest over its line first).
    let mut queue: Vec<&hedui::review::batch::Entry> = view
        .entries
        .iter()
        .filter(|e| e.region == region && e.outcome != "PASS")
        .collect();
    queue.sort_by(|a, b| a.queue_key().cmp(&b.queue_key()));
    let shown: Vec<&str> = queue
        .iter()
        .take(hedui::review::serve::PAGE)
        .map(|e| e.household_id.as_str())
        .collect();
    assert!(!shown.is_empty());
    assert_eq!(
        c.get(&format!("/batches/{id}/households/{n}")).await.status,
        StatusCode::OK
    );
    let fp = view.entries[n].findings[0].1.clone();
    for (decision, reason) in [("home_visit", "visit first"), ("confirmed", "seen at home")] {
        let r = c.decide(&id, n, &csrf, &fp, decision, reason).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{decision}");
    }
    let db = dir.path().join("review.sqlite");
    let store = Store::open(&db).unwrap();
    let log = store.access_log(None, 10_000).unwrap();
    let listed: Vec<&str> = log
        .iter()
        .rev()
        .filter(|a| a.action == "list")
        .map(|a| a.household_id.as_str())
        .collect();
    assert_eq!(
        listed, shown,
        "every household the list showed, in its order"
    );
    // The view, then each decision's own access line.
    assert_eq!(log[0].action, "decide:confirmed");
    assert!(log.iter().all(|a| a.user == "wang" && a.batch_id == id));
    drop(store);

    let chains = hedui::review::store::verify_logs(&db).unwrap();
    let (chain, decisions) = (&chains[0], &chains[1]);
    assert!(chain.problems.is_empty(), "{:#?}", chain.problems);
    assert!(decisions.problems.is_empty(), "{:#?}", decisions.problems);
    assert_eq!(chain.lines as usize, shown.len() + 3);
    assert_eq!(decisions.lines, 2);
    let head = chain.head.clone().unwrap();
    let (code, out) = verify_access_log(&db, Some(&head));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "access log of {}: {} lines, head {head}",
            db.display(),
            chain.lines
        )) && out.contains(&format!(
            "decisions of {}: 2 lines, head {}",
            db.display(),
            decisions.head.as_deref().unwrap()
        )),
        "{out}"
    );

    let work = tempfile::tempdir().unwrap();
    let last = chain.lines;
    for (name, sql, expect) in [
        (
            "changed",
            "UPDATE access_log SET user = 'li' WHERE id = 2".to_string(),
            "line 2 (".to_string(),
        ),
        (
            "middle",
            "DELETE FROM access_log WHERE id = 2".to_string(),
            "lines 2 to 2 were removed".to_string(),
        ),
        (
            "end",
            format!("DELETE FROM access_log WHERE id = {last}"),
            format!("lines {last} to {last} were removed from its end"),
        ),
        (
            "decision changed",
            "UPDATE decisions SET decision = 'dismissed' WHERE id = 2".to_string(),
            "decisions: line 2 (".to_string(),
        ),
        (
            "decision removed",
            "DELETE FROM decisions WHERE id = 2".to_string(),
            "decisions: lines 2 to 2 were removed from its end".to_string(),
        ),
    ] {
        let copy = tampered_copy(&db, &work.path().join(format!("{name}.sqlite")), &sql);
        let (code, out) = verify_access_log(&copy, None);
        assert_eq!(code, Some(1), "{name}: {out}");
        assert!(
            out.contains(&expect),
            "{name}: expected {expect:?} in {out}"
        );
    }
    // A rewrite that recomputes every hash passes the chain but not a recorded head.
    let copy = tampered_copy(
        &db,
        &work.path().join("rewritten.sqlite"),
        "UPDATE access_log SET user = 'li' WHERE id = 1",
    );
    {
        let conn = rusqlite::Connection::open(&copy).unwrap();
        let rows: Vec<(i64, [String; 5])> = conn
            .prepare(
                "SELECT id, at, user, batch_id, household_id, action FROM access_log ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?],
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut prev = String::new();
        for (id, [at, user, batch, hid, action]) in rows {
            prev = hedui::review::store::chain_hash(&prev, &[&at, &user, &batch, &hid, &action]);
            conn.execute(
                "UPDATE access_log SET hash = ?1 WHERE id = ?2",
                rusqlite::params![prev, id],
            )
            .unwrap();
        }
    }
    assert_eq!(
        verify_access_log(&copy, None).0,
        Some(0),
        "a full rewrite passes the chain alone"
    );
    let (code, out) = verify_access_log(&copy, Some(&head));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("the recorded head {head} is in no chain")),
        "{out}"
    );

    // A database from before the chain: the column is added and the old lines chained once.
    let old = work.path().join("old.sqlite");
    {
        let conn = rusqlite::Connection::open(&old).unwrap();
        conn.execute_batch(
            "CREATE TABLE access_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
                 user TEXT NOT NULL, batch_id TEXT NOT NULL, household_id TEXT NOT NULL,
                 action TEXT NOT NULL);
             INSERT INTO access_log (at, user, batch_id, household_id, action) VALUES
                 ('2026-11-01T08:00:00Z', 'wang', '20261101-001', 'H1', 'view'),
                 ('2026-11-01T08:01:00Z', 'wang', '20261101-001', 'H1', 'decide:confirmed');
             CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT,
                 household_id TEXT NOT NULL, rule TEXT NOT NULL, fingerprint TEXT NOT NULL,
                 decision TEXT NOT NULL, reason TEXT NOT NULL, user TEXT NOT NULL,
                 batch_id TEXT NOT NULL, at TEXT NOT NULL);
             INSERT INTO decisions (household_id, rule, fingerprint, decision, reason, user, batch_id, at)
                 VALUES ('H1', 'vehicle_owned', 'f1', 'confirmed', 'seen', 'wang', '20261101-001',
                         '2026-11-01T08:01:00Z');",
        )
        .unwrap();
    }
    let store = Store::open(&old).unwrap();
    store
        .log_access("wang", "20261101-001", "H2", "view")
        .unwrap();
    drop(store);
    let chains = hedui::review::store::verify_logs(&old).unwrap();
    assert!(chains.iter().all(|c| c.problems.is_empty()), "{chains:#?}");
    assert_eq!((chains[0].lines, chains[1].lines), (3, 1));
}

#[test]
fn the_summary_and_the_report_show_the_linkage_of_ids_that_do_not_read() {
    // The batch summary charts what the linkage made of the records whose ID does not read
    // and lists its weights; a household's report lists the probable records about its
    // members, the delivered ID masked.
    let (id, view) = newest();
    let linkage = view.linkage.as_ref().expect("linkage.json");
    assert!(linkage.total.linked > 0, "{:?}", linkage.total);
    let (n, person, record) = (0..view.entries.len())
        .find_map(|n| {
            let h = view.household(n).unwrap();
            h.members.iter().find_map(|m| {
                let id = m.person_id.clone()?;
                let r = view.linked.get(&id)?.first()?.clone();
                Some((n, id, r))
            })
        })
        .expect("a household with a probable record");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    // `hedui report` of the household at `n` in English, its page.
    let report = |n: usize| -> String {
        let household = &view.entries[n].household_id;
        let r = std::process::Command::new(env!("CARGO_BIN_EXE_hedui"))
            .arg("report")
            .arg(root().join(&id))
            .arg(household)
            .args(["--lang", "en", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        std::fs::read_to_string(out.join(format!("{household}.html"))).unwrap()
    };
    let page = report(n);
    assert!(
        page.contains("Probable records"),
        "no probable records section"
    );
    let masked = hedui_schemas::id::mask_text(&record.delivered_id);
    assert!(page.contains(&masked), "{masked}");
    // (The page escapes the path's slashes.)
    let location = format!("{}:{}", record.file, record.line).replace('/', "&#x2f;");
    assert!(page.contains(&location), "{location}");
    assert!(!page.contains(&record.delivered_id) && !page.contains(&person));
    // A finding that rests on a probable record says so, and its evidence marks the record
    // with the ID as delivered (masked) and the score.
    let (n, finding) = (0..view.entries.len())
        .find_map(|n| {
            let h = view.household(n).unwrap();
            let f = h
                .findings
                .iter()
                .find(|f| f.sentence_en.contains("Without the probable records"))?;
            Some((n, f.clone()))
        })
        .expect("a finding that rests on a probable record");
    assert_eq!(finding.severity, "REVIEW", "{finding:?}");
    let page = report(n);
    assert!(
        page.contains(
            "probable record (its ID does not read; attributed by linkage): ID as delivered "
        ),
        "no probable record in the evidence"
    );
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    for words in [
        "Records whose resident ID does not read",
        "Best candidate&#x27;s score",
        "Linkage weights",
        "one_slip",
    ] {
        assert!(index.contains(words), "{words}");
    }
}

/// Posts the assignment form.
async fn assign_form(
    c: &mut Client,
    csrf: &str,
    batch: &str,
    region: &str,
    households: &str,
    user: &str,
) -> Res {
    c.post(
        "/admin/assign",
        &[
            ("csrf", csrf),
            ("batch", batch),
            ("region", region),
            ("households", households),
            ("user", user),
        ],
    )
    .await
}

// The review queue's assignments and due dates: an admin assigns a region's households to
// review (and hand-picked ones) to a caseworker, who finds them under "my queue" with their
// due dates, the overdue marked; the summary page counts each caseworker's open households;
// assignments and due dates hold in another batch; `hedui assign` does the same.
#[tokio::test]
async fn an_admin_assigns_households_and_the_caseworker_finds_them_in_their_queue_when_due() {
    let (dir, app, id, view, _n, region) = setup();
    let queue = |v: &BatchView, r: i32| -> Vec<String> {
        v.entries
            .iter()
            .filter(|e| e.region == r && e.outcome != "PASS")
            .map(|e| e.household_id.clone())
            .collect()
    };
    let expected = queue(&view, region);
    assert!(!expected.is_empty());
    let mut admin = Client::new(&app, "10.0.0.20:5000");
    let csrf = admin.login("zhao").await;
    let page = admin.get(&format!("/admin/assign?batch={id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"open-counts\""), "{}", page.body);
    // A household outside wang's regions, an unknown id, a user who is no caseworker: refused.
    let elsewhere = view
        .entries
        .iter()
        .find(|e| e.region != region && e.outcome != "PASS")
        .unwrap()
        .household_id
        .clone();
    for (households, user, words) in [
        (elsewhere.clone(), "wang", "regions do not include"),
        ("H000 ".to_string() + &expected[0], "wang", "H000"),
        (expected[0].clone(), "li", "not an enabled caseworker"),
    ] {
        let r = assign_form(&mut admin, &csrf, &id, "", &households, user).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{words}");
        assert!(r.body.contains(words), "{words}: {}", r.body);
    }
    let r = assign_form(&mut admin, &csrf, &id, &region.to_string(), "", "wang").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let done = admin
        .get(&format!("/admin/assign?batch={id}&done={}", expected.len()))
        .await;
    assert!(
        done.body.contains(&format!(
            "<td data-label=\"待办家庭\" class=\"num\">{}</td>",
            expected.len()
        )),
        "{}",
        done.body
    );

    // wang's queue: exactly those, each with the due date the policy gives its application.
    let mut c = Client::new(&app, "10.0.0.21:5000");
    c.login("wang").await;
    let mine = c.get(&format!("/batches/{id}/households?mine=1")).await;
    assert_eq!(mine.status, StatusCode::OK);
    let review = view.policy.review.clone().unwrap();
    let today = hedui::review::queue::today();
    let mut overdue = 0;
    for h in &expected {
        assert!(mine.body.contains(h.as_str()), "{h}");
        let e = &view.entries[view.find(h).unwrap()];
        let due = review.due(e.applied.unwrap());
        assert!(mine.body.contains(&due.to_string()), "{h} due {due}");
        overdue += usize::from(due < today);
    }
    assert_eq!(
        mine.body.matches("badge FLAG\">已逾期").count(),
        overdue,
        "the overdue marked"
    );
    // The summary page: wang's open households.
    let summary = c.get(&format!("/batches/{id}")).await;
    assert!(
        summary.body.contains("<td data-label=\"经办人\">wang</td>"),
        "{}",
        summary.body
    );

    // Another batch of the root: the assignment and the due dates hold there.
    let ids = hedui::review::batch::list(root()).unwrap();
    if let Some(other) = ids.iter().find(|b| **b != id) {
        let ov = BatchView::open(&root().join(other)).unwrap();
        let there = queue(&ov, region);
        let listed = c.get(&format!("/batches/{other}/households?mine=1")).await;
        for h in there.iter().filter(|h| expected.contains(h)) {
            assert!(listed.body.contains(h.as_str()), "{h} in {other}");
        }
    }

    // `hedui assign`: the same from the command line, into another database.
    let db = dir.path().join("cli.sqlite");
    let s = Store::open(&db).unwrap();
    s.add_user("wang", PASSWORD, Role::Caseworker, &region.to_string())
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hedui"))
        .arg("assign")
        .arg(root().join(&id))
        .args(["--to", "wang", "--region", &region.to_string(), "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("assigned {} households", expected.len())),
        "{text}"
    );
    assert_eq!(
        Store::open(&db).unwrap().assignments().unwrap().len(),
        expected.len()
    );

    // The assignments are a hash chain like the decisions: `hedui verify --access-log`
    // recomputes it, and names a line changed afterwards.
    let chains = hedui::review::store::verify_logs(&db).unwrap();
    let assignments = chains.iter().find(|c| c.name == "assignments").unwrap();
    assert_eq!(assignments.lines as usize, expected.len());
    assert!(
        assignments.problems.is_empty(),
        "{:#?}",
        assignments.problems
    );
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE assignment_log SET batch_id = '20990101-001' WHERE id = 1",
            [],
        )
        .unwrap();
    let chains = hedui::review::store::verify_logs(&db).unwrap();
    let assignments = chains.iter().find(|c| c.name == "assignments").unwrap();
    assert!(
        assignments
            .problems
            .iter()
            .any(|p| p.contains("assignments")),
        "{:#?}",
        assignments.problems
    );
}
