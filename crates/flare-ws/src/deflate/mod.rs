//! permessage-deflate (RFC 7692): negotiated parameters, offer parsing and
//! the negotiation decisions. The compressor and decompressor are in
//! `codec.rs`; states released after a message (no context takeover) or
//! by a dropped connection wait for reuse in a bounded per-thread pool
//! (`pool.rs`, [`pooled_states`]).
//!
//! # What miniz_oxide can do, and what we negotiate because of it
//!
//! miniz_oxide's compressor always searches a 32 KiB window (15 bits) and
//! cannot be given a smaller one; its decompressor accepts any window up
//! to 15 bits. A DEFLATE stream whose back-references reach no farther
//! than N bits is valid for an N-bit decoder, so when our compressor must
//! stay within fewer than 15 bits we compress with miniz's RLE strategy
//! (matches of distance 1 only; `codec.rs`): long runs still compress,
//! repeated strings do not. So:
//!
//! | parameter | as server, in an offer | as client, in the response |
//! |---|---|---|
//! | `server_max_window_bits=15` or absent | accept (echo `=15` if offered); full LZ77 over 32 KiB | fine (our inflater takes any window) |
//! | `server_max_window_bits=8..14` | accept and echo the same value (RFC 7692 section 7.1.2.1); our compressor uses the RLE strategy (distance 1, within any window) | fine (we inflate any window) |
//! | `client_max_window_bits` (valueless) | the client could limit its window; we never ask it to (a smaller peer window saves us no memory: miniz's inflater always keeps 32 KiB) | offered (valueless) by our client; a valueless one in a response fails the handshake |
//! | `client_max_window_bits=N` | the client will use at most N bits; accept, nothing to echo | our compressor keeps to N bits (distance-1 matches below 15) |
//! | `server_no_context_takeover` | accept and echo; we reset our compressor after each message | the server resets; we reset our decompressor after each message |
//! | `client_no_context_takeover` | accept and echo; we reset our decompressor after each message | we must reset our compressor after each message |
//!
//! An offer with an unknown parameter, a duplicate parameter, or a bad
//! value is unusable (RFC 7692 section 7.1: such an offer must be declined),
//! so it is skipped; if no offer is usable the connection is accepted
//! without compression. A server can also *ask* for no context takeover in
//! either direction ([`DeflateConfig`]) to save the 32-43 KiB of state per
//! direction between messages.

#[cfg(feature = "deflate")]
mod codec;
#[cfg(not(feature = "deflate"))]
mod off;
mod offer;
#[cfg(feature = "deflate")]
mod pool;

#[cfg(feature = "deflate")]
pub(crate) use codec::{Deflater, Inflater};
#[cfg(not(feature = "deflate"))]
pub use off::pooled_states;
#[cfg(not(feature = "deflate"))]
pub(crate) use off::{Deflater, Inflater};
pub use offer::{parse_offers, DeflateOffer, ExtensionIter};
pub(crate) use offer::{parse_params as parse_response_params, trim as offer_trim};
#[cfg(feature = "deflate")]
pub use pool::pooled_states;

/// The negotiated permessage-deflate parameters of one connection (what
/// both ends agreed on in the handshake). Role-neutral: the codec picks the
/// side that applies to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server compresses with at most this many window bits (8-15).
    pub server_max_window_bits: u8,
    /// The client compresses with at most this many window bits (8-15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// Context takeover both ways, 15-bit windows: what a bare
    /// `permessage-deflate` offer and response agree on.
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// Our side's permessage-deflate preferences, for offering (client) or
/// accepting (server).
///
/// As server, each `true` field is added to the response even when the
/// client did not offer it (RFC 7692 sections 7.1.1.1 and 7.1.1.2 allow
/// both), and the matching state is released after each message (unless
/// [`crate::Config::retain_deflate_state`]) to the thread's bounded pool,
/// which the next message reuses. With both set, an idle connection keeps
/// no deflate state at all (instead of ~312 KiB of compressor and ~43 KiB
/// of decompressor): the setting for many idle connections; `tests/handshake.rs`
/// `server_no_context_takeover_default_retains_no_deflate_state` checks the
/// response and [`crate::WebSocket::memory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DeflateConfig {
    /// Ask that the server not keep context between messages. As server,
    /// we then free (or reset) our compressor after each message.
    pub server_no_context_takeover: bool,
    /// Ask that the client not keep context between messages. As server,
    /// we then free (or reset) our decompressor after each message.
    pub client_no_context_takeover: bool,
}

/// The `Sec-WebSocket-Extensions` value for a response that accepts with
/// `params`; `echo_server_bits` adds `server_max_window_bits=N` with the
/// accepted value (when the offer had that parameter: RFC 7692 section
/// 7.1.2.1 requires it in the response then).
pub(crate) fn response_value(params: &DeflateParams, echo_server_bits: bool) -> String {
    let mut s = String::from("permessage-deflate");
    if params.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if echo_server_bits {
        s.push_str("; server_max_window_bits=");
        s.push_str(&params.server_max_window_bits.to_string());
    }
    s
}

/// Server side: the first usable offer and the parameters to accept it
/// with, or `None` to accept without compression.
///
/// Without the `deflate` feature this is always `None`: there is no codec
/// to accept with.
pub fn negotiate(
    offers: &[DeflateOffer],
    config: &DeflateConfig,
) -> Option<(DeflateParams, String)> {
    if cfg!(not(feature = "deflate")) {
        return None;
    }
    for offer in offers {
        if !offer.valid {
            continue;
        }
        let params = DeflateParams {
            server_no_context_takeover: offer.server_no_context_takeover
                || config.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || config.client_no_context_takeover,
            // RFC 7692 section 7.1.2.1: accepting means including
            // server_max_window_bits "with the same or smaller value as the
            // offer"; below 15 our compressor keeps to it with the RLE
            // strategy (module docs).
            server_max_window_bits: offer.server_max_window_bits.unwrap_or(15),
            client_max_window_bits: offer.client_max_window_bits.flatten().unwrap_or(15),
        };
        let value = response_value(&params, offer.server_max_window_bits.is_some());
        return Some((params, value));
    }
    None
}

/// Client side: the offer value to send for `config`. It offers a valueless
/// `client_max_window_bits`: a server may then ask our compressor for a
/// smaller window, which it honours with distance-1 matches only (see the
/// table above), the same way the server side honours `server_max_window_bits`.
pub fn offer_value(config: &DeflateConfig) -> String {
    let mut s = String::from("permessage-deflate; client_max_window_bits");
    if config.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    s
}

/// Client side: checks the server's accepted parameters against our offer.
/// `None` if the response asks for something we did not offer or cannot do.
pub(crate) fn check_response(resp: &DeflateOffer, config: &DeflateConfig) -> Option<DeflateParams> {
    if !resp.valid {
        return None;
    }
    // RFC 7692 section 7.1.2.2: we offer a valueless client_max_window_bits;
    // the server may answer with a value ("MUST" carry one when present).
    let client_bits = match resp.client_max_window_bits {
        None => 15,
        Some(Some(bits)) => bits,
        Some(None) => return None,
    };
    // RFC 7692 section 7.1.1.1: a server accepting our
    // server_no_context_takeover must include it.
    if config.server_no_context_takeover && !resp.server_no_context_takeover {
        return None;
    }
    Some(DeflateParams {
        server_no_context_takeover: resp.server_no_context_takeover,
        client_no_context_takeover: resp.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: resp.server_max_window_bits.unwrap_or(15),
        client_max_window_bits: client_bits,
    })
}
