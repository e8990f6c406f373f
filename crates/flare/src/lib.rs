//! flare: a networking stack on a thread-per-core reactor.
