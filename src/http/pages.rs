//! Server-rendered pages (minijinja, templates compiled into the binary, no external
//! assets). Every page gets a fresh CSP nonce for its inline style and script.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;

use crate::model::random_token;

#[derive(Debug)]
pub struct Pages {
    /// Compiled at the first page, not at start: most requests (tokens,
    /// introspection) never render one.
    env: std::sync::OnceLock<Environment<'static>>,
}

impl Default for Pages {
    fn default() -> Self {
        Self::new()
    }
}

impl Pages {
    pub fn new() -> Self {
        Pages {
            env: std::sync::OnceLock::new(),
        }
    }

    fn env(&self) -> &Environment<'static> {
        self.env.get_or_init(|| {
            let mut env = Environment::new();
            for (name, src) in [
                ("base.html", include_str!("../../templates/base.html")),
                ("consent.html", include_str!("../../templates/consent.html")),
                ("error.html", include_str!("../../templates/error.html")),
                ("device.html", include_str!("../../templates/device.html")),
                (
                    "form_post.html",
                    include_str!("../../templates/form_post.html"),
                ),
                ("message.html", include_str!("../../templates/message.html")),
                ("logout.html", include_str!("../../templates/logout.html")),
            ] {
                if let Err(e) = env.add_template(name, src) {
                    tracing::error!(template = name, error = %e, "template does not compile");
                }
            }
            env
        })
    }

    /// Renders `name` with `ctx` (plus a CSP nonce) as a response with security headers.
    /// `form_action_any` lets the page's forms post anywhere (the form_post response).
    pub fn render(
        &self,
        status: StatusCode,
        name: &str,
        ctx: minijinja::Value,
        form_action_any: bool,
    ) -> Response {
        let form_action = if form_action_any { "*" } else { "'self'" };
        self.render_with(status, name, ctx, form_action)
    }

    /// Renders a page whose form's answer redirects to `redirect_uri`: Chromium applies
    /// `form-action` to the redirect after a form POST, so the client's origin (or, for
    /// a native app's private-use scheme, the scheme) must be allowed too.
    pub fn render_redirecting(
        &self,
        status: StatusCode,
        name: &str,
        ctx: minijinja::Value,
        redirect_uri: &str,
    ) -> Response {
        let target = match url::Url::parse(redirect_uri) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u.origin().ascii_serialization(),
            Ok(u) => format!("{}:", u.scheme()),
            Err(_) => String::new(),
        };
        let form_action = format!("'self' {target}");
        self.render_with(status, name, ctx, form_action.trim_end())
    }

    fn render_with(
        &self,
        status: StatusCode,
        name: &str,
        ctx: minijinja::Value,
        form_action: &str,
    ) -> Response {
        let nonce = random_token(12);
        let ctx = minijinja::context! { nonce => nonce.clone(), ..ctx };
        let body = match self.env().get_template(name).and_then(|t| t.render(ctx)) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(template = name, error = %e, "cannot render page");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Authdesk could not render this page; see its log",
                )
                    .into_response();
            }
        };
        let csp = format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; connect-src 'self'; img-src 'self' data:; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        );
        let mut res = (status, Html(body)).into_response();
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}
