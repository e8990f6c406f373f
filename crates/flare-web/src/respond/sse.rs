//! Server-sent events (HTML Living Standard, "Server-sent events", section 9.2).

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::CACHE_CONTROL;
use http::HeaderValue;

use crate::body::{Body, BodyStream, Frame, StreamContext, StreamWaker};
use crate::handler::IntoResponse;
use crate::response::Response;

/// One event, formatted as the fields are added (in call order).
///
/// `data` is split into one `data:` line per line of text (a `\r\n`, `\r` or `\n`
/// ends a line, as the standard's parser reads them), so the client gets the text
/// back with `\n` between lines. Line breaks (and NUL, which makes clients ignore
/// an `id`) cannot occur inside `id`, `event` and `comment` lines: they are
/// dropped from `id` and `event`, and a comment is split like data.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Event {
    text: String,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Event").field(&self.text).finish()
    }
}

fn lines(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.find(['\r', '\n']) {
            Some(i) => {
                let skip = if r.get(i..i + 2) == Some("\r\n") {
                    2
                } else {
                    1
                };
                rest = r.get(i + skip..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

impl Event {
    /// An empty event.
    pub fn new() -> Self {
        Self::default()
    }
    /// `data:` lines.
    pub fn data(mut self, data: &str) -> Self {
        for line in lines(data) {
            self.text.push_str("data: ");
            self.text.push_str(line);
            self.text.push('\n');
        }
        self
    }
    /// `data:` with `value` serialized as JSON (one line).
    pub fn json_data<T: serde::Serialize + ?Sized>(self, value: &T) -> serde_json::Result<Self> {
        let s = serde_json::to_string(value)?;
        Ok(self.data(&s))
    }
    /// `event:` (the event type).
    pub fn event(self, name: &str) -> Self {
        self.single("event", name)
    }
    /// `id:` (the last event id the client reports on reconnect).
    pub fn id(self, id: &str) -> Self {
        self.single("id", id)
    }
    /// `retry:` (the client's reconnection delay, in milliseconds).
    pub fn retry(mut self, delay: Duration) -> Self {
        let _ = writeln!(self.text, "retry: {}", delay.as_millis());
        self
    }
    /// `:` comment lines (ignored by clients; a keep-alive).
    pub fn comment(mut self, text: &str) -> Self {
        for line in lines(text) {
            self.text.push_str(": ");
            self.text.push_str(line);
            self.text.push('\n');
        }
        self
    }
    fn single(mut self, field: &str, value: &str) -> Self {
        self.text.push_str(field);
        self.text.push_str(": ");
        self.text
            .extend(value.chars().filter(|c| !matches!(c, '\r' | '\n' | '\0')));
        self.text.push('\n');
        self
    }
    /// The event as sent: its lines and the blank line that ends it.
    pub fn to_bytes(&self) -> Bytes {
        let mut s = String::with_capacity(self.text.len() + 1);
        s.push_str(&self.text);
        s.push('\n');
        Bytes::from(s)
    }
}

/// A `text/event-stream` response from a source of [`Event`]s, sent as they come
/// (chunked on HTTP/1.1), with `Cache-Control: no-cache`.
///
/// From an iterator: `Sse::new((0..3).map(|i| Event::new().data(&i.to_string())))`.
/// For events produced elsewhere (another thread, a timer), [`Sse::channel`] gives a
/// sender; the response stays open until every sender is dropped.
#[derive(Debug)]
pub struct Sse<I> {
    events: I,
}

impl<I: Iterator<Item = Event> + Send + 'static> Sse<I> {
    /// Events from an iterator; the stream ends when it does.
    pub fn new(events: I) -> Self {
        Sse { events }
    }
}

impl Sse<SseChannel> {
    /// A bounded channel of events: the sender queues at most `capacity` events the
    /// client has not taken yet ([`EventSender::send`] refuses more, so a slow client
    /// cannot make the server buffer without bound).
    pub fn channel(capacity: usize) -> (EventSender, Sse<SseChannel>) {
        let shared = Arc::new(Mutex::new(Shared {
            queue: VecDeque::new(),
            capacity,
            waker: None,
            senders: 1,
            receiver_alive: true,
        }));
        (
            EventSender {
                shared: shared.clone(),
            },
            Sse {
                events: SseChannel { shared },
            },
        )
    }
}

const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

impl<I: Iterator<Item = Event> + Send + 'static> IntoResponse for Sse<I> {
    fn into_response(self) -> Response {
        let chunks = self.events.map(|e| e.to_bytes());
        Response::stream(Body::from_chunks(chunks))
            .with_content_type(EVENT_STREAM)
            .with_header(CACHE_CONTROL, NO_CACHE)
    }
}

impl IntoResponse for Sse<SseChannel> {
    fn into_response(self) -> Response {
        Response::stream(Body::Stream(Box::new(self.events)))
            .with_content_type(EVENT_STREAM)
            .with_header(CACHE_CONTROL, NO_CACHE)
    }
}

struct Shared {
    queue: VecDeque<Bytes>,
    capacity: usize,
    waker: Option<StreamWaker>,
    senders: usize,
    receiver_alive: bool,
}

/// The receiving end of [`Sse::channel`], polled by the server.
pub struct SseChannel {
    shared: Arc<Mutex<Shared>>,
}

impl fmt::Debug for SseChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SseChannel")
    }
}

impl BodyStream for SseChannel {
    fn poll_frame(&mut self, cx: &mut StreamContext<'_>) -> Frame {
        let Ok(mut s) = self.shared.lock() else {
            return Frame::End;
        };
        if let Some(b) = s.queue.pop_front() {
            return Frame::Data(b);
        }
        if s.senders == 0 {
            return Frame::End;
        }
        s.waker = Some(cx.waker().clone());
        Frame::Pending
    }
}

impl Drop for SseChannel {
    fn drop(&mut self) {
        if let Ok(mut s) = self.shared.lock() {
            s.receiver_alive = false;
            s.queue.clear();
        }
    }
}

/// Why [`EventSender::send`] refused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SseSendError {
    /// The client has not taken the queued events yet; the queue is at capacity.
    Full,
    /// The response is gone (the client disconnected or the server dropped it).
    Closed,
}

impl fmt::Display for SseSendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SseSendError::Full => "event queue full",
            SseSendError::Closed => "event stream closed",
        })
    }
}

impl std::error::Error for SseSendError {}

/// Sends events into an [`Sse::channel`] response, from any thread. Clone it for
/// more producers; the stream ends after the last one is dropped.
pub struct EventSender {
    shared: Arc<Mutex<Shared>>,
}

impl fmt::Debug for EventSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventSender")
    }
}

impl EventSender {
    /// Queues `event` and wakes the server to send it.
    pub fn send(&self, event: &Event) -> Result<(), SseSendError> {
        let waker = {
            let Ok(mut s) = self.shared.lock() else {
                return Err(SseSendError::Closed);
            };
            if !s.receiver_alive {
                return Err(SseSendError::Closed);
            }
            if s.queue.len() >= s.capacity {
                return Err(SseSendError::Full);
            }
            s.queue.push_back(event.to_bytes());
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }
    /// Whether the response is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().map_or(true, |s| !s.receiver_alive)
    }
}

impl Clone for EventSender {
    fn clone(&self) -> Self {
        if let Ok(mut s) = self.shared.lock() {
            s.senders += 1;
        }
        EventSender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for EventSender {
    fn drop(&mut self) {
        let waker = match self.shared.lock() {
            Ok(mut s) => {
                s.senders = s.senders.saturating_sub(1);
                if s.senders == 0 {
                    s.waker.take()
                } else {
                    None
                }
            }
            Err(_) => None,
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn event_formatting() {
        let e = Event::new()
            .id("7\n8")
            .event("up\r\ndate")
            .retry(Duration::from_secs(2))
            .data("a\nb\r\nc\rd")
            .comment("hi");
        assert_eq!(
            e.to_bytes(),
            "id: 78\nevent: update\nretry: 2000\ndata: a\ndata: b\ndata: c\ndata: d\n: hi\n\n"
        );
        assert_eq!(Event::new().data("").to_bytes(), "data: \n\n");
        assert_eq!(Event::new().data("x\n").to_bytes(), "data: x\ndata: \n\n");
        let j = Event::new()
            .json_data(&serde_json::json!({"a": 1}))
            .unwrap();
        assert_eq!(j.to_bytes(), "data: {\"a\":1}\n\n");
    }

    fn drain(body: &mut Body, waker: &StreamWaker) -> (Vec<u8>, bool) {
        let Body::Stream(s) = body else {
            panic!("not a stream")
        };
        let mut out = Vec::new();
        loop {
            match s.poll_frame(&mut StreamContext::new(waker)) {
                Frame::Data(b) => out.extend_from_slice(&b),
                Frame::Pending => return (out, false),
                Frame::End | Frame::Trailers(_) => return (out, true),
            }
        }
    }

    #[test]
    fn iterator_stream_response() {
        let mut r =
            Sse::new((0..2).map(|i| Event::new().id(&i.to_string()).data("x"))).into_response();
        assert_eq!(r.content_type().unwrap(), "text/event-stream");
        assert_eq!(r.header("cache-control").unwrap(), "no-cache");
        let (bytes, done) = drain(r.body_mut(), &StreamWaker::noop());
        assert!(done);
        assert_eq!(bytes, b"id: 0\ndata: x\n\nid: 1\ndata: x\n\n");
    }

    #[test]
    fn channel_wakes_bounds_and_closes() {
        let (tx, sse) = Sse::channel(2);
        let mut r = sse.into_response();
        let woken = Arc::new(AtomicUsize::new(0));
        let w = woken.clone();
        let waker = StreamWaker::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(drain(r.body_mut(), &waker), (vec![], false));
        tx.send(&Event::new().data("1")).unwrap();
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        tx.send(&Event::new().data("2")).unwrap();
        assert_eq!(tx.send(&Event::new().data("3")), Err(SseSendError::Full));
        let tx2 = tx.clone();
        std::thread::spawn(move || drop(tx2)).join().unwrap();
        assert_eq!(
            drain(r.body_mut(), &waker),
            (b"data: 1\n\ndata: 2\n\n".to_vec(), false)
        );
        drop(tx);
        assert_eq!(woken.load(Ordering::SeqCst), 2);
        assert_eq!(drain(r.body_mut(), &waker), (vec![], true));

        let (tx, sse) = Sse::channel(1);
        drop(sse);
        assert!(tx.is_closed());
        assert_eq!(tx.send(&Event::new()), Err(SseSendError::Closed));
    }
}
