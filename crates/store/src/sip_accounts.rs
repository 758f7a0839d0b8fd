//! SIP accounts: who may register, looked up by digest username across every project.
//!
//! An account is a SIP endpoint resource (`/sip_endpoints`, username = the resource's name, HA1
//! values in the body's hidden `_digest`) or a subscriber's nested SIP endpoint (HA1 values in
//! columns of `subscriber_sip_endpoints`).

use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store};
use weft_core::ResourceKind;

/// The digest HA1 values of an endpoint's password, H(username ":" realm ":" password) as
/// lowercase hex, for one realm. Passwords themselves are never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipDigest {
    /// The realm the values were computed for (the server's domain).
    pub realm: String,
    /// HA1 with MD5.
    pub md5: Option<String>,
    /// HA1 with SHA-256.
    pub sha256: Option<String>,
}

impl SipDigest {
    /// The hidden body key a SIP endpoint resource keeps its digest under.
    pub const BODY_KEY: &'static str = "_digest";

    /// The JSON stored under [`SipDigest::BODY_KEY`]: `{"realm", "md5", "sha256"}`.
    pub fn to_json(&self) -> Value {
        json!({"realm": self.realm, "md5": self.md5, "sha256": self.sha256})
    }

    /// Reads the digest a resource body stores, if it has one.
    fn from_body(body: &Value) -> Option<Self> {
        let digest = body.get(Self::BODY_KEY)?;
        let text = |key: &str| digest.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(SipDigest {
            realm: text("realm")?,
            md5: text("md5"),
            sha256: text("sha256"),
        })
    }
}

/// Which kind of SIP endpoint an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SipAccountKind {
    /// A SIP endpoint resource.
    Resource,
    /// A subscriber's nested SIP endpoint.
    Subscriber,
}

/// A SIP account as the registrar sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipAccountRow {
    /// The endpoint's id: the resource id, or the nested endpoint's id. Bindings name it.
    pub id: String,
    /// Which kind of endpoint it is.
    pub kind: SipAccountKind,
    /// Its project.
    pub project_id: String,
    /// The digest username.
    pub username: String,
    /// The id calls ring: the SIP endpoint resource's id, or the subscriber's inner id (the id
    /// signaling knows subscribers by).
    pub resource_id: String,
    /// The subscriber's inner id, for a nested endpoint.
    pub subscriber_id: Option<String>,
    /// The resource's display name (the subscriber's, for a nested endpoint).
    pub display_name: String,
    /// The realm the HA1 values were computed for; `None` when none are stored.
    pub realm: Option<String>,
    /// HA1 with MD5; `None` for endpoints whose password was set before HA1 values were kept.
    pub ha1_md5: Option<String>,
    /// HA1 with SHA-256; `None` likewise.
    pub ha1_sha256: Option<String>,
    /// The `encryption` field (`required`, `optional`, `default`).
    pub encryption: Option<String>,
    /// The `codecs` field, in its order (`OPUS`, `PCMU`, …).
    pub codecs: Vec<String>,
    /// The `caller_id` field.
    pub caller_id: Option<String>,
}

/// The media fields an endpoint's body carries: `encryption`, `codecs`, `caller_id`.
struct MediaFields {
    encryption: Option<String>,
    codecs: Vec<String>,
    caller_id: Option<String>,
}

impl MediaFields {
    fn of(body: &Value) -> Self {
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        MediaFields {
            encryption: text("encryption"),
            codecs: body
                .get("codecs")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            caller_id: text("caller_id"),
        }
    }
}

fn parse_body(row: &AnyRow) -> Result<Value> {
    let body: String = row.try_get("body")?;
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn resource_account(row: &AnyRow) -> Result<SipAccountRow> {
    let body = parse_body(row)?;
    let digest = SipDigest::from_body(&body);
    let media = MediaFields::of(&body);
    let id: String = row.try_get("id")?;
    Ok(SipAccountRow {
        resource_id: id.clone(),
        id,
        kind: SipAccountKind::Resource,
        project_id: row.try_get("project_id")?,
        username: row.try_get("name")?,
        subscriber_id: None,
        display_name: row.try_get("display_name")?,
        realm: digest.as_ref().map(|d| d.realm.clone()),
        ha1_md5: digest.as_ref().and_then(|d| d.md5.clone()),
        ha1_sha256: digest.and_then(|d| d.sha256),
        encryption: media.encryption,
        codecs: media.codecs,
        caller_id: media.caller_id,
    })
}

fn subscriber_account(row: &AnyRow) -> Result<SipAccountRow> {
    let media = MediaFields::of(&parse_body(row)?);
    let subscriber_id: String = row.try_get("subscriber_inner_id")?;
    Ok(SipAccountRow {
        id: row.try_get("id")?,
        kind: SipAccountKind::Subscriber,
        project_id: row.try_get("project_id")?,
        username: row.try_get("username")?,
        resource_id: subscriber_id.clone(),
        subscriber_id: Some(subscriber_id),
        display_name: row.try_get("display_name")?,
        realm: row.try_get("digest_realm")?,
        ha1_md5: row.try_get("ha1_md5")?,
        ha1_sha256: row.try_get("ha1_sha256")?,
        encryption: media.encryption,
        codecs: media.codecs,
        caller_id: media.caller_id,
    })
}

impl Store {
    /// Every SIP account with this digest username, in all projects (usernames are unique per
    /// project only): SIP endpoint resources first, then subscribers' endpoints, oldest first.
    pub async fn sip_accounts(&self, username: &str) -> Result<Vec<SipAccountRow>> {
        let resources = sqlx::query(
            "SELECT id, project_id, name, display_name, body FROM resources \
             WHERE kind = $1 AND name = $2 ORDER BY created_at, id",
        )
        .bind(ResourceKind::SipEndpoint.type_value())
        .bind(username)
        .fetch_all(&self.pool)
        .await?;
        let nested = sqlx::query(
            "SELECT e.id, e.project_id, e.username, e.body, e.digest_realm, e.ha1_md5, e.ha1_sha256, \
             r.inner_id AS subscriber_inner_id, r.display_name \
             FROM subscriber_sip_endpoints e JOIN resources r ON r.id = e.subscriber_id \
             WHERE e.username = $1 ORDER BY e.created_at, e.id",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?;
        resources
            .iter()
            .map(resource_account)
            .chain(nested.iter().map(subscriber_account))
            .collect()
    }
}
