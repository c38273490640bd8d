//! minijinja values to JSON: what a single-expression field renders to, and
//! what `| json` and `| jsonpath` read.

use minijinja::value::{Value as MjValue, ValueKind};
use minijinja::{ErrorKind, State, UndefinedBehavior};
use serde_json::{Map, Value as Json};

/// What [`to_json`] makes of an undefined value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Undefined {
    /// An error: strict rendering must not turn a typo into `null`.
    Fails,
    /// `null`: missing data, rendered again tolerantly.
    IsNull,
}

impl Undefined {
    /// What the environment rendering `state` wants.
    pub(super) fn of(state: &State) -> Undefined {
        if state.undefined_behavior() == UndefinedBehavior::Strict {
            Undefined::Fails
        } else {
            Undefined::IsNull
        }
    }
}

/// Converts a minijinja value to JSON; an undefined value anywhere inside is
/// an error or `null`, as `undefined` says.
pub(super) fn to_json(value: &MjValue, undefined: Undefined) -> Result<Json, minijinja::Error> {
    Ok(match value.kind() {
        ValueKind::Undefined if undefined == Undefined::IsNull => Json::Null,
        ValueKind::Undefined => return Err(ErrorKind::UndefinedError.into()),
        ValueKind::None => Json::Null,
        ValueKind::Bool => Json::Bool(value.is_true()),
        ValueKind::Number => number_to_json(value),
        ValueKind::String => Json::String(value.as_str().unwrap_or_default().to_owned()),
        ValueKind::Bytes => {
            Json::String(String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned())
        }
        ValueKind::Seq | ValueKind::Iterable => Json::Array(
            value
                .try_iter()?
                .map(|item| to_json(&item, undefined))
                .collect::<Result<_, _>>()?,
        ),
        ValueKind::Map => {
            let mut map = Map::new();
            for key in value.try_iter()? {
                let item = to_json(&value.get_item(&key)?, undefined)?;
                let key = key.as_str().map_or_else(|| key.to_string(), str::to_owned);
                map.insert(key, item);
            }
            Json::Object(map)
        }
        ValueKind::Invalid => {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "value cannot be represented as JSON",
            ))
        }
        _ => Json::String(value.to_string()),
    })
}

/// An integer stays an integer (`i64`, else `u64`); a float that JSON
/// cannot hold (NaN, infinity) becomes `null`.
fn number_to_json(value: &MjValue) -> Json {
    if value.is_integer() {
        if let Ok(i) = i64::try_from(value.clone()) {
            return Json::from(i);
        }
        if let Ok(u) = u64::try_from(value.clone()) {
            return Json::from(u);
        }
    }
    f64::try_from(value.clone())
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Json::Null, Json::Number)
}
