//! The Stages of a project as a graph: Freight flows from Warehouses into
//! Stages that take it `direct`ly, and from Stages to the Stages that name
//! them in `requestedFreight[].sources.stages`.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::manifest::Manifests;
use crate::model::{AutoPromotionSelectionPolicy, FreightOrigin, Stage};

/// A problem that keeps a set of Stages from forming a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Two Stages have the same name.
    DuplicateStage {
        /// The name.
        stage: String,
    },
    /// A Stage requests no Freight (Kargo requires at least one request).
    NoRequestedFreight {
        /// The Stage.
        stage: String,
    },
    /// A Stage requests Freight from the same origin twice.
    DuplicateOrigin {
        /// The Stage.
        stage: String,
        /// The origin.
        origin: FreightOrigin,
    },
    /// A Stage requests Freight from a Warehouse that does not exist.
    UnknownWarehouse {
        /// The Stage.
        stage: String,
        /// The Warehouse it names.
        warehouse: String,
    },
    /// A Stage takes Freight from an upstream Stage that does not exist.
    UnknownStage {
        /// The Stage.
        stage: String,
        /// The upstream Stage it names.
        upstream: String,
    },
    /// A Stage takes Freight of an origin from an upstream Stage that does
    /// not request Freight of that origin, so none could ever arrive.
    UpstreamLacksOrigin {
        /// The Stage.
        stage: String,
        /// The upstream Stage.
        upstream: String,
        /// The origin.
        origin: FreightOrigin,
    },
    /// `selectionPolicy: MatchUpstream` with `direct: true`, or without
    /// exactly one upstream Stage (Kargo's Stage webhook rejects both).
    MatchUpstream {
        /// The Stage.
        stage: String,
        /// The origin of the request.
        origin: FreightOrigin,
        /// What is wrong.
        reason: &'static str,
    },
    /// Stages that take Freight from each other in a circle, in flow order
    /// (each takes Freight from the one before it; the first from the last).
    Cycle {
        /// The Stages of the cycle.
        stages: Vec<String>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::DuplicateStage { stage } => write!(f, "Stage `{stage}` is defined twice"),
            Problem::NoRequestedFreight { stage } => {
                write!(f, "Stage `{stage}`: spec.requestedFreight is empty")
            }
            Problem::DuplicateOrigin { stage, origin } => write!(
                f,
                "Stage `{stage}`: Freight from {origin} is requested more than once"
            ),
            Problem::UnknownWarehouse { stage, warehouse } => write!(
                f,
                "Stage `{stage}` requests Freight from Warehouse `{warehouse}`, which does not exist"
            ),
            Problem::UnknownStage { stage, upstream } => write!(
                f,
                "Stage `{stage}` takes Freight from Stage `{upstream}`, which does not exist"
            ),
            Problem::UpstreamLacksOrigin {
                stage,
                upstream,
                origin,
            } => write!(
                f,
                "Stage `{stage}` takes Freight from {origin} via Stage `{upstream}`, \
                 which does not request Freight from {origin}"
            ),
            Problem::MatchUpstream {
                stage,
                origin,
                reason,
            } => write!(
                f,
                "Stage `{stage}`, Freight from {origin}: selection policy MatchUpstream {reason}"
            ),
            Problem::Cycle { stages } => {
                write!(f, "Stages form a cycle: ")?;
                for s in stages {
                    write!(f, "{s} -> ")?;
                }
                write!(f, "{}", stages.first().map_or("", String::as_str))
            }
        }
    }
}

/// The Stages could not form a pipeline; every problem found is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct GraphError {
    /// The problems, in the order they were found (cycles last).
    pub problems: Vec<Problem>,
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid pipeline: ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl From<GraphError> for crate::Error {
    fn from(e: GraphError) -> Self {
        crate::Error::Invalid(e.to_string())
    }
}

/// The Stages of one project, checked and in flow order.
///
/// # Examples
/// ```
/// use kargo_core::manifest::Manifests;
/// use kargo_core::pipeline::StageGraph;
///
/// let manifests = Manifests::from_yaml_str(r#"
/// apiVersion: kargo.akuity.io/v1alpha1
/// kind: Warehouse
/// metadata: {name: app}
/// spec:
///   subscriptions: [{image: {repoURL: nginx}}]
/// ---
/// apiVersion: kargo.akuity.io/v1alpha1
/// kind: Stage
/// metadata: {name: prod}
/// spec:
///   requestedFreight:
///   - origin: {kind: Warehouse, name: app}
///     sources: {stages: [dev]}
/// ---
/// apiVersion: kargo.akuity.io/v1alpha1
/// kind: Stage
/// metadata: {name: dev}
/// spec:
///   requestedFreight:
///   - origin: {kind: Warehouse, name: app}
///     sources: {direct: true}
/// "#, "pipeline.yaml").unwrap();
/// let graph = StageGraph::from_manifests(&manifests).unwrap();
/// let order: Vec<_> = graph.stages().map(|s| s.metadata.name.as_str()).collect();
/// assert_eq!(order, ["dev", "prod"]);
/// assert_eq!(graph.upstream("prod"), ["dev"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct StageGraph {
    /// In flow order: every Stage after all Stages it takes Freight from.
    stages: Vec<Stage>,
    index: HashMap<String, usize>,
    upstream: Vec<Vec<String>>,
    downstream: Vec<Vec<String>>,
}

impl StageGraph {
    /// The graph of the Stages in `manifests`, checking that every
    /// requested Warehouse is among them.
    pub fn from_manifests(manifests: &Manifests) -> Result<Self, GraphError> {
        let warehouses: BTreeSet<&str> = manifests
            .warehouses()
            .iter()
            .map(|w| w.metadata.name.as_str())
            .collect();
        build(manifests.stages().to_vec(), Some(&warehouses))
    }

    /// The graph of `stages`, without checking Warehouses.
    pub fn new(stages: Vec<Stage>) -> Result<Self, GraphError> {
        build(stages, None)
    }

    /// The graph of `stages`, checking that every requested Warehouse is
    /// one of `warehouses`.
    pub fn with_warehouses<'a>(
        stages: Vec<Stage>,
        warehouses: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, GraphError> {
        let warehouses: BTreeSet<&str> = warehouses.into_iter().collect();
        build(stages, Some(&warehouses))
    }

    /// The Stages in flow order: each after every Stage it takes Freight from
    /// (and, among independent Stages, in the order they were given).
    pub fn stages(&self) -> impl ExactSizeIterator<Item = &Stage> + '_ {
        self.stages.iter()
    }

    /// The number of Stages.
    pub fn len(&self) -> usize {
        self.stages.len()
    }

    /// Whether there are no Stages.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The Stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.index.get(name).map(|&i| &self.stages[i])
    }

    /// The Stages `name` takes Freight from, each once, in request order.
    pub fn upstream(&self, name: &str) -> &[String] {
        self.index
            .get(name)
            .map_or(&[][..], |&i| self.upstream[i].as_slice())
    }

    /// The Stages that take Freight from `name`, in flow order.
    pub fn downstream(&self, name: &str) -> &[String] {
        self.index
            .get(name)
            .map_or(&[][..], |&i| self.downstream[i].as_slice())
    }
}

fn build(
    stages: Vec<Stage>,
    warehouses: Option<&BTreeSet<&str>>,
) -> Result<StageGraph, GraphError> {
    let mut problems = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::with_capacity(stages.len());
    for (i, s) in stages.iter().enumerate() {
        if index.insert(s.metadata.name.clone(), i).is_some() {
            problems.push(Problem::DuplicateStage {
                stage: s.metadata.name.clone(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(GraphError { problems });
    }

    let mut upstream: Vec<Vec<usize>> = vec![Vec::new(); stages.len()];
    for (i, stage) in stages.iter().enumerate() {
        let name = &stage.metadata.name;
        if stage.spec.requested_freight.is_empty() {
            problems.push(Problem::NoRequestedFreight {
                stage: name.clone(),
            });
        }
        let mut origins = BTreeSet::new();
        for req in &stage.spec.requested_freight {
            let origin = &req.origin;
            if !origins.insert(origin) {
                problems.push(Problem::DuplicateOrigin {
                    stage: name.clone(),
                    origin: origin.clone(),
                });
            }
            if let Some(known) = warehouses
                && !known.contains(origin.name.as_str())
            {
                problems.push(Problem::UnknownWarehouse {
                    stage: name.clone(),
                    warehouse: origin.name.clone(),
                });
            }
            let sources = &req.sources;
            if sources
                .auto_promotion_options
                .as_ref()
                .is_some_and(|o| o.selection_policy == AutoPromotionSelectionPolicy::MatchUpstream)
            {
                if sources.direct {
                    problems.push(Problem::MatchUpstream {
                        stage: name.clone(),
                        origin: origin.clone(),
                        reason: "cannot be used with `direct: true`",
                    });
                }
                if sources.stages.len() != 1 {
                    problems.push(Problem::MatchUpstream {
                        stage: name.clone(),
                        origin: origin.clone(),
                        reason: "needs exactly one upstream Stage",
                    });
                }
            }
            for up in &sources.stages {
                match index.get(up) {
                    None => problems.push(Problem::UnknownStage {
                        stage: name.clone(),
                        upstream: up.clone(),
                    }),
                    Some(&j) => {
                        if stages[j].requested_freight_from(origin).is_none() {
                            problems.push(Problem::UpstreamLacksOrigin {
                                stage: name.clone(),
                                upstream: up.clone(),
                                origin: origin.clone(),
                            });
                        }
                        if !upstream[i].contains(&j) {
                            upstream[i].push(j);
                        }
                    }
                }
            }
        }
    }

    let order = match topological_order(&upstream) {
        Ok(order) => order,
        Err(cycle) => {
            problems.push(Problem::Cycle {
                stages: cycle
                    .into_iter()
                    .map(|i| stages[i].metadata.name.clone())
                    .collect(),
            });
            Vec::new()
        }
    };
    if !problems.is_empty() {
        return Err(GraphError { problems });
    }

    // Re-index everything in flow order.
    let mut position = vec![0; stages.len()];
    for (pos, &i) in order.iter().enumerate() {
        position[i] = pos;
    }
    let mut slots: Vec<Option<Stage>> = stages.into_iter().map(Some).collect();
    let stages: Vec<Stage> = order
        .iter()
        .map(|&i| {
            slots[i]
                .take()
                .expect("each index appears once in a topological order")
        })
        .collect();
    let index = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.metadata.name.clone(), i))
        .collect();
    let mut ups = vec![Vec::new(); stages.len()];
    let mut downs = vec![Vec::new(); stages.len()];
    for (old, ups_old) in upstream.iter().enumerate() {
        let me = position[old];
        for &u in ups_old {
            ups[me].push(stages[position[u]].metadata.name.clone());
            downs[position[u]].push((me, stages[me].metadata.name.clone()));
        }
    }
    let downstream = downs
        .into_iter()
        .map(|mut d| {
            d.sort();
            d.into_iter().map(|(_, n)| n).collect()
        })
        .collect();
    Ok(StageGraph {
        stages,
        index,
        upstream: ups,
        downstream,
    })
}

/// Kahn's algorithm, taking the lowest ready index first so that
/// independent Stages keep their given order. On a cycle, returns one.
fn topological_order(upstream: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = upstream.len();
    let mut pending: Vec<usize> = upstream.iter().map(Vec::len).collect();
    let mut downstream = vec![Vec::new(); n];
    for (i, ups) in upstream.iter().enumerate() {
        for &u in ups {
            downstream[u].push(i);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &downstream[i] {
            pending[d] -= 1;
            if pending[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every Stage left has an upstream Stage that is left too: walk
    // upstream from one until a Stage repeats.
    let start = (0..n).find(|&i| pending[i] > 0).expect("a Stage is left");
    let mut seen = vec![usize::MAX; n];
    let mut path = Vec::new();
    let mut at = start;
    while seen[at] == usize::MAX {
        seen[at] = path.len();
        path.push(at);
        at = *upstream[at]
            .iter()
            .find(|&&u| pending[u] > 0)
            .expect("a Stage left in a cycle has an upstream Stage left");
    }
    let mut cycle = path.split_off(seen[at]);
    // The walk went upstream; flow order is the reverse. Start the cycle
    // at the Stage given first, for stable messages.
    cycle.reverse();
    if let Some(first) = cycle
        .iter()
        .enumerate()
        .min_by_key(|&(_, &i)| i)
        .map(|(k, _)| k)
    {
        cycle.rotate_left(first);
    }
    Err(cycle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AutoPromotionOptions, FreightRequest, FreightSources};

    fn stage(name: &str, reqs: &[(&str, &[&str])]) -> Stage {
        let mut s = Stage::default();
        s.metadata.name = name.into();
        for (warehouse, ups) in reqs {
            s.spec.requested_freight.push(FreightRequest {
                origin: FreightOrigin::warehouse(*warehouse),
                sources: FreightSources {
                    direct: ups.is_empty(),
                    stages: ups.iter().map(|u| u.to_string()).collect(),
                    ..Default::default()
                },
            });
        }
        s
    }

    fn names(g: &StageGraph) -> Vec<&str> {
        g.stages().map(|s| s.metadata.name.as_str()).collect()
    }

    #[test]
    fn orders_stages_by_flow_and_keeps_given_order_otherwise() {
        let g = StageGraph::new(vec![
            stage("prod", &[("app", &["staging-a", "staging-b"])]),
            stage("staging-b", &[("app", &["dev"])]),
            stage("staging-a", &[("app", &["dev"])]),
            stage("dev", &[("app", &[])]),
        ])
        .expect("valid");
        assert_eq!(names(&g), ["dev", "staging-b", "staging-a", "prod"]);
        assert_eq!(g.upstream("prod"), ["staging-a", "staging-b"]);
        assert_eq!(g.downstream("dev"), ["staging-b", "staging-a"]);
        assert!(g.upstream("dev").is_empty());
        assert!(g.upstream("nope").is_empty());
        assert_eq!(g.len(), 4);
        assert!(g.stage("prod").is_some());
    }

    #[test]
    fn rejects_a_cycle_naming_its_stages() {
        let err = StageGraph::new(vec![
            stage("dev", &[("app", &[])]),
            stage("a", &[("app", &["dev", "c"])]),
            stage("b", &[("app", &["a"])]),
            stage("c", &[("app", &["b"])]),
        ])
        .expect_err("cycle");
        let [Problem::Cycle { stages }] = err.problems.as_slice() else {
            panic!("one cycle expected: {err}");
        };
        // In flow order, starting with the Stage given first.
        assert_eq!(stages, &["a", "b", "c"]);
        assert_eq!(
            err.to_string(),
            "invalid pipeline: Stages form a cycle: a -> b -> c -> a"
        );
    }

    #[test]
    fn rejects_a_stage_taking_freight_from_itself() {
        let err = StageGraph::new(vec![stage("dev", &[("app", &["dev"])])]).expect_err("cycle");
        assert_eq!(
            err.problems,
            [Problem::Cycle {
                stages: vec!["dev".into()]
            }]
        );
        assert_eq!(
            err.to_string(),
            "invalid pipeline: Stages form a cycle: dev -> dev"
        );
    }

    #[test]
    fn rejects_unknown_stages_and_warehouses_naming_them() {
        let err = StageGraph::with_warehouses(
            vec![
                stage("dev", &[("app", &[])]),
                stage("prod", &[("app", &["staging"]), ("charts", &[])]),
            ],
            ["app"],
        )
        .expect_err("unknown");
        assert_eq!(
            err.problems,
            [
                Problem::UnknownStage {
                    stage: "prod".into(),
                    upstream: "staging".into()
                },
                Problem::UnknownWarehouse {
                    stage: "prod".into(),
                    warehouse: "charts".into()
                },
            ]
        );
        let msg = err.to_string();
        assert!(
            msg.contains("Stage `prod` takes Freight from Stage `staging`"),
            "{msg}"
        );
        assert!(msg.contains("Warehouse `charts`"), "{msg}");
    }

    #[test]
    fn rejects_duplicates_and_empty_requests() {
        let err = StageGraph::new(vec![stage("dev", &[]), stage("dev", &[])]).expect_err("dup");
        assert_eq!(
            err.problems,
            [Problem::DuplicateStage {
                stage: "dev".into()
            }]
        );

        let err = StageGraph::new(vec![
            stage("dev", &[]),
            stage("qa", &[("a", &[]), ("a", &[])]),
        ])
        .expect_err("empty and duplicate origin");
        assert_eq!(
            err.problems,
            [
                Problem::NoRequestedFreight {
                    stage: "dev".into()
                },
                Problem::DuplicateOrigin {
                    stage: "qa".into(),
                    origin: FreightOrigin::warehouse("a")
                },
            ]
        );
    }

    #[test]
    fn rejects_an_upstream_stage_without_the_origin() {
        let err = StageGraph::new(vec![
            stage("dev", &[("app", &[])]),
            stage("prod", &[("config", &["dev"])]),
        ])
        .expect_err("origin");
        assert_eq!(
            err.problems,
            [Problem::UpstreamLacksOrigin {
                stage: "prod".into(),
                upstream: "dev".into(),
                origin: FreightOrigin::warehouse("config"),
            }]
        );
    }

    #[test]
    fn match_upstream_needs_exactly_one_upstream_and_no_direct() {
        let mut prod = stage("prod", &[("app", &["a", "b"])]);
        prod.spec.requested_freight[0].sources.direct = true;
        prod.spec.requested_freight[0]
            .sources
            .auto_promotion_options = Some(AutoPromotionOptions {
            selection_policy: AutoPromotionSelectionPolicy::MatchUpstream,
        });
        let err = StageGraph::new(vec![
            stage("a", &[("app", &[])]),
            stage("b", &[("app", &[])]),
            prod.clone(),
        ])
        .expect_err("match upstream");
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(err.to_string().contains("`direct: true`"), "{err}");
        assert!(err.to_string().contains("exactly one upstream"), "{err}");

        prod.spec.requested_freight[0].sources.direct = false;
        prod.spec.requested_freight[0].sources.stages = vec!["a".into()];
        StageGraph::new(vec![stage("a", &[("app", &[])]), prod]).expect("valid");
    }
}
