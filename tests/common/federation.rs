//! What the federation suites share: a port fixed before an instance starts (its public URL names it) and
//! a staff POST that must succeed.

use super::Staff;

/// A port free now, for an instance whose public URL must name it before it starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// POSTs a staff form and expects the redirect of a save (the page's message otherwise).
pub async fn post_ok(staff: &Staff, path: &str, fields: &[(&str, &str)]) {
    let response = staff.post_form(path, fields).await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 303, "POST {path}: {body}");
    assert!(!location.unwrap_or_default().starts_with("/login"));
}
