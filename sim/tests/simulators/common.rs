//! Starting simulators and talking to them with a plain reqwest client.

use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::Duration;
use warden_sim::{Scenario, Simulators, Vendor};

/// The seed scenario without VirusTotal's staged 429, so tests see it only when they ask.
pub fn calm_seed() -> Scenario {
    let mut scenario = Scenario::seed();
    scenario.virustotal.quota_exceeded_first = 0;
    scenario
}

pub async fn start(scenario: Scenario) -> Simulators {
    Simulators::start(scenario).await.expect("simulators start")
}

/// A client like Warden's non-following one: no redirects, no proxy, a bounded connect.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("the HTTP client builds")
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("the simulator answers");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("a body"),
    }
}

/// `GET {vendor's base URL}{path}` with one header.
pub async fn get(sims: &Simulators, vendor: Vendor, path: &str, header: (&str, &str)) -> Reply {
    let url = format!("{}{path}", sims.base_url(vendor));
    send(client().get(url).header(header.0, header.1)).await
}

/// `POST` of a JSON body.
pub async fn post_json(url: &str, header: (&str, &str), body: &Value) -> Reply {
    let request = client()
        .post(url)
        .header(header.0, header.1)
        .header("content-type", "application/json")
        .body(body.to_string());
    send(request).await
}

/// The object keys of `value`, in order.
pub fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

pub fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixtures are JSON")
}
