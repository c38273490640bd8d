//! Importers: stories written for other engines, turned into Warden stories. Each is pure (an
//! export's text in, story YAML and a report out); `cli::import` does the file I/O.

pub mod tines;
