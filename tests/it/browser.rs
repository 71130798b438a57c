//! The review app in a real browser: headless Chromium (Debian's `chromium`, driven through
//! `chromedriver`, both installed by `.ci/run`) logs in as a caseworker, opens a flagged
//! household, records a decision and sees it listed, saving a screenshot of each step.
//!
//! The screenshots go to `$HEDUI_SCREENSHOTS` (default: `browser-screenshots/` in the cargo
//! target folder), and their paths are printed. Without Chromium the test says so and passes
//! only when `HEDUI_REQUIRE_BROWSER` is unset, so CI, which sets it, cannot skip it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hedui::review::serve::{App, router};

use crate::review::{PASSWORD, database, flagged, newest, root};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Kills chromedriver when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn screenshots() -> PathBuf {
    let dir = std::env::var_os("HEDUI_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let path = dir.join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
}

/// Scrolls the element `css` to the middle of the window, so the screenshot shows it.
async fn show(c: &Client, css: &str) {
    c.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
        vec![serde_json::json!(css)],
    )
    .await
    .unwrap();
}

/// The text of the element `css`, waiting up to 20 s for it to appear (a click that loads a
/// page returns before the page is there). An element found on the page being left goes
/// stale as the next one loads: it is looked up again, a few times.
async fn text_of(c: &Client, css: &str) -> String {
    let mut attempts = 0;
    loop {
        let found = c
            .wait()
            .at_most(std::time::Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap();
        match found.text().await {
            Ok(t) => return t,
            Err(e) if attempts < 5 => {
                eprintln!("{css}: {e}; looking it up again");
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
}

/// Fills the login form on the page and submits it as `who`; waits for the login to land (the
/// user in the header).
async fn sign_in(c: &Client, who: &str) {
    c.find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys(who)
        .await
        .unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css("header.bar .who")).await
            && e.text().await.unwrap_or_default().contains(who)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Logs out with the header's button; waits for the logout to land (the login form).
async fn sign_out(c: &Client) {
    c.find(Locator::Css("header.bar form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..100 {
        if c.find(Locator::Css("input[name=username]")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caseworker_reviews_a_household_in_chromium() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("HEDUI_REQUIRE_BROWSER").is_none(),
            "{CHROMIUM} or {CHROMEDRIVER} missing but HEDUI_REQUIRE_BROWSER is set"
        );
        eprintln!("skipping: no {CHROMIUM} / {CHROMEDRIVER} (.ci/run installs them)");
        return;
    }
    let (id, view) = newest();
    // A flagged household over its income or asset line (its list shows the excess).
    let n = view
        .entries
        .iter()
        .position(|e| e.outcome == "FLAG" && e.excess_bp.is_some())
        .unwrap_or_else(|| flagged(&view).0);
    let region = view.entries[n].region;
    let household = view.entries[n].household_id.clone();
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), region);

    // The app on a free local port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = App::new(root(), &db).unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router(app).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    // chromedriver, and Chromium through it.
    let port = free_port();
    let _driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    let mut client = None;
    for _ in 0..50 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&webdriver)
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let c = client.expect("chromedriver answers");
    let shots = screenshots();

    // 1. The login page; log in as the caseworker.
    c.goto(&format!("{base}/login")).await.unwrap();
    shot(&c, &shots, "1-login.png").await;
    sign_in(&c, "wang").await;
    assert!(
        text_of(&c, "header.bar .who").await.contains("wang"),
        "logged in"
    );

    // The batch's summary page with its charts.
    c.goto(&format!("{base}/batches/{id}")).await.unwrap();
    assert!(c.find(Locator::Css("svg.chart")).await.is_ok());
    shot(&c, &shots, "1b-summary.png").await;
    // Further down: what the linkage made of the records whose ID does not read, per source,
    // its scores and its weights.
    let linkage = "svg.chart[aria-label*='身份证号无法读取']";
    assert!(
        c.find(Locator::Css(linkage)).await.is_ok(),
        "the linkage chart"
    );
    show(&c, linkage).await;
    let page = c.source().await.unwrap();
    assert!(
        page.contains("关联权重") && page.contains("one_slip"),
        "the weights"
    );
    shot(&c, &shots, "1c-linkage.png").await;

    // 2. The batch's review list, narrowed to flagged households.
    c.goto(&format!("{base}/batches/{id}/households?outcome=FLAG"))
        .await
        .unwrap();
    let list = text_of(&c, "#households").await;
    assert!(list.contains(&household), "the flagged household is listed");
    // Ranked: the furthest over its line first, each with its excess shown.
    let mut excess = Vec::new();
    for cell in c.find_all(Locator::Css("td.excess")).await.unwrap() {
        let t = cell.text().await.unwrap();
        // `+23.5% (+1,234.00 元)`, `+<0.1% (+0.01 元)`.
        if let Some((ratio, _)) = t.trim().strip_prefix('+').and_then(|v| v.split_once('%')) {
            excess.push(ratio.trim_start_matches('<').parse::<f64>().unwrap());
        }
    }
    assert!(
        excess.windows(2).all(|w| w[0] >= w[1]),
        "ranked by excess: {excess:?}"
    );
    shot(&c, &shots, "2-review-list.png").await;

    // 3. Open the household's report.
    let row = c
        .find(Locator::XPath(&format!(
            "//table[@id='households']//tr[td[1][normalize-space()='{household}']]//a"
        )))
        .await
        .unwrap();
    row.click().await.unwrap();
    let report = text_of(&c, "main").await;
    assert!(report.contains("家庭经济状况核对报告") && report.contains(&household));
    assert!(report.contains("尚未处理"));
    shot(&c, &shots, "3-report.png").await;

    // 4. Record a decision on the first finding.
    let form = c.form(Locator::Css("#finding-0 form")).await.unwrap();
    form.set_by_name("decision", "dismissed").await.unwrap();
    c.find(Locator::Css("#finding-0 textarea[name=reason]"))
        .await
        .unwrap()
        .send_keys("入户核实：所列收入已于2025年停发，记录未更新")
        .await
        .unwrap();
    show(&c, "#finding-0 .decision").await;
    shot(&c, &shots, "4-decision-form.png").await;
    form.submit().await.unwrap();
    // The page with the form may still be there for a moment: wait for the recorded one.
    let mut current = String::new();
    for _ in 0..100 {
        current = text_of(&c, "#finding-0 .decision-current").await;
        if current == "排除（核实无误）" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(current, "排除（核实无误）");
    assert!(
        text_of(&c, "#finding-0 .decision")
            .await
            .contains("所列收入已于2025年停发")
    );
    show(&c, "#finding-0 .decision").await;
    shot(&c, &shots, "5-decision-recorded.png").await;

    // 5. Back on the list, the decision shows.
    c.goto(&format!("{base}/batches/{id}/households?outcome=FLAG"))
        .await
        .unwrap();
    let decided = c
        .find(Locator::XPath(&format!(
            "//table[@id='households']//tr[td[1][normalize-space()='{household}']]/td[@class='decided']"
        )))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        decided.starts_with("1/") && decided.contains("排除"),
        "{decided}"
    );
    shot(&c, &shots, "6-listed.png").await;

    // The same list on a phone-sized screen still shows the household.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/batches/{id}/households/{n}"))
        .await
        .unwrap();
    shot(&c, &shots, "7-report-phone.png").await;
    c.set_window_size(1280, 900).await.unwrap();

    // 8. The admin assigns the region's households to review to the caseworker.
    sign_out(&c).await;
    c.goto(&format!("{base}/login")).await.unwrap();
    sign_in(&c, "zhao").await;
    c.goto(&format!("{base}/admin/assign?batch={id}"))
        .await
        .unwrap();
    let form = c.form(Locator::Css("form#assign")).await.unwrap();
    form.set_by_name("region", &region.to_string())
        .await
        .unwrap();
    form.set_by_name("user", "wang").await.unwrap();
    shot(&c, &shots, "8-assign-form.png").await;
    form.submit().await.unwrap();
    let assigned = text_of(&c, "#assigned").await;
    let expected = view
        .entries
        .iter()
        .filter(|e| e.region == region && e.outcome != "PASS")
        .count();
    assert!(assigned.ends_with(&expected.to_string()), "{assigned}");
    let counts = text_of(&c, "#open-counts").await;
    assert!(counts.contains("wang"), "{counts}");
    shot(&c, &shots, "9-assigned.png").await;

    // 9. The caseworker's queue: the household, its due date, the overdue marked; the summary
    // page counts the open households.
    sign_out(&c).await;
    c.goto(&format!("{base}/login")).await.unwrap();
    sign_in(&c, "wang").await;
    c.goto(&format!("{base}/batches/{id}/households"))
        .await
        .unwrap();
    c.find(Locator::Css("#my-queue"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mine = text_of(&c, "#households").await;
    assert!(mine.contains(&household), "{mine}");
    let due = view
        .policy
        .review
        .as_ref()
        .unwrap()
        .due(view.entries[n].applied.unwrap());
    assert!(mine.contains(&due.to_string()), "{mine}");
    assert!(
        due >= hedui::review::queue::today() || mine.contains("已逾期"),
        "{mine}"
    );
    shot(&c, &shots, "10-my-queue.png").await;
    c.goto(&format!("{base}/batches/{id}")).await.unwrap();
    let counts = text_of(&c, "#open-counts").await;
    assert!(counts.contains("wang"), "{counts}");
    shot(&c, &shots, "11-open-counts.png").await;
    c.close().await.unwrap();
}
