//! A small W3C WebDriver client spoken over `reqwest` to `chromedriver` driving headless
//! Chromium: just what the console suite uses (navigate, find, type, click, read, run a script,
//! screenshot, cookies).

use base64::Engine as _;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The key W3C WebDriver names element references by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running `chromedriver`, killed on drop.
pub struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `chromedriver` and Chromium are, when both are installed.
pub fn installed() -> Option<(String, String)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
                    .map(|path| path.display().to_string())
            })
        })
    };
    Some((
        find(&["chromedriver"])?,
        find(&["chromium", "chromium-browser", "google-chrome"])?,
    ))
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits until it answers.
    pub async fn start(chromedriver: &str) -> Driver {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: warden::http_client::api_client(),
        };
        for _ in 0..100 {
            if let Ok(r) = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
            {
                if r.status().is_success() {
                    return driver;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on port {port}");
    }

    /// A new headless browser session.
    pub async fn session(&self, chromium: &str) -> Browser {
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1400"],
            },
        }}});
        let answer = call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}/session", self.base),
            Some(capabilities),
        )
        .await;
        let id = answer["sessionId"].as_str().expect("session id").to_owned();
        Browser {
            http: self.http.clone(),
            base: format!("{}/session/{id}", self.base),
        }
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut request = http.request(method.clone(), url);
    let body = body.or_else(|| (method == reqwest::Method::POST).then(|| json!({})));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status();
    let bytes = response.bytes().await.unwrap_or_default();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(
        status.is_success(),
        "WebDriver {method} {url}: {status} {value}"
    );
    value["value"].clone()
}

/// One browser session.
pub struct Browser {
    http: reqwest::Client,
    base: String,
}

/// An element of the current page.
pub struct Element {
    id: String,
}

impl Browser {
    async fn post(&self, path: &str, body: Value) -> Value {
        call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}{path}", self.base),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Value {
        call(
            &self.http,
            reqwest::Method::GET,
            &format!("{}{path}", self.base),
            None,
        )
        .await
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's HTML as the browser holds it.
    pub async fn source(&self) -> String {
        self.get("/source")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's title.
    pub async fn title(&self) -> String {
        self.get("/title")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Every element matching a CSS selector.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e[ELEMENT].as_str())
                    .map(|id| Element { id: id.to_owned() })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching a CSS selector; panics when there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.find_all(css).await.into_iter().next() {
            Some(element) => element,
            None => panic!(
                "no element `{css}` on {}:\n{}",
                self.url().await,
                self.source().await
            ),
        }
    }

    /// Types `text` into an element.
    pub async fn type_into(&self, element: &Element, text: &str) {
        self.post(&format!("/element/{}/clear", element.id), json!({}))
            .await;
        self.post(
            &format!("/element/{}/value", element.id),
            json!({ "text": text }),
        )
        .await;
    }

    /// Clicks an element.
    pub async fn click(&self, element: &Element) {
        self.post(&format!("/element/{}/click", element.id), json!({}))
            .await;
    }

    /// An element's visible text.
    pub async fn text(&self, element: &Element) -> String {
        self.get(&format!("/element/{}/text", element.id))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Presses keys (WebDriver key codes such as `\u{E004}` for Tab) on the focused element.
    pub async fn press(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                let key = c.to_string();
                [
                    json!({"type": "keyDown", "value": key}),
                    json!({"type": "keyUp", "value": key}),
                ]
            })
            .collect();
        self.post(
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        )
        .await;
    }

    /// Runs a script in the page; its return value.
    pub async fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    /// A cookie's value.
    pub async fn cookie(&self, name: &str) -> String {
        self.get(&format!("/cookie/{name}")).await["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let data = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Ends the session (the browser closes).
    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
