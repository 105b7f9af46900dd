//! The functions of a binary: `#[cloudport::function]` adds each one to a link-time list, so a
//! host finds them all without a hand-written table in `main`.
//!
//! The list is a [`linkme`] distributed slice: no code runs before `main`, and an annotated
//! function that the linker keeps is always found. One caveat follows from linking: functions
//! defined in a *library* crate that the binary never references may be dropped by the linker;
//! define them in the binary crate, or reference the library (any `use` of an item in it will do).

use std::collections::BTreeMap;

use super::function::Function;
use crate::error::{Error, Result};

/// Every `#[cloudport::function]` of the binary, as constructors. Hosts read it through
/// [`registered`].
#[linkme::distributed_slice]
pub static FUNCTIONS: [fn() -> Function];

/// The functions `#[cloudport::function]` registered in this binary, sorted by name.
///
/// # Errors
/// `Config` when two functions share a name or a name is not portable
/// ([`Function::validate`]).
pub fn registered() -> Result<Vec<Function>> {
    collect(FUNCTIONS.iter().map(|make| make()))
}

/// Checks `functions` for portable, unique names and sorts them by name.
///
/// # Errors
/// As [`registered`].
pub fn collect(functions: impl IntoIterator<Item = Function>) -> Result<Vec<Function>> {
    let mut by_name = BTreeMap::new();
    for function in functions {
        function.validate()?;
        let name = function.name().to_owned();
        if by_name.insert(name.clone(), function).is_some() {
            return Err(Error::config(format!(
                "two functions are named {name:?} (function names must be unique in one binary; rename one)"
            )));
        }
    }
    Ok(by_name.into_values().collect())
}
