//! The subcommands of the `rookery` binary. Exit codes: 0 ok, 1 spec errors
//! (or, for `generate --check`, changes pending), 2 usage or I/O errors.

pub mod check;
pub mod generate;
pub mod new;
pub mod schema;
