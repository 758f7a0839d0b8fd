//! The nesting limit, checked before anything else so that the recursive checks that follow
//! (nested method arrays) are bounded and a hostile document cannot overflow the stack.

use serde_json::Value;

use super::Invalid;
use super::path::Path;

/// How many levels of arrays and objects a document may nest (the document object is level 1).
/// Real scripts stay far below it: a `switch` inside a `cond` inside a section is about 12.
pub const MAX_DEPTH: usize = 64;

/// Fails at the first array or object (in document order) nested deeper than [`MAX_DEPTH`].
/// The recursion stops there, so it is at most `MAX_DEPTH + 1` calls deep.
pub(crate) fn check(value: &Value, at: &Path, level: usize) -> Result<(), Invalid> {
    let too_deep = || {
        at.invalid(format!(
            "nested too deeply: at most {MAX_DEPTH} levels of arrays and objects"
        ))
    };
    match value {
        Value::Array(items) => {
            if level > MAX_DEPTH {
                return Err(too_deep());
            }
            for (index, item) in items.iter().enumerate() {
                check(item, &at.index(index), level + 1)?;
            }
        }
        Value::Object(map) => {
            if level > MAX_DEPTH {
                return Err(too_deep());
            }
            for (key, item) in map {
                check(item, &at.key(key), level + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}
