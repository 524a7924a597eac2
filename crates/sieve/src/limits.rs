//! The caps every script and every run stays under, so that no script, however hostile,
//! can take more than a bounded amount of memory or time (HOSTILE.md).

/// The caps for parsing and running one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest script accepted, in bytes (default 64 KiB).
    pub max_script_bytes: usize,
    /// Deepest nesting of blocks and of tests inside `not`/`allof`/`anyof`, counted
    /// together (default 32). Bounds the parser's and the interpreter's recursion.
    pub max_nesting: usize,
    /// Most actions one run may execute, implicit keep not counted (default 32).
    pub max_actions: usize,
    /// Most `redirect`s one run may execute (default 4).
    pub max_redirects: usize,
    /// Most distinct variables, `set` and flag variables together (default 128).
    pub max_variables: usize,
    /// Longest value a variable may hold, in bytes (default 4 KiB).
    pub max_variable_bytes: usize,
    /// Longest string a `${...}` expansion may produce, in bytes (default 64 KiB).
    pub max_expanded_bytes: usize,
    /// Step budget of one run: one step per command and test executed, and one per KiB
    /// of text compared or scanned by a wildcard (each comparison counting at least 16
    /// bytes). Default 100,000: tens of milliseconds at the very most.
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_script_bytes: 64 * 1024,
            max_nesting: 32,
            max_actions: 32,
            max_redirects: 4,
            max_variables: 128,
            max_variable_bytes: 4 * 1024,
            max_expanded_bytes: 64 * 1024,
            max_steps: 100_000,
        }
    }
}
