//! Command line: `serve` (default), `emulator`, `migrate`.
