//! Signing out ends the session on the server: a copy of the cookie taken before sign-out gets
//! the sign-in page afterwards, from the process that signed it out, from a second process on
//! the same database, and after a restart; another session signed in beside it keeps working.

use super::{csrf, no_redirects, settings, support, TOKEN};

/// Signs in with the API token; the `warden_session=…` cookie it sets.
async fn sign_in(served: &support::Served) -> String {
    let page = served
        .request(reqwest::Method::GET, "/signin")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf(&page))
        .append_pair("token", TOKEN)
        .finish();
    let answer = no_redirects()
        .post(format!("{}/signin", served.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    let set_cookie = answer.headers()["set-cookie"].to_str().unwrap();
    set_cookie.split(';').next().expect("a cookie").to_owned()
}

/// `GET /runs` with `cookie`: the page (200) or the way to sign-in (a redirect to `/signin`).
async fn runs_page(served: &support::Served, cookie: &str) -> (u16, String) {
    let answer = no_redirects()
        .get(format!("{}/runs", served.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let location = answer
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body = answer.text().await.unwrap();
    (status, location.unwrap_or(body))
}

fn assert_signed_out(answer: (u16, String)) {
    assert_eq!(answer.0, 303, "{}", answer.1);
    assert!(answer.1.starts_with("/signin?next="), "{}", answer.1);
}

#[tokio::test]
async fn a_cookie_kept_after_sign_out_gets_the_sign_in_page_everywhere_and_after_a_restart() {
    support::each_backend(|db| async move {
        let served = support::serve(settings(&db)).await;
        let copied = sign_in(&served).await;
        let other = sign_in(&served).await;
        assert_ne!(copied, other, "each sign-in is a session of its own");
        let (status, page) = runs_page(&served, &copied).await;
        assert_eq!(status, 200, "{page}");

        // Sign out, as the page's form does, with the copied cookie's own session.
        let form = format!("csrf={}", csrf(&page));
        let answer = no_redirects()
            .post(format!("{}/signout", served.address))
            .header("cookie", &copied)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303);
        assert_eq!(answer.headers()["location"], "/signin");
        assert!(answer.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));

        assert_signed_out(runs_page(&served, &copied).await);
        // A state-changing request with the copy is refused too, CSRF token and all.
        let again = no_redirects()
            .post(format!("{}/signout", served.address))
            .header("cookie", &copied)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 403);
        // Only that session ended.
        assert_eq!(runs_page(&served, &other).await.0, 200);

        // A second process on the same database refuses the copy as well.
        let second = support::serve(settings(&db)).await;
        assert_signed_out(runs_page(&second, &copied).await);
        assert_eq!(runs_page(&second, &other).await.0, 200);
        second.stop().await;

        // And so does the first after a restart.
        served.stop().await;
        let restarted = support::serve(settings(&db)).await;
        assert_signed_out(runs_page(&restarted, &copied).await);
        assert_eq!(runs_page(&restarted, &other).await.0, 200);
        restarted.stop().await;
        db
    })
    .await;
}
