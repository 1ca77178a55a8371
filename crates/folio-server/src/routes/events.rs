//! `GET /v1/jobs/{id}/events`: server-sent events, `progress` and `state`,
//! ending after the final state. Event ids are the job's `event_seq`, so a
//! client reconnecting with `Last-Event-ID` only gets what is newer; the
//! current state is always sent first if newer than what the client saw.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use folio_jobs::JobEvent;
use folio_worker::events::state_event;
use futures_util::Stream;
use http::HeaderMap;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::error::ApiResult;
use crate::security::auth::{Caller, visible_job};
use crate::state::AppState;

struct Follow {
    st: AppState,
    id: String,
    rx: broadcast::Receiver<JobEvent>,
    last_seq: i64,
    done: bool,
    pending: Option<JobEvent>,
}

fn to_sse(e: &JobEvent) -> Event {
    Event::default()
        .id(e.seq.to_string())
        .event(e.name())
        .data(serde_json::to_string(e).unwrap_or_default())
}

impl Follow {
    /// The next event to send, or `None` when the stream should end.
    async fn next(&mut self) -> Option<JobEvent> {
        if self.done {
            return None;
        }
        if let Some(e) = self.pending.take() {
            return Some(self.emit(e));
        }
        let mut poll = tokio::time::interval(Duration::from_secs(1));
        poll.tick().await;
        loop {
            tokio::select! {
                ev = self.rx.recv() => match ev {
                    Ok(e) if e.job_id == self.id && e.seq > self.last_seq => return Some(self.emit(e)),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => tokio::time::sleep(Duration::from_secs(1)).await,
                },
                _ = poll.tick() => {}
            }
            // Fall back to the store: missed events, or a worker elsewhere.
            match self.st.store.get(&self.id).await {
                Ok(Some(job)) if job.event_seq > self.last_seq => {
                    return Some(self.emit(state_event(&job)));
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    fn emit(&mut self, e: JobEvent) -> JobEvent {
        self.last_seq = e.seq;
        if e.is_terminal() {
            self.done = true;
        }
        e
    }
}

pub async fn events(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let last_seen = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(-1);
    // Subscribe before reading the job, so nothing falls between the two.
    let rx = st.events.subscribe();
    let job = visible_job(&st, &caller, &id).await?;
    let first = (job.event_seq > last_seen).then(|| state_event(&job));
    let follow = Follow {
        st,
        id,
        rx,
        last_seq: last_seen,
        // A client that already saw the final state gets an empty stream.
        done: first.is_none() && job.state.is_terminal(),
        pending: first,
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        f.next()
            .await
            .map(|e| (Ok::<Event, Infallible>(to_sse(&e)), f))
    });
    Ok(sse(stream).into_response())
}

fn sse<S: Stream<Item = Result<Event, Infallible>> + Send + 'static>(s: S) -> impl IntoResponse {
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
