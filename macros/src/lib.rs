//! `#[cloudport::function]`: see the `cloudport` crate.

use proc_macro::TokenStream;

/// Registers an `async fn` as a cloudport function.
#[proc_macro_attribute]
pub fn function(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
