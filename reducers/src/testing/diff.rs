//! The unified diff of two snapshot texts, as a failed check shows it.

use std::string::{String, ToString};

/// A unified diff of `expected` and `actual` (`-` expected, `+` actual, three
/// lines of context), as `git diff` shows a changed file.
pub fn unified_diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_changed_lines_with_context() {
        let expected = "{\n  \"a\": 1,\n  \"b\": 2\n}\n";
        let actual = "{\n  \"a\": 1,\n  \"b\": 3\n}\n";
        assert_eq!(
            unified_diff(expected, actual),
            "--- expected\n+++ actual\n@@ -1,4 +1,4 @@\n {\n   \"a\": 1,\n-  \"b\": 2\n+  \"b\": 3\n }\n"
        );
    }
}
