//! The interpreter: runs a [`crate::Document`] for one call.

/// What the interpreter asks the call controller to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {}

/// Runs one script for one call.
#[derive(Debug)]
pub struct Interpreter {}
