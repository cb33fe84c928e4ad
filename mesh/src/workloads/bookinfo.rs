//! Bookinfo: productpage, details, reviews v1/v2/v3 and ratings, answering as Istio's sample
//! application does (see the module docs of each service).

use tokio::net::TcpListener;

use super::{PodContext, Termination};

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

/// Serves the app on `listeners` until accepting fails.
pub async fn serve(app: App, listeners: Vec<TcpListener>, ctx: PodContext) -> Termination {
    let _ = (app, listeners, ctx);
    Termination::error("IN PROGRESS: Bookinfo is being written")
}
