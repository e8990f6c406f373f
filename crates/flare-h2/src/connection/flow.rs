//! Flow control bookkeeping: announcing released receive capacity and
//! waking streams that can send again (RFC 9113 section 5.2 and 6.9).

use super::{Connection, Event, WindowUpdate};
use crate::config::MAX_WINDOW;
use crate::StreamId;

impl Connection {
    /// Credits `n` consumed octets to the connection window, announcing them
    /// once half the window is due.
    pub(super) fn release_connection(&mut self, n: u64) {
        self.conn_release_pending += n;
        if self.conn_release_pending >= u64::from(self.conn_recv_target / 2).max(1) {
            let inc = self.conn_release_pending.min(u64::from(MAX_WINDOW)) as u32;
            WindowUpdate {
                stream_id: StreamId::ZERO,
                increment: inc,
            }
            .encode(&mut self.out);
            self.conn_recv_window += i64::from(inc);
            self.conn_release_pending -= u64::from(inc);
        }
    }

    /// Credits `n` octets to a stream's receive window, announcing them
    /// once half the initial window is due.
    pub(super) fn release_stream(&mut self, id: u32, n: u64) {
        let threshold = u64::from(self.local.initial_window / 2).max(1);
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        if s.recv_closed {
            return;
        }
        s.release_pending += n;
        if s.release_pending >= threshold {
            let inc = s.release_pending.min(u64::from(MAX_WINDOW)) as u32;
            s.recv_window += i64::from(inc);
            s.release_pending -= u64::from(inc);
            WindowUpdate {
                stream_id: StreamId::new(id),
                increment: inc,
            }
            .encode(&mut self.out);
        }
    }

    /// Emits SendReady for blocked streams that can send again.
    pub(super) fn wake_blocked(&mut self) {
        let room = self.config.max_send_buffer.saturating_sub(self.out.len());
        if self.conn_send_window <= 0 || room == 0 {
            return;
        }
        for (&id, s) in self.streams.iter_mut() {
            if s.blocked && s.send_window > 0 && !s.send_closed {
                s.blocked = false;
                self.events.push_back(Event::SendReady {
                    id: StreamId::new(id),
                });
            }
        }
    }
}
