#!/usr/bin/env bash
# How much memory does one file step take on a large file? Generates files of
# about SIZE_MB megabytes each, runs each step once through
# `kargo run --steps`, and prints its peak resident memory (/usr/bin/time's
# %M) and wall time.
#
# Every file holds the same generated content: a few top-level keys, then
# `services` holding one entry per service, each a nested mapping with
# strings, numbers, lists of strings and lists of mappings, as a large Helm
# values file or generated config has. Written as:
# - values.yaml, values.json, values.toml: that document;
# - values.tf: HCL as a large Terraform file has it: a `terraform` block, a
#   `locals` block whose `services` map holds the first half of the
#   services, then one `module "<service>"` block per service of the
#   second half;
# - for yaml-merge: values.yaml, then overlay.yaml (the same document with
#   one service's tag changed, a key added to it and another service's key
#   set to null, so as large), then a small file that adds a top-level key
#   and a key to `summary`;
# - for kustomize-set-image: a kustomization.yaml whose `images` list holds
#   one entry per service (sorted by name, as Kargo keeps it);
# - for helm-update-chart: a Chart.yaml whose `dependencies` hold one entry
#   per service (the chart `common` under the service's alias, with a
#   condition and tags) and, in the middle, the chart `target` from a
#   `file://` directory; and a Chart.lock locking each. The `common`
#   dependencies have no repository (their chart sits in `charts/`), so no
#   chart repository is read: what is measured is reading and editing
#   Chart.yaml, reading Chart.lock, resolving each dependency against
#   `charts/`, packaging `target` and writing the new Chart.lock.
#
# What each step does:
# - the parse steps evaluate three outputs (a leaf deep in the document,
#   one near its end, and a whole small mapping);
# - the update steps set one key deep in `services` (or in `locals`'
#   `services` map for HCL), which holds nearly the whole file, so an
#   editor cannot get away with a small top-level section; a `+new`
#   variant (json-update+new, hcl-update+new; toml-update and yaml-update
#   only change existing keys) sets a key
#   that does not exist yet, next to that one, so the update creates it;
# - yaml-merge merges the three files into a new one;
# - kustomize-set-image sets the tag of one image in the middle of the
#   list; kustomize-set-image+new adds an image, which goes into the middle
#   of the sorted list;
# - helm-update-chart sets the version of the one dependency in the middle
#   named `target`.
#
#   scripts/bench-memory.sh                          # 6 MB, dev profile
#   SIZE_MB=60 PROFILE=release scripts/bench-memory.sh
#   STEPS="yaml-parse hcl-update+new" SIZE_MB=60 scripts/bench-memory.sh
#   KARGO=path/to/kargo scripts/bench-memory.sh      # no build
#
# Knobs: SIZE_MB (default 6), PROFILE (dev or release, default dev), STEPS
# (default: all of them, in the order listed by `STEPS=list`), KARGO (a
# prebuilt binary). Needs python3 (the generator) and GNU time at
# /usr/bin/time. The file size limit is raised to the largest file +
# 16 MiB (KARGO_MAX_FILE_BYTES) when it outgrows the default 64 MiB: pass
# SIZE_MB=69.2 for files of 66 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_STEPS="yaml-parse yaml-update json-parse json-update json-update+new toml-parse toml-update hcl-parse hcl-update hcl-update+new yaml-merge kustomize-set-image kustomize-set-image+new helm-update-chart"
SIZE_MB="${SIZE_MB:-6}"
PROFILE="${PROFILE:-dev}"
STEPS="${STEPS:-$ALL_STEPS}"
if [ "$STEPS" = list ]; then
  echo "$ALL_STEPS" | tr ' ' '\n'
  exit 0
fi
for step in $STEPS; do
  case " $ALL_STEPS " in
  *" $step "*) ;;
  *) echo "unknown step $step (STEPS=list lists them)" >&2 && exit 2 ;;
  esac
done

if [ -z "${KARGO:-}" ]; then
  case "$PROFILE" in
  dev) flags=() ;;
  release) flags=(--release) ;;
  *) echo "PROFILE must be dev or release, not $PROFILE" >&2 && exit 2 ;;
  esac
  KARGO="$(cargo build --quiet --locked -p kargo-cli --bin kargo "${flags[@]}" --message-format=json |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
fi
echo "runner $KARGO" >&2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"

python3 - "$work/data" "$SIZE_MB" <<'PY'
import copy, json, os, sys

out, size_mb = sys.argv[1], float(sys.argv[2])
target = int(size_mb * 1_000_000)

def service(i):
    name = f"svc-{i:06d}"
    return {
        "enabled": i % 7 != 0,
        "replicas": 1 + i % 5,
        "image": {
            "repository": f"registry.example.com/team-{i % 40:02d}/{name}",
            "tag": f"v{i % 3}.{i % 17}.{i % 101}",
            "pullPolicy": "IfNotPresent",
        },
        "resources": {
            "limits": {"cpu": f"{100 + i % 900}m", "memory": f"{64 * (1 + i % 8)}Mi"},
            "requests": {"cpu": "50m", "memory": "32Mi"},
        },
        "ports": [8080, 9090 + i % 10],
        "args": ["--log-level=info", f"--shard={i % 16}", "--metrics"],
        "env": [
            {"name": "REGION", "value": ["eu-west-1", "us-east-2", "ap-south-1"][i % 3]},
            {"name": "WEIGHT", "value": str(0.5 + (i % 10) / 4)},
        ],
        "labels": {"app.kubernetes.io/name": name, "tier": ["web", "api", "batch"][i % 3]},
        "ratio": round(0.25 + (i % 13) / 8, 3),
    }

def document(count):
    return {
        "global": {"registry": "registry.example.com", "environment": "bench"},
        "services": {f"svc-{i:06d}": service(i) for i in range(count)},
        "summary": {"count": count, "generator": "bench-memory.sh"},
    }

def sized(render):
    """The text `render` makes of a document whose size is about target."""
    sample = 200
    per = len(render(document(sample))) / sample
    count = max(8, int(target / per))
    return render(document(count)), count

def write(name, text):
    path = os.path.join(out, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)

def scalar_yaml(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if v.replace(".", "").replace("-", "").isdigit() or v in ("true", "false", "null", "yes", "no", "on", "off"):
        return json.dumps(v)
    return v

def yaml_lines(value, indent, lines):
    pad = " " * indent
    for k, v in value.items():
        if isinstance(v, dict):
            lines.append(f"{pad}{k}:")
            yaml_lines(v, indent + 2, lines)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f"{pad}{k}:")
            for item in v:
                first = True
                for ik, iv in item.items():
                    lines.append(f"{pad}  {'- ' if first else '  '}{ik}: {scalar_yaml(iv)}")
                    first = False
        elif isinstance(v, list):
            lines.append(f"{pad}{k}: [{', '.join(scalar_yaml(x) for x in v)}]")
        else:
            lines.append(f"{pad}{k}: {scalar_yaml(v)}  # {k}" if k == "tag" else f"{pad}{k}: {scalar_yaml(v)}")

def render_yaml(doc):
    lines = ["# Generated by scripts/bench-memory.sh"]
    yaml_lines(doc, 0, lines)
    return "\n".join(lines) + "\n"

def toml_key(k):
    return k if all(c.isalnum() or c in "-_" for c in k) else json.dumps(k)

def toml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_scalar(x)}" for k, x in v.items()) + " }"
    return json.dumps(v)

def toml_table(path, table, lines):
    plain = {k: v for k, v in table.items() if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict))}
    if path and plain:
        lines.append(f"[{'.'.join(toml_key(p) for p in path)}]")
    for k, v in plain.items():
        lines.append(f"{toml_key(k)} = {toml_scalar(v)}")
    for k, v in table.items():
        if isinstance(v, dict):
            toml_table(path + [k], v, lines)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines.append(f"[[{'.'.join(toml_key(p) for p in path + [k])}]]")
                for ik, iv in item.items():
                    lines.append(f"{toml_key(ik)} = {toml_scalar(iv)}")

def render_toml(doc):
    lines = ["# Generated by scripts/bench-memory.sh"]
    toml_table([], doc, lines)
    return "\n".join(lines) + "\n"

def render_json(doc):
    return json.dumps(doc, indent=2) + "\n"

def hcl_key(k):
    return k if k.replace("_", "a").isalnum() and not k[0].isdigit() else json.dumps(k)

def hcl_value(v, indent):
    """An HCL expression: objects over several lines, lists on one."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(hcl_inline(x) for x in v) + "]"
    pad = " " * (indent + 2)
    width = max(len(hcl_key(k)) for k in v)
    body = "".join(f"{pad}{hcl_key(k).ljust(width)} = {hcl_value(x, indent + 2)}\n" for k, x in v.items())
    return "{\n" + body + " " * indent + "}"

def hcl_inline(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{hcl_key(k)} = {hcl_inline(x)}" for k, x in v.items()) + " }"
    return hcl_value(v, 0)

def render_hcl(doc):
    services = list(doc["services"].items())
    half = len(services) // 2
    lines = [
        "# Generated by scripts/bench-memory.sh",
        "terraform {",
        '  required_version = ">= 1.5"',
        "}",
        "",
        "locals {",
        f"  global = {hcl_value(doc['global'], 2)}",
        "  services = {",
    ]
    for name, svc in services[:half]:
        lines.append(f'    "{name}" = {hcl_value(svc, 4)}')
    lines += ["  }", f"  summary = {hcl_value(doc['summary'], 2)}", "}"]
    for name, svc in services[half:]:
        lines += ["", f'module "{name}" {{', '  source = "./modules/service"']
        for k, v in svc.items():
            lines.append(f"  {k} = {hcl_value(v, 2)}")
        lines.append("}")
    return "\n".join(lines) + "\n"

def image_entries(doc):
    entries = []
    for i, svc in enumerate(doc["services"].values()):
        image = svc["image"]
        entry = {"name": image["repository"]}
        if i % 5 == 0:
            entry["newName"] = image["repository"].replace("registry.", "mirror.")
        if i % 9 == 0:
            entry["digest"] = "sha256:" + f"{i:064x}"
        else:
            entry["newTag"] = image["tag"]
        entries.append(entry)
    entries.sort(key=lambda e: e["name"])
    return entries

def render_kustomization(doc):
    lines = [
        "# Generated by scripts/bench-memory.sh",
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "resources:",
        "  - deployment.yaml",
        "images:",
    ]
    for entry in image_entries(doc):
        first = True
        for k, v in entry.items():
            lines.append(f"  {'- ' if first else '  '}{k}: {scalar_yaml(v)}")
            first = False
    return "\n".join(lines) + "\n"

def dependencies(doc):
    names = list(doc["services"])
    deps = []
    for i, name in enumerate(names):
        if i == len(names) // 2:
            deps.append({"name": "target", "version": "0.9.0", "repository": "file://deps/target"})
        deps.append({
            "name": "common",
            "alias": name,
            "version": "~1.2.0",
            "condition": f"services.{name}.enabled",
            "tags": [f"team-{i % 40:02d}", ["web", "api", "batch"][i % 3]],
        })
    return deps

def render_chart(doc):
    lines = [
        "# Generated by scripts/bench-memory.sh",
        "apiVersion: v2",
        "name: bench",
        "version: 0.1.0",
        "dependencies:",
    ]
    for dep in dependencies(doc):
        first = True
        for k, v in dep.items():
            if isinstance(v, list):
                v = "[" + ", ".join(v) + "]"
            lines.append(f"  {'- ' if first else '  '}{k}: {scalar_yaml(v)}")
            first = False
    return "\n".join(lines) + "\n"

def render_lock(doc):
    lines = ["dependencies:"]
    for dep in dependencies(doc):
        version = "0.9.0" if dep["name"] == "target" else "1.2.3"
        repository = json.dumps(dep.get("repository", ""))
        lines += [f"- name: {dep['name']}", f"  repository: {repository}", f"  version: {version}"]
    lines += ["digest: sha256:" + "0" * 64, "generated: \"2024-01-01T00:00:00Z\""]
    return "\n".join(lines) + "\n"

for name, render in (
    ("values.yaml", render_yaml),
    ("values.json", render_json),
    ("values.toml", render_toml),
    ("values.tf", render_hcl),
    ("kust/kustomization.yaml", render_kustomization),
    ("chart/Chart.yaml", render_chart),
):
    text, count = sized(render)
    write(name, text)
    write(f"count/{os.path.basename(os.path.dirname(name)) or name}", f"{count}\n")
    if name == "values.yaml":
        doc = document(count)
        services = doc["services"]
        deep, last = f"svc-{count // 2:06d}", f"svc-{count - 1:06d}"
        services[deep]["image"]["tag"] = "v9.9.9"
        services[deep]["image"]["digest"] = "sha256:" + "ab" * 32
        services[last]["ratio"] = None
        write("overlay.yaml", render_yaml(doc))
        write("small.yaml", "summary:\n  merged: true\nextra:\n  note: merged by bench-memory.sh\n")
    if name == "chart/Chart.yaml":
        write("chart/Chart.lock", render_lock(document(count)))
        write("chart/charts/common/Chart.yaml", "apiVersion: v2\nname: common\nversion: 1.2.3\n")
        write("chart/deps/target/Chart.yaml", "apiVersion: v2\nname: target\nversion: 1.0.0\n")
PY

largest="$(find "$work/data" -type f -printf '%s\n' | sort -n | tail -n 1)"
if [ "$largest" -gt $((64 << 20)) ]; then
  export KARGO_MAX_FILE_BYTES=$((largest + (16 << 20)))
fi

printf '%-24s %8s %10s %9s\n' step "file MB" "peak MiB" "wall s"
for step in $STEPS; do
  kind="${step%+new}"
  rm -rf "$work/run" && mkdir -p "$work/run"
  # file: the (largest) file the step reads; its size is shown.
  case "$kind" in
  yaml-merge)
    file=values.yaml
    cp "$work/data/values.yaml" "$work/data/overlay.yaml" "$work/data/small.yaml" "$work/run/"
    config="inFiles: [values.yaml, overlay.yaml, small.yaml]
      outFile: out/merged.yaml"
    ;;
  kustomize-set-image)
    file=kust/kustomization.yaml
    cp -r "$work/data/kust" "$work/run/"
    count="$(cat "$work/data/count/kust")"
    if [ "$step" = "$kind" ]; then
      image="registry.example.com/team-$(printf '%02d' $((count / 2 % 40)))/$(printf 'svc-%06d' $((count / 2)))"
    else
      image=registry.example.com/team-20/svc-new
    fi
    config="path: kust
      images:
        - image: $image
          tag: v9.9.9"
    ;;
  helm-update-chart)
    file=chart/Chart.yaml
    cp -r "$work/data/chart" "$work/run/"
    config="path: chart
      charts:
        - repository: file://deps/target
          name: target
          version: 1.0.0"
    ;;
  *-parse | *-update)
    format="${kind%-*}"
    file="values.${format/hcl/tf}"
    cp "$work/data/$file" "$work/run/$file"
    count="$(cat "$work/data/count/$file")"
    if [ "$format" = hcl ]; then
      # The first half of the services is in `locals`, the rest are modules.
      deep="$(printf 'svc-%06d' $((count / 4)))"
      at="locals.services.$deep"
      parse="locals.services['$deep'].image.tag|module['$(printf 'svc-%06d' $((count - 1)))'].replicas|locals.global"
    else
      deep="$(printf 'svc-%06d' $((count / 2)))"
      at="services.$deep"
      parse="services['$deep'].image.tag|services['$(printf 'svc-%06d' $((count - 1)))'].replicas|global"
    fi
    if [ "${kind#*-}" = parse ]; then
      IFS='|' read -r tag last global <<<"$parse"
      config="outputs:
        - name: tag
          fromExpression: \"$tag\"
        - name: lastReplicas
          fromExpression: \"$last\"
        - name: global
          fromExpression: \"$global\""
    elif [ "$step" = "$kind" ]; then
      config="updates:
        - key: $at.image.tag
          value: v9.9.9"
    else
      config="updates:
        - key: $at.image.digest
          value: sha256:0123456789abcdef"
    fi
    config="path: $file
      $config"
    ;;
  esac
  cat >"$work/steps.yaml" <<EOF
steps:
  - uses: $kind
    as: bench
    config:
      $config
EOF
  /usr/bin/time -f '%M %e' -o "$work/time" "$KARGO" run --steps "$work/steps.yaml" --workdir "$work/run" >"$work/out.json" 2>"$work/err" || {
    echo "$step failed:" >&2
    cat "$work/out.json" "$work/err" >&2
    exit 1
  }
  grep -q '"phase": *"Succeeded"' "$work/out.json" || {
    echo "$step did not succeed:" >&2
    cat "$work/out.json" >&2
    exit 1
  }
  read -r kib secs <"$work/time"
  mb="$(awk -v b="$(wc -c <"$work/data/$file")" 'BEGIN { printf "%.1f", b / 1e6 }')"
  printf '%-24s %8s %10d %9s\n' "$step" "$mb" $((kib / 1024)) "$secs"
done
