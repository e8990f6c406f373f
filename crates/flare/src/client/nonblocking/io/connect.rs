//! Connecting a call (RFC 8305 section 5, happy eyeballs): one attempt per address
//! in the resolver's order, the next after 250 ms or at once after a failure; the
//! first connection up wins and the others are closed; then, through a proxy for
//! `https`, a CONNECT tunnel, and TLS starts on it.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use flare_reactor::{Mode, Token};

use super::super::super::connect::CONNECTION_ATTEMPT_DELAY;
use super::super::super::error::Error;
use super::super::conn::{Conn, ConnError, Owner};
use super::super::tunnel::{Tunnel, TunnelProgress};
use super::{watch, Call, IoLoop, Stage, CONN_BASE};

impl IoLoop {
    pub(super) fn connect(&mut self, c: usize, addrs: Vec<SocketAddr>, now: Instant) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        let connect_by = self.config.connect_timeout.map(|t| now + t);
        call.stage = Stage::Connecting {
            addrs,
            next: 0,
            attempts: Vec::new(),
            last_error: None,
            stagger_at: None,
            connect_by,
        };
        self.next_attempt(c, now);
    }

    /// Starts a connect to the next address (RFC 8305 section 5); fails the call
    /// when none is left and none is in progress.
    pub(super) fn next_attempt(&mut self, c: usize, now: Instant) {
        loop {
            let Some(call) = self.calls.get_mut(c) else {
                return;
            };
            let Stage::Connecting {
                addrs,
                next,
                attempts,
                last_error,
                stagger_at,
                ..
            } = &mut call.stage
            else {
                return;
            };
            let Some(&addr) = addrs.get(*next) else {
                *stagger_at = None;
                if attempts.is_empty() {
                    let (addr, source) = match last_error.take() {
                        Some((a, e)) => (Some(a), e),
                        None => (
                            None,
                            io::Error::new(io::ErrorKind::NotFound, "no addresses"),
                        ),
                    };
                    let e = Error::Connect {
                        url: call.req.url_text.clone(),
                        addr,
                        source,
                    };
                    return self.complete(c, Err(e));
                }
                return self.arm(c);
            };
            *next += 1;
            let more = *next < addrs.len();
            let started = Conn::connect(addr, Owner::Attempt(c), now).map_err(|e| match e {
                ConnError::Io(e) => e,
                ConnError::Tls(_) => io::Error::other("tls"),
            });
            let conn = match started {
                Ok(conn) => conn,
                Err(e) => {
                    *last_error = Some((addr, e));
                    continue;
                }
            };
            let ci = self.conns.insert(conn);
            let registered = self.conns.get_mut(ci).map(|conn| {
                self.poller
                    .register(&conn.tcp, Token(CONN_BASE + ci), conn.interest, Mode::Level)
            });
            if let Some(Err(e)) = registered {
                self.conns.remove(ci);
                *last_error = Some((addr, e));
                continue;
            }
            attempts.push(ci);
            *stagger_at = more.then_some(now + CONNECTION_ATTEMPT_DELAY);
            return self.arm(c);
        }
    }

    /// A connect attempt's socket is ready.
    pub(super) fn on_attempt(&mut self, c: usize, ci: usize, now: Instant) {
        let Some(conn) = self.conns.get_mut(ci) else {
            return;
        };
        match conn.finish_connect() {
            Ok(false) => {}
            Ok(true) => self.connected(c, ci, now),
            Err(e) => {
                let addr = conn.addr;
                self.close_conn(ci);
                if let Some(Call {
                    stage:
                        Stage::Connecting {
                            attempts,
                            last_error,
                            ..
                        },
                    ..
                }) = self.calls.get_mut(c)
                {
                    attempts.retain(|&a| a != ci);
                    let e = match e {
                        ConnError::Io(e) => e,
                        ConnError::Tls(_) => io::Error::other("tls"),
                    };
                    *last_error = Some((addr, e));
                }
                // A failure starts the next address at once.
                self.next_attempt(c, now);
            }
        }
    }

    /// The first attempt to connect wins; the others are closed. Through a proxy,
    /// `https` opens a CONNECT tunnel first; otherwise TLS (for `https`) and the
    /// exchange start at once.
    pub(super) fn connected(&mut self, c: usize, ci: usize, now: Instant) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        let stage = std::mem::replace(&mut call.stage, Stage::Between);
        let Stage::Connecting {
            attempts,
            connect_by,
            ..
        } = stage
        else {
            call.stage = stage;
            return;
        };
        let tunnel = call
            .via
            .as_ref()
            .filter(|_| call.req.url.scheme_kind().is_tls())
            .map(|p| Box::new(Tunnel::new(&call.req.url, p.auth.as_ref())));
        for a in attempts.into_iter().filter(|&a| a != ci) {
            self.close_conn(a);
        }
        let Some(conn) = self.conns.get_mut(ci) else {
            return;
        };
        if self.config.nodelay {
            let _ = conn.tcp.set_nodelay(true);
        }
        match tunnel {
            Some(tunnel) => {
                conn.owner = Owner::Tunnel(c);
                if let Some(call) = self.calls.get_mut(c) {
                    call.stage = Stage::Tunnelling {
                        conn: ci,
                        tunnel,
                        connect_by,
                    };
                }
                self.step_tunnel(c, now);
            }
            None => self.start_exchange(c, ci, connect_by, now),
        }
    }

    /// Steps call `c`'s CONNECT; once the proxy has opened the tunnel, TLS to the
    /// origin and the exchange start on the connection.
    pub(super) fn step_tunnel(&mut self, c: usize, now: Instant) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        let Stage::Tunnelling {
            conn: ci, tunnel, ..
        } = &mut call.stage
        else {
            return;
        };
        let ci = *ci;
        let Some(conn) = self.conns.get_mut(ci) else {
            return;
        };
        match tunnel.step(conn, &call.req.url_text) {
            TunnelProgress::Waiting(output) => {
                if let Err(e) = watch(&self.poller, conn, ci, output) {
                    let e = Error::io(&call.req.url_text, e);
                    return self.complete(c, Err(e));
                }
                self.arm(c);
            }
            TunnelProgress::Open => {
                let Stage::Tunnelling { connect_by, .. } =
                    std::mem::replace(&mut call.stage, Stage::Between)
                else {
                    return;
                };
                log::debug!("tunnel open for {}", call.req.url_text);
                self.start_exchange(c, ci, connect_by, now);
            }
            // `complete` closes the connection (the stage still names it).
            TunnelProgress::Failed(e) => self.complete(c, Err(e)),
        }
    }

    /// Starts TLS (for `https`) on call `c`'s connection `ci` and the exchange;
    /// `connect_by` then bounds the handshake. When the connection may turn out
    /// HTTP/2 (ALPN offers `h2`), the handshake runs alone first; by prior
    /// knowledge HTTP/2 starts at once.
    fn start_exchange(&mut self, c: usize, ci: usize, connect_by: Option<Instant>, now: Instant) {
        let h2c = self.may_h2(c);
        let Some(call) = self.calls.get_mut(c) else {
            return self.close_conn(ci);
        };
        let tls = call.req.url.scheme_kind().is_tls();
        let Some(conn) = self.conns.get_mut(ci) else {
            return;
        };
        if tls {
            // The origin's name, also inside a tunnel: SNI and the certificate
            // check are for it, never for the proxy.
            if let Err(source) = conn.start_tls(&self.config.tls, call.req.url.host()) {
                let url = call.req.url_text.clone();
                self.close_conn(ci);
                return self.complete(c, Err(Error::Tls { url, source }));
            }
            if self.config.http2 {
                conn.owner = Owner::Handshake(c);
                call.stage = Stage::Handshaking {
                    conn: ci,
                    connect_by,
                };
                return self.step_handshake(c, now);
            }
        } else if h2c {
            return self.start_session(c, ci, now);
        }
        self.attach(c, ci, false, now);
        if let Some(Call {
            stage: Stage::Exchanging { connect_by: cb, .. },
            ..
        }) = self.calls.get_mut(c)
        {
            *cb = connect_by.filter(|_| tls);
        }
        self.arm(c);
    }
}
