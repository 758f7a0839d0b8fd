//! The server-rendered pages: the login form, error pages and the signed-out page. No script;
//! every value is HTML-escaped.

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{color-scheme:light;--ink:#111827;--muted:#4b5563;--line:#d1d5db;--brand:#4338ca;--brand-dark:#3730a3;--bg:#f3f4f8;--error:#b91c1c;--error-bg:#fef2f2}
*{box-sizing:border-box}
html,body{margin:0;min-height:100%}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:radial-gradient(circle at 20% 0%,#e0e7ff 0,transparent 45%),radial-gradient(circle at 100% 100%,#ede9fe 0,transparent 40%),var(--bg);display:flex;flex-direction:column;align-items:center;justify-content:center;min-height:100vh;padding:24px}
main{width:100%;max-width:400px}
.brand{display:flex;align-items:center;justify-content:center;gap:10px;margin-bottom:24px;font-weight:700;font-size:1.375rem;letter-spacing:-.01em}
.brand svg{width:36px;height:36px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:14px;box-shadow:0 1px 2px rgba(17,24,39,.06),0 12px 32px rgba(17,24,39,.08);padding:32px}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 4px;letter-spacing:-.01em}
.lead{color:var(--muted);margin:0 0 24px}
.lead strong{color:var(--ink);font-weight:600}
label{display:block;font-weight:600;font-size:.9375rem;margin:0 0 6px}
.field{margin-bottom:18px}
input[type=email],input[type=password]{display:block;width:100%;font:inherit;padding:10px 12px;border:1px solid var(--line);border-radius:8px;background:#fff;color:var(--ink)}
input[type=email]:focus,input[type=password]:focus{outline:3px solid #a5b4fc;outline-offset:1px;border-color:var(--brand)}
input[aria-invalid=true]{border-color:var(--error)}
button{display:block;width:100%;font:inherit;font-weight:600;padding:11px 16px;border:0;border-radius:8px;background:var(--brand);color:#fff;cursor:pointer;margin-top:8px}
button:hover{background:var(--brand-dark)}
button:focus-visible{outline:3px solid #a5b4fc;outline-offset:2px}
.alert{display:flex;gap:10px;align-items:flex-start;border:1px solid #fecaca;background:var(--error-bg);color:var(--error);border-radius:8px;padding:12px 14px;margin:0 0 20px;font-size:.9375rem}
.alert svg{flex:none;width:20px;height:20px;margin-top:1px}
.notice{border:1px solid #c7d2fe;background:#eef2ff;color:#312e81;border-radius:8px;padding:12px 14px;margin:0 0 20px;font-size:.9375rem}
.hint{color:var(--muted);font-size:.875rem;margin:20px 0 0;text-align:center}
footer{color:var(--muted);font-size:.8125rem;margin-top:24px;text-align:center}
a{color:var(--brand)}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);border:0}
"#;

const LOGO: &str = r##"<svg viewBox="0 0 36 36" aria-hidden="true" focusable="false"><rect width="36" height="36" rx="9" fill="#4338ca"/><path d="M8 12l5 13 5-10 5 10 5-13" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>"##;

const ALERT_ICON: &str = r#"<svg viewBox="0 0 20 20" aria-hidden="true" focusable="false"><circle cx="10" cy="10" r="9" fill="none" stroke="currentColor" stroke-width="2"/><path d="M10 5.5v5.5M10 14h.01" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>"#;

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{title} · Weft</title><style>{STYLE}</style></head>\
         <body><main><div class=\"brand\">{LOGO}<span>Weft</span></div>{body}</main>\
         <footer>Secured by Weft · Your password is never shared with the application.</footer>\
         </body></html>",
        title = escape(title),
    )
}

/// What the login form shows.
#[derive(Debug, Clone, Default)]
pub struct LoginView<'a> {
    /// The application the subscriber is signing in to.
    pub client_name: &'a str,
    /// Hidden fields reproducing the authorization request (and the CSRF token).
    pub hidden: Vec<(&'a str, &'a str)>,
    /// The email to prefill.
    pub email: &'a str,
    /// What went wrong with the last attempt.
    pub error: Option<&'a str>,
    /// Whether the error concerns the credentials (marks the fields invalid).
    pub credentials_invalid: bool,
}

/// The login form.
pub fn login(view: &LoginView<'_>) -> String {
    let mut body = String::from("<div class=\"card\">");
    body.push_str("<h1 id=\"title\">Sign in</h1>");
    body.push_str(&format!(
        "<p class=\"lead\">to continue to <strong>{}</strong></p>",
        escape(view.client_name)
    ));
    if let Some(error) = view.error {
        body.push_str(&format!(
            "<div class=\"alert\" role=\"alert\" id=\"form-error\">{ALERT_ICON}<span>{}</span></div>",
            escape(error)
        ));
    }
    body.push_str(
        "<form method=\"post\" action=\"/login/oauth/authorize\" aria-labelledby=\"title\" novalidate>",
    );
    for (name, value) in &view.hidden {
        body.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        ));
    }
    let invalid = if view.credentials_invalid {
        " aria-invalid=\"true\" aria-describedby=\"form-error\""
    } else {
        ""
    };
    let (email_focus, password_focus) = if view.email.is_empty() {
        (" autofocus", "")
    } else {
        ("", " autofocus")
    };
    body.push_str(&format!(
        "<div class=\"field\"><label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" inputmode=\"email\" \
         autocapitalize=\"none\" spellcheck=\"false\" required maxlength=\"254\" value=\"{}\"{invalid}{email_focus}></div>\
         <div class=\"field\"><label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" \
         required maxlength=\"1024\"{invalid}{password_focus}></div>\
         <button type=\"submit\">Sign in</button></form>",
        escape(view.email)
    ));
    body.push_str(
        "<p class=\"hint\">Forgot your password? Ask the administrator of this application.</p></div>",
    );
    document("Sign in", &body)
}

/// A page explaining why sign-in cannot go on (never a redirect to an unverified address).
pub fn error(title: &str, detail: &str) -> String {
    let body = format!(
        "<div class=\"card\"><h1>{}</h1><div class=\"alert\" role=\"alert\">{ALERT_ICON}<span>{}</span></div>\
         <p class=\"lead\">Go back to the application and try signing in again. If this keeps happening, \
         contact its administrator.</p></div>",
        escape(title),
        escape(detail)
    );
    document(title, &body)
}

/// The page shown after signing out when there is nowhere to return to.
pub fn signed_out() -> String {
    document(
        "Signed out",
        "<div class=\"card\"><h1>You are signed out</h1><p class=\"lead\">You can close this window.</p></div>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_rendered_is_escaped() {
        let evil = "\"><script>alert('x')</script>&";
        let html = login(&LoginView {
            client_name: evil,
            hidden: vec![("state", evil)],
            email: evil,
            error: Some(evil),
            credentials_invalid: true,
        });
        assert!(!html.contains("<script>"));
        assert!(html.contains("&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"));
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("<label for=\"email\">"));
        assert!(html.contains("<label for=\"password\">"));
        assert!(!error(evil, evil).contains("<script>"));
    }

    #[test]
    fn focus_goes_to_the_first_empty_field() {
        let blank = login(&LoginView::default());
        assert!(
            blank.contains("type=\"email\" autocomplete=\"username\"")
                && blank.contains("required maxlength=\"254\" value=\"\" autofocus")
        );
        let known = login(&LoginView {
            email: "a@b.c",
            ..LoginView::default()
        });
        assert!(known.contains("maxlength=\"1024\" autofocus"));
    }
}
