//! Admin HTTP endpoint: `/metrics`, `/health`, `/ready`.
