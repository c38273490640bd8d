//! The durable runner: [`machine`] decides (pure), [`runner`] claims, executes and commits.
//! [`execute`] runs one action with its I/O; [`stories`] finds the story version a run pinned.

pub mod clock;
pub mod entry;
pub mod execute;
pub mod machine;
pub mod prompt;
pub mod runner;
pub mod stories;

pub use clock::{Clock, ManualClock, SystemClock};
pub use runner::{Engine, Runner, RunnerConfig};
pub use stories::StoryBook;
