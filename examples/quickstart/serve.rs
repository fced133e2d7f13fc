//! `quickstart --serve`: the demo's project served as `kargo serve` serves
//! one (Kargo's REST API, watch streams and the web UI), with the
//! controller's loop running. dev and staging take new Freight by
//! themselves; prod waits for a person's promotion in the browser. The
//! local provider has no page to merge a pull request on, so the demo stays
//! the reviewer: when prod's promotion waits on its pull request, the demo
//! prints it, merges it, and the promotion goes on.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kargo::core::state::PromotionQuery;
use kargo::runtime::{Controller, Event, Events, Refresh, RunOptions};
use kargo_server::Server;
use kargo_server::auth::Auth;

use crate::BoxError;
use crate::fixtures::Demo;
use crate::progress::{heading, print_events};
use crate::review::review;

/// Where and for whom the project is served.
#[derive(Debug)]
pub(crate) struct Access {
    listen: SocketAddr,
    auth: Option<Auth>,
}

impl Access {
    /// The serve mode's access when `serve`, checked before the demo
    /// touches its directory: the auth file loads, and without one only
    /// a loopback address is served.
    pub(crate) fn check(
        serve: bool,
        listen: Option<SocketAddr>,
        auth: Option<&Path>,
    ) -> Result<Option<Access>, BoxError> {
        if !serve {
            return Ok(None);
        }
        let listen = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let auth = auth
            .map(Auth::load)
            .transpose()
            .map_err(|e| format!("--auth {e}"))?;
        if auth.is_none() && !listen.ip().is_loopback() {
            return Err(format!(
                "--listen {listen}: without --auth only a loopback address may be used (the UI would be open to the network)"
            )
            .into());
        }
        Ok(Some(Access { listen, auth }))
    }
}

/// Serves the demo's project until Ctrl-C.
pub(crate) async fn serve(
    demo: Demo,
    controller: Controller,
    access: Access,
) -> Result<(), BoxError> {
    let store = controller.store().clone();
    tokio::spawn(print_events(store, controller.subscribe()));
    let demo = Arc::new(demo);
    tokio::spawn(reviewer(demo, controller.clone(), controller.subscribe()));

    heading("2. Discovery");
    // A continued demo's Warehouse was discovered a moment ago: look for
    // the new release now rather than at its next interval.
    controller
        .discover(Refresh::All, kargo::core::model::DEFAULT_INTERVAL)
        .await?;

    let listener = tokio::net::TcpListener::bind(access.listen)
        .await
        .map_err(|e| format!("--listen {}: {e}", access.listen))?;
    let address = listener.local_addr()?;
    let base = format!("http://{address}");
    let open = access.auth.is_none();
    let mut builder = Server::builder()
        .project(crate::PROJECT, controller)
        .run_controllers(RunOptions::default().with_interval(Duration::from_secs(30)))
        .external_url(base.clone());
    if let Some(auth) = access.auth {
        builder = builder.auth(auth);
    }
    let server = builder.build().await?;

    heading("3. The web UI");
    println!("UI: {base}/project/{}", crate::PROJECT);
    if open {
        println!("No --auth: the UI opens without signing in, to local callers only.");
    } else {
        println!("Sign in with the admin password or an API token of the auth file.");
    }
    println!(
        "dev and staging take new Freight by themselves; promote it to prod from prod's node.\n\
         The demo reviews prod's pull request: it prints it here, merges it, and the promotion\n\
         goes on. Ctrl-C stops the server."
    );
    server
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    println!("\nStopped; run the quickstart again in this directory to go on.");
    Ok(())
}

/// The reviewer: merges the pull request of every promotion that waits on
/// one (an earlier run's, and each one the controller announces), then
/// has the controller try the promotion again at once.
async fn reviewer(demo: Arc<Demo>, controller: Controller, mut events: Events) {
    let mut reviewed = HashSet::new();
    review_waiting(&demo, &controller, &mut reviewed).await;
    while let Some(event) = events.next().await {
        if matches!(event, Event::PromotionWaiting { .. } | Event::Missed) {
            review_waiting(&demo, &controller, &mut reviewed).await;
        }
    }
}

async fn review_waiting(demo: &Demo, controller: &Controller, reviewed: &mut HashSet<String>) {
    let promotions = match controller
        .store()
        .list_promotions(&PromotionQuery::all())
        .await
    {
        Ok(promotions) => promotions,
        Err(e) => {
            eprintln!("quickstart: cannot list the promotions: {e}");
            return;
        }
    };
    for promotion in promotions.iter().filter(|p| p.is_waiting()) {
        if reviewed.contains(&promotion.name) {
            continue;
        }
        match review(demo, promotion).await {
            Ok(Some(_)) => {
                reviewed.insert(promotion.name.clone());
                let (controller, name) = (controller.clone(), promotion.name.clone());
                tokio::spawn(async move {
                    if let Err(e) = controller.refresh_promotion(&name).await {
                        eprintln!("quickstart: promotion {name}: {e}");
                    }
                });
            }
            Ok(None) => {}
            Err(e) => eprintln!("quickstart: promotion {}: {e}", promotion.name),
        }
    }
}
