//! Public OAuth clients: their shape and checks, and the registry that finds them in the
//! configuration file or the store.

use serde_json::{Value, json};
use weft_store::Store;
use weft_store::oauth::OAuthClientRow;

use crate::ApiError;

/// The longest client id.
pub const MAX_CLIENT_ID: usize = 128;
/// The most redirect URIs or origins per client.
pub const MAX_URIS: usize = 20;
/// The longest redirect URI.
pub const MAX_URI: usize = 2000;

/// A public client (no secret): where codes may go and which browser origins may redeem them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub client_id: String,
    /// The project whose subscribers log in; `None` (configuration only) means the first project.
    pub project_id: Option<String>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub allowed_origins: Vec<String>,
    /// Set for clients from the configuration file, which the REST API cannot change.
    pub from_config: bool,
}

impl OAuthClient {
    /// Whether `uri` is one of the registered redirect URIs (exact match).
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == uri)
    }

    /// The REST representation.
    pub fn to_json(&self) -> Value {
        json!({
            "client_id": self.client_id,
            "project_id": self.project_id,
            "name": self.name,
            "redirect_uris": self.redirect_uris,
            "allowed_origins": self.allowed_origins,
            "token_endpoint_auth_method": "none",
            "source": if self.from_config { "config" } else { "api" },
        })
    }
}

impl From<OAuthClientRow> for OAuthClient {
    fn from(row: OAuthClientRow) -> Self {
        OAuthClient {
            client_id: row.client_id,
            project_id: Some(row.project_id),
            name: row.name,
            redirect_uris: row.redirect_uris,
            allowed_origins: row.allowed_origins,
            from_config: false,
        }
    }
}

/// Checks a client id: 1–128 characters of `A–Z a–z 0–9 - . _ ~ :`.
pub fn check_client_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_CLIENT_ID {
        return Err(format!("client_id must be 1 to {MAX_CLIENT_ID} characters"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':'))
    {
        return Err("client_id may only contain letters, digits and - . _ ~ :".into());
    }
    Ok(())
}

/// Checks a redirect URI: absolute (`scheme:` + rest), no fragment, no spaces or control
/// characters; `http:` only for loopback hosts (`localhost`, `*.localhost`, `127.0.0.1`, `[::1]`).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.is_empty() || uri.len() > MAX_URI {
        return Err(format!("a redirect URI must be 1 to {MAX_URI} characters"));
    }
    if uri.bytes().any(|b| b.is_ascii_control() || b == b' ') || uri.contains('#') {
        return Err(format!(
            "{uri} must not contain spaces, control characters or a fragment"
        ));
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(format!("{uri} is not an absolute URI"));
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'));
    if !scheme_ok || rest.is_empty() {
        return Err(format!("{uri} is not an absolute URI"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => web_host(rest)
            .map(|_| ())
            .ok_or_else(|| format!("{uri} has no host")),
        "http" => match web_host(rest) {
            Some(host) if is_loopback(host) => Ok(()),
            _ => Err(format!(
                "{uri}: plain http is only allowed for loopback hosts"
            )),
        },
        "javascript" | "data" | "file" | "vbscript" => {
            Err(format!("{uri}: the {scheme} scheme is not allowed"))
        }
        _ => Ok(()),
    }
}

/// Checks a browser origin: `http(s)://host[:port]`, nothing after.
pub fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        !r.is_empty()
            && r.len() < 256
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{origin} is not an origin like https://app.example.com"
        ))
    }
}

/// The host of `//host[:port]/…`.
fn web_host(rest: &str) -> Option<&str> {
    let authority = rest.strip_prefix("//")?.split(['/', '?']).next()?;
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty() && !authority.contains('@')).then_some(host)
}

fn is_loopback(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host == "127.0.0.1" || host == "[::1]"
}

/// Checks a whole client; every problem is a validation error naming its field.
pub fn check_client(client: &OAuthClient) -> Result<(), ApiError> {
    let field = |attribute: &str, message: String| {
        ApiError::invalid(attribute, "invalid_parameter", message)
    };
    check_client_id(&client.client_id).map_err(|m| field("client_id", m))?;
    if client.name.chars().count() > 255 {
        return Err(field("name", "name must be at most 255 characters".into()));
    }
    if client.redirect_uris.is_empty() || client.redirect_uris.len() > MAX_URIS {
        return Err(field(
            "redirect_uris",
            format!("redirect_uris needs 1 to {MAX_URIS} URIs"),
        ));
    }
    for uri in &client.redirect_uris {
        check_redirect_uri(uri).map_err(|m| field("redirect_uris", m))?;
    }
    if client.allowed_origins.len() > MAX_URIS {
        return Err(field(
            "allowed_origins",
            format!("allowed_origins takes at most {MAX_URIS} origins"),
        ));
    }
    for origin in &client.allowed_origins {
        check_origin(origin).map_err(|m| field("allowed_origins", m))?;
    }
    Ok(())
}

/// Finds clients: the configuration file's first, then the store's.
#[derive(Debug, Clone)]
pub struct Registry {
    configured: Vec<OAuthClient>,
    store: Store,
}

impl Registry {
    pub fn new(configured: Vec<OAuthClient>, store: Store) -> Self {
        Registry { configured, store }
    }

    /// The clients from the configuration file.
    pub fn configured(&self) -> &[OAuthClient] {
        &self.configured
    }

    /// A client by id, with its project resolved (`None` when there is no such client).
    pub async fn find(&self, client_id: &str) -> Result<Option<OAuthClient>, ApiError> {
        if check_client_id(client_id).is_err() {
            return Ok(None);
        }
        if let Some(client) = self.configured.iter().find(|c| c.client_id == client_id) {
            let mut client = client.clone();
            if client.project_id.is_none() {
                client.project_id = self.store.first_project_id().await?;
            }
            return Ok(client.project_id.is_some().then_some(client));
        }
        Ok(self
            .store
            .oauth_client(client_id)
            .await?
            .map(OAuthClient::from))
    }

    /// Whether any client allows this browser origin.
    pub async fn origin_allowed(&self, origin: &str) -> bool {
        if self
            .configured
            .iter()
            .any(|c| c.allowed_origins.iter().any(|o| o == origin))
        {
            return true;
        }
        self.store
            .oauth_origin_registered(origin)
            .await
            .unwrap_or(false)
    }
}

/// Registers a client in the store (used by the REST API and the admin CLI). The id must not be
/// taken by a configured client either.
pub async fn create_client(
    store: &Store,
    configured: &[OAuthClient],
    client: OAuthClient,
    project_id: &str,
) -> Result<OAuthClient, ApiError> {
    check_client(&client)?;
    if configured.iter().any(|c| c.client_id == client.client_id) {
        return Err(ApiError::invalid(
            "client_id",
            "already_taken",
            "client_id has already been taken",
        ));
    }
    let row = OAuthClientRow {
        client_id: client.client_id,
        project_id: project_id.to_owned(),
        name: client.name,
        redirect_uris: client.redirect_uris,
        allowed_origins: client.allowed_origins,
        created_at: weft_core::time::now_ms(),
    };
    store.create_oauth_client(&row).await?;
    Ok(row.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> OAuthClient {
        OAuthClient {
            client_id: "web-app".into(),
            project_id: None,
            name: "Web".into(),
            redirect_uris: vec!["http://localhost:3000".into()],
            allowed_origins: vec!["http://localhost:3000".into()],
            from_config: true,
        }
    }

    #[test]
    fn redirect_uris_are_checked() {
        for good in [
            "https://app.example.com/cb",
            "http://localhost:3000",
            "http://127.0.0.1:8080/cb?x=1",
            "http://[::1]:80/cb",
            "http://app.weft.localhost/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(check_redirect_uri(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/relative",
            "http://example.com/cb",
            "https://a/cb#frag",
            "https://a/c b",
            "javascript:alert(1)",
            "https:///nohost",
            "https://user@host/cb",
            "1http://localhost",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_and_ids_are_checked() {
        assert!(check_origin("http://localhost:3000").is_ok());
        assert!(check_origin("https://app.example.com").is_ok());
        assert!(check_origin("https://app.example.com/").is_err());
        assert!(check_origin("ftp://x").is_err());
        assert!(check_origin("*").is_err());
        assert!(check_client_id("web-app_1").is_ok());
        assert!(check_client_id("").is_err());
        assert!(check_client_id("a b").is_err());
        assert!(check_client_id(&"a".repeat(129)).is_err());
    }

    #[test]
    fn whole_clients_are_checked() {
        assert!(check_client(&client()).is_ok());
        let mut no_uris = client();
        no_uris.redirect_uris.clear();
        assert!(check_client(&no_uris).is_err());
        assert!(client().allows_redirect("http://localhost:3000"));
        assert!(!client().allows_redirect("http://localhost:3000/"));
    }
}
