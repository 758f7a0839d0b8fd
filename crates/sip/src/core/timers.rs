//! Session timers (RFC 4028): a peer that asks for them gets them; Weft refreshes when it is the
//! refresher and ends a call whose peer stopped refreshing.

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Request, Response};
use weft_calls::{Cause, Command};

use super::dialog::{Refresher, SessionTimer};
use super::{Now, SipCore, new_tag, session_grace};
use crate::msg;

/// The interval and refresher of a `Session-Expires` value (`1800;refresher=uac`).
pub(super) fn parse_session_expires(value: &str) -> Option<(u32, Option<String>)> {
    let mut parts = value.split(';');
    let interval = parts.next()?.trim().parse::<u32>().ok()?;
    let refresher = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("refresher")
            .then(|| v.trim().to_ascii_lowercase())
    });
    Some((interval, refresher))
}

impl SipCore {
    /// The timer an INVITE asks for (Weft lets the caller refresh unless it asked Weft to), or
    /// the `422` for an interval below `Min-SE`.
    pub(super) fn requested_timer(
        &self,
        now: Now,
        req: &Request,
    ) -> Result<Option<SessionTimer>, Box<Response>> {
        let Some(value) = msg::header(req, "Session-Expires") else {
            return Ok(None);
        };
        let Some((interval, refresher)) = parse_session_expires(&value) else {
            return Err(Box::new(msg::response(req, 400, Some(&new_tag()))));
        };
        if interval < self.cfg.min_session_expires {
            let mut resp = msg::response(req, 422, Some(&new_tag()));
            msg::add(
                &mut resp,
                msg::other("Min-SE", self.cfg.min_session_expires.to_string()),
            );
            return Err(Box::new(resp));
        }
        let refresher = if refresher.as_deref() == Some("uas") {
            Refresher::Us
        } else {
            Refresher::Them
        };
        Ok(Some(schedule(now, interval, refresher)))
    }

    /// The timer the answer to Weft's INVITE settled on (Weft refreshes if the peer says so).
    pub(super) fn answered_timer(&self, now: Now, resp: &Response) -> Option<SessionTimer> {
        let (interval, refresher) = parse_session_expires(&resp.header_value("Session-Expires")?)?;
        let refresher = if refresher.as_deref() == Some("uac") {
            Refresher::Us
        } else {
            Refresher::Them
        };
        Some(schedule(
            now,
            interval.max(self.cfg.min_session_expires),
            refresher,
        ))
    }

    /// The peer refreshed the session (a re-INVITE or UPDATE).
    pub(super) fn session_refreshed(&mut self, now: Now, leg: &str) {
        if let Some(d) = self.dialogs.get_mut(leg)
            && let Some(t) = d.timer
        {
            d.timer = Some(schedule(now, t.interval, t.refresher));
        }
    }

    /// Refreshes the sessions Weft is due to refresh; ends those whose peer stopped.
    pub(super) fn run_session_timers(&mut self, now: Now) {
        for leg in self.dialogs.due(now.mono) {
            let Some(d) = self.dialogs.get_mut(&leg) else {
                continue;
            };
            let Some(t) = d.timer else { continue };
            match t.refresher {
                Refresher::Us => {
                    d.timer = Some(schedule(now, t.interval, t.refresher));
                    self.send_refresh(&leg);
                }
                Refresher::Them => {
                    tracing::info!(call_id = %leg, "SIP session expired without a refresh");
                    self.command(Command::Hangup {
                        leg: leg.clone(),
                        cause: Cause::RecoveryOnTimerExpire,
                    });
                    self.send_bye(&leg, Cause::RecoveryOnTimerExpire);
                }
            }
        }
    }
}

/// The next deadline of a timer with `interval` and `refresher`, from now.
fn schedule(now: Now, interval: u32, refresher: Refresher) -> SessionTimer {
    let due = match refresher {
        Refresher::Us => now.mono + std::time::Duration::from_secs(u64::from(interval / 2)),
        Refresher::Them => now.mono + session_grace(interval),
    };
    SessionTimer {
        interval,
        refresher,
        due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_expires_values_parse() {
        assert_eq!(
            parse_session_expires("1800;refresher=uac"),
            Some((1800, Some("uac".into())))
        );
        assert_eq!(
            parse_session_expires(" 90 ; Refresher = UAS"),
            Some((90, Some("uas".into())))
        );
        assert_eq!(parse_session_expires("600"), Some((600, None)));
        assert_eq!(parse_session_expires("soon"), None);
    }
}
