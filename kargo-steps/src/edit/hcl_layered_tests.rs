use serde_json::{Value, json};

use super::*;
use crate::edit::hcl::{read, update_layered, update_whole};
use crate::edit::{EditError, Update};

const MAIN_TF: &str = include_str!("../../tests/fixtures/main.tf");
const TFVARS: &str = include_str!("../../tests/fixtures/terraform.tfvars");

/// Every construct the scanner must step over, in bodies, objects and
/// tuples: comments of each kind, strings with escapes and templates
/// (nested braces and strings inside), heredocs, `for` expressions,
/// conditionals, function calls, traversals, one-line and labelled blocks,
/// repeated blocks, CRLF line endings.
const TRICKY: &str = r#"# header
terraform {
  required_version = ">= 1.5" // pinned
}

/* a block
   comment */
locals {
  name     = "svc-${var.env}"
  nested   = "a ${join(",", ["}", "{"])} b" # braces in a template
  escaped  = "quote \" brace } dollar $${x} percent %%{y}"
  heredoc  = <<-EOT
    line { with braces [
    ${upper("}")}
    EOT
  cond     = var.enabled ? { a = 1 } : { b = 2 }
  list     = [for s in var.items : upper(s) if s != ""]
  map      = { for k, v in var.m : k => v... }
  call     = merge({ a = [1, 2] }, { b = { c = "d" } })
  trav     = { a = [1] }.a[0]
  tuple    = [
    { name = "a", value = [1, 2, 3] }, # first
    { name = "b", value = { deep = { deeper = [true, false, null] } } },
    [[], {}],
    "plain",
  ]
  services = {
    "svc-1" = {
      image = { repository = "r/svc-1", tag = "v1" }
      ports = [80, 443]
    }
    svc-2 = {
      image = {
        repository = "r/svc-2" // inline
        tag        = "v2"
      }
    }
    "key.with.dots": { x = 1 },
    (var.dynamic) = { y = 2 }
  }
}

resource "aws_instance" "web" {
  ami = "ami-1"
  tags = {
    Name = "web"
  }
  ebs_block_device {
    device_name = "/dev/sda"
  }
  ebs_block_device {
    device_name = "/dev/sdb"
  }
}

resource "aws_instance" "db" { ami = "ami-2" }

module "svc" {
  source = "./modules/svc"
  inputs = {
    list = [{ a = 1 }, { b = [{ c = 2 }] }]
  }
}

empty {
}

output "o" {
  value = aws_instance.web.id
}
"#;

fn texts() -> Vec<(&'static str, String)> {
    vec![
        ("main.tf", MAIN_TF.to_owned()),
        ("terraform.tfvars", TFVARS.to_owned()),
        ("tricky", TRICKY.to_owned()),
        ("tricky crlf", TRICKY.replace('\n', "\r\n")),
        ("generated", generated(40)),
    ]
}

/// A Terraform file as the memory benchmark writes it: a `locals` map of
/// services, then a module block per service.
fn generated(count: usize) -> String {
    let mut out = String::from("locals {\n  services = {\n");
    for i in 0..count {
        out.push_str(&format!(
            "    \"svc-{i:03}\" = {{\n      replicas = {}\n      image = {{\n        repository = \"r/svc-{i:03}\"\n        tag        = \"v{i}.0\"\n      }}\n      ports = [80, {}]\n      env   = [{{ name = \"A\", value = \"{i}\" }}]\n    }}\n",
            i % 5,
            9000 + i
        ));
    }
    out.push_str("  }\n}\n");
    for i in 0..count {
        out.push_str(&format!(
            "\nmodule \"svc-{i:03}\" {{\n  source = \"./svc\"\n  labels = {{\n    app = \"svc-{i:03}\"\n  }}\n}}\n"
        ));
    }
    out
}

const CHUNKS: [usize; 4] = [0, 16, 200, 1 << 20];

#[test]
fn layered_reads_equal_whole_reads() {
    for (name, text) in texts() {
        let whole = read(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for chunk in CHUNKS {
            let layered =
                read_layers(&text, chunk).unwrap_or_else(|_| panic!("{name} gave up at {chunk}"));
            assert_eq!(layered.to_json(), whole, "{name} at {chunk}");
            // The same key order, as the parse step's outputs show it.
            assert_eq!(
                serde_json::to_string(&layered.to_json()).unwrap(),
                serde_json::to_string(&whole).unwrap(),
                "{name} at {chunk}"
            );
        }
    }
}

fn read_layers(text: &str, chunk: usize) -> Result<Document, GiveUp> {
    super::read(text, chunk)
}

/// Whatever the layers accept, the whole parse accepts and reads the
/// same: a text broken anywhere is given up on (the whole parse then gives
/// its error), never read into something else.
#[test]
fn layered_reads_never_accept_what_the_whole_parse_refuses() {
    let text = TRICKY;
    let mut checked = 0;
    let breaks: [fn(&str, usize) -> String; 4] = [
        |t, at| format!("{}{}", &t[..at], &t[at + 1..]),
        |t, at| format!("{}}}{}", &t[..at], &t[at..]),
        |t, at| format!("{}\"{}", &t[..at], &t[at..]),
        |t, at| format!("{}\n{}", &t[..at], &t[at..]),
    ];
    for at in (0..text.len()).filter(|&i| text.is_char_boundary(i) && text.is_char_boundary(i + 1))
    {
        for broken in breaks.iter().map(|f| f(text, at)) {
            let whole = read(&broken);
            for chunk in [0, 64] {
                if let Ok(layered) = read_layers(&broken, chunk) {
                    let whole = whole.as_ref().unwrap_or_else(|e| {
                        panic!("layers accept what the whole parse refuses ({e}):\n{broken}")
                    });
                    assert_eq!(&layered.to_json(), whole, "{broken}");
                    checked += 1;
                }
            }
        }
    }
    assert!(
        checked > 1000,
        "only {checked} variants were read in layers"
    );
}

/// hcl-edit refuses more than 64 nested levels; pieces are parsed at their
/// depth, so the layers refuse the same, wherever the deep value sits.
#[test]
fn layered_reads_keep_the_nesting_limit() {
    let deep = |levels: usize| {
        let mut value = String::from("1");
        for _ in 0..levels {
            value = format!("{{\n a = {value}\n}}");
        }
        format!("outer {{\n inner {{\n  x = {{\n   y = [{value}]\n  }}\n }}\n}}\n")
    };
    let mut seen = (false, false);
    for levels in 55..70 {
        let text = deep(levels);
        let whole = read(&text);
        for chunk in CHUNKS {
            match (read_layers(&text, chunk), &whole) {
                (Ok(doc), Ok(value)) => assert_eq!(&doc.to_json(), value),
                (Ok(_), Err(e)) => {
                    panic!("{levels} levels at {chunk}: layers accept, whole refuses: {e}")
                }
                (Err(_), Ok(_)) if chunk == 1 << 20 => {
                    panic!("{levels} levels: a small file gave up")
                }
                (Err(_), _) => {}
            }
        }
        match whole {
            Ok(_) => seen.0 = true,
            Err(_) => seen.1 = true,
        }
    }
    assert_eq!(seen, (true, true), "both sides of the limit");
}

#[test]
fn the_scanner_finds_the_groups_of_each_level() {
    let scan = Scan {
        b: TRICKY.as_bytes(),
    };
    let body = scan.body_items(0, TRICKY.len()).expect("the body scans");
    let names: Vec<&str> = body
        .iter()
        .map(|item| match &item.key {
            ItemKey::Attribute(r) | ItemKey::Block(r, _) => &TRICKY[r.clone()],
            _ => "?",
        })
        .collect();
    // `resource "aws_instance" "db"` is a one-line block: parsed with its
    // body.
    assert_eq!(
        names,
        [
            "terraform",
            "locals",
            "resource",
            "module",
            "empty",
            "output"
        ]
    );
    let locals = &body[1];
    let inner = scan
        .body_items(locals.group.start + 1, locals.group.end - 1)
        .expect("locals scans");
    let values: Vec<&str> = inner
        .iter()
        .map(|item| match &item.key {
            ItemKey::Attribute(r) => &TRICKY[r.clone()],
            _ => "?",
        })
        .collect();
    // `cond`, `list`, `map`, `call` and `trav` are not a bare group.
    assert_eq!(values, ["tuple", "services"]);
    let services = scan.group_items(&inner[1].group).expect("services scans");
    let keys: Vec<&str> = services
        .iter()
        .map(|item| match &item.key {
            ItemKey::Key(r) => &TRICKY[r.clone()],
            _ => "?",
        })
        .collect();
    assert_eq!(
        keys,
        ["\"svc-1\"", "svc-2", "\"key.with.dots\"", "(var.dynamic)"]
    );
    let tuple = scan.group_items(&inner[0].group).expect("tuple scans");
    let indexes: Vec<usize> = tuple
        .iter()
        .map(|item| match item.key {
            ItemKey::Index(i) => i,
            _ => usize::MAX,
        })
        .collect();
    assert_eq!(indexes, [0, 1, 2]);
}

fn updates(list: &[(&str, Value)]) -> Vec<Update> {
    list.iter()
        .map(|(k, v)| Update::new(*k, v.clone()))
        .collect()
}

/// hcl-update in layers gives byte for byte what it gives on whole trees,
/// and the same errors; and it does take the layered path.
#[test]
fn layered_updates_equal_whole_tree_updates() {
    let cases: &[(&str, &[(&str, Value)])] = &[
        (
            "main.tf",
            &[("variable.image_uri.default", json!("repo/app:2.0.0"))],
        ),
        (
            "main.tf",
            &[("resource.aws_lambda_function.fn.memory_size", json!(1024))],
        ),
        (
            "main.tf",
            &[(
                "resource.aws_lambda_function.fn.environment.variables.LOG_LEVEL",
                json!("debug"),
            )],
        ),
        (
            "main.tf",
            &[(
                "resource.aws_lambda_function.fn.tags.owner",
                json!("team-a"),
            )],
        ),
        (
            "main.tf",
            &[
                ("locals.retries", json!(5)),
                ("locals.name", json!("other")),
            ],
        ),
        ("main.tf", &[("new_top", json!({"a": [1, "b"]}))]),
        (
            "main.tf",
            &[("resource.aws_lambda_function.fn.tags", json!("x"))],
        ),
        ("main.tf", &[("bad..key", json!(1))]),
        (
            "terraform.tfvars",
            &[("image_uri", json!("repo/orders:2.0"))],
        ),
        (
            "terraform.tfvars",
            &[
                ("tags.version", json!("2.0")),
                ("tags.new_key", json!(true)),
            ],
        ),
        ("terraform.tfvars", &[("subnets.1", json!("subnet-c"))]),
        ("terraform.tfvars", &[("subnets.5", json!("subnet-c"))]),
        ("terraform.tfvars", &[("subnets.x", json!("subnet-c"))]),
        (
            "tricky",
            &[("locals.services.svc-1.image.tag", json!("v9"))],
        ),
        (
            "tricky",
            &[("locals.services.svc-2.image.tag", json!("v9"))],
        ),
        (
            "tricky",
            &[("locals.services.svc-2.image.digest", json!("sha256:1"))],
        ),
        (
            "tricky",
            &[("locals.services.key\\.with\\.dots.x", json!(2))],
        ),
        (
            "tricky",
            &[("locals.tuple.1.value.deep.deeper.0", json!(false))],
        ),
        ("tricky", &[("locals.tuple.0.name", json!("z"))]),
        ("tricky", &[("locals.tuple", json!([1]))]),
        ("tricky", &[("locals.services.svc-1", json!("flat"))]),
        (
            "tricky",
            &[("resource.aws_instance.web.tags.Name", json!("w2"))],
        ),
        (
            "tricky",
            &[("resource.aws_instance.db.ami", json!("ami-3"))],
        ),
        ("tricky", &[("resource.aws_instance.db.extra", json!("x"))]),
        ("tricky", &[("module.svc.inputs.list.1.b.0.c", json!(3))]),
        ("tricky", &[("empty.new", json!("v"))]),
        ("tricky", &[("terraform.required_version", json!(">= 1.6"))]),
        (
            "tricky crlf",
            &[
                ("locals.services.svc-2.image.tag", json!("v9")),
                ("locals.new", json!(1)),
            ],
        ),
        (
            "generated",
            &[("locals.services.svc-020.image.tag", json!("v9.9.9"))],
        ),
        (
            "generated",
            &[("locals.services.svc-020.image.digest", json!("sha256:0"))],
        ),
        (
            "generated",
            &[
                ("module.svc-033.labels.app", json!("x")),
                ("module.svc-033.replicas", json!(2)),
            ],
        ),
    ];
    let texts = texts();
    for (name, list) in cases {
        let text = &texts.iter().find(|(n, _)| n == name).unwrap().1;
        let ups = updates(list);
        let whole = update_whole(text, &ups);
        for chunk in CHUNKS {
            match update_layered(text, &ups, chunk) {
                Some(layered) => assert_eq!(layered, whole, "{name} {list:?} at {chunk}"),
                None => panic!("{name} {list:?} at {chunk}: gave up ({whole:?})"),
            }
        }
    }
}

/// Where the layered check and the whole-tree check disagree, the whole
/// tree's result stands: a new attribute named as a block (the whole-tree
/// check compares values by their source text and misses that the
/// attribute takes the block's place in the JSON) gives up.
#[test]
fn layered_updates_give_up_where_the_checks_disagree() {
    let ups = updates(&[("resource.aws_lambda_function.missing.x", json!(1))]);
    assert!(update_layered(MAIN_TF, &ups, 0).is_none());
    let out = update_whole(MAIN_TF, &ups).unwrap();
    assert!(out.ends_with("\nresource = { aws_lambda_function = { missing = { x = 1 } } }\n"));
}

/// A text the whole parse refuses is given up on, so the error is the
/// whole parse's.
#[test]
fn layered_updates_give_up_on_a_broken_file() {
    let broken = format!("{}\nbroken = {{\n", generated(10));
    let ups = updates(&[("locals.services.svc-002.image.tag", json!("v9"))]);
    assert!(update_layered(&broken, &ups, 0).is_none());
    assert!(matches!(
        update_whole(&broken, &ups),
        Err(EditError::Parse(_))
    ));
}

#[test]
fn path_skeletons_keep_only_the_path() {
    let text = generated(5);
    let skeleton = path_skeleton(
        &text,
        &[
            "locals".into(),
            "services".into(),
            "svc-002".into(),
            "image".into(),
        ],
    )
    .unwrap();
    assert_eq!(skeleton.len(), text.len());
    assert!(skeleton.contains("\"svc-002\" = {\n      replicas = 2\n      image = {"));
    assert!(
        !skeleton.contains("r/svc-002"),
        "the target group is blanked"
    );
    assert!(!skeleton.contains("r/svc-001"));
    assert!(!skeleton.contains("./svc"));
    assert!(skeleton.contains("module \"svc-004\" {"));
}
