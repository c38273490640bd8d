//! Stories: YAML graphs of actions. `raw` reads the file's shape, `validate` runs every check and
//! collects diagnostics (the checks of one kind live beside its options in `kinds`), `model` is
//! the validated result the runner executes. Pure: the only I/O is in [`load`], which reads files
//! and directories.

pub mod integration;
pub mod kinds;
pub mod load;
pub mod model;
mod raw;
pub mod schema;
pub mod validate;
pub mod value;

pub use integration::Integration;
pub use kinds::{ActionConfig, LinkKind};
pub use model::{Action, Link, Story};
pub use validate::{check_integration, check_story, Catalog};
