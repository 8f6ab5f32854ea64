//! One module per subcommand. Each returns an exit status; errors bubble up to `main` with context.

pub mod check;
pub mod dashboard;
pub mod demo;
pub mod provenance;
pub mod providers;
pub mod run;
pub mod sessions;
pub mod sim;
