//! Pushing RISC events: one Security Event Token per stream that asked for the event type,
//! POSTed to the stream's receiver as `application/secevent+jwt`. The caller waits for the
//! first attempt of each delivery (at most [`ATTEMPT_TIMEOUT`]); one that got no answer or no
//! 2xx is tried again in the background, the same SET each time, after the stream's retry base,
//! then twice as long, [`RETRIES`] times in all, then given up (or at once when the emulator
//! is reset or its state imported meanwhile). Every attempt lands in the
//! request log as a [`RISC_DELIVERY`] entry (receiver, event type, jti, status; never the SET).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Map, Value};

use super::events::{new_jti, set_claims, sign_set};
use crate::faults::{DeliveryLog, LogEntry, RISC_DELIVERY};
use crate::model::Stream;
use crate::state::Shared;

/// How long one attempt may take before it counts as unanswered.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times a failed delivery is tried again.
pub const RETRIES: u32 = 5;

/// The client the deliveries go out with: no redirects followed, [`ATTEMPT_TIMEOUT`].
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// One event for one stream: the event's body (its subject and extra fields).
pub struct Outgoing {
    pub stream: Stream,
    pub body: Map<String, Value>,
}

/// One signed SET on its way to one receiver.
struct Delivery {
    jti: String,
    receiver: String,
    client_id: String,
    event_type: &'static str,
    jwt: String,
}

impl Delivery {
    /// What the control answers about it, with the first attempt's status.
    fn report(&self, status: Option<u16>) -> Value {
        json!({
            "jti": self.jti,
            "receiver": self.receiver,
            "client_id": self.client_id,
            "type": self.event_type,
            "status": status,
        })
    }
}

/// The streams of `shared` that asked for `event_type`.
pub fn streams_for(shared: &Shared, event_type: &str) -> Vec<Stream> {
    shared
        .store()
        .risc_streams
        .iter()
        .filter(|s| s.wants(event_type))
        .cloned()
        .collect()
}

/// Signs one SET per outgoing event, pushes them all at once, and answers each delivery's
/// report once its first attempt is over (retries go on in the background).
pub async fn emit(
    shared: Arc<Shared>,
    event_type: &'static str,
    outgoing: Vec<Outgoing>,
) -> Vec<Value> {
    let keys = shared.keys().current;
    let iat = Utc::now().timestamp();
    let mut pending = Vec::new();
    for o in outgoing {
        let jti = new_jti();
        let claims = set_claims(
            &shared.issuer,
            &o.stream.client_id,
            &jti,
            iat,
            event_type,
            o.body,
        );
        let delivery = Delivery {
            jwt: sign_set(keys, &claims),
            jti,
            receiver: o.stream.receiver,
            client_id: o.stream.client_id,
            event_type,
        };
        pending.push(push(shared.clone(), delivery));
    }
    let mut reports = Vec::new();
    for first in pending {
        if let Ok(report) = first.await {
            reports.push(report);
        }
    }
    reports
}

/// Starts a delivery: the receiver answers the report of its first attempt; when that failed,
/// the task goes on with the retries.
fn push(shared: Arc<Shared>, d: Delivery) -> tokio::sync::oneshot::Receiver<Value> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let status = attempt(&shared, &d, 1).await;
        let _ = tx.send(d.report(status));
        if !delivered(status) {
            retry(&shared, &d).await;
        }
    });
    rx
}

fn delivered(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..300).contains(&s))
}

/// The retries: after the base wait, then twice as long each time, until one is answered 2xx
/// (or the state they belong to is reset or replaced).
async fn retry(shared: &Shared, d: &Delivery) {
    let generation = shared.risc_generation();
    let mut wait = shared.risc_retry_base;
    for n in 0..RETRIES {
        tokio::time::sleep(wait).await;
        if shared.risc_generation() != generation {
            return;
        }
        if delivered(attempt(shared, d, n + 2).await) {
            return;
        }
        wait *= 2;
    }
    tracing::warn!(receiver = %d.receiver, jti = %d.jti, "RISC delivery given up");
}

/// One POST of the SET: the receiver's status, or `None` without an answer. Logged.
async fn attempt(shared: &Shared, d: &Delivery, n: u32) -> Option<u16> {
    let status = shared
        .risc_http
        .post(&d.receiver)
        .header("Content-Type", "application/secevent+jwt")
        .header("Accept", "application/json")
        .body(d.jwt.clone())
        .send()
        .await
        .ok()
        .map(|res| res.status().as_u16());
    let entry = LogEntry {
        method: "POST".into(),
        path: RISC_DELIVERY.into(),
        grant_type: None,
        client_id: Some(d.client_id.clone()),
        delivery: Some(DeliveryLog {
            receiver: d.receiver.clone(),
            event_type: d.event_type.into(),
            jti: d.jti.clone(),
            attempt: n,
        }),
        status,
    };
    shared
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .record(entry);
    status
}
