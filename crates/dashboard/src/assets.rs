//! The pages' files, compiled into the binary: nothing is loaded from anywhere else.

pub const LIVE_HTML: &str = include_str!("../assets/live.html");
pub const LIVE_JS: &str = include_str!("../assets/live.js");
pub const STORE_HTML: &str = include_str!("../assets/store.html");
pub const STORE_JS: &str = include_str!("../assets/store.js");
pub const COMMON_JS: &str = include_str!("../assets/common.js");
pub const STYLE_CSS: &str = include_str!("../assets/style.css");
