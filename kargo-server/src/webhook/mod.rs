//! Kargo's webhook receivers (being written; see the issue for `kargo serve`).
