//! `prompt_url(status)`, the one function only a prompt's message can call.

use minijinja::value::Value;
use minijinja::{Error, State};

use super::fail;
use crate::template::PROMPT_URLS;

/// `prompt_url(status)`: the URL that answers the current prompt with
/// `status`. Only a prompt action's message has the runner-provided
/// [`PROMPT_URLS`] variable this reads.
pub(super) fn prompt_url(state: &State, status: &str) -> Result<Value, Error> {
    let urls = state
        .lookup(PROMPT_URLS)
        .filter(|v| !v.is_undefined() && !v.is_none())
        .ok_or_else(|| {
            fail("prompt_url() is only available in a prompt action's message".to_owned())
        })?;
    match urls.get_attr(status) {
        Ok(url) if !url.is_undefined() => Ok(url),
        _ => {
            let choices: Vec<String> = urls
                .try_iter()?
                .map(|k| format!("`{}`", k.as_str().unwrap_or_default()))
                .collect();
            Err(fail(format!(
                "prompt_url(): unknown status `{status}`, expected one of {}",
                choices.join(", ")
            )))
        }
    }
}
