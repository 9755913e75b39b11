//! `mode = "enforce" | "shadow"`, apart from [`crate::fraud::decide`] so
//! that the configuration can name it without depending on the metrics.

/// Whether a rule's verdict is applied or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Enforce,
    Shadow,
}

impl Mode {
    /// `"enforce"` or `"shadow"`, as in the configuration and the metric.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "enforce" => Some(Mode::Enforce),
            "shadow" => Some(Mode::Shadow),
            _ => None,
        }
    }
}
