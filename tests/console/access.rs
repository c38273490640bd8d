//! Access without a browser: `--dev` opens the pages but a POST still needs its CSRF token;
//! without a token the console is closed and says so; security headers and the hashed assets'
//! caching.

use super::{support, SECRET, START, STORY};
use std::sync::Arc;
use warden::app::{Definitions, Settings};
use warden::clock::ManualClock;
use warden::secrets::Secrets;
use warden::story::validate::{check_story, Catalog};

#[tokio::test]
async fn dev_mode_opens_the_pages_but_a_post_still_needs_its_csrf_token_and_assets_are_cached() {
    support::each_backend(|db| async move {
        let story = check_story("console_triage", STORY, &Catalog::default())
            .unwrap_or_else(|d| panic!("{d:?}"));
        let settings = Settings {
            secrets: Secrets::default().with_credential("hook", SECRET),
            clock: Arc::new(ManualClock::new(START)),
            dev: true,
            ..Settings::new(&db.url, Definitions::stories(vec![story]))
        };
        let served = support::serve(settings).await;
        let page = served
            .request(reqwest::Method::GET, "/stories")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        assert!(html.contains("Console triage"));
        assert!(!html.contains("Sign out"), "no session to end in dev mode");

        let css = html
            .split("href=\"")
            .find_map(|rest| rest.split('"').next().filter(|h| h.starts_with("/static/")))
            .expect("a stylesheet link")
            .to_owned();
        let asset = served
            .request(reqwest::Method::GET, &css)
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200);
        assert!(asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
        assert!(asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css"));
        let stale = served
            .request(reqwest::Method::GET, "/static/console.000000000000.css")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 404);

        let post = served
            .request(reqwest::Method::POST, "/signout")
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 403, "no CSRF token");
        served.stop().await;
        db
    })
    .await;
}

#[tokio::test]
async fn without_a_token_the_console_is_closed_and_says_how_to_open_it() {
    let db = support::TestDb::sqlite();
    let served = support::serve(Settings::new(&db.url, Definitions::stories(Vec::new()))).await;
    let client = served.http.clone();
    let to_signin = client
        .get(format!("{}/runs?status=failed", served.address))
        .send()
        .await
        .unwrap();
    // The client follows the redirect to the sign-in page.
    assert!(to_signin
        .url()
        .as_str()
        .ends_with("/signin?next=%2Fruns%3Fstatus%3Dfailed"));
    let html = to_signin.text().await.unwrap();
    assert!(html.contains("The console is closed"), "{html}");
    served.stop().await;
    db.drop_db().await;
}
