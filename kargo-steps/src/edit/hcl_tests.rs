use serde_json::{Value, json};

use super::*;

fn edit(src: &str, updates: &[(&str, Value)]) -> String {
    let updates: Vec<Update> = updates
        .iter()
        .map(|(k, v)| Update::new(*k, v.clone()))
        .collect();
    match update(src, &updates) {
        Ok(out) => out,
        Err(e) => format!("ERROR: {e}"),
    }
}

const TFVARS: &str = r#"# Lambda settings for the dev environment
region        = "us-east-1" # primary
function_name = "orders-api"
image_uri     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.4.2" # bumped by kargo
memory_size   = 512
enabled       = true

tags = {
  team    = "payments" # owner
  version = "1.4.2"
}

subnets = ["subnet-a", "subnet-b"]
"#;

const MAIN_TF: &str = r#"terraform {
  required_version = ">= 1.0"
}

variable "image_tag" {
  type    = string
  default = "1.4.2"
}

resource "aws_lambda_function" "fn" {
  function_name = "orders-api"
  image_uri     = "repo/orders:${var.image_tag}" # templated
  memory_size   = 512

  environment {
    variables = {
      LOG_LEVEL = "info"
    }
  }
}

locals {
  name = "orders-${var.image_tag}"
}
"#;

#[test]
fn tfvars_string_keeps_alignment_and_comment() {
    let out = edit(
        TFVARS,
        &[(
            "image_uri",
            json!("123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.5.0"),
        )],
    );
    insta::assert_snapshot!(out, @r#"
    # Lambda settings for the dev environment
    region        = "us-east-1" # primary
    function_name = "orders-api"
    image_uri     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.5.0" # bumped by kargo
    memory_size   = 512
    enabled       = true

    tags = {
      team    = "payments" # owner
      version = "1.4.2"
    }

    subnets = ["subnet-a", "subnet-b"]
    "#);
}

#[test]
fn tfvars_numbers_booleans_and_object_keys() {
    let out = edit(
        TFVARS,
        &[
            ("memory_size", json!(1024)),
            ("enabled", json!(false)),
            ("tags.version", json!("1.5.0")),
            ("subnets.1", json!("subnet-c")),
        ],
    );
    insta::assert_snapshot!(out, @r#"
    # Lambda settings for the dev environment
    region        = "us-east-1" # primary
    function_name = "orders-api"
    image_uri     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.4.2" # bumped by kargo
    memory_size   = 1024
    enabled       = false

    tags = {
      team    = "payments" # owner
      version = "1.5.0"
    }

    subnets = ["subnet-a", "subnet-c"]
    "#);
}

#[test]
fn missing_top_level_attribute_is_appended() {
    let out = edit(
        TFVARS,
        &[("timeout", json!(30)), ("tags.env", json!("dev"))],
    );
    insta::assert_snapshot!(out, @r#"
    # Lambda settings for the dev environment
    region        = "us-east-1" # primary
    function_name = "orders-api"
    image_uri     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:1.4.2" # bumped by kargo
    memory_size   = 512
    enabled       = true

    tags = {
      team    = "payments" # owner
      version = "1.4.2"
      env = "dev"
    }

    subnets = ["subnet-a", "subnet-b"]
    timeout = 30
    "#);
}

#[test]
fn main_tf_blocks_by_identifier_and_labels() {
    let out = edit(
        MAIN_TF,
        &[
            (
                "resource.aws_lambda_function.fn.image_uri",
                json!("repo/orders:1.5.0"),
            ),
            ("variable.image_tag.default", json!("1.5.0")),
            (
                "resource.aws_lambda_function.fn.environment.variables.LOG_LEVEL",
                json!("debug"),
            ),
            ("resource.aws_lambda_function.fn.timeout", json!(30)),
        ],
    );
    insta::assert_snapshot!(out, @r#"
    terraform {
      required_version = ">= 1.0"
    }

    variable "image_tag" {
      type    = string
      default = "1.5.0"
    }

    resource "aws_lambda_function" "fn" {
      function_name = "orders-api"
      image_uri     = "repo/orders:1.5.0" # templated
      memory_size   = 512

      environment {
        variables = {
          LOG_LEVEL = "debug"
        }
      }
      timeout = 30
    }

    locals {
      name = "orders-${var.image_tag}"
    }
    "#);
}

#[test]
fn strings_are_escaped_for_templates() {
    let out = edit(
        "a = \"x\"\r\nb = 1\r\n",
        &[("a", json!("${not} \"q\"")), ("c", json!("new"))],
    );
    insta::assert_snapshot!(out.replace('\r', "<CR>"), @r#"
    a = "$${not} \"q\""<CR>
    b = 1<CR>
    c = "new"<CR>
    "#);
}

#[test]
fn errors_name_the_key_and_reason() {
    insta::assert_snapshot!(edit(TFVARS, &[("region.x", json!(1))]), @"ERROR: key `region.x`: `region` is not an object");
    insta::assert_snapshot!(edit(TFVARS, &[("subnets.9", json!("x"))]), @"ERROR: key `subnets.9`: index 9 is out of range: `subnets` has 2 items");
    insta::assert_snapshot!(edit(TFVARS, &[("tags", json!("x"))]), @"ERROR: key `tags`: holds an object or a list; only values can be replaced");
    insta::assert_snapshot!(edit("a = \n", &[("a", json!(1))]), @r#"
    ERROR: cannot parse:  --> HCL parse error in line 1, column 5
      |
    1 | a = 
      |     ^---
      |
      = invalid expression; expected `"`, `[`, `{`, `-`, `!`, `(`, `_`, `<`, letter or digit
    "#);
}

#[test]
fn read_gives_terraform_json_shape() {
    let v = read(MAIN_TF).unwrap();
    insta::assert_snapshot!(serde_json::to_string(&v).unwrap(), @r#"{"terraform":{"required_version":">= 1.0"},"variable":{"image_tag":{"type":"string","default":"1.4.2"}},"resource":{"aws_lambda_function":{"fn":{"function_name":"orders-api","image_uri":"repo/orders:${var.image_tag}","memory_size":512,"environment":{"variables":{"LOG_LEVEL":"info"}}}}},"locals":{"name":"orders-${var.image_tag}"}}"#);
}

const FIXTURE_TFVARS: &str = include_str!("../../tests/fixtures/terraform.tfvars");
const FIXTURE_MAIN_TF: &str = include_str!("../../tests/fixtures/main.tf");

#[test]
fn real_world_tfvars_image_and_map_entries() {
    let out = edit(
        FIXTURE_TFVARS,
        &[
            (
                "image_uri",
                json!("123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api:1.5.0"),
            ),
            ("tags.version", json!("1.5.0")),
            ("environment_variables.feature\\.flags", json!("a,b,c")),
            ("subnet_ids.1", json!("subnet-99")),
            ("reserved_concurrency", json!(10)),
        ],
    );
    insta::assert_snapshot!(crate::edit::changed_lines(FIXTURE_TFVARS, &out), @r#"
     6 -image_uri      = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api:1.4.2" # kargo
     6 +image_uri      = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api:1.5.0" # kargo
     9 -reserved_concurrency = -1
     9 +reserved_concurrency = 10
    15 -  "feature.flags" = "a,b"
    15 +  "feature.flags" = "a,b,c"
    20 -  "subnet-4e5f6a7b", # az b
    20 +  "subnet-99", # az b
    26 -  version     = "1.4.2"
    26 +  version     = "1.5.0"
    "#);
}

#[test]
fn real_world_main_tf_variable_default_and_block_attribute() {
    let out = edit(
        FIXTURE_MAIN_TF,
        &[
            (
                "variable.image_uri.default",
                json!("123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api:1.5.0"),
            ),
            (
                "resource.aws_lambda_function.fn.tags.version",
                json!("1.5.0"),
            ),
            ("locals.retries", json!(5)),
        ],
    );
    insta::assert_snapshot!(crate::edit::changed_lines(FIXTURE_MAIN_TF, &out), @r#"
     8 -  default     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api:1.4.2"
     8 +  default     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api:1.5.0"
    13 -  retries = 3 # client retries
    13 +  retries = 5 # client retries
    30 -    version = "1.4.2"
    30 +    version = "1.5.0"
    "#);
}

/// An object key written as an expression (`(var.k) = ...`) after the
/// edited value: the check compares it by its text, so moving it is no
/// change (its debug form, with offsets, made every such edit fail).
#[test]
fn an_expression_key_after_the_edit_is_not_a_change() {
    let src = "m = {\n  a = 1\n  (var.k) = 2\n}\n";
    assert_eq!(
        edit(src, &[("m.a", json!("three"))]),
        "m = {\n  a = \"three\"\n  (var.k) = 2\n}\n"
    );
    assert_eq!(
        edit(src, &[("m.b", json!(true))]),
        "m = {\n  a = 1\n  (var.k) = 2\n  b = true\n}\n"
    );
}
