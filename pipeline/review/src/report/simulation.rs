//! The page of a policy simulation (`hedui simulate`): how many households change, by city
//! and programme, and what the monthly assistance costs before and after, as charts and
//! tables. The simulation itself is computed by the `hedui` crate (its `simulate` module);
//! this is its view.

use minijinja::{Value, context};
use serde::Serialize;

use super::{Templates, chart, page};
use crate::Result;
use crate::labels::Lang;
use hedui_engine::sentence::yuan;

/// What the simulation page shows.
#[derive(Debug, Clone, Serialize)]
pub struct SimulationView {
    /// The published batch.
    pub batch_id: String,
    /// Its date.
    pub as_of: String,
    /// The policy it was published under.
    pub policy_before: String,
    /// The proposed policy.
    pub policy_after: String,
    /// Households in the batch.
    pub households: u64,
    /// Households whose outcome or findings change.
    pub changed: u64,
    /// Monthly assistance, fen, before and after.
    pub totals: (i64, i64),
    /// Changed households per (city name, programme): newly flagged, cleared, other.
    pub by_city: Vec<(String, String, [u64; 3])>,
    /// Per (city name, programme): households and monthly fen, before and after.
    pub cost: Vec<(String, String, [i64; 4])>,
    /// The first changed households: id, city, programme, outcome change, reasons.
    pub first: Vec<(String, String, String, String, String)>,
}

/// The Chinese part of a city's name (`广州市 Guangzhou` -> `广州市`).
fn zh(name: &str) -> &str {
    name.split(' ').next().unwrap_or(name)
}

/// A programme's short name, for a chart's labels (低保, 低收入, 特困).
fn short(programme: &str) -> &str {
    match programme {
        "dibao" => "低保",
        "low_income" => "低收入",
        "tekun" => "特困",
        other => other,
    }
}

/// The simulation page, standalone (its stylesheet inlined).
pub fn render_simulation(view: &SimulationView) -> Result<String> {
    let lang = Lang::Zh;
    let changes = chart(
        "变化的家庭 Households that change".into(),
        view.by_city
            .iter()
            .map(|(city, programme, n)| {
                (
                    format!("{} {}", zh(city), short(programme)),
                    n.iter().enumerate().map(|(k, v)| (k, *v as i64)).collect(),
                )
            })
            .collect(),
        &[
            ("o-FLAG".into(), "新增标记 newly flagged".into()),
            ("o-PASS".into(), "解除 cleared".into()),
            ("o-REVIEW".into(), "其他 other".into()),
        ],
        false,
    );
    // The change of the monthly assistance per city and programme, in yuan (signed).
    let delta = chart(
        "每月救助金变化（元） Change of monthly assistance (yuan)".into(),
        view.cost
            .iter()
            .map(|(city, programme, c)| {
                (
                    format!("{} {}", zh(city), short(programme)),
                    vec![(0, (c[3] - c[1]) / 100)],
                )
            })
            .collect(),
        &[("o-REVIEW".into(), "变化 change".into())],
        true,
    );
    let cost: Vec<Vec<String>> = view
        .cost
        .iter()
        .map(|(city, programme, c)| {
            vec![
                city.clone(),
                lang.programme(programme),
                c[0].to_string(),
                yuan(c[1]),
                c[2].to_string(),
                yuan(c[3]),
                yuan(c[3] - c[1]),
            ]
        })
        .collect();
    Templates::new()?.render(
        "simulation.html",
        context! {
            v => Value::from(minijinja::value::Serde(view)),
            before => yuan(view.totals.0),
            after => yuan(view.totals.1),
            change => yuan(view.totals.1 - view.totals.0),
            changes => Value::from(minijinja::value::Serde(&changes)),
            delta => Value::from(minijinja::value::Serde(&delta)),
            cost => cost,
            ..page(lang, true)
        },
    )
}
