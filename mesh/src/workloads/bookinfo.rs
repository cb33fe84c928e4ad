//! Bookinfo: productpage, details, reviews v1/v2/v3 and ratings, answering as Istio's sample
//! application does (see the module docs of each service).
//!
//! Every call between the services goes through [`crate::workloads::client::send`] from the
//! pod's own origin, so the mesh's routing (and later its sidecars) sees it. Each service
//! writes one line per request to its container log: client, time, request line, status, size
//! and the `end-user` header it received, if any.
//!
//! Modules:
//! - [`productpage`]: the web front end (pages, login, the JSON API) calling details and reviews.
//! - [`page`]: the HTML of the index and product pages.
//! - [`details`], [`reviews`], [`ratings`]: the JSON services behind it.
//! - `server`: the HTTP plumbing shared with nginx.

pub mod details;
pub mod page;
pub mod productpage;
pub mod ratings;
pub mod reviews;
pub(super) mod server;

use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use tokio::net::TcpListener;

use super::{PodContext, Termination};
use server::HttpRequest;

/// Which Bookinfo service an image runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    /// The web front end (`/productpage`, login, the API).
    Productpage,
    /// Book details.
    Details,
    /// Reviews without ratings.
    ReviewsV1,
    /// Reviews with black stars (calls ratings, 10 s timeout).
    ReviewsV2,
    /// Reviews with red stars (calls ratings, 2.5 s timeout).
    ReviewsV3,
    /// Ratings.
    Ratings,
}

impl App {
    /// The service's name as its container is usually called (`reviews`).
    pub fn service(self) -> &'static str {
        match self {
            Self::Productpage => "productpage",
            Self::Details => "details",
            Self::ReviewsV1 | Self::ReviewsV2 | Self::ReviewsV3 => "reviews",
            Self::Ratings => "ratings",
        }
    }
}

/// Serves the app on `listeners` until accepting fails.
pub async fn serve(app: App, listeners: Vec<TcpListener>, ctx: PodContext) -> Termination {
    let log = ctx.log.clone();
    for listener in &listeners {
        if let Ok(addr) = listener.local_addr() {
            log.push(format!("{} listening on {addr}", app.service()));
        }
    }
    let name = app.service();
    match app {
        App::Productpage => {
            let site = Arc::new(productpage::Productpage::new(ctx));
            server::serve(name, listeners, site, log).await
        }
        App::Details => server::serve(name, listeners, Arc::new(details::Details), log).await,
        App::ReviewsV1 | App::ReviewsV2 | App::ReviewsV3 => {
            let site = Arc::new(reviews::Reviews::new(app, ctx));
            server::serve(name, listeners, site, log).await
        }
        App::Ratings => {
            let site = Arc::new(ratings::Ratings::default());
            server::serve(name, listeners, site, log).await
        }
    }
}

/// The request headers productpage and reviews copy onto their outbound calls (tracing
/// context, the logged-in user, the user agent).
pub const PROPAGATED_HEADERS: &[&str] = &[
    "x-request-id",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-ot-span-context",
    "traceparent",
    "tracestate",
    "end-user",
    "user-agent",
];

/// The propagated headers present on `req`, in [`PROPAGATED_HEADERS`] order.
fn propagated(req: &HttpRequest) -> Vec<(String, String)> {
    PROPAGATED_HEADERS
        .iter()
        .filter_map(|name| {
            req.header(name)
                .map(|value| ((*name).to_owned(), value.to_owned()))
        })
        .collect()
}

/// The base URL of a Bookinfo service as the apps build it from their environment:
/// `http://<SERVICE>_HOSTNAME[.SERVICES_DOMAIN]:<SERVICE>_SERVICE_PORT`, defaulting to the
/// short service name and port 9080.
fn service_url(ctx: &PodContext, service: &str) -> String {
    let upper = service.to_ascii_uppercase();
    let non_empty = |name: &str| {
        ctx.env_var(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let host = non_empty(&format!("{upper}_HOSTNAME")).unwrap_or_else(|| service.to_owned());
    let domain = non_empty("SERVICES_DOMAIN")
        .map(|d| format!(".{}", d.trim_start_matches('.')))
        .unwrap_or_default();
    let port = non_empty(&format!("{upper}_SERVICE_PORT"))
        .filter(|p| p.parse::<u16>().is_ok())
        .unwrap_or_else(|| "9080".to_owned());
    format!("http://{host}{domain}:{port}")
}

/// The log line every Bookinfo service writes per request.
fn access_line(req: &HttpRequest, resp: &Response<Full<Bytes>>) -> String {
    let user = req
        .header("end-user")
        .map(|u| format!(" end-user: {u}"))
        .unwrap_or_default();
    format!(
        "{} - - [{}] \"{} {} {}\" {} {}{user}",
        req.peer.ip(),
        server::log_time(),
        req.method,
        req.target(),
        req.version,
        resp.status().as_u16(),
        server::body_size(resp),
    )
}

/// The one book Bookinfo sells.
#[derive(Clone, Copy, Debug)]
pub struct Product {
    /// The product id (0).
    pub id: u32,
    /// The title.
    pub title: &'static str,
    /// A short summary, as HTML.
    pub description_html: &'static str,
}

/// The products the store lists (`GET /api/v1/products`).
pub const PRODUCTS: &[Product] = &[Product {
    id: 0,
    title: "The Comedy of Errors",
    description_html: "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: \
        two pairs of identical twins, separated as infants, end up in the same city on the same day, \
        and a string of mistaken identities follows. One of <b>William Shakespeare's</b> earliest \
        plays and his shortest, it runs on slapstick, wordplay and farce.",
}];

/// Which reviews version a rendered `/productpage` shows, read from its star markup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stars {
    /// No star at all: reviews v1 (or a page without reviews).
    Absent,
    /// Black stars: reviews v2.
    Black,
    /// Red stars: reviews v3.
    Red,
    /// Stars in a colour neither version uses.
    Other,
}

/// Classifies a product page by its stars; understands the current template (`id="glyphicon
/// glyphicon-star"` inside a `text-black-500`/`text-red-500` wrapper) and the older one
/// (`<font color="black|red">` around `glyphicon glyphicon-star` spans).
pub fn stars(html: &str) -> Stars {
    if !html.contains("glyphicon glyphicon-star") {
        return Stars::Absent;
    }
    if html.contains("text-red-500") || html.contains("<font color=\"red\">") {
        Stars::Red
    } else if html.contains("text-black-500") || html.contains("<font color=\"black\">") {
        Stars::Black
    } else {
        Stars::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Network;
    use crate::store::Store;
    use crate::workloads::LogBuffer;

    fn ctx(env: &[(&str, &str)]) -> PodContext {
        PodContext {
            namespace: "default".into(),
            pod: "productpage-v1-abc".into(),
            container: "productpage".into(),
            ip: "127.1.0.9".parse().unwrap(),
            service_account: "bookinfo-productpage".into(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            command: Vec::new(),
            network: Network::new(Store::in_memory()),
            log: LogBuffer::default(),
        }
    }

    #[test]
    fn service_urls_follow_the_environment() {
        assert_eq!(service_url(&ctx(&[]), "details"), "http://details:9080");
        let c = ctx(&[
            ("REVIEWS_HOSTNAME", "reviews-canary"),
            ("SERVICES_DOMAIN", "bookinfo.svc.cluster.local"),
            ("REVIEWS_SERVICE_PORT", "9090"),
        ]);
        assert_eq!(
            service_url(&c, "reviews"),
            "http://reviews-canary.bookinfo.svc.cluster.local:9090"
        );
        assert_eq!(
            service_url(&c, "details"),
            "http://details.bookinfo.svc.cluster.local:9080"
        );
        let bad_port = ctx(&[("RATINGS_SERVICE_PORT", "tcp://10.0.0.1:9080")]);
        assert_eq!(service_url(&bad_port, "ratings"), "http://ratings:9080");
    }

    #[test]
    fn stars_tell_the_versions_apart_in_both_templates() {
        assert_eq!(stars("<blockquote>great</blockquote>"), Stars::Absent);
        assert_eq!(
            stars(r#"<div class="text-red-500"><span id="glyphicon glyphicon-star"></span></div>"#),
            Stars::Red
        );
        assert_eq!(
            stars(
                r#"<div class="text-black-500"><span id="glyphicon glyphicon-star"></span></div>"#
            ),
            Stars::Black
        );
        assert_eq!(
            stars(r#"<font color="red"><span class="glyphicon glyphicon-star"></span></font>"#),
            Stars::Red
        );
        assert_eq!(
            stars(r#"<font color="black"><span class="glyphicon glyphicon-star"></span></font>"#),
            Stars::Black
        );
        assert_eq!(
            stars(
                r#"<div class="text-blue-500"><span id="glyphicon glyphicon-star"></span></div>"#
            ),
            Stars::Other
        );
    }
}
