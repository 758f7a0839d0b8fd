//! OpenID Connect identity: the `id_token` (ES256, signed with the access-token key, so its `kid`
//! is in the JWKS) and the profile claims shared with the userinfo endpoint.

use serde_json::{Map, Value, json};
use weft_auth::Es256Key;
use weft_store::resources::Resource;

/// What an id token says, besides the subscriber's profile.
#[derive(Debug, Clone)]
pub struct IdTokenFacts<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    /// When the subscriber logged in, Unix seconds.
    pub auth_time: i64,
    pub now: i64,
    pub ttl_secs: i64,
}

/// The standard claims of a subscriber: `sub`, `email`, `email_verified`, `name`, `given_name`,
/// `family_name`, `preferred_username`.
pub fn profile_claims(subscriber: &Resource) -> Map<String, Value> {
    let text = |key: &str| {
        subscriber
            .body
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(subscriber.inner_id));
    if let Some(email) = text("email") {
        claims.insert("email".into(), json!(email));
        claims.insert("email_verified".into(), json!(false));
    }
    claims.insert("name".into(), json!(subscriber.display_name));
    if let Some(v) = text("first_name") {
        claims.insert("given_name".into(), json!(v));
    }
    if let Some(v) = text("last_name") {
        claims.insert("family_name".into(), json!(v));
    }
    claims.insert("preferred_username".into(), json!(subscriber.name));
    claims
}

/// Signs an id token for `subscriber`.
pub fn sign(key: &Es256Key, subscriber: &Resource, facts: &IdTokenFacts<'_>) -> String {
    let mut claims = profile_claims(subscriber);
    claims.insert("iss".into(), json!(facts.issuer));
    claims.insert("aud".into(), json!(facts.client_id));
    claims.insert("azp".into(), json!(facts.client_id));
    claims.insert("iat".into(), json!(facts.now));
    claims.insert("exp".into(), json!(facts.now + facts.ttl_secs));
    claims.insert("auth_time".into(), json!(facts.auth_time));
    if let Some(nonce) = facts.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    let mut header = Map::new();
    header.insert("typ".into(), json!("JWT"));
    key.sign(header, &Value::Object(claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_core::ResourceKind;

    #[test]
    fn id_tokens_carry_the_oidc_claims_and_verify() {
        let (key, _) = Es256Key::generate("k1").unwrap();
        let subscriber = Resource {
            id: "r1".into(),
            project_id: "p".into(),
            kind: ResourceKind::Subscriber,
            inner_id: "s1".into(),
            name: "ann".into(),
            display_name: "Ann Lee".into(),
            body: json!({"email": "ann@example.com", "first_name": "Ann", "last_name": ""}),
            created_at: 0,
            updated_at: 0,
        };
        let token = sign(
            &key,
            &subscriber,
            &IdTokenFacts {
                issuer: "https://fabric.weft.localhost",
                client_id: "web",
                nonce: Some("n-1"),
                auth_time: 90,
                now: 100,
                ttl_secs: 60,
            },
        );
        let (header, claims) = key.verify(&token).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "k1");
        assert_eq!(claims["iss"], "https://fabric.weft.localhost");
        assert_eq!(claims["sub"], "s1");
        assert_eq!(claims["aud"], "web");
        assert_eq!(claims["exp"], 160);
        assert_eq!(claims["iat"], 100);
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["email"], "ann@example.com");
        assert_eq!(claims["name"], "Ann Lee");
        assert_eq!(claims["given_name"], "Ann");
        assert!(claims.get("family_name").is_none());
    }
}
