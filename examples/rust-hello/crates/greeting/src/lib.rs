//! The words the example server answers with, in a crate of their own so the example exercises
//! a workspace path dependency.

/// The body served on `/`.
pub fn greeting(language: &str) -> String {
    format!("hello from tempa ({language})\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_the_language() {
        assert_eq!(super::greeting("rust"), "hello from tempa (rust)\n");
    }
}
