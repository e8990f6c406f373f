//! Middleware: synchronous layers that wrap a handler in a generic struct.
