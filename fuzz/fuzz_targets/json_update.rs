#![no_main]

use kargo_fuzz::{Editor, check};
use kargo_steps::{json_parse, json_update};

const EDITOR: Editor = Editor {
    edit: |src, updates| json_update::edit(src, updates).map_err(|e| e.to_string()),
    read: |src| json_parse::read(src).map_err(|e| e.to_string()),
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(&EDITOR, data));
