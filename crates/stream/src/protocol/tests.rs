use serde_json::json;

use super::*;

#[test]
fn media_serialises_with_string_counters() {
    let msg = ToAgent::Media {
        sequence_number: Decimal(3),
        stream_sid: "MZ1".into(),
        media: MediaBody {
            track: Track::Inbound,
            chunk: Decimal(1),
            timestamp: Decimal(5),
            payload: "AAA=".into(),
        },
    };
    let value: serde_json::Value = serde_json::from_str(&msg.to_json()).unwrap();
    assert_eq!(
        value,
        json!({"event": "media", "sequenceNumber": "3", "streamSid": "MZ1",
               "media": {"track": "inbound", "chunk": "1", "timestamp": "5", "payload": "AAA="}})
    );
    let back: ToAgent<'_> = serde_json::from_str(&msg.to_json()).unwrap();
    assert_eq!(back, msg);
}

#[test]
fn parses_the_agents_messages() {
    let media = r#"{"event":"media","streamSid":"MZ1","media":{"payload":"AAE="}}"#;
    assert_eq!(
        FromAgent::parse(media).unwrap(),
        FromAgent::Media {
            payload: "AAE=".into()
        }
    );
    let mark = r#"{"event":"mark","streamSid":"MZ1","mark":{"name":"end \"1\""}}"#;
    assert_eq!(
        FromAgent::parse(mark).unwrap(),
        FromAgent::Mark {
            name: "end \"1\"".into()
        }
    );
    assert_eq!(
        FromAgent::parse(r#"{"event":"clear","streamSid":"MZ1"}"#).unwrap(),
        FromAgent::Clear
    );
    assert_eq!(
        FromAgent::parse(r#"{"event":"ping","extra":[1,2]}"#).unwrap(),
        FromAgent::Unknown {
            event: "ping".into()
        }
    );
}

#[test]
fn rejects_malformed_messages() {
    for text in [
        "",
        "not json",
        "{\"event\":",
        "[1,2]",
        "{\"media\":{\"payload\":\"AA==\"}}",
        "{\"event\":5}",
        "{\"event\":\"media\"}",
        "{\"event\":\"media\",\"media\":{}}",
        "{\"event\":\"media\",\"media\":{\"payload\":7}}",
        "{\"event\":\"mark\",\"mark\":{}}",
    ] {
        assert!(FromAgent::parse(text).is_err(), "{text:?} parsed");
    }
}

#[test]
fn decimal_rejects_non_numbers() {
    assert_eq!(
        serde_json::from_str::<Decimal>("\"42\"").unwrap(),
        Decimal(42)
    );
    assert!(serde_json::from_str::<Decimal>("\"x\"").is_err());
    assert!(serde_json::from_str::<Decimal>("42").is_err());
}
